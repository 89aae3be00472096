"""Clusterwise stability (Hennig's clusterboot Jaccard) as a label-free resolution criterion (development).

    python benchmarks/resolution_clusterwise.py collect [--datasets NAME ...] [--seeds 0 1 2]
    python benchmarks/resolution_clusterwise.py report [--write]

The stability test of `plateau-end` (the rule shipped alone until 2026-12-02) reads one number per
resolution, the ARI between the full partition and each 80% subsample's. A partition can keep that number high while part of it is an arbitrary
tiling: on digits the ARI declines only from 0.93 to 0.85 between 10 and 21 clusters. Hennig (2007,
"Cluster-wise assessment of cluster stability"; R's fpc::clusterboot) scores each cluster instead:
the Jaccard of its cells on the subsample with the most similar cluster of the subsample's
partition, averaged over subsamples; a cluster under 0.75 is not reproducible, under 0.5 it
dissolves. ``collect`` measures it with the CLI's graph (PCA 50 of the scaled features, kNN k=15,
union), Leiden until stable at every resolution of the lattice of resolution_evidence.py and the
CLI's 5 subsamples (the same subsamples and seeds as resolution_evidence.py), and writes
benchmarks/out/clusterwise/{dataset}_seed{seed}.json. ``report`` scores rules built on it, in
sample and leave one dataset out as `plateau-end` was chosen, and writes section
``resolution-clusterwise`` of BENCHMARKS.md. The rule shipped since, ``stable-clusters``
(cellwak.tl._resolution.AUTO_RULE), is the candidate leave one dataset out chose; its column is
cellwak's own ``apply_rule`` on the same evidence.
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

OUT = HERE / "out" / "clusterwise"
LATTICE = (-5, 37)   # as resolution_evidence.py: the default grid 0.05..3 is rows 5..34
N_SUB = 5
LO, HI = 5, 34       # the default grid's rows in the lattice


def collect(name: str, seed: int, subsamples: int) -> dict:
    from sklearn.metrics import adjusted_rand_score

    from cellwak.io import labelled_mask
    from cellwak.tl._clusterwise import cluster_jaccard
    from resolution_evidence import lattice_runs

    t = time.perf_counter()
    adata, ctx, gammas, subs, labels = lattice_runs(name, seed, subsamples, *LATTICE, n_jobs=2)
    true, mask = labelled_mask(adata)
    rows = []
    for g in gammas:
        full = labels[("full", g)]
        rows.append({
            "gamma": g, "n_clusters": int(full.max() + 1),
            "ari": float(adjusted_rand_score(true[mask], full[mask])),
            "sizes": np.bincount(full).tolist(),
            "sub_ari": [float(adjusted_rand_score(full[cells], labels[(f"sub{r}", g)]))
                        for r, (cells, _) in enumerate(subs)],
            "jaccard": [np.round(cluster_jaccard(full, cells, labels[(f"sub{r}", g)]), 4).tolist()
                        for r, (cells, _) in enumerate(subs)],
        })
    return {"dataset": name, "seed": seed, "n": int(ctx.n), "seconds": time.perf_counter() - t, "rows": rows}


# --- rules on the evidence ---------------------------------------------------------------------

STATS = {
    "weighted": "size-weighted mean of the clusters' Jaccard",
    "stable75": "share of cells in clusters with Jaccard >= 0.75",
    "stable85": "share of cells in clusters with Jaccard >= 0.85",
    "min1pct": "lowest Jaccard of a cluster holding >= 1% of the cells",
}


def stat(row: dict, name: str) -> float:
    """One resolution's clusterwise statistic (``STATS``) from its recorded Jaccards."""
    j = np.mean(np.asarray(row["jaccard"], dtype=float), axis=0)   # per cluster, over subsamples
    w = np.asarray(row["sizes"], dtype=float)
    w = w / w.sum()
    if name == "weighted":
        return float((w * j).sum())
    if name.startswith("stable"):
        return float(w[j >= int(name[-2:]) / 100].sum())
    if name == "min1pct":    # as cellwak.tl._clusterwise.lowest, the statistic stable-clusters reads
        return float(j[w >= 0.01].min())
    raise KeyError(name)


def _swept(rows, pick) -> tuple[int, int, int]:
    """``pick(lo, hi)`` -> chosen row on lattice rows lo..hi, with the CLI's grid extension at an edge."""
    from cellwak.tl._resolution import EXTEND_STEPS, MAX_EXTENSIONS

    lo, hi = LO, HI
    for _ in range(MAX_EXTENSIONS + 1):
        i = pick(lo, hi)
        if i == hi and hi < len(rows) - 1:
            hi = min(len(rows) - 1, hi + EXTEND_STEPS)
            continue
        if i == lo and rows[lo]["n_clusters"] >= 2 and lo > 0:
            lo = max(0, lo - EXTEND_STEPS)
            continue
        break
    return i, lo, hi


def family():
    """Candidate rules: (label, pick(rows, lo, hi) -> row)."""
    from cellwak.tl._resolution import Rule, _decide

    def plateau(name, rule):
        def pick(rows, lo, hi):
            s = np.array([stat(r, name) for r in rows[lo:hi + 1]])
            k = np.array([r["n_clusters"] for r in rows[lo:hi + 1]])
            return lo + _decide(s, k, rule)[0]
        return pick

    def floor(name, t):
        def pick(rows, lo, hi):      # the finest resolution (2+ clusters) at or above the floor, with a neighbour
            ok = [i for i in range(lo, hi + 1) if rows[i]["n_clusters"] >= 2 and stat(rows[i], name) >= t]
            ok2 = [i for i in ok if i - 1 in ok or i + 1 in ok] or ok
            return max(ok2) if ok2 else max(range(lo, hi + 1), key=lambda i: stat(rows[i], name))
        return pick

    def in_range(name, t, neighbour=False):
        def pick(rows, lo, hi):      # inside the stability test's passing range: the finest at or above the floor
            from cellwak.tl._resolution import PLATEAU_RULE
            s = np.array([np.mean(r["sub_ari"][:N_SUB]) for r in rows[lo:hi + 1]])
            k = np.array([r["n_clusters"] for r in rows[lo:hi + 1]])
            index, _, _, passed = _decide(s, k, PLATEAU_RULE)
            cand = [lo + i for i in range(len(s)) if passed[i] and k[i] >= 2] or [lo + index]
            good = {i for i in cand if stat(rows[i], name) >= t}
            if neighbour:            # ... with a neighbour at or above it too
                good = {i for i in good if i - 1 in good or i + 1 in good} or good
            return max(good) if good else max(cand, key=lambda i: stat(rows[i], name))
        return pick

    for name in STATS:
        for f in (0.8, 0.85, 0.875, 0.9, 0.925, 0.95):
            for ref in ("second", "max"):
                for support in ("point", "neighbour", "smooth", "plateau3"):
                    yield (f"{name}: plateau-end f={f} ref={ref} support={support}",
                           plateau(name, Rule(fraction=f, reference=ref, support=support, run=3)))
        for t in (0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95):
            yield f"{name}: finest >= {t}", floor(name, t)
            yield f"{name}: in the passing range, finest >= {t}", in_range(name, t)
            yield f"{name}: in the passing range, finest >= {t} with a neighbour", in_range(name, t, neighbour=True)


def score(runs: dict, pick):
    import pandas as pd

    out = []
    for (name, seed), rows in runs.items():
        i, lo, hi = _swept(rows, lambda a, b: pick(rows, a, b))
        oracle = max(r["ari"] for r in rows[lo:hi + 1])
        out.append({"dataset": name, "seed": seed, "k": rows[i]["n_clusters"], "gamma": rows[i]["gamma"],
                    "ratio": rows[i]["ari"] / oracle if oracle > 0 else 1.0})
    return pd.DataFrame(out)


def lodo_of(results: dict, names) -> tuple[list, list]:
    """Leave one dataset out: per held-out set, the candidate best on the others, judged on it."""
    import resolution_rules as rr

    lodo, held = [], []
    for out in names:
        best = max(results, key=lambda c: rr.summary(results[c][results[c]["dataset"] != out]))
        judged = results[best][results[best]["dataset"] == out].sort_values("seed")
        lodo.append((out, best, judged))
        held += list(judged["ratio"])
    return lodo, held


def ari_family(runs: dict) -> dict:
    """plateau-end's family (resolution_rules.candidates) scored on the recorded evidence of
    resolution_evidence.py (10 subsamples), for the same (dataset, seed) pairs as ``runs``."""
    import resolution_rules as rr

    evidence = {k: v for k, v in rr.load_evidence().items() if k in runs}
    return {label: rr.score(evidence, rule, **kw) for label, rule, kw in rr.candidates()}


def load() -> dict:
    runs = {}
    for path in sorted(OUT.glob("*.json")):
        d = json.loads(path.read_text())
        runs[(d["dataset"], d["seed"])] = d["rows"]
    return runs


def report(write: bool) -> str:
    import resolution_rules as rr
    from cellwak.tl._resolution import PLATEAU_RULE, _decide

    runs = load()
    if not runs:
        raise SystemExit("run `collect` first")

    def plateau(rows, lo, hi):
        s = np.array([np.mean(r["sub_ari"][:N_SUB]) for r in rows[lo:hi + 1]])
        k = np.array([r["n_clusters"] for r in rows[lo:hi + 1]])
        return lo + _decide(s, k, PLATEAU_RULE)[0]

    def shipped(rows, lo, hi):       # cellwak's own code on the recorded evidence
        import pandas as pd
        from cellwak.tl._clusterwise import lowest
        from cellwak.tl._resolution import AUTO_RULE, apply_rule, evidence_row

        t = pd.DataFrame([evidence_row(r["gamma"], r["n_clusters"], r["sub_ari"][:N_SUB],
                                       cluster_jaccard=lowest(r["jaccard"][:N_SUB], r["sizes"])) for r in rows[lo:hi + 1]])
        return lo + apply_rule(t, AUTO_RULE).index

    results = {label: score(runs, pick) for label, pick in family()}
    base = score(runs, plateau)
    now = score(runs, shipped)
    key = rr.summary
    names = sorted({n for n, _ in runs})
    lodo, held = lodo_of(results, names)
    _, ari_held = lodo_of({c: df for c, df in ari_family(runs).items()}, names)
    ranked = sorted(results, key=lambda c: key(results[c]), reverse=True)
    per_stat = {s: max((c for c in results if c.startswith(s + ":")), key=lambda c: key(results[c])) for s in STATS}
    columns = {"plateau-end (until 2026-12-02)": base, **{f"best with {s}": results[c] for s, c in per_stat.items()},
               "stable-clusters (shipped)": now}
    lines = [
        "### Clusterwise stability (Hennig's Jaccard per cluster) as the resolution criterion",
        "",
        "`python benchmarks/resolution_clusterwise.py collect`, then `report --write`. The sets of section",
        "`resolution-lodo`, seeds 0-2, the CLI's graph and its 5 subsamples (the same as resolution_evidence.py's first",
        "five), Leiden until stable on the same lattice. Per cluster of the full partition: the Jaccard of its cells on",
        "a subsample with the most similar cluster of the subsample's partition, averaged over the 5 (Hennig 2007,",
        "fpc::clusterboot). Statistics per resolution: " + "; ".join(f"`{k}` {v}" for k, v in STATS.items()) + ".",
        f"{len(results)} candidate rules: plateau-end's family (fraction x reference x support) on each statistic,",
        "the finest resolution at or above a floor (with a neighbour), and the finest at or above a floor (alone, or",
        "with a neighbour at or above it) among the resolutions plateau-end's stability test passes. Ratio = ARI of the",
        "choice / best ARI on the resolutions swept (grid extension as the CLI), per seed 0 / 1 / 2 (clusters). Columns:",
        "plateau-end, the best candidate in sample per statistic, and the rule shipped since (cellwak's `apply_rule`).",
        "",
        *rr.ratio_table(columns, names),
    ]
    floors = [c for c in results if c.startswith("min1pct: in the passing range, finest >= ") and "neighbour" not in c]
    lines += ["", "The shipped floor and its neighbours (`min1pct` in the passing range), pairs at >= 0.9x in sample: "
              + ", ".join(f"{c.rsplit(' ', 1)[1]}: {key(results[c])[0]}" for c in floors)
              + "; with a neighbour at or above the floor too, at 0.6: "
              + f"{key(results['min1pct: in the passing range, finest >= 0.6 with a neighbour'])[0]}.",
              "", "Best per statistic: " + "; ".join(f"`{c}`" for c in per_stat.values()) + ".",
              f"Best of all {len(results)} in sample: `{ranked[0]}`, {key(results[ranked[0]])[0]} / {len(base)}.", "",
              "Leave one dataset out (the candidate best on the other nine, judged on the held-out set):", "",
              "| held out | rule chosen on the other nine | ratio seed 0 / 1 / 2 |", "|---|---|---|"]
    for out, best, judged in lodo:
        lines.append(f"| {out} | {best} | " + " / ".join(("**%.2f**" if v < 0.9 else "%.2f") % v for v in judged["ratio"])
                     + " |")
    union = {**{f"ARI stability: {c}": df for c, df in ari_family(runs).items()}, **results}
    u_lodo, u_held = lodo_of(union, names)
    picked = sorted({best for _, best, _ in u_lodo})
    lines += ["", f"Held out: {sum(v >= 0.9 for v in held)} / {len(held)} pairs at >= 0.9x. Leave one dataset out over "
                  f"both families together ({len(union)} candidates: these and plateau-end's {len(union) - len(results)} "
                  f"on the subsample ARI, section `resolution-lodo`): {sum(v >= 0.9 for v in u_held)} / {len(u_held)} "
                  f"held out; the ARI family alone: {sum(v >= 0.9 for v in ari_held)} / {len(ari_held)}. "
                  "Rules chosen across the folds: " + "; ".join(f"`{c}`" for c in picked) + "."]
    return rr.publish("\n".join(lines), "resolution-clusterwise", write)


def main():
    import resolution_rules as rr

    rr.collect_or_report(__doc__, OUT, collect, report, subsamples=N_SUB)


if __name__ == "__main__":
    main()
