"""Plain DINO vs CDCL on blood_pbc28 split into simulated batches.

    python benchmarks/bench_cdcl.py [--batches 4] [--epochs 15] [--seed 0] [--section cdcl]

Data: the 17,092 real blood crops split by `cellwak.datasets.batch_effects.simulated_dataset`
(4 batches, per-batch gamma/gain/offset/blur/noise, Dirichlet cell-type mixtures; seed 0) -
exactly what `cellwak data simulate-batches blood_pbc28 --into ...` writes. Batch b3 plays the
unseen experiment: its cell types are hidden from CDCL's pair sampler (its cells pair with
themselves), and the "held-out kNN" column classifies b3's cells from the other batches only.

Models (all `cellwak train dino` with --epochs N; the CLI's defaults otherwise):
- `dino`: plain DINO (same-image pairs, one centre);
- `cdcl`: `--cdcl` (pairs: same cell type from another batch, one centre per batch, Barlow w=0.75);
- `cdcl-neighbours`: `--pairs neighbours --centering domain --barlow-weight 0.75`: label-free
  partners (nearest cells of other batches after per-batch standardisation).
Raw pixels (PCA 50) as the reference. Metrics (cellwak.metrics.batch): kBET acceptance (k = 0.5%
of cells, 3,000 sampled cells), batch silhouette (0 = mixed), scIB's ASW batch (1 = mixed), DINO's
weighted kNN accuracy (k=10, leave-one-out), held-out kNN, NSC and NSCB 1-NN accuracy (cell
level), and the ARI of `cellwak cluster --gamma auto` with the cell types.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, train_on, update_section  # noqa: E402
from datasets import available, load  # noqa: E402

OUT = Path(__file__).parent / "out"
HELD_OUT = "b3"
MODELS = {
    "dino": {},
    "cdcl": {"pairs": "condition", "condition": "visible_type", "centering": "domain", "barlow_weight": 0.75},
    "cdcl-neighbours": {"pairs": "neighbours", "centering": "domain", "barlow_weight": 0.75},
    "dino + per-batch normalisation": {"normalise": "batch"},
    "cdcl + per-batch normalisation": {"pairs": "condition", "condition": "visible_type", "centering": "domain",
                                       "barlow_weight": 0.75, "normalise": "batch"},
}


def train(adata, settings: dict, epochs: int, seed: int) -> tuple[np.ndarray, float]:
    task, seconds = train_on(adata, "dino", settings, epochs, seed)
    return task.outputs(task.data)["obsm/X_dino"], seconds


def measure(adata, X: np.ndarray, seed: int) -> dict:
    from cellwak.metrics import batch_silhouette, kbet, knn_accuracy, nsc_accuracy
    from cellwak.tl.cluster import cluster

    labels = adata.obs["label"].astype(str).to_numpy()
    batches = adata.obs["batch"].astype(str).to_numpy()
    held = batches == HELD_OUT
    sil = batch_silhouette(X, batches, labels, seed=seed)
    nsc = nsc_accuracy(X, labels, batches)
    adata.obsm["X_eval"] = X
    auto = cluster(adata, gamma="auto", rep="X_eval", seed=seed)
    return {"kbet": kbet(X, batches, n_sample=3000, seed=seed), "silhouette_batch": sil["silhouette_batch"],
            "asw_batch": sil.get("asw_batch"), "knn": knn_accuracy(X, labels),
            "knn_held_out": knn_accuracy(X, labels, query=held, bank=~held), "nsc": nsc["nsc"], "nscb": nsc["nscb"],
            "auto_ari": auto.metrics["ari"], "auto_k": len(auto.sizes)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", nargs="+", default=list(MODELS),
                    help="models to (re)train; rows of the others are kept from an earlier run's JSON")
    ap.add_argument("--section", default="cdcl")
    args = ap.parse_args()
    if not available():
        sys.exit("../shared/data is not here: this benchmark needs the shared real datasets")
    from cellwak.datasets.batch_effects import simulated_dataset
    from cellwak.pp.representation import representation

    OUT.mkdir(exist_ok=True)
    adata, params = simulated_dataset(load("blood_pbc28"), "blood_pbc28", args.batches, seed=args.seed)
    types = adata.obs["label"].astype(str)
    adata.obs["visible_type"] = types.where(adata.obs["batch"].astype(str) != HELD_OUT, None)
    print("cells per batch:", {p["batch"]: p["cells"] for p in params}, flush=True)
    saved = OUT / f"cdcl_seed{args.seed}.json"
    earlier = {r["model"]: r for r in json.loads(saved.read_text())} if saved.exists() else {}
    raw_name = "raw pixels (PCA 50)"
    if raw_name not in earlier or len(args.models) == len(MODELS):
        raw, _ = representation(adata, None, seed=args.seed)
        earlier[raw_name] = {"model": raw_name, "train_seconds": 0.0, **measure(adata, raw, args.seed)}
        print(json.dumps(earlier[raw_name]), flush=True)
    for name in args.models:
        X, seconds = train(adata, MODELS[name], args.epochs, args.seed)
        np.save(OUT / f"cdcl_{name.replace(' ', '_')}_seed{args.seed}.npy", X)
        earlier[name] = {"model": name, "train_seconds": round(seconds, 1), **measure(adata, X, args.seed)}
        print(json.dumps(earlier[name]), flush=True)
    rows = [earlier[m] for m in [raw_name, *MODELS] if m in earlier]
    saved.write_text(json.dumps(rows, indent=1))
    text = report(rows, args, params)
    print(text)
    update_section(args.section, text)


def report(rows, args, params) -> str:
    sizes = ", ".join(f"{p['batch']} {p['cells']:,}" for p in params)
    lines = [
        "### DINO vs CDCL on blood_pbc28 with simulated batches",
        "",
        f"`python benchmarks/bench_cdcl.py` - {machine()}, seed {args.seed}, {args.epochs} epochs per model, CPU only.",
        f"17,092 real blood crops split into {args.batches} batches with documented shifts (`cellwak data",
        f"simulate-batches`, Dirichlet cell-type mixtures: {sizes}). Batch {HELD_OUT} is the unseen experiment:",
        "CDCL never sees its cell types; held-out kNN classifies its cells from the other batches only. kBET and",
        "ASW batch: higher = better mixed; batch silhouette: 0 = mixed. kNN/NSC/NSCB: cell-type accuracy.",
        "",
        "| features | train time | kBET | batch silhouette | ASW batch | kNN acc | held-out kNN acc | NSC | NSCB | auto-gamma ARI (k) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t = f"{r['train_seconds'] / 60:.1f} min" if r["train_seconds"] else "-"
        asw = f"{r['asw_batch']:.3f}" if r["asw_batch"] is not None else "-"
        lines.append(f"| {r['model']} | {t} | {r['kbet']:.3f} | {r['silhouette_batch']:.3f} | {asw} | {r['knn']:.3f} | "
                     f"{r['knn_held_out']:.3f} | {r['nsc']:.3f} | {r['nscb']:.3f} | {r['auto_ari']:.3f} ({r['auto_k']}) |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
