"""SPICE text: a golden 2x2 netlist, and generated text run by the real ``ngspice`` binary."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from xbartest import random_crossbar

import xbarsim as xb
from xbarsim.errors import ConfigError

# ----------------------------------------------------------------------------- ngspice raw files


def read_raw(path: Path) -> dict[str, np.ndarray]:
    """Parse an ngspice raw file (binary or ASCII, real data) into ``{name: values}``.

    The header is ``Key: value`` lines; ``Variables:`` is followed by one ``index name type`` line
    per variable; then ``Binary:`` (little-endian float64, point by point, every variable in turn) or
    ``Values:`` (ASCII, the point index before the first value of each point). Names are lowercased.
    """
    data = path.read_bytes()
    names: list[str] = []
    header: dict[str, str] = {}
    pos = 0
    while True:
        end = data.index(b"\n", pos)
        line = data[pos:end].decode("ascii").rstrip("\r")
        pos = end + 1
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "variables":
            for _ in range(int(header["no. variables"])):
                end = data.index(b"\n", pos)
                names.append(data[pos:end].decode("ascii").split()[1].lower())
                pos = end + 1
        elif key in ("binary", "values"):
            break
        else:
            header[key] = value.strip()
    assert header["flags"].split()[0] == "real", header["flags"]
    nvar, npts = int(header["no. variables"]), int(header["no. points"])
    if key == "binary":
        values = np.frombuffer(data, dtype="<f8", count=nvar * npts, offset=pos).reshape(npts, nvar)
    else:
        tokens = data[pos:].decode("ascii").split()
        rows = [tokens[p * (nvar + 1) + 1 : (p + 1) * (nvar + 1)] for p in range(npts)]
        values = np.array(rows, dtype=float)
    return {name: values[:, k] for k, name in enumerate(names)}


def run_ngspice(binary: str, text: str, tmp_path: Path) -> dict[str, float]:
    """Run ``ngspice -b -r out.raw file.cir`` on ``text`` as it is; the operating point by name."""
    cir = tmp_path / "circuit.cir"
    raw = tmp_path / "out.raw"
    cir.write_text(text)
    proc = subprocess.run([binary, "-b", "-r", str(raw), str(cir)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stderr.lower(), proc.stderr
    assert raw.exists(), proc.stdout + proc.stderr
    return {k: float(v[0]) for k, v in read_raw(raw).items()}


def test_raw_parser_reads_a_known_divider(ngspice_binary, tmp_path):
    """The parser itself, on a circuit solved by hand: 3 V over 1k + 2k."""
    text = "divider\nV1 a 0 DC 3\nR1 a b 1000\nR2 b 0 2000\n.op\n.end\n"
    op = run_ngspice(ngspice_binary, text, tmp_path)
    assert op["v(a)"] == pytest.approx(3.0, rel=1e-15)
    assert op["v(b)"] == pytest.approx(2.0, rel=1e-14)
    assert op["i(v1)"] == pytest.approx(-1e-3, rel=1e-14)  # branch current flows into the + terminal
    ascii_text = text.replace(".end", ".control\nset filetype=ascii\nrun\nwrite {}\n.endc\n.end")
    ascii_raw = tmp_path / "ascii.raw"
    cir = tmp_path / "ascii.cir"
    cir.write_text(ascii_text.format(ascii_raw))
    subprocess.run([ngspice_binary, "-b", str(cir)], capture_output=True, check=True, timeout=60, cwd=tmp_path)
    assert ascii_raw.read_bytes().count(b"Values:") == 1
    assert read_raw(ascii_raw)["v(b)"][0] == pytest.approx(2.0, rel=1e-12)


# ----------------------------------------------------------------------------- golden 2x2
# Cell resistances are powers of two and the other values short decimals, so that the 17-digit
# rendering the SPICE writer documents is the short exact form written below.
G2 = np.array([[2.0**-10, 2.0**-11], [2.0**-12, 2.0**-9]])  # 1024, 2048, 4096, 512 ohm
LINES2 = xb.LineResistance(
    row_segment=[[1.5], [2.5]], col_segment=[[3.0, 3.5]], row_driver=[10.0, 20.0], col_sense=[5.0, 6.0]
)
V2 = [0.5, -0.25]

# Naming (xbarsim/netlists/spice.py and netlist.py): nodes r{i}_{j}, c{i}_{j}, drv_l{i}, sns_b{j};
# Rrow{i}_{j} joins (i, j)-(i, j+1), Rcol{i}_{j} joins (i, j)-(i+1, j); Rdrv_l{i} runs from the driver
# to row node (i, 0), Rsns_b{j} from the sense node to column node (M-1, j); R + cell{i}_{j} is the
# ohmic device from row node to column node; V{end}{line} to ground node 0; then .op and .end.
GOLDEN_2X2 = """golden 2x2

Rrow0_0 r0_0 r0_1 1.5
Rrow1_0 r1_0 r1_1 2.5
Rcol0_0 c0_0 c1_0 3
Rcol0_1 c0_1 c1_1 3.5
Rdrv_l0 drv_l0 r0_0 10
Rdrv_l1 drv_l1 r1_0 20
Rsns_b0 sns_b0 c1_0 5
Rsns_b1 sns_b1 c1_1 6

Rcell0_0 r0_0 c0_0 1024
Rcell0_1 r0_1 c0_1 2048
Rcell1_0 r1_0 c1_0 4096
Rcell1_1 r1_1 c1_1 512

Vdrv_l0 drv_l0 0 DC 0.5
Vdrv_l1 drv_l1 0 DC -0.25
Vsns_b0 sns_b0 0 DC 0
Vsns_b1 sns_b1 0 DC 0
.op
.end
"""


def _significant(text: str) -> list[str]:
    """Non-blank lines without SPICE comments (``*`` lines carry counts, not circuit)."""
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("*")]


def _netlist_2x2() -> xb.Netlist:
    return xb.build_netlist(xb.Crossbar(conductance=G2, lines=LINES2), xb.BiasScheme.read(V2))


def test_golden_2x2_text():
    assert _significant(xb.to_spice(_netlist_2x2(), title="golden 2x2")) == _significant(GOLDEN_2X2)


def test_default_title_and_ending():
    text = xb.to_spice(_netlist_2x2())
    lines = text.splitlines()
    assert "2x2" in lines[0] and "ohmic" in lines[0]  # SPICE reads line 1 as the title, whatever it is
    assert lines[-2:] == [".op", ".end"]
    assert text.endswith("\n")


@pytest.mark.parametrize("title", ["t\nRx r0_0 0 1", "t\r\n.end", "t\r", "t\u2028x", "\n"])
def test_title_with_a_line_break_is_refused(title):
    # before: the rest of the title became a circuit line; "t\nRx r0_0 0 1" put a 1 ohm resistor from
    # row 0 to ground and ngspice -b reported 0.3 A drawn from Vdrv_l0 instead of 6 uA, without a word
    for netlist, index in ((_netlist_2x2(), 0), (xb.build_netlist(xb.Crossbar(conductance=G2, lines=LINES2),
                                                                  xb.BiasScheme.read([V2, [0.125, 1.0]])), None)):
        with pytest.raises(ConfigError, match="`title` must be one line"):
            xb.to_spice(netlist, index=index, title=title)
    with pytest.raises(ConfigError, match="`title` must be a str"):
        xb.to_spice(_netlist_2x2(), title=12)  # type: ignore[arg-type]


def test_title_with_odd_characters_runs(tmp_path, ngspice_binary):
    title = "golden 2x2 \"q\" 'a' * .end + \u00fc\u2603 \\ ; $"
    text = xb.to_spice(_netlist_2x2(), title=title)
    assert text.splitlines()[0] == title
    (tmp_path / "t.cir").write_text(text, encoding="utf-8")
    out = subprocess.run([ngspice_binary, "-b", str(tmp_path / "t.cir")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "vdrv_l0#branch" in out.stdout.lower(), out.stdout + out.stderr


def test_golden_2x2_batch_entry_picks_its_voltages():
    netlist = xb.build_netlist(xb.Crossbar(conductance=G2, lines=LINES2), xb.BiasScheme.read([V2, [0.125, 1.0]]))
    lines = _significant(xb.to_spice(netlist, index=1, title="golden 2x2"))
    assert "Vdrv_l0 drv_l0 0 DC 0.125" in lines
    assert "Vdrv_l1 drv_l1 0 DC 1" in lines
    assert lines[:-6] == _significant(GOLDEN_2X2)[:-6]
    with pytest.raises(ConfigError, match="index"):
        xb.to_spice(netlist, index=2)


def test_golden_2x2_with_ideal_ends_merges_nodes_into_the_lower_name():
    """A zero driver merges ``drv_l{i}`` into row node ``r{i}_0``; a zero sense merges ``sns_b{j}`` into
    ``c{M-1}_{j}``: the resistors vanish and the sources hold the grid node itself."""
    lines = xb.LineResistance(row_segment=[[1.5], [2.5]], col_segment=[[3.0, 3.5]], row_driver=0.0, col_sense=0.0)
    netlist = xb.build_netlist(xb.Crossbar(conductance=G2, lines=lines), xb.BiasScheme.read(V2))
    expected = [ln for ln in _significant(GOLDEN_2X2) if not ln.startswith(("Rdrv", "Rsns", "V"))]
    expected[-2:-2] = [
        "Vdrv_l0 r0_0 0 DC 0.5",
        "Vdrv_l1 r1_0 0 DC -0.25",
        "Vsns_b0 c1_0 0 DC 0",
        "Vsns_b1 c1_1 0 DC 0",
    ]
    assert _significant(xb.to_spice(netlist, title="golden 2x2")) == expected
    assert netlist.node_names() == ["r0_0", "r0_1", "r1_0", "r1_1", "c0_0", "c0_1", "c1_0", "c1_1"]


def test_open_cells_are_left_out_of_the_text():
    g = G2.copy()
    g[0, 1] = 0.0
    text = xb.to_spice(xb.build_netlist(xb.Crossbar(conductance=g, lines=LINES2), xb.BiasScheme.read(V2)))
    assert "cell0_1" not in text
    assert sum(ln.startswith("Rcell") for ln in text.splitlines()) == 3


def test_values_round_trip_doubles_exactly(rng):
    g = rng.uniform(1e-6, 1e-4, (2, 3))
    lines = xb.LineResistance(row_segment=rng.uniform(0.1, 10.0, (2, 2)), row_driver=rng.uniform(1, 100, 2))
    v = rng.uniform(-1, 1, 2)
    text = xb.to_spice(xb.build_netlist(xb.Crossbar(conductance=g, lines=lines), xb.BiasScheme.read(v)))
    values = {ln.split()[0]: ln.split()[-1] for ln in _significant(text)[1:-2]}
    for i in range(2):
        assert float(values[f"Vdrv_l{i}"]) == v[i]
        assert float(values[f"Rdrv_l{i}"]) == lines.row_driver[i]
        for j in range(3):
            assert float(values[f"Rcell{i}_{j}"]) == 1.0 / g[i, j]
        for j in range(2):
            assert float(values[f"Rrow{i}_{j}"]) == lines.row_segment[i, j]


def test_golden_2x2_runs_under_ngspice(ngspice_binary, tmp_path):
    """The golden text, run as it is, gives the currents of the 2x2 circuit solved by hand (dense
    nodal equations over the 12 named nodes, written out here from the element list)."""
    op = run_ngspice(ngspice_binary, GOLDEN_2X2, tmp_path)
    elements = [ln.split() for ln in _significant(GOLDEN_2X2)[1:] if ln[0] == "R"]
    nodes = sorted({n for e in elements for n in e[1:3]} - {"drv_l0", "drv_l1", "sns_b0", "sns_b1"})
    fixed = {"drv_l0": V2[0], "drv_l1": V2[1], "sns_b0": 0.0, "sns_b1": 0.0}
    idx = {n: k for k, n in enumerate(nodes)}
    lap = np.zeros((len(nodes), len(nodes)))
    rhs = np.zeros(len(nodes))
    for _, a, b, r in elements:
        g = 1.0 / float(r)
        for p, q in ((a, b), (b, a)):
            if p in idx:
                lap[idx[p], idx[p]] += g
                if q in idx:
                    lap[idx[p], idx[q]] -= g
                else:
                    rhs[idx[p]] += g * fixed[q]
    v = dict(zip(nodes, np.linalg.solve(lap, rhs), strict=True))
    for name, value in v.items():
        assert op[f"v({name})"] == pytest.approx(value, rel=1e-12, abs=1e-15)
    # sense current flows from c1_j through Rsns_bj into the source's + terminal
    assert op["i(vsns_b0)"] == pytest.approx(v["c1_0"] / 5.0, rel=1e-12)
    assert op["i(vsns_b1)"] == pytest.approx(v["c1_1"] / 6.0, rel=1e-12)
    sol = xb.solve(xb.Crossbar(conductance=G2, lines=LINES2), xb.BiasScheme.read(V2))
    np.testing.assert_allclose(sol.output_currents, [op["i(vsns_b0)"], op["i(vsns_b1)"]], rtol=1e-12)


# ----------------------------------------------------------------------------- 16x16 through the binary
def _compare_with_sparse(netlist: xb.Netlist, op: dict[str, float]) -> None:
    sol = xb.solve_netlist(netlist, xb.SparseBackend(xb.SparseOptions(method="direct")))
    names = netlist.node_names()
    v_ng = np.array([op[f"v({nm})"] for nm in names])
    np.testing.assert_allclose(v_ng, sol.node_voltages, rtol=0, atol=1e-9 * np.abs(sol.node_voltages).max())
    # ngspice's branch current enters the + terminal: minus the current each source delivers. Sources
    # shorted onto one node report one branch (the others are commented out): compare per node.
    per_node_ng: dict[int, float] = {}
    per_node_sp: dict[int, float] = {}
    for s in range(netlist.source_node.size):
        node = int(netlist.source_node[s])
        key = f"i({netlist.source_name(s).lower()})"
        if key in op:
            per_node_ng[node] = per_node_ng.get(node, 0.0) - op[key]
        per_node_sp[node] = per_node_sp.get(node, 0.0) + float(sol.source_currents[s])
    assert per_node_ng.keys() == per_node_sp.keys()
    scale = max(abs(x) for x in per_node_sp.values())
    for node, current in per_node_sp.items():
        assert abs(per_node_ng[node] - current) <= 1e-9 * scale, names[node]


@pytest.mark.parametrize(
    "zero_fraction", [0.0, 0.25], ids=["all-resistive", "some-ideal-wires"]
)
def test_16x16_read_netlist_runs_in_ngspice_batch_mode(rng, ngspice_binary, tmp_path, zero_fraction):
    cb = random_crossbar(rng, 16, 16, g_zero_fraction=0.05, zero_fraction=zero_fraction)
    netlist = xb.build_netlist(cb, xb.BiasScheme.read(rng.uniform(-1.0, 1.0, 16)))
    op = run_ngspice(ngspice_binary, xb.to_spice(netlist), tmp_path)
    _compare_with_sparse(netlist, op)
    # every sense source is reported and is the column's output current
    sol = xb.solve_netlist(netlist, "sparse")
    i_sense = np.array([op[f"i(vsns_b{j})"] for j in range(16)])
    np.testing.assert_allclose(i_sense, sol.output_currents, rtol=0, atol=1e-9 * np.abs(sol.output_currents).max())


@pytest.mark.parametrize("scheme", ["v/3", "floating"])
def test_16x16_write_netlist_runs_in_ngspice_batch_mode(rng, ngspice_binary, tmp_path, scheme):
    lines = xb.LineResistance(row_segment=2.0, col_segment=2.0, row_driver=0.0, col_sense=0.0)
    cb = random_crossbar(rng, 16, 16, lines=lines)
    netlist = xb.build_netlist(cb, xb.BiasScheme.write(5, 11, 2.4, scheme))
    _compare_with_sparse(netlist, run_ngspice(ngspice_binary, xb.to_spice(netlist), tmp_path))


def test_shared_source_nodes_are_commented_not_duplicated(ngspice_binary, tmp_path):
    """Both row ends driven at the same voltage through ideal wires land on one node: the text keeps
    one source there (two would be a loop of voltage sources, which ngspice rejects)."""
    bias = xb.BiasScheme(row_left=xb.LineDrive.at([1.0, 0.5]), row_right=xb.LineDrive.at([1.0, 0.5]),
                         col_bottom=xb.LineDrive.at(0.0))
    cb = xb.Crossbar(conductance=np.full((2, 3), 1e-4), lines=xb.LineResistance(col_segment=1.0, col_sense=2.0))
    netlist = xb.build_netlist(cb, bias)
    text = xb.to_spice(netlist)
    assert sum(ln.startswith("V") for ln in text.splitlines()) == 2 + 3
    _compare_with_sparse(netlist, run_ngspice(ngspice_binary, text, tmp_path))
