"""Every model's training on a GPU, end to end: throughput at two batch sizes, peak memory, and the
same seed's loss curve against the CPU run. One prepared script for a lent GPU machine.

    python benchmarks/bench_gpu_training.py [--device cuda] [--models deepwak dino mevae cnn]
        [--cpu-epochs 2] [--out DIR] [--quick]

Per model (data and epochs as the issue asks: DeePWAK on embryo_screen 1,000 epochs, DINO on
blood_pbc28 20 epochs, ME-VAE on blood_pbc28 20 epochs, the CNN on blood_pbc28 15 epochs), each
built exactly as `cellwak train MODEL` builds it (the model's training defaults, CLI settings):
- the full run at the model's default batch size and a second run at 4x that batch size (the
  second for a fifth of the epochs): seconds, cells/s (training cells x epochs / seconds, from the
  loop's per-epoch figures), peak CUDA memory (``torch.cuda.max_memory_allocated``), bf16
  autocast as the loop applies it on CUDA;
- the first ``--cpu-epochs`` epochs again on the CPU with the same seed and the same schedule
  (the full run's epochs, stopped early): the per-epoch train
  loss of both devices side by side and their largest relative difference (bf16 on the GPU makes
  them close, not equal).
Writes one JSON line per run to stdout and ``DIR/gpu_training.jsonl``, and the table to
BENCHMARKS.md section ``gpu-training`` when run on CUDA. ``--quick`` (any device) trains each
model for 2 epochs on 600 cells: a check that the script works, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, update_section  # noqa: E402
from datasets import available, load  # noqa: E402

PLAN = {"deepwak": ("embryo_screen", 1000), "dino": ("blood_pbc28", 20), "mevae": ("blood_pbc28", 20),
        "cnn": ("blood_pbc28", 15)}


def train(adata, model: str, *, epochs: int, seed: int, device: str, batch_size: int | None = None,
          stop_after: int | None = None) -> dict:
    """One run as the CLI builds it; ``stop_after``: stop after that many epochs of the first stage
    (the same schedule as the full run, so the first epochs' losses are comparable)."""
    import threading

    import torch

    from cellwak.runs.request import build_task
    from cellwak.train import MemoryRecorder, fit
    from cellwak.train.config import make_config

    torch.manual_seed(seed)
    task = build_task(adata, model, {}, None)
    n = len(task.data)
    batch = batch_size or task.default_batch_size(n - task.default_test_size(n))
    stop = threading.Event()

    class Recorder(MemoryRecorder):
        def epoch(self, stage, epoch, step, metrics):
            super().epoch(stage, epoch, step, metrics)
            if stop_after is not None and epoch >= stop_after:
                stop.set()

    recorder = Recorder()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    t = time.perf_counter()
    fit(task, make_config(task, {"epochs": epochs, "seed": seed, "device": device, "batch_size": batch,
                                 "checkpoint_every": 0}), recorder, stop=stop)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t
    per_epoch = [(stage, epoch, m) for stage, epoch, _, m in recorder.epochs]
    return {"model": model, "device": device, "batch_size": batch, "epochs": epochs, "seconds": round(seconds, 2),
            "cells_per_s": round(sum(m["cells_per_s"] for *_, m in per_epoch) / max(1, len(per_epoch)), 1),
            "peak_mb": round(torch.cuda.max_memory_allocated() / 2 ** 20, 1) if device.startswith("cuda") else None,
            "loss_curve": [[stage, epoch, m["train/loss"]] for stage, epoch, m in per_epoch],
            "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None}


def compare(gpu: list, cpu: list) -> float:
    """Largest relative difference of the per-epoch train loss over the epochs both ran."""
    pairs = [(g[2], c[2]) for g, c in zip(gpu, cpu) if g[:2] == c[:2]]
    return max((abs(g - c) / max(abs(c), 1e-12) for g, c in pairs), default=float("nan"))


def main(argv=None) -> None:
    import numpy as np
    import torch

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--models", nargs="+", default=list(PLAN), choices=list(PLAN))
    p.add_argument("--cpu-epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(Path(__file__).parent / "out"))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--render", metavar="FILE", help="only write the table, from a gpu_training.jsonl measured before")
    args = p.parse_args(argv)
    if args.render:
        rows = [json.loads(line) for line in open(args.render) if line.strip()]
        render(rows, args.seed)
        return
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("no CUDA device here: not measured (run on a GPU machine, or --device cpu --quick to check the script)")
    if not available():
        sys.exit("../shared/data is not here: nothing to measure")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for model in args.models:
        name, epochs = PLAN[model]
        adata = load(name)
        if args.quick:
            cells = np.sort(np.random.default_rng(0).choice(adata.n_obs, 600, replace=False))
            adata, epochs = adata[cells].copy(), 2
        full = train(adata, model, epochs=epochs, seed=args.seed, device=args.device)
        big = train(adata, model, epochs=max(1, epochs // 5), seed=args.seed, device=args.device,
                    batch_size=4 * full["batch_size"])
        cpu = train(adata, model, epochs=epochs, seed=args.seed, device="cpu", batch_size=full["batch_size"],
                    stop_after=args.cpu_epochs)
        row = {"dataset": name, "machine": machine(), **full, "big_batch": {k: big[k] for k in ("batch_size", "epochs", "seconds",
                                                                          "cells_per_s", "peak_mb")},
               "cpu": {k: cpu[k] for k in ("epochs", "seconds", "cells_per_s", "loss_curve")},
               "cpu_vs_device_max_rel_diff": compare(full["loss_curve"], cpu["loss_curve"])}
        rows.append(row)
        line = json.dumps(row)
        print(line, flush=True)
        with open(out / "gpu_training.jsonl", "a") as fh:
            fh.write(line + "\n")
    if args.device.startswith("cuda") and not args.quick:
        render(rows, args.seed)


def render(rows: list, seed: int = 0) -> None:
    """The section ``gpu-training`` from measured rows (also from a fetched jsonl: ``--render FILE``)."""
    lines = [f"`python benchmarks/bench_gpu_training.py` - {rows[0]['gpu']}; {rows[0].get('machine') or machine()}; bf16 autocast, seed "
             f"{seed}.", "",
             "| model | data | epochs | batch | time | cells/s | peak GB | batch x4: cells/s, peak GB | CPU cells/s "
             "| loss vs CPU (first epochs, max rel. diff) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        b = r["big_batch"]
        lines.append(f"| {r['model']} | {r['dataset']} | {r['epochs']} | {r['batch_size']} | {r['seconds']:.0f} s | "
                     f"{r['cells_per_s']:,.0f} | {r['peak_mb'] / 1024:.2f} | {b['cells_per_s']:,.0f}, "
                     f"{b['peak_mb'] / 1024:.2f} | {r['cpu']['cells_per_s']:,.0f} | "
                     f"{r['cpu_vs_device_max_rel_diff']:.3f} |")
    missing = [m for m in PLAN if m not in {r["model"] for r in rows}]
    if missing:
        lines += ["", f"Not measured (the lent machine's time ran out first): {', '.join(missing)}."]
    update_section("gpu-training", "\n".join(lines))

if __name__ == "__main__":
    main()
