"""Waveforms: validation (typed errors naming the parameter) and values."""

from __future__ import annotations

import numpy as np
import pytest

from xbarsim.errors import ConfigError
from xbarsim.netlists import PWL, LineCapacitance, Pulse


@pytest.mark.parametrize("kw, match", [
    (dict(width=-1e-9), "`width`"), (dict(rise=0.0), "`rise`"), (dict(fall=-1.0), "`fall`"),
    (dict(delay=-1e-9), "`delay`"), (dict(count=2), "`period`"), (dict(count=2, period=1e-9), "`period`"),
    (dict(amplitude=float("nan")), "`amplitude`"), (dict(count=0), "`count`"),
])
def test_bad_pulse(kw, match):
    base = dict(amplitude=1.0, rise=1e-9, width=1e-8, fall=1e-9)
    base.update(kw)
    with pytest.raises(ConfigError, match=match):
        Pulse(**base)


@pytest.mark.parametrize("times, values, match", [
    ([0, 2e-9, 1e-9], [0, 1, 0], "strictly increasing"), ([0, 1e-9, 1e-9], [0, 1, 1], "strictly increasing"),
    ([1e-9, 2e-9], [0, 1], "start at 0"), ([0, 1e-9], [0, 1, 2], "one length"), ([0, np.inf], [0, 1], "`times`"),
])
def test_bad_pwl(times, values, match):
    with pytest.raises(ConfigError, match=match):
        PWL(times=times, values=values)


def test_pulse_train_values_and_corners():
    p = Pulse(amplitude=2.0, rise=1e-9, width=3e-9, fall=2e-9, delay=1e-9, period=1e-8, count=2)
    pwl = p.to_pwl()
    np.testing.assert_allclose(pwl.times, [0, 1e-9, 2e-9, 5e-9, 7e-9, 11e-9, 12e-9, 15e-9, 17e-9])
    assert p(1.5e-9) == pytest.approx(1.0) and p(3e-9) == 2.0 and p(6e-9) == pytest.approx(1.0) and p(9e-9) == 0.0
    assert p(13e-9) == 2.0 and p.end_time == pytest.approx(17e-9)
    assert pwl.spice(0.5).startswith("PWL(0 0 1.0000000000000001e-09 0 2.0000000000000001e-09 1 ")


def test_line_capacitance_lumps_half_segments():
    row, col = LineCapacitance(row_segment=2.0, col_segment=np.arange(6.0).reshape(2, 3)).node_capacitance(3, 3)
    np.testing.assert_allclose(row, [[1, 2, 1]] * 3)
    np.testing.assert_allclose(col[:, 0], [0, 1.5, 1.5])
    assert col.sum() == pytest.approx(15.0)
    with pytest.raises(ConfigError, match="`row_segment`"):
        LineCapacitance(row_segment=-1.0)


def test_pwl_messages_write_times_as_a_user_does():
    # found in review: "got times[1] = np.float64(2e-08) then ..." (the base checks write plain numbers)
    with pytest.raises(ConfigError, match=r"got times\[1\] = 2e-08 then times\[2\] = 1e-08\.$"):
        PWL(times=[0.0, 2e-8, 1e-8], values=[0.0, 1.0, 1.0])
    with pytest.raises(ConfigError, match=r"got times\[0\] = 1e-09\.$"):
        PWL(times=[1e-9, 2e-8], values=[0.0, 1.0])


@pytest.mark.parametrize("line", [True, 1.0, "1"])
def test_transient_overrides_name_a_line_by_an_int(line):
    # found in review: overrides={("row_left", True): ...} replaced row 1's waveform (True == 1)
    import xbarsim as xb
    from xbarsim.devices import tio2_vteam

    m = tio2_vteam()
    cb = xb.Crossbar(conductance=m.conductance(np.full((2, 3), 0.3)))
    pulse = Pulse(amplitude=1.0, rise=1e-8, width=1e-7, fall=1e-8)
    with pytest.raises(ConfigError, match="line an int"):
        xb.build_transient(cb, xb.BiasScheme.write(1, 1, 1.4, "v/2"), m, pulse, overrides={("row_left", line): pulse})


@pytest.mark.parametrize("end", ["row_left", "row_right"])
def test_transient_override_of_a_source_shorted_to_another_is_refused(end):
    # found in review: a row of 0 ohm segments driven at both ends through 0 ohm drivers puts both
    # sources on one node; an override of one of them made a short that both backends resolved by
    # driving the node from row_left (row_right's waveform dropped, or the override dropped)
    import xbarsim as xb
    from xbarsim.devices import tio2_vteam
    from xbarsim.errors import CircuitError
    from xbarsim.netlists import LineDrive

    m = tio2_vteam()
    cb = xb.Crossbar(conductance=m.conductance(np.full((2, 3), 0.3)),
                     lines=xb.LineResistance(row_segment=0.0, col_segment=1.0, row_driver=0.0, col_sense=10.0))
    v = np.array([1.0, 0.5])
    bias = xb.BiasScheme(row_left=LineDrive.at(v), row_right=LineDrive.at(v), col_bottom=LineDrive.at(0.0))
    pulse = Pulse(amplitude=1.0, rise=1e-8, width=1e-7, fall=1e-8)
    low = Pulse(amplitude=0.2, rise=1e-8, width=1e-7, fall=1e-8)
    with pytest.raises(CircuitError, match=r"row_left\[0\] and row_right\[0\]"):
        xb.build_transient(cb, bias, m, pulse, overrides={(end, 0): low})
    # the same voltage over time on both (the override equals the scaled waveform) is no short
    same = Pulse(amplitude=1.0, rise=1e-8, width=1e-7, fall=1e-8)
    c = xb.build_transient(cb, bias, m, pulse, overrides={(end, 0): same})
    assert len(c.waveforms) == 2 + 2 + 3
