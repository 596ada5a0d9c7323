"""The base checks (``xbarsim._validation``): one set for every layer, values written as a user writes them."""

from __future__ import annotations

import numpy as np
import pytest

from xbarsim._validation import as_float_array, as_rng, check_int, check_rng, fraction, scalar, short_repr
from xbarsim.errors import ConfigError


@pytest.mark.parametrize(
    ("call", "shown"),
    [
        (lambda: scalar(np.float64(-1.0), "segment", what="positive resistance", positive=True), "got -1.0."),
        (lambda: fraction(np.float32(1.5), "fault_rate"), "got 1.5."),
        (lambda: check_int(np.int64(-3), "trials", 1, 10), "got -3."),
        (lambda: as_float_array(np.array([1.0, -2.0]), "g", what="conductance", min_value=0.0), "got -2.0."),
        (lambda: as_float_array(np.array([np.nan]), "g", what="conductance"), "got nan (it must be finite)."),
    ],
)
def test_messages_show_numpy_values_as_plain_numbers(call, shown):
    with pytest.raises(ConfigError) as info:
        call()
    assert str(info.value).endswith(shown) and "np." not in str(info.value), str(info.value)


def test_short_repr_of_numpy_scalars_and_arrays():
    assert short_repr(np.float64(-1.0)) == "-1.0"
    assert short_repr(np.int32(7)) == "7"
    assert short_repr(np.array([1.0, 2.0])) == "array([1.0, 2.0])"
    assert short_repr(np.full(10, np.inf)) == "array of shape (10,), first non-finite inf"


def test_one_rng_checker():
    g = np.random.default_rng(1)
    assert check_rng(g) is g and as_rng(g) is g
    assert as_rng(3).random() == np.random.default_rng(3).random()
    for bad in (1, None, "seed"):
        with pytest.raises(ConfigError, match="`rng` must be a numpy.random.Generator"):
            check_rng(bad)
    for bad in (-1, True, 1.5, "seed"):
        with pytest.raises(ConfigError, match="`rng` must be a numpy.random.Generator, an int seed"):
            as_rng(bad)


@pytest.mark.parametrize("value", [True, np.bool_(False), np.eye(2, dtype=bool), [True, False], ((True,), (False,))])
def test_booleans_are_not_numbers(value):
    # before: a boolean mask given as conductances became 1 S cells, True a 1 V input
    with pytest.raises(ConfigError, match=r"`g` must be a conductance; got booleans .*not numbers"):
        as_float_array(value, "g", what="conductance")


def test_a_boolean_conductance_mask_is_refused_by_the_crossbar():
    from xbarsim.netlists import Crossbar

    with pytest.raises(ConfigError, match="`conductance`.*booleans"):
        Crossbar(conductance=np.eye(3, dtype=bool))
    assert as_float_array([1, 0], "g", what="conductance").tolist() == [1.0, 0.0]   # 0 / 1 integers are numbers


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (np.array(["0.1", "0.2"]), "got text"),
        (["0.1", "0.2"], "got text"),
        (np.array([b"1", b"2"]), "got bytes"),
        (np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]"), "got dates"),
        (np.array([1, 2], dtype="timedelta64[s]"), "got durations"),
        (np.array([0.1, None], dtype=object), "got None among its values"),
        (np.array([0.1, True], dtype=object), "got True among its values"),
        (np.array([0.1, "2"], dtype=object), "got '2' among its values"),
        ([0.3, True], "got a boolean among its values"),
        (((0.3, 0.2), (np.True_, 0.1)), "got a boolean among its values"),
    ],
)
def test_text_dates_and_none_are_not_numbers(value, shown):
    # found in review: BiasScheme.read(dates) read 2020-01-01 as 18262 V (3.65 mA out of a 2x3 array
    # of 100 uS), ["0.1", "0.2"] as volts, and [0.1, None] as "got nan"
    with pytest.raises(ConfigError, match=f"`v` must be a voltage; {shown}"):
        as_float_array(value, "v", what="voltage")


def test_numbers_of_any_numeric_type_are_still_numbers():
    from decimal import Decimal
    from fractions import Fraction

    for value in ([1, 2], np.array([1, 2], dtype=np.float16), np.array([1.5, Fraction(1, 2), Decimal("0.25")], dtype=object)):
        assert as_float_array(value, "v", what="voltage").dtype == np.float64
