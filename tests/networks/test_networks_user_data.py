"""User datasets from .npz files: shapes kept per sample, every bad file refused naming file and key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xbarsim.errors import ConfigError
from xbarsim.networks import check_sample_shape, load_npz


def _write(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def test_images_are_flattened_row_major(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((7, 1, 4, 3)).astype(np.float32)
    y = rng.integers(0, 3, 7)
    d = load_npz(_write(tmp_path / "d.npz", x_test=x, y_test=y, x_train=x[:5], y_train=y[:5]))
    assert d.x_test.shape == (7, 12) and d.x_train.shape == (5, 12) and d.x_val.shape == (0, 12)
    np.testing.assert_array_equal(d.x_test[2], x[2].ravel().astype(np.float64))
    np.testing.assert_array_equal(d.y_test, y)
    assert d.name == "d" and d.n_classes == max(int(y.max()) + 1, 2)
    assert load_npz(tmp_path / "d.npz", n_classes=10).n_classes == 10


def test_test_split_alone_is_enough(tmp_path):
    d = load_npz(_write(tmp_path / "t.npz", x_test=np.ones((3, 2)), y_test=np.array([0, 1, 1])))
    assert d.x_train.shape == (0, 2) and d.x_test.shape == (3, 2)


def test_an_empty_split_is_kept_with_the_input_width(tmp_path):
    # before: a saved empty split (x_train=x[:0]) raised numpy's "cannot reshape array of size 0 into shape
    # (0,newaxis)", and inputs of no values per sample "min() arg is an empty sequence"
    x = np.ones((3, 1, 2, 2))
    d = load_npz(_write(tmp_path / "e.npz", x_test=x, y_test=np.array([0, 1, 1]), x_train=x[:0],
                        y_train=np.zeros(0), x_val=x[:0].astype(np.float32), y_val=np.zeros(0, int)))
    assert d.x_train.shape == (0, 4) and d.x_val.shape == (0, 4) and d.x_test.shape == (3, 4)
    with pytest.raises(ConfigError, match=r"'x_test' must be a numeric array .* at least one per sample.*\(3, 0\)"):
        load_npz(_write(tmp_path / "z.npz", x_test=np.ones((3, 0)), y_test=np.array([0, 1, 1])))


@pytest.mark.parametrize("arrays,key,words", [
    ({"x_test": np.ones((3, 2))}, "y_test", "missing"),
    ({"y_test": np.zeros(3, int)}, "x_test", "missing"),
    ({"x_test": np.ones((3, 2)), "y_test": np.array([0, 1, 5])}, "y_test", "outside 0..2"),
    ({"x_test": np.ones((3, 2)), "y_test": np.array([0, -1, 1])}, "y_test", "outside"),
    ({"x_test": np.ones((3, 2)), "y_test": np.array([0.5, 1, 1])}, "y_test", "integer"),
    ({"x_test": np.ones((3, 2)), "y_test": np.zeros(4, int)}, "y_test", "one per row"),
    ({"x_test": np.ones((3, 2)), "y_test": np.zeros(3, int), "x_train": np.ones((4, 3)), "y_train": np.zeros(4, int)},
     "x_train", "per-sample shape (3,)"),
    ({"x_test": np.ones((3, 2)), "y_test": np.zeros(3, int), "x_val": np.ones((2, 2))}, "y_val", "missing"),
    ({"x_test": np.full((3, 2), np.nan), "y_test": np.zeros(3, int)}, "x_test", "non-finite"),
    ({"x_test": np.ones((3, 2)), "y_test": np.zeros(3, int), "labels": np.zeros(3)}, "labels", "unknown key"),
])
def test_bad_files_name_file_and_key(tmp_path, arrays, key, words):
    path = _write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ConfigError) as info:
        load_npz(path, n_classes=3)
    msg = str(info.value)
    assert str(path) in msg and f"'{key}'" in msg and words in msg, msg


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "broken.npz"
    good = _write(tmp_path / "good.npz", x_test=np.ones((3, 2)), y_test=np.zeros(3, int))
    bad.write_bytes(good.read_bytes()[:40])
    with pytest.raises(ConfigError, match="not a readable .npz") as info:
        load_npz(bad)
    assert str(bad) in str(info.value)
    with pytest.raises(ConfigError, match="does not exist"):
        load_npz(tmp_path / "none.npz")


@pytest.mark.parametrize("n_classes", [2.7, "3", True, 1, 0, -1, "abc"])
def test_n_classes_must_be_an_int_of_at_least_two(tmp_path, n_classes):
    # 2.7 was truncated to 2 and "3" accepted as 3 without a word, True read as 1 class, "abc" raised
    # a bare ValueError from int(); 0 and -1 gave "labels outside 0..-1 (0 classes)".
    path = _write(tmp_path / "d.npz", x_test=np.zeros((4, 2)), y_test=np.array([0, 1, 0, 1]))
    with pytest.raises(ConfigError, match=r"`n_classes` must be an int in \[2, "):
        load_npz(path, n_classes=n_classes)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("labels,words", [
    (np.array([0.0, np.inf, 1.0]), "labels (finite whole numbers); got dtype float64 with array([0.0, inf"),
    (np.array([0.0, -np.inf, 1.0]), "integer class labels (finite whole numbers)"),
    (np.array([0.0, 1e20, 1.0]), "holds label 100000000000000000000; labels must be below 2147483648"),
    (np.array([0, 1, 2**63 + 5], dtype=np.uint64), "holds label 9223372036854775813"),
    (np.array([0, 1, 2**62]), "holds label 4611686018427387904"),
])
def test_labels_that_are_infinite_or_beyond_any_class_count_are_named_as_given(tmp_path, labels, words):
    # before: inf, -inf, 1e20 and the uint64 were cast to int64 with a RuntimeWarning and reported as label
    # -9223372036854775808 (or -9223372036854775803); 2**62 was taken as a dataset of 2**62 + 1 classes
    path = _write(tmp_path / "l.npz", x_test=np.ones((3, 2)), y_test=labels)
    with pytest.raises(ConfigError) as info:
        load_npz(path)
    msg = str(info.value)
    assert str(path) in msg and "'y_test'" in msg and words in msg, msg


def test_odd_but_valid_files_load(tmp_path):
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)                    # (n, H, W) uint8
    d = load_npz(_write(tmp_path / "u8.npz", x_test=imgs, y_test=np.array([0.0, 2.0, 1.0, 2.0])))
    assert d.x_test.dtype == np.float64 and d.x_test.shape == (4, 15) and d.n_classes == 3
    np.testing.assert_array_equal(d.x_test[1], imgs[1].ravel())
    assert d.y_test.dtype == np.int64 and d.y_test.tolist() == [0, 2, 1, 2]
    assert d.input_range == (float(imgs.min()), float(imgs.max()))
    d = load_npz(_write(tmp_path / "b.npz", x_test=imgs[:, None], y_test=np.array([False, True, True, False])))
    assert d.x_test.shape == (4, 15) and d.y_test.tolist() == [0, 1, 1, 0]              # (n, C, H, W), bool labels
    # a constant input above 2**53, where lo + 1 == lo: before, the range (lo, lo) was refused
    d = load_npz(_write(tmp_path / "c.npz", x_test=np.full((2, 2), 3e38, np.float32), y_test=np.array([0, 1])))
    assert d.input_range[0] < d.input_range[1]


def test_an_array_that_needs_pickle_is_refused_naming_its_key(tmp_path):
    # before: "not a readable .npz file (ValueError: Object arrays cannot be loaded ...)", no key
    path = _write(tmp_path / "o.npz", x_test=np.ones((3, 2)), y_test=np.array([0, 1, None], dtype=object))
    with pytest.raises(ConfigError, match=r"o\.npz: key 'y_test' is not a readable array \(ValueError: Object"):
        load_npz(path)


def test_the_per_sample_shape_is_kept_and_a_network_of_another_layout_is_refused(tmp_path):
    """(n, H, W, C) images for a (C, H, W) network have the same size; flattened, they were read
    scrambled without a word. Size-1 axes do not change the order, so (H, W, 1) and (1, H, W) agree."""
    rng = np.random.default_rng(1)
    nhwc = rng.random((5, 4, 3, 2))
    y = np.array([0, 1, 0, 1, 1])
    d = load_npz(_write(tmp_path / "nhwc.npz", x_test=nhwc, y_test=y))
    assert d.sample_shape == (4, 3, 2)
    with pytest.raises(ConfigError, match=r"shape \(4, 3, 2\), but network takes \(2, 4, 3\).*channels first"):
        check_sample_shape(d, (2, 4, 3))
    check_sample_shape(d, (4, 3, 2))  # the same layout
    check_sample_shape(d, (24,))      # an MLP takes any layout, flattened in C order
    gray = load_npz(_write(tmp_path / "gray.npz", x_test=rng.random((5, 4, 3, 1)), y_test=y))
    assert gray.sample_shape == (4, 3, 1)
    check_sample_shape(gray, (1, 4, 3))
    with pytest.raises(ConfigError, match=r"\(4, 3, 1\).*\(1, 3, 4\)"):
        check_sample_shape(gray, (1, 3, 4))
    flat = load_npz(_write(tmp_path / "flat.npz", x_test=rng.random((5, 24)), y_test=y))
    assert flat.sample_shape == ()
    check_sample_shape(flat, (2, 4, 3))  # no layout to check: the user flattened it


@pytest.mark.parametrize("shape", [(3, 0), (5,), [2, 12], (2, True, 12), (2.0, 12)])
def test_a_dataset_refuses_a_sample_shape_that_does_not_hold_its_features(shape):
    from xbarsim.networks import Dataset
    x, y = np.zeros((2, 24)), np.array([0, 1])
    with pytest.raises(ConfigError, match="`sample_shape` must be"):
        Dataset(name="d", x_train=x, y_train=y, x_val=x[:0], y_val=y[:0], x_test=x, y_test=y, n_classes=2,
                sample_shape=shape)


def test_labels_numbered_from_one_warn_unless_n_classes_is_given(tmp_path):
    """Labels 1..3 made a 4-class dataset with an empty class 0 without a word (a network trained on it
    has an output too many); now a warning says so. With n_classes the choice is the user's: no warning,
    and a dataset whose labels include 0 loads quietly."""
    x = np.zeros((4, 2))
    path = _write(tmp_path / "d.npz", x_test=x, y_test=np.array([1, 2, 3, 1]))
    with pytest.warns(UserWarning, match=r"no label is 0 \(labels 1\.\.3\).*4 classes.*subtract 1"):
        d = load_npz(path)
    assert d.n_classes == 4
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_npz(path, n_classes=4).n_classes == 4
        assert load_npz(_write(tmp_path / "z.npz", x_test=x, y_test=np.array([0, 2, 3, 1]))).n_classes == 4
