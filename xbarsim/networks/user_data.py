"""A user's own dataset from a ``.npz`` file.

Arrays: ``x_test`` and ``y_test`` (required); ``x_train``/``y_train`` and ``x_val``/``y_val``
(optional, in pairs). Inputs may have any per-sample shape (``(n, C, H, W)`` images in ONNX's
layout, or ``(n, features)``); every split must have the same one. They are stored flattened,
``(n, prod(shape))``, which every :class:`~xbarsim.networks.Network` accepts. Labels are integer
class indices ``0 .. n_classes - 1``.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from xbarsim._validation import check_int
from xbarsim.errors import ConfigError
from xbarsim.networks.datasets import Dataset

__all__ = ["load_npz", "NPZ_KEYS"]

#: Keys a dataset file may hold.
NPZ_KEYS: tuple[str, ...] = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


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
        ``x`` but no ``y``, unknown keys, non-numeric or non-finite inputs, non-integer or
        out-of-range labels, lengths of ``x`` and ``y`` that differ, per-sample shapes that
        differ between splits.
    """
    p = Path(path)
    if n_classes is not None:
        n_classes = check_int(n_classes, "n_classes", 2, 1 << 31)
    if not p.is_file():
        raise ConfigError(f"dataset file {str(p)!r} does not exist.")
    try:
        with p.open("rb") as fh, np.load(fh, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, TypeError, AttributeError, zipfile.BadZipFile, EOFError) as exc:
        raise ConfigError(f"{p}: not a readable .npz file ({type(exc).__name__}: {str(exc)[:200]}).") from None
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
        if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
            raise ConfigError(f"{p}: key {yk!r} must hold integer class labels; got dtype {y.dtype}.")
        # the width from the shape: reshape(0, -1) of an empty split is ambiguous and numpy refuses it
        splits[split] = (xf.reshape(x.shape[0], int(np.prod(x.shape[1:]))), y.astype(np.int64))
    if splits["test"][0].shape[0] == 0:
        raise ConfigError(f"{p}: key 'x_test' holds no samples.")
    lo = float(min(x.min() for x, _ in splits.values() if x.size))
    hi = float(max(x.max() for x, _ in splits.values() if x.size))
    top = max(int(y.max()) for _, y in splits.values() if y.size) if any(y.size for _, y in splits.values()) else 1
    classes = max(top + 1, 2) if n_classes is None else int(n_classes)
    for split, (_, y) in splits.items():
        if y.size and (y.min() < 0 or y.max() >= classes):
            raise ConfigError(f"{p}: key 'y_{split}' holds labels {int(y.min())}..{int(y.max())}, outside "
                              f"0..{classes - 1} ({classes} classes).")
    empty_x = np.zeros((0, splits["test"][0].shape[1]))
    empty_y = np.zeros(0, dtype=np.int64)
    parts = {s: splits.get(s, (empty_x, empty_y)) for s in ("train", "val", "test")}
    return Dataset(
        name=name or p.stem,
        x_train=parts["train"][0], y_train=parts["train"][1], x_val=parts["val"][0], y_val=parts["val"][1],
        x_test=parts["test"][0], y_test=parts["test"][1], n_classes=classes,
        input_range=(lo, hi if hi > lo else lo + 1.0),
        description=f"user dataset {p} (per-sample input shape {shape}).",
    )
