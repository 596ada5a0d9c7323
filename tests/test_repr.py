"""Issue 14: result objects print a short repr (shape and key figures, not 20-30 KB of arrays), and
the ones a person reads as a table have ``.report()``; every number in a report is checked against
the object's own fields."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import xbarsim as xb
import xbarsim.analysis as an
import xbarsim.evaluation as ev
import xbarsim.mapping as mp
import xbarsim.networks as nw
from xbarsim._repr import REPR_LIMIT, compact_repr, summarize, text_table
from xbarsim.devices import rram_1t1r_nist


def _default_repr(obj: object) -> str:
    """What the generated dataclass repr printed before (every array in full)."""
    with np.printoptions(threshold=1_000_000):
        return ", ".join(f"{f.name}={getattr(obj, f.name)!r}" for f in dataclasses.fields(obj))


@pytest.fixture(scope="module")
def results() -> dict[str, object]:
    rng = np.random.default_rng(14)
    cb = xb.Crossbar(conductance=rng.uniform(1e-6, 1e-4, (64, 64)), lines=xb.LineResistance.uniform(1.0))
    out: dict[str, object] = {}
    out["WriteComparison"] = an.compare_write_schemes(cb, 2.0, cell=(3, 4))
    out["WriteAnalysis"] = out["WriteComparison"].results[0]  # type: ignore[attr-defined]
    out["ReadMarginCurve"] = an.read_margin_curve([4, 8, 16], g_on=1e-4, g_off=1e-6, v_read=0.3)
    out["Dataset"] = nw.load_dataset("half-moons")
    net = nw.init_mlp((2, 40, 2), rng=0)
    out["MLP"] = net
    out["TrainResult"] = nw.train(net, out["Dataset"], nw.TrainConfig(epochs=2))  # type: ignore[arg-type]
    preset = rram_1t1r_nist(stuck_rate=0.01)
    chip = mp.Chip.sample(n_kernels=4, kernel_shape=(25, 25), preset=preset, rng=rng)
    out["Chip"] = chip
    char = mp.characterize(chip, rng)
    out["Characterization"] = char
    mapped = mp.map_network([np.sign(rng.normal(size=(20, 10)))], chip, rng, ensemble=mp.EnsembleConfig.lea(2, 1))
    out["MappedNetwork"] = mapped
    out["MappedLayer"] = mapped.layers[0]
    out["Crossbar"] = xb.Crossbar(conductance=rng.uniform(1e-6, 1e-4, (32, 32)), lines=xb.LineResistance.uniform(2.0))
    out["LineResistance"] = out["Crossbar"].lines  # type: ignore[attr-defined]
    out["MonteCarloResult"] = ev.monte_carlo(net, out["Dataset"], ev.Hardware(preset="tio2_passive"),  # type: ignore[arg-type]
                                             transfers=3, seed=0)
    return out


@pytest.mark.parametrize("name", ["WriteComparison", "WriteAnalysis", "ReadMarginCurve", "Dataset", "MLP",
                                  "TrainResult", "Chip", "Characterization", "MappedNetwork", "MappedLayer",
                                  "Crossbar", "LineResistance", "MonteCarloResult"])
def test_reprs_are_short_and_name_their_class(results, name):
    obj = results[name]
    text = repr(obj)
    assert type(obj).__name__ == name and text.startswith(f"{name}(")
    assert len(text) <= REPR_LIMIT, text
    assert "\n" not in text
    assert len(_default_repr(obj)) > 4 * len(text)  # what it replaces


def test_write_comparison_repr_and_report_carry_its_numbers(results):
    wc = results["WriteComparison"]
    text = repr(wc)
    assert "shape=(64, 64)" in text and "cell=(3, 4)" in text
    for r in wc.results:
        assert f"selected_fraction[{r.scheme}]={r.selected_voltage / r.v_write:.4g}" in text
    lines = wc.report().splitlines()
    assert lines[0].startswith("write 2 V on cell (3, 4) of a 64x64 array")
    body = {line.split()[0]: line.split()[1:] for line in lines[3:]}
    assert list(body) == list(wc.schemes)
    for r in wc.results:
        row = body[r.scheme]
        v = np.asarray(r.cell_voltages)
        half = np.concatenate([np.delete(v[r.row], r.col), np.delete(v[:, r.col], r.row)])
        assert float(row[0]) == pytest.approx(v[r.row, r.col], rel=1e-3)
        assert float(row[2]) == pytest.approx(np.abs(half).max(), rel=1e-3)
        unsel = np.delete(np.delete(v, r.row, axis=0), r.col, axis=1)
        assert float(row[3]) == pytest.approx(np.abs(unsel).max(), rel=1e-3)
        disturbed = np.abs(v) > r.threshold
        disturbed[r.row, r.col] = False
        assert int(row[4]) == int(disturbed.sum())


def test_monte_carlo_and_crossbar_reprs_carry_their_numbers(results):
    """Before, ``print(mc)`` dumped every (transfers, points) array in full and a 32x32 crossbar's repr
    printed its 32x31 and 31x32 wire arrays (about 10 KB): now the key figures and summaries."""
    mc = results["MonteCarloResult"]
    text = repr(mc)
    assert text.startswith(f"MonteCarloResult(transfers=3, points={mc.correct.shape[1]}, ")  # type: ignore[attr-defined]
    assert f"robust_fraction={mc.robust_fraction:.4g}" in text  # type: ignore[attr-defined]
    assert f"mean_accuracy={mc.mean_accuracy:.4g}" in text  # type: ignore[attr-defined]
    assert "conductance=float64[32, 32] in [" in repr(results["Crossbar"])
    assert "row_segment=float64[32, 31] in [2, 2]" in repr(results["LineResistance"])
    assert repr(xb.LineResistance(row_segment=1.5)).startswith("LineResistance(row_segment=1.5, col_segment=0,")


def test_read_margin_curve_report_matches_its_array(results):
    rc = results["ReadMarginCurve"]
    lines = rc.report().splitlines()
    assert lines[1].split() == ["n", *rc.schemes]
    for j, line in enumerate(lines[3:]):
        cells = line.split()
        assert int(cells[0]) == int(rc.sizes[j])
        on, off = np.asarray(rc.sensed_on)[:, j], np.asarray(rc.sensed_off)[:, j]
        np.testing.assert_allclose([float(c) for c in cells[1:]], (on - off) / on, rtol=1e-3, atol=1e-4)


def test_dataset_report_counts_every_example(results):
    ds = results["Dataset"]
    assert "train=875" in repr(ds) and "features=2" in repr(ds)
    lines = ds.report().splitlines()
    for line, y in zip(lines[3:], (ds.y_train, ds.y_val, ds.y_test)):
        cells = line.split()
        assert int(cells[1]) == len(y)
        assert [int(c) for c in cells[2:]] == [int((np.asarray(y) == k).sum()) for k in range(ds.n_classes)]


def test_summaries_and_tables():
    assert summarize(np.zeros((3, 4))) == "float64[3, 4] in [0, 0]"
    assert summarize(np.array([1.0, 2.0])) == "float64[2] [1., 2.]"
    assert summarize((np.zeros(2), np.ones((2, 3)))) == "(float64[2], float64[2, 3])"
    assert summarize(tuple(range(10))) == "<10 int>"
    assert summarize(1.23456789) == "1.235"

    @dataclasses.dataclass
    class Many:
        __repr__ = compact_repr
        a: np.ndarray
        b: str

    long = Many(a=np.zeros(5), b="x" * 1000)
    assert len(repr(long)) <= REPR_LIMIT
    assert text_table(("a", "bb"), [(1, 2.5), ("x", 1e-7)]).splitlines() == ["a     bb", "-  -----", "1    2.5", "x  1e-07"]
