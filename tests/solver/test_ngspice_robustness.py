"""Issue 13, ngspice durability and typed errors: a timeout kills the whole process group (real
ngspice runs, started through a wrapper that forks it), a binary that cannot run and a raw file
that cannot be parsed are one-line typed errors naming the option or the file."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.solver.ngspice import read_raw


def _slow_circuit() -> tuple[xb.Crossbar, xb.BiasScheme]:
    """80x80 sinh cells: ngspice -b needs ~30 s for this operating point (measured here)."""
    cb = xb.Crossbar(conductance=np.full((80, 80), 1e-4), lines=xb.LineResistance.uniform(1.0), device=xb.Sinh(a=2.07))
    return cb, xb.BiasScheme.read(np.full(80, 0.5))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_a_timeout_kills_the_whole_process_group(tmp_path, ngspice_binary):
    """The wrapper forks ngspice and waits; killing only the wrapper (subprocess.run's timeout)
    would leave ngspice running for half a minute."""
    pidfile = tmp_path / "ngspice.pid"
    wrapper = tmp_path / "ngspice-wrapper"
    wrapper.write_text(f'#!/bin/sh\n"{ngspice_binary}" "$@" &\necho $! > "{pidfile}"\nwait $!\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    backend = xb.NgspiceBackend(xb.NgspiceOptions(mode="subprocess", timeout_s=1.5, max_cells=6400, binary=str(wrapper)))
    cb, bias = _slow_circuit()
    t0 = time.monotonic()
    with pytest.raises(xb.BackendError, match="timeout_s=1.5 s; its process group was killed"):
        xb.solve(cb, bias, backend)
    assert time.monotonic() - t0 < 20
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), f"ngspice (pid {pid}) survived the timeout"


def test_a_direct_ngspice_run_that_times_out_is_killed(ngspice_binary):
    backend = xb.NgspiceBackend(xb.NgspiceOptions(mode="subprocess", timeout_s=1.0, max_cells=6400))
    before = {p for p in os.listdir("/proc") if p.isdigit()}
    cb, bias = _slow_circuit()
    with pytest.raises(xb.BackendError, match="timeout_s=1.0"):
        xb.solve(cb, bias, backend)
    time.sleep(0.2)
    survivors = []
    for p in {p for p in os.listdir("/proc") if p.isdigit()} - before:
        try:
            if Path(f"/proc/{p}/comm").read_text().strip() == "ngspice" and _alive(int(p)):
                survivors.append(p)
        except OSError:
            pass
    assert not survivors


@pytest.mark.parametrize("kind", ["no-exec-bit", "directory", "exec-format"])
def test_a_binary_that_cannot_run_is_a_typed_error(tmp_path, kind):
    path = tmp_path / "ngspice"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"\x00\x01 not an executable\n")
        if kind == "exec-format":
            path.chmod(0o755)
    backend = xb.NgspiceBackend(xb.NgspiceOptions(mode="subprocess", binary=str(path)))
    cb = xb.Crossbar(conductance=np.full((2, 2), 1e-5))
    with pytest.raises(xb.BackendUnavailableError) as info:
        xb.solve(cb, xb.BiasScheme.read([0.1, 0.2]), backend)
    assert str(path) in str(info.value) and "`binary`" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("content", [
    b"", b"garbage without newline", b"Title: x\nNo. Variables: 2\nNo. Points: 1\nVariables:\n\t0\tv(a)\tvoltage\n",
    b"Title: x\nNo. Variables: 2\nNo. Points: 1\nVariables:\n\t0\tv(a)\tvoltage\n\t1\tv(b)\tvoltage\nBinary:\n\x00\x01",
    b"Title: x\nNo. Variables: 1\nNo. Points: 1\nVariables:\n\t0\tv(a)\tvoltage\nValues:\n 0\tnot-a-number\n",
    b"No. Variables: x\n", b"\xff\xfe\x00Variables:\nBinary:\n",
])
def test_a_raw_file_that_cannot_be_parsed_is_a_typed_error(tmp_path, content):
    raw = tmp_path / "out.raw"
    raw.write_bytes(content)
    with pytest.raises(xb.BackendError, match="cannot be parsed") as info:
        read_raw(raw)
    assert str(raw) in str(info.value) and "\n" not in str(info.value)


def test_a_good_raw_file_still_parses(tmp_path, ngspice_binary):
    import subprocess

    cir = tmp_path / "c.cir"
    cir.write_text(xb.to_spice(xb.build_netlist(xb.Crossbar(conductance=[[1e-4]]), xb.BiasScheme.read([0.5]))))
    raw = tmp_path / "c.raw"
    subprocess.run([ngspice_binary, "-b", "-r", str(raw), str(cir)], check=True, capture_output=True, timeout=60)
    vectors = read_raw(raw)
    assert vectors["vsns_b0#branch"][0] == pytest.approx(0.5e-4, rel=1e-12)  # flows into its + terminal
