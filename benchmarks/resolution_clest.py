"""Stability against a structureless null (Clest) as a label-free resolution criterion (development).

    python benchmarks/resolution_clest.py collect [--datasets NAME ...] [--subsamples 5]
    python benchmarks/resolution_clest.py report [--write]

The shipped rule (`plateau-end`) takes the finest resolution whose subsample stability is close to
the best; on digits it goes past the 10 digits to 21 tilings because kNN graphs of low-dimensional
manifolds are tiled reproducibly. Clest (Dudoit & Fridlyand 2002) asks instead how much *more*
reproducible a partition is than a partition with as many clusters of data without clusters, and
takes the number of clusters with the largest excess. Its null here is SigClust's (Liu et al. 2008):
a Gaussian with the representation's covariance spectrum (the singular values of the centred
representation the graph is built on), so it has the data's size, dimension and spread and no
groups. ``collect`` draws it once per dataset (seed 0), builds the CLI's graph on it (kNN k=15,
union) and measures the stability of Leiden (until stable) at every resolution of the lattice of
resolution_evidence.py on ``--subsamples`` 80% subsamples, exactly as the data's evidence was
measured; it writes benchmarks/out/clest/{dataset}.json. ``report`` compares, per dataset and seed of
benchmarks/out/evidence (5 subsamples, as the CLI), the null's stability at the same cluster count
(interpolated in log cluster count) with the data's, and writes section ``resolution-clest``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

OUT = HERE / "out" / "clest"
LATTICE = (-5, 37)   # as resolution_evidence.py: the default grid 0.05..3 is rows 5..34
GRID = range(5, 35)
N_SUB = 5


def null_sample(X: np.ndarray, seed: int) -> np.ndarray:
    """A Gaussian sample with the covariance spectrum of ``X`` (rotation is irrelevant to distances)."""
    Xc = np.asarray(X, dtype=np.float64) - np.asarray(X, dtype=np.float64).mean(axis=0)
    s = np.linalg.svd(Xc, compute_uv=False)
    sd = s / np.sqrt(max(len(X) - 1, 1))
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((len(X), len(sd))) * sd).astype(np.float32)


def collect(name: str, subsamples: int, seed: int = 0) -> dict:
    import anndata as ad
    from sklearn.metrics import adjusted_rand_score

    from cellwak.pp import _neighbors as nb
    from cellwak.tl._parallel_leiden import run_many
    from cellwak.tl._resolution import N_ITERATIONS, lattice
    from resolution_evidence import load_rep

    t = time.perf_counter()
    adata, rep = load_rep(name)
    ctx = nb.compute(adata, n_neighbors=15, n_pcs=None if rep else 50, use_rep=rep, random_state=seed)
    null = ad.AnnData(obsm={"X_null": null_sample(ctx.rep, seed + 7)})
    nctx = nb.compute(null, n_neighbors=15, use_rep="X_null", random_state=seed)
    gammas = lattice(*LATTICE)
    subs = nb.subsample_graphs(nctx.graph, subsamples, 0.8, seed + 1)
    graphs = {"full": nctx.graph, **{f"sub{r}": g for r, (_, g) in enumerate(subs)}}
    tasks = [(gid, g, seed, N_ITERATIONS) for g in gammas for gid in graphs]
    labels = dict(zip([(t_[0], t_[1]) for t_ in tasks], run_many(graphs, tasks, n_jobs=2)))
    rows = []
    for g in gammas:
        full = labels[("full", g)]
        rows.append({"gamma": g, "n_clusters": int(full.max() + 1),
                     "sub_ari": [float(adjusted_rand_score(full[cells], labels[(f"sub{r}", g)]))
                                 for r, (cells, _) in enumerate(subs)]})
    return {"dataset": name, "seed": seed, "n": int(nctx.n), "dims": int(ctx.rep.shape[1]),
            "seconds": time.perf_counter() - t, "rows": rows}


def null_curve(rows: list) -> tuple[np.ndarray, np.ndarray]:
    """(log cluster counts, stability): the null's stability per cluster count, averaged over the
    resolutions that gave that count, for :func:`numpy.interp`."""
    by_k: dict[int, list] = {}
    for r in rows:
        if r["n_clusters"] >= 2:
            by_k.setdefault(r["n_clusters"], []).append(np.mean(r["sub_ari"][:N_SUB]))
    ks = np.array(sorted(by_k))
    return np.log(ks), np.array([np.mean(by_k[k]) for k in ks])


def excess(rows: list, curve, normalised: bool = False) -> np.ndarray:
    """Data stability minus the null's at the same cluster count (or over its room to 1)."""
    s = np.array([np.mean(r["sub_ari"][:N_SUB]) for r in rows])
    k = np.array([r["n_clusters"] for r in rows])
    base = np.interp(np.log(np.maximum(k, 1)), *curve)
    out = (s - base) / np.maximum(1 - base, 1e-3) if normalised else s - base
    return np.where(k >= 2, out, -np.inf)


def choose(rows, curve, how: str) -> int:
    import resolution_rules as rr

    if how in ("argmax", "argmax, normalised"):
        e = excess(rows, curve, normalised=how.endswith("normalised"))
        return max(GRID, key=lambda i: e[i])
    cand, _, _ = rr.passing_rows(rows, n_sub=N_SUB)
    e = excess(rows, curve)
    return max(cand, key=lambda i: e[i])


HOW = ("argmax", "argmax, normalised", "in range")


def report(write: bool) -> str:
    import pandas as pd

    import resolution_rules as rr
    from cellwak.tl._resolution import PLATEAU_RULE as AUTO_RULE  # the rule shipped when measured

    evidence = rr.load_evidence()
    nulls = {p.stem: json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))}
    evidence = {k: v for k, v in evidence.items() if k[0] in nulls}
    if not evidence:
        raise SystemExit("run `collect` (and benchmarks/resolution_evidence.py) first")
    columns = {"shipped rule (plateau-end)": rr.score(evidence, AUTO_RULE, n_sub=N_SUB)}
    for how in HOW:
        out = []
        for (name, seed), rows in evidence.items():
            i = choose(rows, null_curve(nulls[name]["rows"]), how)
            oracle = max(rows[j]["ari"] for j in GRID)
            out.append({"dataset": name, "seed": seed, "k": rows[i]["n_clusters"],
                        "ratio": rows[i]["ari"] / oracle if oracle > 0 else 1.0})
        columns[f"Clest, {how}"] = pd.DataFrame(out)

    names = sorted({n for n, _ in evidence})
    lines = [
        "### Stability against a structureless null (Clest) as the resolution criterion",
        "",
        "`python benchmarks/resolution_clest.py collect`, then `report --write`. The sets of section",
        "`resolution-lodo`, seeds 0-2 (evidence of resolution_evidence.py, first 5 subsamples as the CLI). Null: per",
        "dataset one Gaussian sample with the covariance spectrum of the graph's representation (SigClust's null), the",
        "CLI's graph on it, Leiden until stable on the same lattice and 5 subsamples. Excess = data stability minus the",
        "null's at the same cluster count (interpolated in log count); normalised: over the null's room to 1.",
        "argmax: the largest excess on the default grid; in range: the largest excess among the resolutions the",
        "shipped rule passes. Ratio = ARI of the choice / best ARI on the default grid (clusters), seeds 0 / 1 / 2.",
        "",
        *rr.ratio_table(columns, names),
    ]
    lines += ["", "Null stability per cluster count (2 / 5 / 10 / 20 clusters, interpolated): " + "; ".join(
        f"{n} " + " / ".join(f"{np.interp(np.log(k), *null_curve(nulls[n]['rows'])):.2f}" for k in (2, 5, 10, 20))
        for n in names) + "."]
    return rr.publish("\n".join(lines), "resolution-clest", write)


def main():
    import resolution_rules as rr

    rr.collect_or_report(__doc__, OUT, collect, report, per_seed=False, subsamples=N_SUB)


if __name__ == "__main__":
    main()
