"""Per-cell parameters of the dynamic model (device-to-device variability): validation, layout,
SPICE form per cell, and the sparse stepper against ngspice on an array whose cells differ."""

from __future__ import annotations

import numpy as np
import pytest

from xbarsim.devices import Vteam, tio2_vteam, with_threshold_spread
from xbarsim.errors import ConfigError
from xbarsim.netlists import BiasScheme, Crossbar, LineResistance, Pulse, build_transient, transient_to_spice
from xbarsim.solver import TransientOptions, crosscheck_transient, simulate_transient

BASE = dict(g_on=1e-4, g_off=1e-5, v_set=1.0, v_reset=-1.2, k_set=1e6, k_reset=1e6, alpha_set=2.0, alpha_reset=2.0)


def _spread(shape=(3, 4), seed=0) -> Vteam:
    rng = np.random.default_rng(seed)
    return Vteam(**{**BASE, "v_set": rng.uniform(0.6, 1.4, shape), "v_reset": -rng.uniform(0.6, 1.4, shape),
                    "k_set": 10 ** rng.uniform(5.5, 6.5, shape)})


@pytest.mark.parametrize("kw, match", [
    (dict(v_set=np.ones(4)), "`v_set` must be a scalar or an \\(M, N\\) array"),
    (dict(v_set=np.ones((2, 2)), v_reset=-np.ones((2, 3))), "share one \\(M, N\\) shape"),
    (dict(v_set=np.array([[1.0, -1.0]])), "`v_set` must have one sign"),
    (dict(v_reset=np.array([[-1.0, 0.0]])), "`v_reset` must be a non-zero"),
    (dict(k_reset=np.array([[1e6, -1.0]])), "`k_reset` must be a positive rate constant in 1/s; got -1.0"),
    (dict(v_reset=np.array([[1.0, 2.0]])), "opposite sign"),
    (dict(k_set=np.array([[1e6, np.nan]])), "`k_set`"),
])
def test_bad_per_cell_parameters_raise_config_error_naming_them(kw, match):
    with pytest.raises(ConfigError, match=match):
        Vteam(**{**BASE, **kw})


def test_per_cell_rates_equal_each_cells_own_scalar_model_in_both_layouts():
    m = _spread()
    rng = np.random.default_rng(1)
    v = rng.uniform(-2.5, 2.5, (5, 3, 4))
    w = rng.uniform(0.05, 0.95, (5, 3, 4))
    f, fv, fw = m.rate_partials(v, w)  # trailing (M, N) axes
    ff, ffv, ffw = m.rate_partials(v.reshape(5, 12), w.reshape(5, 12))  # the solvers' flat cell axis
    for i in range(3):
        for j in range(4):
            c = m.cell(i, j)
            assert c.cell_shape is None and c.v_set == m.v_set[i, j] and c.k_set == m.k_set[i, j]
            ref = c.rate_partials(v[:, i, j], w[:, i, j])
            for got, flat, r in zip((f, fv, fw), (ff, ffv, ffw), ref, strict=True):
                np.testing.assert_array_equal(got[:, i, j], r)
                np.testing.assert_array_equal(flat[:, 4 * i + j], r)
    assert (f != 0).any() and (f == 0).any()  # some cells beyond their threshold, some not
    with pytest.raises(ConfigError, match="do not match the per-cell parameters"):
        m.rate_partials(np.zeros(7), np.zeros(7))
    with pytest.raises(ConfigError, match="`j` must be a cell index"):
        m.cell(0, 4)


def test_equality_hash_and_immutability():
    a, b, c = _spread(seed=0), _spread(seed=0), _spread(seed=1)
    assert a == b and hash(a) == hash(b) and a != c and a != Vteam(**BASE)
    assert Vteam(**BASE) == Vteam(**BASE) and hash(Vteam(**BASE)) == hash(Vteam(**BASE))
    with pytest.raises(ValueError, match="read-only"):
        a.v_set[0, 0] = 0.1  # read-only copy
    src = np.full((2, 2), 1.0)
    m = Vteam(**{**BASE, "v_set": src})
    src[0, 0] = 5.0
    assert m.v_set[0, 0] == 1.0


def test_threshold_spread_draws_per_cell_thresholds():
    m = tio2_vteam()
    s = with_threshold_spread(m, (40, 50), sigma_set=0.05, sigma_reset=0.08, rng=np.random.default_rng(3))
    assert s.cell_shape == (40, 50) and s.k_set == m.k_set and s.alpha_reset == m.alpha_reset
    z = np.random.default_rng(3).standard_normal((2, 40, 50))  # independent recomputation of the draw
    np.testing.assert_allclose(s.v_set, np.maximum(m.v_set + 0.05 * z[0], 0.05), rtol=0, atol=1e-15)
    np.testing.assert_allclose(s.v_reset, -np.maximum(-m.v_reset + 0.08 * z[1], 0.05), rtol=0, atol=1e-15)
    assert abs(np.std(s.v_reset) - 0.08) < 0.005 and abs(np.mean(s.v_set) - m.v_set) < 0.005
    z0 = with_threshold_spread(m, (2, 2), sigma_set=0.0, sigma_reset=0.0, rng=np.random.default_rng(0))
    assert np.all(z0.v_set == m.v_set) and np.all(z0.v_reset == m.v_reset)
    for kw, match in ((dict(sigma_set=-0.1), "`sigma_set`"), (dict(floor=0.0), "`floor`"), (dict(shape=(2,)), "`shape`")):
        args = dict(shape=(2, 2), sigma_set=0.1, sigma_reset=0.1, rng=np.random.default_rng(0)) | kw
        with pytest.raises(ConfigError, match=match):
            with_threshold_spread(m, **args)
    with pytest.raises(ConfigError, match="scalar thresholds"):
        with_threshold_spread(s, (2, 2), sigma_set=0.1, sigma_reset=0.1, rng=np.random.default_rng(0))


def test_spice_lines_carry_each_cells_parameters():
    m = _spread()
    with pytest.raises(ConfigError, match="`cell` must name"):
        m.spice_cell("c", "a", "b", "w")
    for i, j in ((0, 0), (2, 3)):
        assert m.spice_cell("c", "a", "b", "w", cell=(i, j)) == m.cell(i, j).spice_cell("c", "a", "b", "w")
    assert m.spice_cell("c", "a", "b", "w", cell=(0, 0)) != m.spice_cell("c", "a", "b", "w", cell=(2, 3))
    xb = Crossbar(conductance=m.conductance(np.full((3, 4), 0.5)), lines=LineResistance.uniform(2.0))
    tc = build_transient(xb, BiasScheme.write(1, 2, 1.5, "v/2"), m, Pulse(amplitude=1.0, rise=1e-8, width=1e-7, fall=1e-8))
    text = transient_to_spice(tc, step=1e-8, stop=1.2e-7, method="trap")
    for i, j in ((0, 0), (2, 3)):
        line = next(x for x in text.splitlines() if x.startswith(f"Bwcell{i}_{j} 0 w{i}_{j} I="))
        assert f"{m.k_set[i, j]:.17g}*pow" in line and f"/{m.v_set[i, j]:.17g}-1" in line
        assert f"/{m.v_reset[i, j]:.17g}-1" in line and f"/{m.v_set[2 - i, 3 - j]:.17g}-1" not in line
    with pytest.raises(ConfigError, match="must match the crossbar's shape"):
        build_transient(Crossbar(conductance=np.full((4, 3), 5e-5), lines=LineResistance()),
                        BiasScheme.write(0, 0, 1.0, "v/2"), m, Pulse(amplitude=1.0, rise=1e-8, width=1e-7, fall=1e-8))


@pytest.mark.parametrize("scheme, method", [("v/2", "trap"), ("floating", "be")])
def test_sparse_agrees_with_ngspice_on_cells_with_their_own_thresholds(scheme, method):
    """Under V/2 half-selected cells see ~0.75 V: cells with low thresholds move, the others do not."""
    rng = np.random.default_rng(4)
    shape = (4, 5)
    low = (np.add.outer(np.arange(4), np.arange(5)) % 2) == 0  # checkerboard of low RESET thresholds
    m = Vteam(**{**BASE, "v_set": rng.uniform(0.6, 1.3, shape), "v_reset": np.where(low, -0.6, -1.3),
                 "k_reset": 10 ** rng.uniform(5.5, 6.5, shape), "window": "biolek", "iv": "sinh", "p": 2})
    lines = LineResistance(row_segment=rng.uniform(0.5, 4, (4, 4)), col_segment=rng.uniform(0.5, 4, (3, 5)),
                           row_driver=rng.uniform(5, 20, 4), col_sense=rng.uniform(5, 20, 5))
    xb = Crossbar(conductance=m.conductance(rng.uniform(0.2, 0.8, shape)), lines=lines)
    tc = build_transient(xb, BiasScheme.write(2, 1, -1.5, scheme), m, Pulse(amplitude=1.0, rise=5e-8, width=5e-7, fall=5e-8))
    cc = crosscheck_transient(tc, TransientOptions(method=method, dt=2e-8))
    cc.assert_agree(1e-6)
    dw = np.abs(cc.sparse.state[-1] - cc.sparse.state[0])
    assert dw[2, 1] > 1e-3
    if scheme == "v/2":
        half = np.zeros(shape, bool)
        half[2, :] = half[:, 1] = True
        half[2, 1] = False
        # half-selected cells see ~0.7 V: those beyond their own threshold (0.6 V) move, the others
        # (1.3 V) and the unselected cells (~0 V) do not
        assert (dw[half & low] > 1e-5).all() and (dw[half & ~low] == 0).all() and (dw[~half & (dw < 1e-3)] == 0).all()
        assert (dw[~half] == 0).sum() == 20 - 8
    # a crossbar of the cells' own scalar models, pulse by pulse, is what the per-cell model gives:
    # drive every cell with its recorded voltage through its scalar model (backward Euler is exact to replay)
    res = simulate_transient(tc, TransientOptions(method="be", dt=2e-8))
    w = res.state[0].copy()
    for k in range(1, res.times.size):
        h = res.times[k] - res.times[k - 1]
        for i in range(4):
            for j in range(5):
                c, u = m.cell(i, j), res.cell_voltage[k, i, j]
                x = w[i, j]
                for _ in range(60):  # scalar Newton on x - h f(u, x) = w
                    f, _, fw = c.rate_partials(np.array(u), np.array(x))
                    x = x - (x - h * f - w[i, j]) / (1 - h * fw)
                w[i, j] = x
    np.testing.assert_allclose(w, res.state[-1], rtol=0, atol=1e-12)
