"""The image classifier (`cellwak train cnn`) on real crops: held-out macro F1, and clustering
its features X_cnn, beside the capstone's recipe (per-label ExtraTrees on an embedding).

    python benchmarks/bench_cnn.py [--datasets blood_pbc28] [--seeds 0 1] [--epochs 15]
        [--arch small] [--section cnn]
    python benchmarks/bench_cnn.py --embryo [--seeds 0 1] [--epochs 100] [--section cnn-embryo]

For each dataset and seed: the CNN trained as `cellwak train cnn --epochs N --seed S` builds it
(CLI defaults: balanced loss, quarter-turn/flip augmentation, 10% of the labelled cells held out
by the seed), its held-out macro F1 (natural label distribution: the honest figure) and the
capstone's balanced figure (each label's F1 on its held-out positives plus as many negatives);
then `cellwak cluster --rep X_cnn` at gamma = 1 and --gamma auto (ARI against the labels the CNN
was trained on: supervised features, so not a label-free result). Baseline: `cellwak classify`
(one balanced ExtraTrees per label, 25% held out) on raw pixels (PCA 50).

--embryo: the embryo screen's three phenotype axes as a multi-label column (`axes`: the perturbed
axes of `migration.perturbed`, `division.perturbed`, `orientation.perturbed` joined by ';', none
for a wild-type-like embryo), `cellwak train cnn --label axes --sep ';' --test-size 0.25` (an MLP
on the 114 standardised features) against `cellwak classify --label axes --rep X` (25% held out).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, update_section  # noqa: E402
from bench_extractors import evaluate  # noqa: E402
from datasets import available, load  # noqa: E402

OUT = Path(__file__).parent / "out"


def train_cnn(adata, settings: dict, epochs: int, seed: int) -> dict:
    import torch

    from cellwak.runs.request import build_task
    from cellwak.train import fit
    from cellwak.train.config import make_config

    torch.manual_seed(seed)
    task = build_task(adata, "cnn", settings, None)
    t = time.perf_counter()
    out = fit(task, make_config(task, {"epochs": epochs, "seed": seed, "threads": torch.get_num_threads()}))
    seconds = time.perf_counter() - t
    final = out.stages["fit"]
    written = task.outputs(task.data)
    adata.obsm["X_cnn"] = written["obsm/X_cnn"]
    n = task.config["labelled_cells"]
    n_train = n - task.default_test_size(n)
    return {"train_seconds": round(seconds, 1), "epochs": epochs, "f1_macro": final["test/f1_macro"],
            "f1_balanced": final["test/f1_balanced"], "test_loss": final["test/loss"],
            "cells_per_s": round(n_train * epochs / seconds, 1), "n_train": n_train}


def classify_baseline(adata, seed: int) -> dict:
    from cellwak.tl.classify import run_classify

    key = adata.uns["cellwak"]["dataset"].get("label_key") or "label"
    result = run_classify(adata, key, use_rep=None, random_state=seed)
    return {"f1_macro": result.heldout_macro_f1, "f1_balanced": result.balanced_macro_f1}


def embryo_axes(adata):
    cols = ["migration", "division", "orientation"]
    flags = {c: adata.obs[f"{c}.perturbed"].astype(str).str.upper().eq("TRUE").to_numpy() for c in cols}
    adata.obs["axes"] = [";".join(c for c in cols if flags[c][i]) for i in range(adata.n_obs)]
    return adata


def run_embryo(seeds, epochs: int) -> list[dict]:
    import torch

    from cellwak.runs.request import build_task
    from cellwak.tl.classify import run_classify
    from cellwak.train import fit
    from cellwak.train.config import make_config

    rows = []
    for seed in seeds:
        adata = embryo_axes(load("embryo_screen"))
        base = run_classify(adata, "axes", use_rep="X", sep=";", random_state=seed)
        torch.manual_seed(seed)
        task = build_task(adata, "cnn", {"label": "axes", "sep": ";"}, None)
        t = time.perf_counter()
        out = fit(task, make_config(task, {"epochs": epochs, "seed": seed, "test_size": 0.25,
                                           "threads": torch.get_num_threads()}))
        final = out.stages["fit"]
        row = {"dataset": "embryo_screen axes", "seed": seed, "arch": task.config["arch"], "epochs": epochs,
               "f1_macro": final["test/f1_macro"], "f1_balanced": final["test/f1_balanced"],
               "train_seconds": round(time.perf_counter() - t, 1),
               "classify_X": {"f1_macro": base.heldout_macro_f1, "f1_balanced": base.balanced_macro_f1}}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main(argv=None) -> None:
    import torch

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["blood_pbc28"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--arch", default="small")
    p.add_argument("--section")
    p.add_argument("--embryo", action="store_true")
    args = p.parse_args(argv)
    if not available():
        sys.exit("../shared/data is not here: nothing to measure")
    if args.embryo:
        rows = run_embryo(args.seeds, args.epochs)
        lines = [f"`python benchmarks/bench_cnn.py --embryo --seeds {' '.join(map(str, args.seeds))} --epochs "
                 f"{args.epochs}` - {machine()}, CPU only.", "",
                 "| data | seed | `train cnn` (MLP): held-out macro F1 / balanced F1 | `classify --rep X`: held-out / "
                 "balanced F1 | train time |", "|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['dataset']} | {r['seed']} | {r['f1_macro']:.3f} / {r['f1_balanced']:.3f} | "
                         f"{r['classify_X']['f1_macro']:.3f} / {r['classify_X']['f1_balanced']:.3f} | "
                         f"{r['train_seconds']:.0f} s |")
        update_section(args.section or "cnn-embryo", "\n".join(lines))
        return
    rows = []
    for name in args.datasets:
        for seed in args.seeds:
            adata = load(name)
            base = classify_baseline(adata, seed)
            row = {"dataset": name, "seed": seed, "arch": args.arch, "classify_raw": base}
            row.update(train_cnn(adata, {"arch": args.arch}, args.epochs, seed))
            np.save(OUT / f"features_{name}_cnn_{args.arch}_seed{seed}.npy", adata.obsm["X_cnn"])
            row.update(evaluate(adata, "X_cnn", seed))
            rows.append(row)
            print(json.dumps(row), flush=True)
    lines = [f"`python benchmarks/bench_cnn.py --datasets {' '.join(args.datasets)} --seeds "
             f"{' '.join(map(str, args.seeds))} --epochs {args.epochs} --arch {args.arch}` - {machine()}, CPU only.",
             "",
             "| dataset | seed | CNN held-out macro F1 | CNN balanced F1 (capstone's figure) | classify on raw pixels: "
             "held-out / balanced F1 | train time | cells/s | X_cnn gamma=1 ARI (k) | X_cnn auto ARI (k) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['seed']} | {r['f1_macro']:.3f} | {r['f1_balanced']:.3f} | "
                     f"{r['classify_raw']['f1_macro']:.3f} / {r['classify_raw']['f1_balanced']:.3f} | "
                     f"{r['train_seconds'] / 60:.1f} min | {r['cells_per_s']:.0f} | {r['gamma1_ari']:.3f} ({r['gamma1_k']}) | "
                     f"{r['auto_ari']:.3f} ({r['auto_k']}) |")
    update_section(args.section or "cnn", "\n".join(lines))
    print(f"torch threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
