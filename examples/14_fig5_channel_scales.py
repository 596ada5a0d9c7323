"""Experiment 3b, the ternary scales: one scale per layer or one per output channel (issue 15).

The LEA paper trains its Fig. 5 network in floating point and ternarizes it afterwards with BRECQ,
whose documented usage quantizes weights channel-wise (one scale per output channel).
`networks.ternarize_reconstruct` fits one scale per layer. This script ternarizes the same
floating-point networks both ways, by the same output reconstruction (per layer, the codes
``sign(w) [|w| > delta mean|w|]`` with ``delta`` on a grid, scale and bias fitted in closed form to
the floating-point pre-activations, each layer fed by the already ternarized earlier layers; per
channel, the same fit column by column), and maps both onto the "chip" variant of
`examples/configs/exp3b_fig5_chip.toml` at (alpha, beta) = (1, 1) and (4, 4).

The crossbar holds the codes; a channel's scale is applied after the read-out, like the layer
scale. Accuracy is computed from each transfer's programmed effective codes (the true device
states decoded, `MappedLayer.effective_weights(programmed())`) times the scales, with ideal
converters and no read noise at inference (for the chip model both move the accuracy by less
than the cycle spread, docs/experiments.md 5c). The mapping error is the paper's per-layer
``100 ||W_hat - W||_F / ||W||_F`` on the scaled weights, averaged over the layers.

Networks: our EWC recipe in floating point (`--seeds`), and any floating-point network in an
``.npz`` with arrays ``fc1.weight`` ... ``fc3.bias`` in PyTorch's ``(out, in)`` layout
(`--float-npz`, e.g. a state dict saved from the LEA authors' `network/train_multitask_ewc.py`).
Writes `results/examples/14_fig5_channel_scales.csv`.

With ``--joint`` it asks instead how likely the paper's *pair* is as one device set. The paper's
(1, 1) and (4, 4) rows come from one programmed chip re-read (docs/experiments.md 5c), so here each
transfer programs four copies once ((alpha, beta) = (4, 4)) and reads both points from the same
devices: (1, 1) from copy 0 alone, (4, 4) from the mean of the four. Copy 0 is greedy placement's
first choice, block by block the best-ranked free position, as for a (1, 1) mapping, except where
another copy of the same layer already took that position. It reports, per network, the correlation of the two accuracies
over transfers, the (4, 4) minus (1, 1) drop against the paper's 13.7 points, and the fraction of
transfers whose pair falls in both target windows (56.6 +- 3 and 70.3 +- 2 %). Networks: the
shipped ``ewc-ternary`` and ``ewc-ptq`` (their own layer scales), and ours from ``--seeds`` /
``--float-npz`` with channel scales. Writes the per-transfer records
(`results/examples/14_fig5_joint_transfers.csv`) and the summary (`14_fig5_joint.csv`).

    .venv/bin/python examples/14_fig5_channel_scales.py [--seeds 0,1,2,3,4,5,6,7] [--cycles 20]
    .venv/bin/python examples/14_fig5_channel_scales.py --joint [--seeds 0,1,2,3] [--cycles 100]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xbarsim import provenance
from xbarsim.evaluation.evaluate import transfer
from xbarsim.experiments import load_experiment, train_network
from xbarsim.experiments.networks import cached_dataset
from xbarsim.networks import MLP
from xbarsim.networks.ptq import RECONSTRUCT_DELTAS, ternarize_reconstruct
from xbarsim.sweeps import write_csv

CONFIG = Path(__file__).parent / "configs" / "exp3b_fig5_chip.toml"


def tanh_mlp(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> MLP:
    """The Fig. 5 network's form (tanh hidden layers, softmax logits) with these weights."""
    return MLP(weights=tuple(weights), biases=tuple(biases), hidden_activation="tanh")


def ternarize_channels(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], x: np.ndarray,
                       deltas: Sequence[float] = RECONSTRUCT_DELTAS) -> tuple[list[np.ndarray], list[np.ndarray],
                                                                              list[np.ndarray]]:
    """Codes in {-1, 0, 1}, per-channel scales (> 0) and biases reconstructing each layer's
    floating-point pre-activations on ``x``, column by column."""
    a_float, a_tern = x, x
    codes, scales, new_biases = [], [], []
    for i, (w, b) in enumerate(zip(weights, biases)):
        z = a_float @ w + b
        t_l, s_l, b_l = np.zeros_like(w), np.ones(w.shape[1]), np.zeros_like(b)
        for j in range(w.shape[1]):
            best = None
            for d in deltas:
                t = np.sign(w[:, j]) * (np.abs(w[:, j]) > d * np.mean(np.abs(w[:, j])))
                if not t.any():
                    continue
                u = a_tern @ t
                (s, c), *_ = np.linalg.lstsq(np.stack([u, np.ones_like(u)], 1), z[:, j], rcond=None)
                err = float(np.mean((s * u + c - z[:, j]) ** 2))
                if best is None or err < best[0]:
                    best = (err, t * np.sign(s), abs(s), c)
            if best is not None:
                _, t_l[:, j], s_l[j], b_l[j] = best
        codes.append(t_l)
        scales.append(s_l)
        new_biases.append(b_l)
        last = i == len(weights) - 1
        a_float = z if last else np.tanh(z)
        zt = a_tern @ (t_l * s_l) + b_l
        a_tern = zt if last else np.tanh(zt)
    return codes, scales, new_biases


def layer_scales(net: MLP) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Codes, scales (the layer's gamma in every channel) and biases of a per-layer ternary network."""
    assert net.gammas is not None and net.biases is not None
    codes = [np.asarray(c, dtype=float) for c in net.ternary_codes()]
    return codes, [np.full(c.shape[1], g) for c, g in zip(codes, net.gammas)], list(net.biases)


def hardware_runs(codes, scales, biases, hardware, tasks, seeds: Sequence[int]) -> np.ndarray:
    """Per transfer: accuracy of every task and the layer-mean mapping error (%)."""
    code_net = MLP(weights=tuple(codes), biases=tuple(biases), hidden_activation="tanh",
                   gammas=(1.0,) * len(codes))
    rows = []
    for seed in seeds:
        layers = transfer(code_net, hardware, np.random.default_rng(seed)).members[0].layers
        w_hat = [layer.effective_weights(layer.programmed()) * s for layer, s in zip(layers, scales)]
        net = tanh_mlp(w_hat, biases)
        accs = [float(np.mean(net.predict(t.x_test) == t.y_test)) for t in tasks]
        errs = [100 * np.linalg.norm(wh - c * s) / np.linalg.norm(c * s) for wh, c, s in zip(w_hat, codes, scales)]
        rows.append([*accs, float(np.mean(errs))])
    return np.array(rows)


def transfer_summary(runs: np.ndarray) -> dict[str, float]:
    """One table row from :func:`hardware_runs`' per-transfer records (rows in any order): the mean and
    std (ddof 0) over transfers of the task-mean accuracy, each task's mean and the mean mapping error."""
    acc = runs[:, :-1].mean(axis=1)
    return {"accuracy": float(acc.mean()), "accuracy_std": float(acc.std()), "task1": float(runs[:, 0].mean()),
            "task2": float(runs[:, 1].mean()), "mapping_error": float(runs[:, -1].mean())}


#: The paper's Fig. 5b pair, (1, 1) and (4, 4) greedy simple, and the issue's windows around them.
PAPER_PAIR = (0.566, 0.703)
PAIR_WINDOWS = (0.03, 0.02)


def joint_runs(codes, scales, biases, hardware, tasks, seeds: Sequence[int], alpha: int = 4) -> np.ndarray:
    """Per transfer at ``(alpha, alpha)``: accuracy of every task and the layer-mean mapping error (%)
    read from copy 0 alone (the (1, 1) point), then the same from all copies averaged (the
    (alpha, alpha) point), both from the one programming."""
    code_net = MLP(weights=tuple(codes), biases=tuple(biases), hidden_activation="tanh",
                   gammas=(1.0,) * len(codes))
    hw = hardware.replace(alpha=alpha, beta=alpha)
    rows = []
    for seed in seeds:
        layers = transfer(code_net, hw, np.random.default_rng(seed)).members[0].layers
        row: list[float] = []
        for w_codes in ([layer.copy_weights(layer.programmed())[0] for layer in layers],
                        [layer.effective_weights(layer.programmed()) for layer in layers]):
            w_hat = [w * s for w, s in zip(w_codes, scales)]
            net = tanh_mlp(w_hat, biases)
            row += [float(np.mean(net.predict(t.x_test) == t.y_test)) for t in tasks]
            row.append(float(np.mean([100 * np.linalg.norm(wh - c * s) / np.linalg.norm(c * s)
                                      for wh, c, s in zip(w_hat, codes, scales)])))
        rows.append(row)
    return np.array(rows)


def joint_summary(runs: np.ndarray, paper: tuple[float, float] = PAPER_PAIR,
                  windows: tuple[float, float] = PAIR_WINDOWS) -> dict[str, float]:
    """One summary row from :func:`joint_runs`' records (rows in any order; two tasks): means, the
    correlation of the two points' accuracies over transfers, the drop from the many-copy point to
    the one-copy point, and the fractions of transfers as far from the mean as the paper's pair."""
    one = runs[:, 0:2].mean(axis=1)
    many = runs[:, 3:5].mean(axis=1)
    drop = many - one
    paper_drop = paper[1] - paper[0]
    in_one = np.abs(one - paper[0]) <= windows[0]
    in_many = np.abs(many - paper[1]) <= windows[1]
    return {"transfers": float(len(runs)), "one_copy": float(one.mean()), "one_copy_std": float(one.std()),
            "many_copies": float(many.mean()), "many_copies_std": float(many.std()),
            "one_copy_mapping_error": float(runs[:, 2].mean()), "many_copies_mapping_error": float(runs[:, 5].mean()),
            "correlation": float(np.corrcoef(one, many)[0, 1]), "drop": float(drop.mean()),
            "drop_std": float(drop.std()), "drop_at_least_paper": float(np.mean(drop >= paper_drop)),
            "in_one_copy_window": float(in_one.mean()), "in_many_copies_window": float(in_many.mean()),
            "in_both_windows": float(np.mean(in_one & in_many))}


def joint_main(config, chip_hw, data, floats: dict[str, MLP], cycles: int, out: Path,
               prov: dict[str, Any]) -> int:
    """``--joint``: the paper's pair as one device set (see the module notes)."""
    nets = {}
    for spec in config.networks:  # the shipped networks, with their own layer scales
        nets[f"{spec.name} (layer)"] = layer_scales(train_network(spec, data, chip_hw))  # type: ignore[arg-type]
    for name, net in floats.items():
        assert net.biases is not None
        nets[f"{name} (channel)"] = ternarize_channels(net.weights, net.biases, data.x_train)
    seeds = [config.seed * 1000 + c for c in range(cycles)]
    records, rows = [], []
    for name, (codes, scales, biases) in nets.items():
        runs = joint_runs(codes, scales, biases, chip_hw, data.tasks, seeds)
        for seed, r in zip(seeds, runs):
            records.append({"network": name, "transfer_seed": seed, "one_task1": r[0], "one_task2": r[1],
                            "one_mapping_error": r[2], "many_task1": r[3], "many_task2": r[4],
                            "many_mapping_error": r[5]})
        rows.append({"network": name, **joint_summary(runs)})
        print(f"{name:24s} done", file=sys.stderr, flush=True)
    print(f"The paper's pair as one device set: (1, 1) = copy 0 of a (4, 4) programming, {cycles} programmings per "
          f"network; paper {PAPER_PAIR[0]:.1%} / {PAPER_PAIR[1]:.1%}, drop {PAPER_PAIR[1] - PAPER_PAIR[0]:.1%}.\n")
    print("| network | (1, 1) | (4, 4) | mapping error (1, 1) / (4, 4) | correlation | drop | drop >= paper's | "
          "(1, 1) within 3 | (4, 4) within 2 | both |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['network']} | {r['one_copy']:.1%} ± {r['one_copy_std']:.1%} | {r['many_copies']:.1%} ± "
              f"{r['many_copies_std']:.1%} | {r['one_copy_mapping_error']:.1f} / {r['many_copies_mapping_error']:.1f} % | "
              f"{r['correlation']:.2f} | {r['drop']:.1%} ± {r['drop_std']:.1%} | {r['drop_at_least_paper']:.0%} | "
              f"{r['in_one_copy_window']:.0%} | {r['in_many_copies_window']:.0%} | {r['in_both_windows']:.0%} |")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(out.with_name(out.stem + "_transfers.csv"), records, prov)
    write_csv(out, rows, prov)
    print(f"\nwrote {out} and {out.with_name(out.stem + '_transfers.csv')}")
    return 0


def float_npz(path: Path) -> MLP:
    """A floating-point tanh MLP from a PyTorch-layout state dict (``fc1.weight``, ``fc1.bias``, ...)."""
    d = np.load(path)
    n = sum(1 for k in d.files if k.endswith(".weight"))
    return tanh_mlp([d[f"fc{i}.weight"].T for i in range(1, n + 1)], [d[f"fc{i}.bias"] for i in range(1, n + 1)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2,3,4,5,6,7", help="training seeds of our floating-point EWC networks")
    ap.add_argument("--float-npz", type=Path, action="append", default=[],
                    help="a floating-point network in PyTorch layout (repeatable)")
    ap.add_argument("--cycles", type=int, default=20, help="transfers per network, scales and (alpha, beta)")
    ap.add_argument("--out", type=Path, default=None,
                    help="CSV (default results/examples/14_fig5_channel_scales.csv, with --joint 14_fig5_joint.csv)")
    ap.add_argument("--joint", action="store_true",
                    help="read (1, 1) and (4, 4) from one programming and report how likely the paper's pair is")
    args = ap.parse_args(argv)
    if args.out is None:
        args.out = Path("results/examples") / ("14_fig5_joint.csv" if args.joint else "14_fig5_channel_scales.csv")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s]
    except ValueError:
        ap.error(f"--seeds must be comma-separated integers; got {args.seeds!r}")
    if args.cycles < 1:
        ap.error(f"--cycles must be at least 1; got {args.cycles}")
    missing = [str(p) for p in args.float_npz if not p.is_file()]
    if missing:
        ap.error(f"--float-npz: no such file {', '.join(missing)}")
    config = load_experiment(CONFIG)
    prov = provenance.collect(config=CONFIG, seed=config.seed)  # the config and seed the transfers use, started now
    chip_hw = config.hardware.replace(**config.variants["chip"])
    data = cached_dataset(config.dataset)
    base = next(s for s in config.networks if s.name == "ewc-ternary")
    floats: dict[str, MLP] = {}
    for seed in seeds:
        floats[f"ours seed {seed}"] = train_network(dataclasses.replace(base, quantization="none", seed=seed),
                                                     data, chip_hw)  # type: ignore[assignment]
    for path in args.float_npz:
        floats[path.stem] = float_npz(path)
    if args.joint:
        return joint_main(config, chip_hw, data, floats, args.cycles, args.out, prov)
    transfers = [config.seed * 1000 + c for c in range(args.cycles)]
    rows = []
    for name, net in floats.items():
        assert net.biases is not None
        variants = {"layer": layer_scales(ternarize_reconstruct(net, data.x_train)),
                    "channel": ternarize_channels(net.weights, net.biases, data.x_train)}
        float_acc = [float(np.mean(net.predict(t.x_test) == t.y_test)) for t in data.tasks]
        for scales_kind, (codes, scales, biases) in variants.items():
            w = [c * s for c, s in zip(codes, scales)]
            ternary = tanh_mlp(w, biases)
            software = [float(np.mean(ternary.predict(t.x_test) == t.y_test)) for t in data.tasks]
            for ab in ((1, 1), (4, 4)):
                runs = hardware_runs(codes, scales, biases, chip_hw.replace(alpha=ab[0], beta=ab[1]), data.tasks,
                                     transfers)
                summary = transfer_summary(runs)
                rows.append({"network": name, "scales": scales_kind, "alpha_beta": f"{ab[0]},{ab[1]}",
                             "cycles": args.cycles, "accuracy": summary["accuracy"],
                             "accuracy_std": summary["accuracy_std"], "task1": summary["task1"],
                             "task2": summary["task2"], "software_task1": software[0], "software_task2": software[1],
                             "float_task1": float_acc[0], "float_task2": float_acc[1],
                             "mapping_error": summary["mapping_error"],
                             "density": " / ".join(f"{np.mean(c != 0):.2f}" for c in codes)})
                r = rows[-1]
                print(f"{name:16s} {scales_kind:7s} {ab} {r['accuracy']:.1%} (software "
                      f"{np.mean(software):.1%})", file=sys.stderr, flush=True)
    print("| network | scales | (alpha, beta) | accuracy | task 1 / task 2 | software task 1 / 2 | "
          "floating point | mapping error | non-zero |")
    print("|---|---|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['network']} | {r['scales']} | ({r['alpha_beta']}) | {r['accuracy']:.1%} ± {r['accuracy_std']:.1%} "
              f"| {r['task1']:.1%} / {r['task2']:.1%} | {r['software_task1']:.1%} / {r['software_task2']:.1%} | "
              f"{r['float_task1']:.1%} / {r['float_task2']:.1%} | {r['mapping_error']:.1f} % | {r['density']} |")
    for kind in ("layer", "channel"):
        for ab in ("1,1", "4,4"):
            sel = [r["accuracy"] for r in rows if r["scales"] == kind and r["alpha_beta"] == ab]
            print(f"mean over networks, {kind} scales, ({ab}): {np.mean(sel):.1%} (range {min(sel):.1%} - "
                  f"{max(sel):.1%}, {len(sel)} networks)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(args.out, rows, prov)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
