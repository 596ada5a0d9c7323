"""Smoke tests of ``xbarsim evaluate CONFIG``: a sweep and a Monte Carlo run end to end, resume,
and library errors as one stderr line with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

from experiment_helpers import lea_experiment, monte_carlo_experiment

from xbarsim.cli import main
from xbarsim.sweeps import ResultStore

SWEEP = lea_experiment("cli-sweep", 2, 'alpha = [1, 2]\nvariant = ["lea", "committee"]', """
[[reference]]
label = "made-up reference"
point = { variant = "lea", alpha = 2 }
value = 0.5
""")

MONTE_CARLO = monte_carlo_experiment("cli-mc", 6, '["statistical", "hardware"]')


def test_sweep_config_runs_end_to_end_and_resumes(tmp_path, capsys):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(SWEEP)
    out = tmp_path / "out"
    assert main(["evaluate", str(cfg), "--out", str(out), "--scheduler", "serial", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "| alpha | variant |" in text and "made-up reference" in text
    assert "a cell is their mean ± one standard deviation (ddof 0)" in text  # what ± means
    assert "Hardware (`[hardware]`): preset rram_1t1r_nist; backend sparse;" in text  # what was simulated
    for name in ("report.md", "results.csv", "results.json", "accuracy_vs_alpha.png", "trials.sqlite"):
        assert (out / name).is_file(), name
    doc = json.loads((out / "results.json").read_text())
    assert doc["n_trials"] == 8 and doc["n_failed"] == 0 and len(doc["rows"]) == 4
    assert all(r["n"] == 2 for r in doc["rows"])
    # a second run without --resume refuses, with --resume it finds nothing to do
    assert main(["evaluate", str(cfg), "--out", str(out), "--scheduler", "serial", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "resume" in err
    assert main(["evaluate", str(cfg), "--out", str(out), "--scheduler", "serial", "--quiet",
                 "--resume"]) == 0
    again = json.loads((out / "results.json").read_text())
    assert [r["accuracy_mean"] for r in again["rows"]] == [r["accuracy_mean"] for r in doc["rows"]]
    # a changed config is refused naming each change as the config names it (before: the store's own
    # terms, "fixed.hardware.fault_rate: 0.05 -> 0.1; trials: 2 -> 3")
    cfg.write_text(SWEEP.replace("cycles = 2", "cycles = 3").replace("fault_rate = 0.05", "fault_rate = 0.1")
                   .replace('committee = { strategy = "committee" }', 'committee = { strategy = "committee", alpha = 2 }'))
    assert main(["evaluate", str(cfg), "--out", str(out), "--scheduler", "serial", "--quiet", "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds results of another version of" in err
    assert ("(stored -> now: [hardware] fault_rate: 0.05 -> 0.1; [variants] committee.alpha: (unset) -> 2; "
            "cycles: 2 -> 3); use another --out folder") in err


def test_monte_carlo_config_runs_end_to_end(tmp_path, capsys):
    cfg = tmp_path / "mc.toml"
    cfg.write_text(MONTE_CARLO)
    out = tmp_path / "out"
    assert main(["evaluate", str(cfg), "--out", str(out), "--quiet"]) == 0
    assert "robust_fraction" in capsys.readouterr().out
    assert (out / "point_accuracy_histogram.png").is_file()
    with ResultStore(out / "transfers_regular_hardware.sqlite", readonly=True) as db:
        assert db.count("ok") == 6  # one stored trial per transfer


def test_library_errors_are_one_line_and_exit_2(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(SWEEP.replace("[hardware]", "[hardware]\nsegments = 1"))
    assert main(["evaluate", str(cfg), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'segments'" in err and str(cfg) in err
    assert main(["evaluate", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_monte_carlo_warns_about_sweep_only_flags_and_retries_failed_transfers(tmp_path, capsys, monkeypatch):
    """--workers/--dashboard do nothing for a Monte Carlo run: one warning line says so. A failed
    transfer is a one-line error naming --resume --retry-failed, which then runs it again."""
    from xbarsim.experiments.trials import TransferTrial

    cfg = tmp_path / "mc.toml"
    cfg.write_text(MONTE_CARLO.replace('models = ["statistical", "hardware"]', 'models = ["statistical"]'))
    out = tmp_path / "out"
    real = TransferTrial.__call__

    def flaky(self, params, rng):
        if params["transfer"] == 4:
            raise RuntimeError("simulated failure of transfer 4")
        return real(self, params, rng)

    monkeypatch.setattr(TransferTrial, "__call__", flaky)
    assert main(["evaluate", str(cfg), "--out", str(out), "--quiet", "--workers", "2", "--dashboard"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == ("xbarsim: warning: --workers, --dashboard apply to sweeps; the Monte Carlo experiment "
                      "'cli-mc' runs its transfers in this process")
    assert len(err) == 2 and "transfer 4 failed: RuntimeError: simulated failure of transfer 4" in err[1]
    assert "--resume --retry-failed" in err[1]
    monkeypatch.setattr(TransferTrial, "__call__", real)
    assert main(["evaluate", str(cfg), "--out", str(out), "--quiet", "--resume"]) == 2  # still failed: stored
    capsys.readouterr()
    assert main(["evaluate", str(cfg), "--out", str(out), "--quiet", "--resume", "--retry-failed"]) == 0
    assert capsys.readouterr().err == ""
    with ResultStore(out / "transfers_regular_statistical.sqlite", readonly=True) as db:
        assert db.count("ok") == 6 and db.count() == 6
    doc = json.loads((out / "results.json").read_text())
    assert doc["rows"][0]["n"] == 6 and doc["partial"] is False
    assert "`accuracy` is the mean ± one standard deviation (ddof 0)" in (out / "report.md").read_text()


def test_a_bad_scheduler_or_worker_count_is_refused_before_training_or_writing(tmp_path, capsys):
    # before: the networks were trained and written into --out, then the sweep refused the flag
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(SWEEP)
    for flags, word in ((["--scheduler", "bogus"], "`--scheduler`"), (["--workers", "0"], "workers`"),
                        (["--scheduler", "serial", "--workers", "2"], "workers`")):
        out = tmp_path / f"out{len(flags)}{flags[-1]}"
        assert main(["evaluate", str(cfg), "--out", str(out), "--quiet", *flags]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and word in err
        assert not out.exists()


def test_out_must_be_a_folder_of_no_other_kind_of_experiment(tmp_path, capsys):
    sweep, mc = tmp_path / "sweep.toml", tmp_path / "mc.toml"
    sweep.write_text(SWEEP)
    mc.write_text(MONTE_CARLO.replace('models = ["statistical", "hardware"]', 'models = ["statistical"]'))
    a_file = tmp_path / "taken.txt"
    a_file.write_text("x")
    assert main(["evaluate", str(sweep), "--out", str(a_file), "--scheduler", "serial", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is an existing file, not a folder" in err     # before: [Errno 17] File exists
    out = tmp_path / "out"
    assert main(["evaluate", str(mc), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    before = (out / "report.md").read_text()
    assert main(["evaluate", str(sweep), "--out", str(out), "--scheduler", "serial", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds a Monte Carlo experiment's transfers" in err
    assert (out / "report.md").read_text() == before   # before: replaced by the sweep's report
    assert not (out / "trials.sqlite").exists()
