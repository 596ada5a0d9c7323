"""The circuit commands with device laws and presets; solve's cell voltages (CSV + heatmap) and its
JSON echo of the circuit; help texts; error messages that name flags."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

import xbarsim as xb
from xbarsim.cli import build_parser, main
from xbarsim.devices import LEA_SINH_A, tio2_passive
from xbarsim.experiments import read_csv


def _cell_voltages(path):
    return np.loadtxt(path, delimiter=",")  # the provenance line is a '#' comment


def test_solve_v2_with_a_sinh_device_writes_cell_voltages_and_echoes_the_circuit(tmp_path, capsys):
    out = tmp_path / "v2"
    assert main(["solve", "--rows", "6", "--cols", "5", "--scheme", "v/2", "--cell", "2", "3", "--v-write", "1.8",
                 "--device", "sinh", "--sinh-a", "1.5", "--segment", "2.0", "--seed", "4", "--out", str(out)]) == 0
    doc = json.loads((out / "solve.json").read_text())
    c = doc["circuit"]
    assert (c["rows"], c["cols"], c["scheme"], c["cell"], c["v_write_V"]) == (6, 5, "v/2", [2, 3], 1.8)
    assert (c["device"], c["sinh_a_per_V"], c["row_segment_ohm"], c["seed"]) == ("sinh", 1.5, 2.0, 4)
    # independent recomputation: the same circuit built by hand and solved by the library
    g = np.random.default_rng(4).uniform(1e-6, 1e-4, (6, 5))
    cb = xb.Crossbar(conductance=g, lines=xb.LineResistance.uniform(2.0), device=xb.Sinh(a=1.5))
    sol = xb.solve(cb, xb.BiasScheme.write(2, 3, 1.8, "v/2", shape=(6, 5)))
    cv = _cell_voltages(out / "cell_voltages.csv")
    np.testing.assert_allclose(cv, sol.cell_voltages, rtol=0, atol=1e-12)
    np.testing.assert_allclose(doc["cell_voltages_V"], sol.cell_voltages, rtol=0, atol=1e-12)
    np.testing.assert_allclose(doc["output_currents_A"], sol.output_currents, rtol=1e-12)
    assert 1.7 < cv[2, 3] < 1.8 and np.all(np.abs(np.delete(cv[2], 3)) < 1.0)  # half-selected row at about V/2
    prov, _ = read_csv(out / "cell_voltages.csv")
    assert prov["seed"] == 4 and doc["provenance"]["seed"] == 4
    with Image.open(out / "cell_voltages.png") as img:
        assert img.size[0] > 300 and json.loads(img.text["xbarsim:provenance"])["seed"] == 4


def test_preset_sets_law_window_and_read_voltage(capsys):
    assert main(["solve", "--rows", "3", "--cols", "4", "--preset", "tio2_passive"]) == 0
    doc = json.loads(capsys.readouterr().out)
    pre = tio2_passive()
    c = doc["circuit"]
    assert c["device"] == "sinh" and c["sinh_a_per_V"] == pre.device.a == LEA_SINH_A
    assert c["g_range_S"] == [pre.g_min, pre.g_max] and pre.g_min <= c["g_min_S"] <= c["g_max_S"] <= pre.g_max
    assert c["v_read_V"] == pre.read_voltage
    g = np.random.default_rng(0).uniform(pre.g_min, pre.g_max, (3, 4))
    cb = xb.Crossbar(conductance=g, lines=xb.LineResistance.uniform(1.0), device=pre.device)
    sol = xb.solve(cb, xb.BiasScheme.read(np.full(3, pre.read_voltage)))
    np.testing.assert_allclose(doc["output_currents_A"], sol.output_currents, rtol=1e-12)


def test_crosscheck_with_a_device_law(capsys, ngspice_binary):
    assert main(["crosscheck", "--rows", "4", "--cols", "4", "--device", "sinh", "--rtol", "1e-6"]) == 0
    text = capsys.readouterr().out
    assert f"(sinh a={LEA_SINH_A:g}/V cells)" in text and "agreement OK" in text


def test_netlist_with_a_sinh_device_writes_b_sources(capsys):
    assert main(["netlist", "--rows", "2", "--cols", "2", "--device", "sinh"]) == 0
    deck = capsys.readouterr().out
    assert len(re.findall(r"^Bcell\d_\d .*sinh", deck, re.M)) == 4 and "* xbarsim: " in deck


@pytest.mark.parametrize("argv, flag", [
    (["solve", "--sinh-a", "2"], "`--sinh-a`"),
    (["solve", "--device", "sinh", "--sinh-a", "-1"], "`--sinh-a`"),
    (["solve", "--backend", "ngspice", "--rows", "20", "--cols", "20", "--max-cells", "100"], "--max-cells"),
    (["solve", "--v-read", "nan"], "`--v-read`"),
    (["solve", "--v-read", "inf", "--random-inputs"], "`--v-read`"),
    # bias flags a programming scheme would ignore (before: silently, the cell written at --v-write)
    (["solve", "--scheme", "v/2", "--random-inputs"], "`--random-inputs` applies to `--scheme read`"),
    (["netlist", "--scheme", "v/3", "--inputs", "in.csv"], "`--inputs` applies to `--scheme read`"),
    (["solve", "--random-inputs", "--inputs", "in.csv"], "`--inputs` and `--random-inputs`"),
    # library field names turned into the flags that set them (before: `row_segment`, `col_sense`)
    (["solve", "--segment", "-1"], "`--segment` / `--row-segment` must be"),
    (["netlist", "--col-segment", "-1"], "`--segment` / `--col-segment` must be"),
    (["solve", "--sense", "-1"], "`--sense` must be"),
    (["solve", "--driver", "-1"], "`--driver` must be"),
    # before: `v_write`, `a` (with "use Ohmic()") and cell (`row`, `col`)
    (["solve", "--scheme", "v/2", "--v-write", "nan", "--rows", "4", "--cols", "4"], "`--v-write` must be"),
    (["netlist", "--scheme", "v/3", "--v-write", "inf", "--rows", "3", "--cols", "3"], "`--v-write` must be"),
    (["solve", "--device", "sinh", "--sinh-a", "1e-300", "--rows", "3", "--cols", "3"],
     "`--sinh-a` must be a sinh nonlinearity of at least 1e-150 /V; got 1e-300: sinh(a v) / a underflows double "
     "precision there (the device is ohmic: use --device ohmic)"),
    (["solve", "--scheme", "v/2", "--cell", "9", "9", "--rows", "4", "--cols", "4"],
     "`--cell` = (9, 9) is outside the 4x4 array"),
])
def test_errors_name_flags(argv, flag, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err and "max_cells" not in err


def test_random_inputs_lie_between_zero_and_a_negative_read_voltage(tmp_path, capsys):
    """--random-inputs with --v-read -0.3 draws from [-0.3, 0] (before: numpy's 'high - low < 0'
    traceback, exit 1); with a positive --v-read the draw is the one it always was."""
    argv = ["solve", "--rows", "5", "--cols", "3", "--backend", "ideal", "--segment", "0", "--random-inputs",
            "--seed", "4", "--json"]
    assert main([*argv, str(tmp_path / "neg.json"), "--v-read", "-0.3"]) == 0
    assert main([*argv, str(tmp_path / "pos.json"), "--v-read", "0.3"]) == 0
    capsys.readouterr()
    rng = np.random.default_rng(4)
    g = rng.uniform(1e-6, 1e-4, (5, 3))
    v = rng.uniform(0.0, 0.3, 5)
    pos = json.loads((tmp_path / "pos.json").read_text())
    neg = json.loads((tmp_path / "neg.json").read_text())
    np.testing.assert_allclose(pos["output_currents_A"], v @ g, rtol=1e-12)
    rng = np.random.default_rng(4)
    rng.uniform(1e-6, 1e-4, (5, 3))  # the same conductances
    v_neg = rng.uniform(-0.3, 0.0, 5)
    np.testing.assert_allclose(neg["output_currents_A"], v_neg @ g, rtol=1e-12)
    assert np.all(np.asarray(neg["input_currents_A"]) <= 0)


def _all_parsers():
    parser = build_parser()
    yield "xbarsim", parser
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    yield from sub.choices.items()


@pytest.mark.parametrize("name, parser", list(_all_parsers()), ids=lambda x: x if isinstance(x, str) else "")
def test_help_has_no_markup_no_stale_text_and_documents_every_flag(name, parser):
    text = parser.format_help()
    assert "``" not in text and ":func:" not in text and ":class:" not in text
    assert "make-run" not in text and "make run job" not in text
    formatter = parser._get_formatter()
    for action in parser._actions:
        if action.option_strings and action.dest not in ("help", "version"):
            assert action.help, f"{name}: {action.option_strings} has no help"
            if action.default is not None and action.default is not False:  # 0 and 0.0 are defaults too
                assert "default" in formatter._get_help_string(action), f"{name}: {action.option_strings}"
    solve = " ".join(dict(_all_parsers())["solve"].format_help().split())
    assert "(default: 16)" in solve and "(default: 0)" in solve and "(default: 0.0)" in solve


def test_solve_and_crosscheck_draw_the_crossbar_picture_for_small_arrays(tmp_path, capsys, ngspice_binary):
    assert main(["solve", "--rows", "6", "--cols", "6", "--scheme", "v/3", "--out", str(tmp_path / "s")]) == 0
    with Image.open(tmp_path / "s" / "crossbar.png") as img:
        assert img.size[0] > 300 and json.loads(img.text["xbarsim:provenance"])["seed"] == 0
    assert main(["solve", "--rows", "40", "--cols", "40", "--out", str(tmp_path / "big")]) == 0
    assert not (tmp_path / "big" / "crossbar.png").exists() and (tmp_path / "big" / "cell_voltages.png").exists()
    assert main(["crosscheck", "--rows", "4", "--cols", "5", "--rtol", "1e-6", "--out", str(tmp_path / "c")]) == 0
    assert {p.name for p in (tmp_path / "c").iterdir()} == {"crossbar_sparse.png", "crossbar_ngspice.png"}


def test_a_refused_rerun_names_the_flag_not_the_parameter(tmp_path, capsys):
    conf = tmp_path / "s.toml"
    conf.write_text('name = "twice"\ntrial = "circuit"\n[grid]\nsize = [2]\n')
    argv = ["sweep", str(conf), "--scheduler", "serial", "--out", str(tmp_path / "o"), "--quiet"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "resume=True" not in err and err.count("\n") == 1


def test_demo_runs_both_backends_and_records_provenance(tmp_path, capsys, ngspice_binary):
    out = tmp_path / "demo"
    assert main(["demo", "--size", "8", "--seed", "3", "--out", str(out)]) == 0
    doc = json.loads((out / "demo.json").read_text())
    assert doc["size"] == [8, 8] and doc["sparse_vs_ngspice_max_rel"] < 1e-9
    assert doc["provenance"]["seed"] == 3 and doc["provenance"]["ngspice"] is not None
    with Image.open(out / "cell_voltages.png") as img:
        assert json.loads(img.text["xbarsim:provenance"])["seed"] == 3
    err = capsys.readouterr().err
    assert "[1/2] sparse solver" in err and "[2/2] ngspice" in err  # progress on stderr
    assert main(["demo", "--size", "4", "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "results (4x4 array)" in captured.out


def _choices(command, dest):
    parser = dict(_all_parsers())[command]
    return next(a for a in parser._actions if a.dest == dest).choices


def test_backend_choices_are_the_solver_registry(monkeypatch):
    from xbarsim.solver import BACKENDS, SparseBackend

    assert "ideal" in BACKENDS
    assert list(_choices("solve", "backend")) == list(BACKENDS) == list(_choices("crosscheck", "backends"))
    monkeypatch.setitem(BACKENDS, "another", SparseBackend)  # a backend registered later is offered too
    assert "another" in _choices("solve", "backend") and "another" in _choices("crosscheck", "backends")
    assert "another" in dict(_all_parsers())["solve"].format_help()


def test_solve_with_the_ideal_backend_gives_v_times_g(tmp_path, capsys):
    g = np.random.default_rng(5).uniform(1e-6, 1e-4, (3, 4))
    v = np.array([0.1, 0.25, 0.05])
    np.savetxt(tmp_path / "g.csv", g, delimiter=",")
    np.savetxt(tmp_path / "v.csv", v[None], delimiter=",")
    # 10 ohm segments: the ideal backend shorts them, so the currents are exactly v @ g
    assert main(["solve", "--backend", "ideal", "--conductance-csv", str(tmp_path / "g.csv"), "--segment", "10",
                 "--inputs", str(tmp_path / "v.csv")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["backend"] == "ideal"
    np.testing.assert_allclose(np.ravel(doc["output_currents_A"]), v @ g, rtol=1e-12)


def test_inputs_of_a_one_row_crossbar_are_a_batch_one_voltage_per_line(tmp_path, capsys):
    # before: the (3, 1) file was read as a (3,) vector, and a 1-row array took no batch at all
    # ("`row_left.voltage` must have 1 entries per operating point ...; got shape (3,)")
    g = np.array([[1e-5, 2e-5, 4e-5]])
    v = np.array([0.1, -0.2, 0.3])
    np.savetxt(tmp_path / "g.csv", g, delimiter=",")
    np.savetxt(tmp_path / "v.csv", v[:, None], delimiter=",")
    base = ["solve", "--backend", "ideal", "--conductance-csv", str(tmp_path / "g.csv"), "--quiet"]
    assert main([*base, "--inputs", str(tmp_path / "v.csv")]) == 0
    np.testing.assert_allclose(json.loads(capsys.readouterr().out)["output_currents_A"], v[:, None] @ g, rtol=1e-12)
    # one voltage per line for a 3-row array is still one input vector; a wrong count names the flag
    np.savetxt(tmp_path / "g3.csv", g.T, delimiter=",")
    assert main([*base[:-3], "--conductance-csv", str(tmp_path / "g3.csv"), "--inputs", str(tmp_path / "v.csv")]) == 0
    np.testing.assert_allclose(json.loads(capsys.readouterr().out)["output_currents_A"], v @ g.T, rtol=1e-12)
    np.savetxt(tmp_path / "v2.csv", v[:2, None], delimiter=",")
    assert main([*base[:-3], "--conductance-csv", str(tmp_path / "g3.csv"), "--inputs", str(tmp_path / "v2.csv")]) == 2
    assert "`--inputs`" in capsys.readouterr().err


def test_crosscheck_of_ideal_against_sparse_shows_the_wires(tmp_path, capsys):
    base = ["crosscheck", "--backends", "ideal", "sparse", "--rows", "4", "--cols", "4", "--rtol", "1e-9"]
    assert main([*base, "--segment", "0"]) == 0  # ideal wires: the same circuit
    assert "ideal vs sparse" in capsys.readouterr().out
    assert main([*base, "--segment", "5", "--out", str(tmp_path / "c")]) == 1  # 5 ohm segments drop voltage
    assert "agreement FAILED" in capsys.readouterr().out
    assert {p.name for p in (tmp_path / "c").iterdir()} == {"crossbar_ideal.png", "crossbar_sparse.png"}
    assert main(["crosscheck", "--backends", "sparse", "sparse"]) == 2
    assert "`--backends`" in capsys.readouterr().err


def test_quiet_drops_status_lines_of_the_circuit_commands_not_their_results(tmp_path, capsys):
    """One ``--quiet`` everywhere: netlist, solve and crosscheck print no status line with it, but the
    results (the JSON, the comparison table and verdict) still print and the files are still written."""
    base = ["--rows", "3", "--cols", "2"]
    assert main(["netlist", *base, "--out", str(tmp_path / "a.cir")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["netlist", *base, "--out", str(tmp_path / "b.cir"), "--quiet"]) == 0
    assert capsys.readouterr().out == "" and ".end" in (tmp_path / "b.cir").read_text()
    assert main(["solve", *base, "--out", str(tmp_path / "s"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" == captured.err and json.loads((tmp_path / "s" / "solve.json").read_text())
    assert main(["solve", *base, "--scheme", "v/2", "--out", str(tmp_path / "v"), "--quiet", "--json",
                 str(tmp_path / "v.json")]) == 0
    assert capsys.readouterr().out == "" and (tmp_path / "v" / "cell_voltages.csv").exists()
    assert main(["crosscheck", *base, "--backends", "ideal", "sparse", "--segment", "0", "--rtol", "1e-6", "--out", str(tmp_path / "c"),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "agreement OK" in out and "wrote" not in out and (tmp_path / "c" / "crossbar_sparse.png").exists()


def test_demo_and_crosscheck_record_when_they_started(tmp_path, monkeypatch, capsys, ngspice_binary):
    """Before: demo and crosscheck collected the provenance after solving, so `started` was the time the
    solves ended (seconds to minutes late for large arrays), not the start of the run."""
    import time
    from datetime import datetime, timedelta, timezone

    import xbarsim.cli.circuit as circuit

    def slow(fn):
        def run(*a, **k):
            time.sleep(1.5)
            return fn(*a, **k)
        return run

    monkeypatch.setattr(circuit, "solve_netlist", slow(circuit.solve_netlist))
    monkeypatch.setattr(circuit, "crosscheck", slow(circuit.crosscheck))
    t0 = datetime.now(timezone.utc)
    assert main(["demo", "--size", "2", "--out", str(tmp_path / "d"), "--quiet"]) == 0
    started = datetime.fromisoformat(json.loads((tmp_path / "d" / "demo.json").read_text())["provenance"]["started"])
    assert t0 - timedelta(seconds=1) <= started <= t0 + timedelta(seconds=1)
    t0 = datetime.now(timezone.utc)
    assert main(["crosscheck", "--rows", "2", "--cols", "2", "--out", str(tmp_path / "c"), "--quiet"]) == 0
    with Image.open(tmp_path / "c" / "crossbar_ngspice.png") as img:
        started = datetime.fromisoformat(json.loads(img.text["xbarsim:provenance"])["started"])
    assert t0 - timedelta(seconds=1) <= started <= t0 + timedelta(seconds=1)
    capsys.readouterr()


def test_demo_prints_the_numbers_of_its_json(tmp_path, capsys, ngspice_binary):
    """Every number the demo prints is in demo.json, and the JSON's numbers are recomputed from the
    circuit. Before: the node-voltage difference (sparse vs ngspice, max abs) was printed only."""
    out = tmp_path / "demo"
    assert main(["demo", "--size", "5", "--seed", "7", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    doc = json.loads((out / "demo.json").read_text())
    printed = dict(re.findall(r"^  (.+?)\s{2,}(\S.*)$", text, re.M))
    assert printed["IR-drop error of output currents vs ideal v @ G (mean)"] == f"{100 * doc['ir_error_mean']:.3f} %"
    assert printed["IR-drop error of output currents vs ideal v @ G (worst column)"] == f"{100 * doc['ir_error_max']:.3f} %"
    assert printed["sparse vs ngspice, output currents (max relative)"] == f"{doc['sparse_vs_ngspice_max_rel']:.2e}"
    assert printed["sparse vs ngspice, node voltages (max abs)"] == f"{doc['sparse_vs_ngspice_max_abs_V']:.2e} V"
    assert printed["KCL residual sparse / ngspice"] == f"{doc['kcl_sparse']:.1e} / {doc['kcl_ngspice']:.1e}"
    assert printed["time ngspice"] == f"{doc['time_ngspice_s'] * 1e3:.1f} ms"
    assert printed["speed ratio ngspice / sparse"] == f"{doc['time_ngspice_s'] / doc['time_sparse_s']:.0f}x"
    # independent recomputation: the same array and inputs drawn by hand, ideal currents v @ G
    rng = np.random.default_rng(7)
    g, v = rng.uniform(1e-6, 1e-4, (5, 5)), rng.uniform(0.0, 0.3, 5)
    sol = xb.solve(xb.Crossbar(conductance=g, lines=xb.LineResistance.uniform(1.0)), xb.BiasScheme.read(v))
    err = np.abs(sol.output_currents - v @ g) / np.abs(v @ g)
    assert doc["ir_error_mean"] == pytest.approx(err.mean(), rel=1e-9)
    assert doc["ir_error_max"] == pytest.approx(err.max(), rel=1e-9)
    assert 0 <= doc["sparse_vs_ngspice_max_abs_V"] < 1e-9


def test_solve_interrupted_while_writing_keeps_the_previous_files_whole(tmp_path, monkeypatch, capsys):
    """Before: cell_voltages.csv was opened in place and written block by block (and solve.json and the
    PNGs in place too), so Ctrl-C during the write left a truncated table where the previous run's was."""
    out = tmp_path / "v2"
    out.mkdir()
    (out / "cell_voltages.csv").write_text("previous\n")
    real = np.savetxt

    def interrupted(fh, *a, **k):
        real(fh, *a, **k)
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savetxt", interrupted)
    code = main(["solve", "--rows", "3", "--cols", "3", "--scheme", "v/2", "--cell", "1", "1", "--out", str(out)])
    assert code == 130 and "interrupted" in capsys.readouterr().err
    assert (out / "cell_voltages.csv").read_text() == "previous\n"
    assert sorted(p.name for p in out.iterdir()) == ["cell_voltages.csv"]  # no temporary file left behind
