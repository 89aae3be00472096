"""The DeePWAK network: reproduction on the embryo screen, MNIST, and training throughput.

    # score finished runs of `cellwak train deepwak` (any workspace) against label columns
    python benchmarks/bench_deepwak.py report --home H --runs 2 4 5 --against Phenotype Condition \
        [--section deepwak-embryo]
    # cells per second per epoch and peak memory for batch sizes 256, 1024, 4096 (each in a
    # fresh process); --device cuda on a GPU machine (the GPU benchmark)
    python benchmarks/bench_deepwak.py throughput [--device cpu|cuda] [--batch 256 1024 4096]

`report` reads each run's loss curves from the catalog and its outputs from the run folder
(`cellwak.runs.run_outputs`): block train/test MSE as the reference reports them (mean of the
first and of the last 10 epochs, minimum test), the consensus stages' last-10 means, the number of
clusters each head and the consensus partitioner use (argmax), and ARI/NMI of those clusters
against each label column. With --section it also replaces that section of BENCHMARKS.md.

`throughput` trains the published block (5 heads, d = c = 14) on 114 synthetic features (the
screen's width) with --cells cells, and reports the block stage's cells/s (median over epochs 2..)
and peak resident memory added by training (CPU) or the CUDA allocator's peak (GPU), beside the
memory of one B x B kernel.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

from _common import PEAK_PREAMBLE, machine, run_probe, update_section

OUT = Path(__file__).resolve().parent / "out"


def summarise_run(ws, run_id: int, against: list[str]) -> dict:
    from cellwak.metrics import compare
    from cellwak.runs import loss_curves, run_outputs, show

    row = show(ws, run_id)
    curves = loss_curves(ws, run_id)
    out = {"run": run_id, "dataset": row["dataset"], "model": row["params"]["model"],
           "train": {k: v for k, v in row["params"]["train"].items() if v is not None},
           "seconds": (row.get("result") or {}).get("seconds"), "stages": {}}
    for stage, metrics in curves.items():
        train, test = metrics.get("train/loss", []), metrics.get("test/loss", [])
        out["stages"][stage] = {
            "epochs": len(train),
            "first10": [round(statistics.fmean(train[:10]), 4), round(statistics.fmean(test[:10]), 4)] if test else None,
            "last10": [round(statistics.fmean(train[-10:]), 4), round(statistics.fmean(test[-10:]), 4)] if test else None,
            "min_test": round(min(test), 4) if test else None}
    out["status"] = row["status"]
    out["clusters"] = {}
    if row["status"] != "done":  # a cancelled or failed run has curves but no outputs
        return out
    outputs = run_outputs(ws, run_id)
    adata = ws.load(row["dataset"])
    clusterings = {"consensus": outputs["obs/deepwak_cluster"]}
    clusterings.update({k.split("_", 1)[1]: v for k, v in outputs.items() if k.startswith("obs/deepwak_head")})
    for name, labels in clusterings.items():
        entry = {"n": int(len(np.unique(labels)))}
        for col in against:
            entry[col] = compare(adata.obs[col].astype(str).to_numpy(), labels)
        out["clusters"][name] = entry
    return out


def report(args) -> None:
    from cellwak.store import Workspace

    ws = Workspace(args.home)
    results = [summarise_run(ws, r, args.against) for r in args.runs]
    OUT.mkdir(exist_ok=True)
    (OUT / f"deepwak_report_{'_'.join(map(str, args.runs))}.json").write_text(json.dumps(results, indent=1))
    lines = ["| run | settings | stage | epochs | first 10 train/test | last 10 train/test | min test |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        settings = f"{r['train'].get('optimizer', 'adamw')}, WAK {r['model']['wak_norm']}"
        settings += "" if r["status"] == "done" else f" ({r['status']})"
        for stage, s in r["stages"].items():
            f10 = "/".join(f"{x:.4f}" for x in s["first10"]) if s["first10"] else "-"
            l10 = "/".join(f"{x:.4f}" for x in s["last10"]) if s["last10"] else "-"
            lines.append(f"| {r['run']} | {settings} | {stage} | {s['epochs']} | {f10} | {l10} | {s['min_test']} |")
    lines += ["", "| run | clustering | clusters | " + " | ".join(f"ARI / NMI vs {c}" for c in args.against) + " |",
              "|---|---|---|" + "---|" * len(args.against)]
    for r in results:
        for name, c in r["clusters"].items():
            cells = " | ".join(f"{c[col]['ari']:.3f} / {c[col]['nmi']:.3f}" for col in args.against)
            lines.append(f"| {r['run']} | {name} | {c['n']} | {cells} |")
    text = "\n".join(lines)
    print(text)
    if args.section:
        update_section(args.section, f"Runs scored by `bench_deepwak.py report` ({machine()}):\n\n{text}")


PROBE = PEAK_PREAMBLE + """
import numpy as np, torch, statistics
torch.manual_seed(0)
from cellwak.models import create_task
from cellwak.train import MemoryRecorder, TrainConfig, fit
rng = np.random.default_rng(0)
centers = rng.normal(0, 1, (8, {m}))
X = (centers[rng.integers(0, 8, {n})] + rng.normal(0, 0.3, ({n}, {m}))).astype(np.float32)
task = create_task("deepwak", X)
device = "{device}"
if device == "cuda":
    torch.cuda.reset_peak_memory_stats()
base = rss_mb()
rec = MemoryRecorder()
fit(task, TrainConfig(epochs={{"block": {epochs}, "consensus_partitioner": 1, "consensus_encoder": 1}},
                      batch_size={batch}, test_size=1024, device=device, seed=0), rec)
rates = [m["cells_per_s"] for s, e, _, m in rec.epochs if s == "block" and e > 1]
out = {{"batch": {batch}, "cells_per_s": statistics.median(rates), "peak_added_mb": peak_mb() - base,
        "kernel_mb": {batch} ** 2 * 4 / 2 ** 20, "threads": torch.get_num_threads()}}
if device == "cuda":
    out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
    out["gpu"] = torch.cuda.get_device_name()
print(json.dumps(out))
"""


def throughput(args) -> None:
    rows = []
    for batch in args.batch:
        r = run_probe(PROBE.format(m=args.features, n=args.cells, device=args.device, epochs=args.epochs, batch=batch))
        rows.append(r)
        print(json.dumps(r), flush=True)
    mem = "CUDA peak (MB)" if args.device == "cuda" else "peak RSS added (MB)"
    lines = [f"### DeePWAK training throughput ({args.device})", "",
             f"`python benchmarks/bench_deepwak.py throughput --device {args.device} --batch "
             f"{' '.join(map(str, args.batch))}`: each batch size in a fresh process, 3 block epochs, the median "
             "of epochs 2-3. The held-out 1,024 cells are scored once per epoch.", "",
             f"DeePWAK block (5 heads, d = c = 14, {args.features} features), {args.cells:,} cells, "
             f"{args.device}{' ' + rows[0].get('gpu', '') if args.device == 'cuda' else ''}; {machine()}:", "",
             f"| batch | cells/s (block epoch) | {mem} | one B x B kernel (MB) |", "|---|---|---|---|"]
    for r in rows:
        peak = r["cuda_peak_mb"] if args.device == "cuda" else r["peak_added_mb"]
        lines.append(f"| {r['batch']} | {r['cells_per_s']:,.0f} | {peak:,.0f} | {r['kernel_mb']:,.1f} |")
    text = "\n".join(lines)
    print(text)
    if args.section:
        update_section(args.section, text)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("report")
    r.add_argument("--home", required=True)
    r.add_argument("--runs", type=int, nargs="+", required=True)
    r.add_argument("--against", nargs="+", default=["label"])
    r.add_argument("--section")
    t = sub.add_parser("throughput")
    t.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    t.add_argument("--batch", type=int, nargs="+", default=[256, 1024, 4096])
    t.add_argument("--cells", type=int, default=30000)
    t.add_argument("--features", type=int, default=114)
    t.add_argument("--epochs", type=int, default=3)
    t.add_argument("--section", help="e.g. deepwak-throughput-cpu or deepwak-throughput-cuda")
    args = p.parse_args(argv)
    {"report": report, "throughput": throughput}[args.cmd](args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
