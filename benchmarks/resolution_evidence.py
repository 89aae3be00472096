"""Development data for the label-free resolution rule (not the benchmark table).

    python benchmarks/resolution_evidence.py [--seeds 0 1 2] [--datasets NAME ...] [--subsamples 10]

For each dataset and seed, with the CLI's graph defaults (PCA 50 of the scaled features, kNN k=15,
union graph): Leiden (until modularity stops improving) at every resolution of a wide log lattice
(the default grid 0.05..3 of cellwak.tl._resolution extended by 5 steps below and 8 above), on the
full graph and on ``--subsamples`` random 80 % subsamples; the ARI of each subsample partition
against the full partition on the shared cells, and the ARI of the full partition against the
labels. Saved as benchmarks/out/evidence/{dataset}_seed{seed}.json; rules are then compared
offline by benchmarks/resolution_rules.py (leave-one-dataset-out).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from datasets import DATASETS, EXTRA, load  # noqa: E402

OUT = Path(__file__).parent / "out" / "evidence"


def load_rep(name: str):
    """(AnnData, rep key or None): 'blood_pbc28_dino' is blood_pbc28 on its cached DINO features."""
    if name.endswith("_dino"):
        base = name[: -len("_dino")]
        adata = load(base)
        cache = Path(__file__).parent / "out" / f"{base}_X_dino_seed0.npy"
        adata.obsm["X_dino"] = np.load(cache)
        return adata, "X_dino"
    return load(name), None


def lattice_runs(name: str, seed: int, subsamples: int, lo: int, hi: int, n_jobs: int = 1):
    """The CLI's graph of ``name`` (PCA 50 of the scaled features, kNN k=15, union) and Leiden until
    stable at every resolution of lattice rows lo..hi on it and on ``subsamples`` random 80%
    subsamples (seed + 1, as cellwak.tl._resolution.select draws them): (adata, context, resolutions,
    subsamples as (cells, graph), labels by (graph id 'full' or 'subR', resolution))."""
    from cellwak.pp import _neighbors as nb
    from cellwak.tl._parallel_leiden import run_many
    from cellwak.tl._resolution import N_ITERATIONS, lattice

    adata, rep = load_rep(name)
    ctx = nb.compute(adata, n_neighbors=15, n_pcs=None if rep else 50, use_rep=rep, random_state=seed)
    gammas = lattice(lo, hi)
    subs = nb.subsample_graphs(ctx.graph, subsamples, 0.8, seed + 1)
    graphs = {"full": ctx.graph, **{f"sub{r}": g for r, (_, g) in enumerate(subs)}}
    tasks = [(gid, g, seed, N_ITERATIONS) for g in gammas for gid in graphs]
    labels = dict(zip([(t_[0], t_[1]) for t_ in tasks], run_many(graphs, tasks, n_jobs=n_jobs)))
    return adata, ctx, gammas, subs, labels


def collect(name: str, seed: int, subsamples: int, lo: int, hi: int) -> dict:
    from sklearn.metrics import adjusted_rand_score

    from cellwak.io import labelled_mask

    t = time.perf_counter()
    adata, ctx, gammas, subs, labels = lattice_runs(name, seed, subsamples, lo, hi)
    true, mask = labelled_mask(adata)
    rows = []
    for g in gammas:
        full = labels[("full", g)]
        rows.append({
            "gamma": g, "n_clusters": int(full.max() + 1),
            "ari": float(adjusted_rand_score(true[mask], full[mask])),
            "sub_ari": [float(adjusted_rand_score(full[cells], labels[(f"sub{r}", g)])) for r, (cells, _) in enumerate(subs)],
            "sub_k": [int(labels[(f"sub{r}", g)].max() + 1) for r in range(len(subs))],
        })
    return {"dataset": name, "seed": seed, "n": int(ctx.n), "seconds": time.perf_counter() - t, "rows": rows}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--datasets", nargs="+", default=[*DATASETS, *EXTRA])
    ap.add_argument("--subsamples", type=int, default=10)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        for seed in args.seeds:
            path = OUT / f"{name}_seed{seed}.json"
            if path.exists():
                continue
            data = collect(name, seed, args.subsamples, -5, 29 + 8)
            path.write_text(json.dumps(data))
            print(f"{name} seed {seed}: {data['seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
