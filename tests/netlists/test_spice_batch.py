"""Issue 13 item 6: a batched netlist writes every input vector into one deck, and the real
``ngspice -b`` run of that deck gives every vector's currents."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.netlists import to_spice
from xbarsim import cli

_BLOCK = re.compile(r"xbarsim operating point (\d+)\n((?:i\([^)]*\) = \S+\n)+)")


def _run_deck(ngspice_binary: str, path: Path) -> dict[int, dict[str, float]]:
    """Branch currents per operating point, parsed from what ``ngspice -b`` printed."""
    out = subprocess.run([ngspice_binary, "-b", str(path)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "LC_ALL": "C"})
    assert out.returncode == 0, out.stdout + out.stderr
    points: dict[int, dict[str, float]] = {}
    for k, body in _BLOCK.findall(out.stdout):
        points[int(k)] = {name: float(val) for name, val in re.findall(r"i\((\S+)\) = (\S+)", body)}
    return points


def _check_against_sparse(netlist: xb.Netlist, points: dict[int, dict[str, float]]) -> None:
    sol = xb.solve_netlist(netlist)
    src = np.asarray(sol.source_currents).reshape(netlist.batch_size, -1)
    assert sorted(points) == list(range(netlist.batch_size))
    for b in range(netlist.batch_size):
        for s in range(netlist.source_node.size):
            got = -points[b][netlist.source_name(s).lower()]  # branch current flows into the + terminal
            assert got == pytest.approx(src[b, s], rel=1e-9, abs=1e-9 * np.abs(src[b]).max())


def test_every_operating_point_of_a_batch_runs_in_one_deck(tmp_path, rng, ngspice_binary):
    cb = xb.Crossbar(conductance=rng.uniform(1e-6, 1e-4, (3, 4)), lines=xb.LineResistance.uniform(1.0, driver=5.0, sense=5.0))
    v = rng.uniform(-0.3, 0.3, (5, 3))
    v[2] = v[1]  # an unchanged vector: no alter lines, still its own operating point
    netlist = xb.build_netlist(cb, xb.BiasScheme.read(v))
    deck = tmp_path / "batch.cir"
    deck.write_text(to_spice(netlist, index=None))
    _check_against_sparse(netlist, _run_deck(ngspice_binary, deck))
    # one entry: index=None is exactly the single-point deck
    one = xb.build_netlist(cb, xb.BiasScheme.read(v[0]))
    assert to_spice(one, index=None) == to_spice(one)


def test_a_nonlinear_batch_deck_keeps_its_tolerances(tmp_path, rng, ngspice_binary):
    cb = xb.Crossbar(conductance=rng.uniform(1e-6, 1e-4, (2, 3)), lines=xb.LineResistance.uniform(2.0, driver=1.0),
                     device=xb.Sinh(a=2.07))
    netlist = xb.build_netlist(cb, xb.BiasScheme.read(rng.uniform(0, 0.5, (3, 2))))
    text = to_spice(netlist, index=None)
    assert ".options reltol=1e-12" in text
    deck = tmp_path / "sinh.cir"
    deck.write_text(text)
    _check_against_sparse(netlist, _run_deck(ngspice_binary, deck))


def test_cli_netlist_writes_every_vector_of_inputs(tmp_path, ngspice_binary, capsys):
    """The issue's command: ``xbarsim netlist --inputs batch.csv`` used to write only the first vector."""
    inputs = tmp_path / "batch.csv"
    v = np.array([[0.1, 0.2, 0.0], [0.3, 0.0, 0.1], [0.05, 0.05, 0.25], [0.2, 0.2, 0.2]])
    np.savetxt(inputs, v, delimiter=",")
    deck = tmp_path / "deck.cir"
    assert cli.main(["netlist", "--rows", "3", "--cols", "2", "--driver", "10", "--sense", "10",
                     "--inputs", str(inputs), "--out", str(deck)]) == 0
    rng = np.random.default_rng(0)  # the CLI's --seed 0 conductances
    cb = xb.Crossbar(conductance=rng.uniform(1e-6, 1e-4, (3, 2)),
                     lines=xb.LineResistance(row_segment=1.0, col_segment=1.0, row_driver=10.0, col_sense=10.0))
    netlist = xb.build_netlist(cb, xb.BiasScheme.read(v))
    assert deck.read_text() == to_spice(netlist, index=None)
    _check_against_sparse(netlist, _run_deck(ngspice_binary, deck))


def test_index_is_validated():
    netlist = xb.build_netlist(xb.Crossbar(conductance=np.full((2, 2), 1e-5)), xb.BiasScheme.read(np.ones((2, 2))))
    for bad in (2, -3, True, 0.5, "0"):
        with pytest.raises(xb.ConfigError, match="`index`"):
            to_spice(netlist, index=bad)  # type: ignore[arg-type]
