"""The ngspice backend's subprocess mode: same answers as the shared library, and hangs are killed."""

from __future__ import annotations

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.solver.ngspice import read_raw


def _circuit(rng: np.random.Generator, device: xb.DeviceModel) -> tuple[xb.Crossbar, xb.BiasScheme]:
    cb = xb.Crossbar(conductance=rng.uniform(1e-6, 1e-4, (5, 4)),
                     lines=xb.LineResistance.uniform(2.0, driver=3.0, sense=1.0), device=device)
    return cb, xb.BiasScheme.read(rng.uniform(-0.5, 1.0, (2, 5)))


@pytest.mark.parametrize("device", [xb.Ohmic(), xb.Sinh(a=2.0)], ids=["ohmic", "sinh"])
def test_subprocess_mode_agrees_with_shared_library_and_sparse(rng, device):
    cb, bias = _circuit(rng, device)
    sub = xb.solve(cb, bias, xb.NgspiceBackend(xb.NgspiceOptions(mode="subprocess", timeout_s=30)))
    shared = xb.solve(cb, bias, "ngspice")
    sparse = xb.solve(cb, bias)
    xb.assert_agree(shared, sub, rtol=1e-12)
    xb.assert_agree(sparse, sub, rtol=1e-9)
    assert sub.output_currents.shape == (2, 4)


def test_a_hanging_run_is_killed_after_the_timeout(rng):
    cb = xb.Crossbar(conductance=rng.uniform(1e-6, 1e-4, (40, 40)), lines=xb.LineResistance.uniform(1.0))
    backend = xb.NgspiceBackend(xb.NgspiceOptions(mode="subprocess", timeout_s=0.01, max_cells=1600))
    with pytest.raises(xb.BackendError, match="timeout_s=0.01"):
        xb.solve(cb, xb.BiasScheme.read(np.ones(40)), backend)


def test_an_unsolvable_netlist_is_a_backend_error_not_nan(rng):
    # a device law that overflows: ngspice cannot find an operating point
    cb = xb.Crossbar(conductance=np.full((2, 2), 1e-3), lines=xb.LineResistance.uniform(1.0),
                     device=xb.Sinh(a=400.0))
    backend = xb.NgspiceBackend(xb.NgspiceOptions(mode="subprocess", timeout_s=30))
    with pytest.raises(xb.BackendError):
        xb.solve(cb, xb.BiasScheme.read(np.array([5.0, -5.0])), backend)


def test_missing_binary_is_backend_unavailable(rng):
    cb, bias = _circuit(rng, xb.Ohmic())
    backend = xb.NgspiceBackend(xb.NgspiceOptions(mode="subprocess", binary="no-such-ngspice-xyz"))
    with pytest.raises(xb.BackendUnavailableError, match="no-such-ngspice-xyz"):
        xb.solve(cb, bias, backend)


@pytest.mark.parametrize("kwargs, name", [({"mode": "batch"}, "mode"), ({"timeout_s": -1.0, "mode": "subprocess"}, "timeout_s"),
                                          ({"timeout_s": 5.0}, "timeout_s"), ({"max_cells": 0}, "max_cells")])
def test_bad_options_are_config_errors(kwargs, name):
    with pytest.raises(xb.ConfigError, match=name):
        xb.NgspiceOptions(**kwargs)


def test_read_raw_rejects_a_file_without_data(tmp_path):
    p = tmp_path / "empty.raw"
    p.write_text("Title: nothing\nNo. Variables: 0\n")
    with pytest.raises(xb.BackendError):
        read_raw(p)
