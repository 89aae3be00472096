"""Clustering real cell images with learned features (ME-VAE, DINO) instead of raw pixels.

    python benchmarks/bench_extractors.py [--datasets blood_pbc28 jurkat_cellcycle] [--seed 0]
        [--models raw vae mevae dino] [--section extractors]

For each dataset: raw pixels (the README's recipe: pixels scaled per channel, PCA 50, kNN k=15,
Leiden) at gamma=1 and at the oracle gamma, then each model trained from scratch with the
CLI's defaults except the epochs below (``cellwak train MODEL``), and its features clustered with
``cellwak cluster --rep X_<model>`` at gamma=1 and ``--gamma auto``. The oracle ARI of every
representation is the best of the 20-resolution auto sweep (labels used only for it). Training
time is wall time on this machine. Features are saved to benchmarks/out/ for later analysis.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, train_on, update_section  # noqa: E402
from datasets import DATASETS, available, load  # noqa: E402

OUT = Path(__file__).parent / "out"
# epochs per model and dataset (a 20-epoch DINO on 17,092 crops takes about 5 minutes on 2 cores)
EPOCHS = {"blood_pbc28": {"vae": 20, "mevae": 20, "dino": 20}, "jurkat_cellcycle": {"vae": 40, "mevae": 40, "dino": 60}}
SETTINGS: dict = {}  # model settings beyond the defaults: none (the CLI's defaults are what users get)


def features(adata, model: str, epochs: int, seed: int) -> tuple[np.ndarray, float]:
    task, seconds = train_on(adata, model, SETTINGS.get(model, {}), epochs, seed)
    return task.outputs(task.data)[f"obsm/X_{model}"], seconds


def evaluate(adata, rep: str | None, seed: int) -> dict:
    from cellwak.tl.cluster import cluster

    one = cluster(adata, gamma=1.0, rep=rep, seed=seed)
    auto = cluster(adata, gamma="auto", rep=rep, seed=seed)
    table = auto.sweep.table
    best = table.loc[table["ari"].idxmax()]
    return {"gamma1_ari": one.metrics["ari"], "gamma1_nmi": one.metrics["nmi"], "gamma1_k": len(one.sizes),
            "auto_gamma": auto.params["gamma"], "auto_ari": auto.metrics["ari"], "auto_nmi": auto.metrics["nmi"],
            "auto_k": len(auto.sizes), "oracle_gamma": float(best["gamma"]), "oracle_ari": float(best["ari"]),
            "oracle_k": int(best["n_clusters"]), "cluster_seconds": auto.timings["total"]}


def run(names, models, seed) -> list[dict]:
    rows = []
    for name in names:
        adata = load(name)
        for model in models:
            row = {"dataset": name, "model": model, "seed": seed, "train_seconds": 0.0, "epochs": 0}
            rep = None
            if model != "raw":
                epochs = EPOCHS[name][model]
                X, seconds = features(adata, model, epochs, seed)
                np.save(OUT / f"features_{name}_{model}_seed{seed}.npy", X)
                adata.obsm[f"X_{model}"] = X
                rep = f"X_{model}"
                row.update(train_seconds=round(seconds, 1), epochs=epochs)
            row.update(evaluate(adata, rep, seed))
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def report(rows: list[dict]) -> str:
    lines = [
        "### Learned image features: clustering blood_pbc28 and jurkat_cellcycle",
        "",
        f"`python benchmarks/bench_extractors.py` - {machine()}, seed {rows[0]['seed']}, CPU only. Raw = pixels scaled",
        "per channel, PCA 50 (the README's baseline recipe). Models trained from scratch with the CLI defaults",
        "(`cellwak train MODEL --epochs N`), features clustered with `cellwak cluster --rep X_<model>`, kNN k=15,",
        "igraph Leiden. Oracle = best ARI over the 20 resolutions of the auto sweep (uses the labels).",
        "Goal of issue 5: auto-gamma ARI on learned features >= raw-pixel oracle + 0.15.",
        "",
        "| dataset | features | epochs | train time | gamma=1 ARI (k) | auto gamma (k) | auto ARI / NMI | oracle ARI (gamma) | auto minus raw oracle |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["dataset"] for r in rows):
        raw = next((r for r in rows if r["dataset"] == name and r["model"] == "raw"), None)
        for r in (r for r in rows if r["dataset"] == name):
            gain = f"{r['auto_ari'] - raw['oracle_ari']:+.3f}" if raw else "-"
            t = f"{r['train_seconds'] / 60:.1f} min" if r["train_seconds"] else "-"
            lines.append(f"| {name} | {r['model']} | {r['epochs'] or '-'} | {t} | {r['gamma1_ari']:.3f} ({r['gamma1_k']}) | "
                         f"{r['auto_gamma']:.2f} ({r['auto_k']}) | {r['auto_ari']:.3f} / {r['auto_nmi']:.3f} | "
                         f"{r['oracle_ari']:.3f} ({r['oracle_gamma']:.2f}) | {gain} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["blood_pbc28", "jurkat_cellcycle"])
    ap.add_argument("--models", nargs="+", default=["raw", "mevae", "dino"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--section", default="extractors")
    args = ap.parse_args()
    if not available():
        sys.exit("../shared/data is not here: this benchmark needs the shared real datasets")
    unknown = [d for d in args.datasets if d not in EPOCHS or d not in DATASETS]
    if unknown:
        sys.exit(f"no image benchmark for {unknown[0]!r}; choose from {', '.join(EPOCHS)}")
    OUT.mkdir(exist_ok=True)
    rows = run(args.datasets, args.models, args.seed)
    path = OUT / f"extractors_seed{args.seed}.json"
    path.write_text(json.dumps(rows, indent=1))
    text = report(rows)
    print(text)
    update_section(args.section, text)


if __name__ == "__main__":
    main()
