"""A user's own dataset from a ``.npz`` file.

Arrays: ``x_test`` and ``y_test`` (required); ``x_train``/``y_train`` and ``x_val``/``y_val``
(optional, in pairs). Inputs may have any per-sample shape (``(n, C, H, W)`` images in ONNX's
layout, or ``(n, features)``); every split must have the same one. They are stored flattened,
``(n, prod(shape))``, which every :class:`~xbarsim.networks.Network` accepts; the shape is kept
as :attr:`Dataset.sample_shape`, and :func:`check_sample_shape` refuses a network whose input layout
differs (``(n, H, W, C)`` images for a ``(C, H, W)`` network would otherwise be read scrambled). Labels are integer
class indices ``0 .. n_classes - 1`` (integers, booleans, or floats that are finite whole numbers).
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from xbarsim._validation import check_int, short_repr
from xbarsim.errors import ConfigError
from xbarsim.networks.datasets import Dataset

__all__ = ["load_npz", "NPZ_KEYS", "check_sample_shape"]

#: Keys a dataset file may hold.
NPZ_KEYS: tuple[str, ...] = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
#: Most classes a dataset file may describe (the bound of ``n_classes``).
_MAX_CLASSES = 1 << 31


def load_npz(path: str | os.PathLike[str], *, n_classes: int | None = None, name: str | None = None) -> Dataset:
    """A :class:`Dataset` from a ``.npz`` file.

    Parameters
    ----------
    path : path
        The file (``numpy.savez`` / ``savez_compressed``; no pickled objects).
    n_classes : int, optional
        Classes of the network that will read it (an int >= 2): every label must lie in
        ``0 .. n_classes - 1``.
        Default: the largest label + 1 (at least 2).
    name : str, optional
        Dataset name (default: the file's stem).

    Raises
    ------
    ConfigError
        Naming the file and the key: unreadable file, missing ``x_test``/``y_test``, a split with
        ``x`` but no ``y``, unknown keys, an array that cannot be read without pickle, non-numeric
        or non-finite inputs, non-integer, non-finite or out-of-range labels (at most 2**31 classes),
        lengths of ``x`` and ``y`` that differ, per-sample shapes that differ between splits.
    """
    p = Path(path)
    if n_classes is not None:
        n_classes = check_int(n_classes, "n_classes", 2, _MAX_CLASSES)
    if not p.is_file():
        raise ConfigError(f"dataset file {str(p)!r} does not exist.")
    key = None  # the array being read, so that an object array (pickled) or a damaged one is named
    try:
        with p.open("rb") as fh, np.load(fh, allow_pickle=False) as f:
            arrays = {}
            for key in f.files:
                arrays[key] = f[key]
            key = None
    except (OSError, ValueError, TypeError, AttributeError, zipfile.BadZipFile, EOFError) as exc:
        what = "not a readable .npz file" if key is None else f"key {key!r} is not a readable array"
        raise ConfigError(f"{p}: {what} ({type(exc).__name__}: {str(exc)[:200]}).") from None
    unknown = sorted(set(arrays) - set(NPZ_KEYS))
    if unknown:
        raise ConfigError(f"{p}: unknown key {unknown[0]!r}; a dataset file holds {', '.join(NPZ_KEYS)}.")
    for key in ("x_test", "y_test"):
        if key not in arrays:
            raise ConfigError(f"{p}: key {key!r} is missing; a dataset file needs x_test and y_test.")
    shape = None
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split in ("test", "train", "val"):
        xk, yk = f"x_{split}", f"y_{split}"
        if (xk in arrays) != (yk in arrays):
            have, miss = (xk, yk) if xk in arrays else (yk, xk)
            raise ConfigError(f"{p}: key {miss!r} is missing although {have!r} is present.")
        if xk not in arrays:
            continue
        x, y = arrays[xk], arrays[yk]
        if x.dtype.kind not in "fiub" or x.ndim < 2 or 0 in x.shape[1:]:
            raise ConfigError(f"{p}: key {xk!r} must be a numeric array (n, ...) of inputs, at least one per sample; got "
                              f"dtype {x.dtype}, "
                              f"shape {x.shape}.")
        xf = x.astype(np.float64)
        if not np.isfinite(xf).all():
            raise ConfigError(f"{p}: key {xk!r} holds non-finite values.")
        if shape is None:
            shape = x.shape[1:]
        elif x.shape[1:] != shape:
            raise ConfigError(f"{p}: key {xk!r} has per-sample shape {x.shape[1:]}, but 'x_test' has {shape}; "
                              "every split must have the same input shape.")
        if y.ndim != 1 or y.shape[0] != x.shape[0]:
            raise ConfigError(f"{p}: key {yk!r} must be ({x.shape[0]},) labels, one per row of {xk!r}; "
                              f"got shape {y.shape}.")
        # an infinite float equals its own rounding; cast to int64 it became -9223372036854775808 (as did
        # 1e20 and a uint64 above 2**63), reported as that label with a RuntimeWarning
        if y.dtype.kind not in "iub" and not (y.dtype.kind == "f" and np.isfinite(y).all() and np.all(y == np.round(y))):
            raise ConfigError(f"{p}: key {yk!r} must hold integer class labels (finite whole numbers); got dtype "
                              f"{y.dtype}" + (f" with {short_repr(y)}." if y.dtype.kind == "f" else "."))
        # the width from the shape: reshape(0, -1) of an empty split is ambiguous and numpy refuses it; the labels
        # stay in their own dtype until their range is checked
        splits[split] = (xf.reshape(x.shape[0], int(np.prod(x.shape[1:]))), y)
    if splits["test"][0].shape[0] == 0:
        raise ConfigError(f"{p}: key 'x_test' holds no samples.")
    lo = float(min(x.min() for x, _ in splits.values() if x.size))
    hi = float(max(x.max() for x, _ in splits.values() if x.size))
    if n_classes is None:
        # the largest label sets the classes, within the bound an explicit n_classes has (before: a label
        # 2**62 made a dataset of 2**62 + 1 classes, whose report() asked for an array that large)
        split, top = max(((s, int(y.max())) for s, (_, y) in splits.items() if y.size), key=lambda t: t[1],
                         default=("test", 1))
        if top >= _MAX_CLASSES:
            raise ConfigError(f"{p}: key 'y_{split}' holds label {top}; labels must be below {_MAX_CLASSES} "
                              f"(class indices 0 .. n_classes - 1).")
        classes = max(top + 1, 2)
        if all(int(y.min()) >= 1 for _, y in splits.values() if y.size):
            # classes numbered from 1 make an empty class 0 and a network of one output too many
            warnings.warn(f"{p}: no label is 0 (labels {min(int(y.min()) for _, y in splits.values() if y.size)}"
                          f"..{top}), so class 0 is empty and the dataset has {classes} classes; if the classes "
                          "are numbered from 1, subtract 1 from the labels (or pass n_classes to make this "
                          "deliberate).", UserWarning, stacklevel=2)
    else:
        classes = int(n_classes)
    for split, (_, y) in splits.items():
        if y.size and (y.min() < 0 or y.max() >= classes):
            raise ConfigError(f"{p}: key 'y_{split}' holds labels {int(y.min())}..{int(y.max())}, outside "
                              f"0..{classes - 1} ({classes} classes).")
    splits = {s: (x, y.astype(np.int64)) for s, (x, y) in splits.items()}
    empty_x = np.zeros((0, splits["test"][0].shape[1]))
    empty_y = np.zeros(0, dtype=np.int64)
    parts = {s: splits.get(s, (empty_x, empty_y)) for s in ("train", "val", "test")}
    return Dataset(
        name=name or p.stem,
        x_train=parts["train"][0], y_train=parts["train"][1], x_val=parts["val"][0], y_val=parts["val"][1],
        x_test=parts["test"][0], y_test=parts["test"][1], n_classes=classes,
        input_range=(lo, hi if hi > lo else _above(lo)),
        description=f"user dataset {p} (per-sample input shape {shape}).",
        sample_shape=tuple(int(d) for d in shape) if shape is not None and len(shape) > 1 else (),
    )


def check_sample_shape(dataset: Dataset, input_shape: tuple[int, ...], network: str = "network") -> None:
    """Refuse inputs whose per-sample layout differs from the network's.

    The dataset's inputs are stored flattened in C order; a network reads them back in its own
    ``input_shape``. Both orders agree exactly when the two shapes are equal once their size-1 axes
    are dropped (``(28, 28)``, ``(1, 28, 28)`` and ``(28, 28, 1)`` all agree). A network with one
    non-trivial input axis (an MLP, or ``(784,)``) takes any layout, flattened in C order.

    Raises
    ------
    ConfigError
        Naming both shapes, e.g. ``(28, 28, 3)`` images (channels last) for a ``(3, 28, 28)`` network,
        which have the same size but would be read scrambled.
    """
    want = tuple(int(d) for d in input_shape if int(d) != 1)
    have = tuple(d for d in dataset.sample_shape if d != 1)
    if len(want) <= 1 or not dataset.sample_shape or have == want:
        return
    raise ConfigError(f"dataset {dataset.name!r} has per-sample input shape {dataset.sample_shape}, but {network} "
                      f"takes {tuple(int(d) for d in input_shape)}: the same number of values in another layout "
                      f"would be read scrambled. Store the inputs as (n, {', '.join(map(str, input_shape))})"
                      f"{' (channels first, as ONNX does)' if len(input_shape) == 3 else ''}.")


def _above(lo: float) -> float:
    """An upper bound for inputs that all equal ``lo``: ``lo + 1``, or the next float where that rounds
    back to ``lo`` (above 2**53; before, a constant input of 3e38 gave the range (lo, lo), refused)."""
    return lo + 1.0 if lo + 1.0 > lo else float(np.nextafter(lo, np.inf))
