"""Three more label-free resolution criteria, measured against the shipped rule (development).

    python benchmarks/resolution_alternatives.py collect [--datasets NAME ...] [--seeds 0 1 2]
    python benchmarks/resolution_alternatives.py report [--write]

Issue 14 lists ideas worth measuring; this script measures the three that the stability rule
(benchmarks/resolution_rules.py) did not cover, on the same ten real sets, seeds and lattice
(CLI graph defaults: PCA 50 of the scaled features, union kNN graph, Leiden until stable):

- **planted partition** (Newman 2016, "Equivalence between modularity optimization and maximum
  likelihood methods for community detection", PRE 94, 052315): each partition implies the
  resolution gamma = (w_in - w_out) / (ln w_in - ln w_out) of the planted-partition model that
  fits it best; the choice is the fixed point reached by iterating from gamma = 1 on the lattice.
  No parameter at all.
- **modularity against a configuration-model null**: the graph is rewired 10 x |E| times keeping
  every degree (igraph ``rewire``), Leiden runs on it at every resolution, and the choice is the
  resolution whose modularity exceeds the null's by the most.
- **consensus across k**: the partitions of the k = 8 and k = 30 graphs at the resolutions within
  3 lattice steps (x1.5 in gamma) of each k = 15 resolution; the consensus is the lower of the two
  best ARIs with the k = 15 partition. Judged as the stability column of the rule family of
  resolution_rules.py (alone, or with the subsample stability: min or product), leave one dataset
  out, as the shipped rule was chosen.

``collect`` writes benchmarks/out/alternatives/{dataset}_seed{seed}.json; ``report`` needs those and
benchmarks/out/evidence (resolution_evidence.py) and writes section ``resolution-alternatives``.
"""

from __future__ import annotations

import itertools
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

OUT = HERE / "out" / "alternatives"
LATTICE = (-5, 37)          # as resolution_evidence.py: the default grid 0.05..3 is rows 5..34
K_OTHER = (8, 30)
K_WINDOW = 3                # lattice steps either side searched for the best-matching partition at another k
REWIRE_PER_EDGE = 10
MISSING_WHY = ("its DINO features, lost with the session's checkout, took 88 min to train again on the 2 shared cores, "
               "which left no time for its sweeps")


def planted_gamma(A, labels: np.ndarray) -> float:
    """Newman's (2016) resolution of the planted-partition model fitted to ``labels`` on graph ``A``."""
    A = A.tocoo()
    two_m = float(A.data.sum())
    deg = np.bincount(A.row, weights=A.data, minlength=A.shape[0])
    kappa = np.bincount(labels, weights=deg)
    within = float(A.data[labels[A.row] == labels[A.col]].sum())
    expected = float((kappa ** 2).sum()) / two_m
    if within <= 0 or expected >= two_m or within >= two_m:
        return float("nan")
    w_in, w_out = within / expected, (two_m - within) / (two_m - expected)
    return float((w_in - w_out) / (np.log(w_in) - np.log(w_out))) if w_in != w_out else float("nan")


def modularity(A, labels: np.ndarray, gamma: float) -> float:
    """Modularity at resolution ``gamma`` (the RB configuration model Leiden optimises)."""
    A = A.tocoo()
    two_m = float(A.data.sum())
    deg = np.bincount(A.row, weights=A.data, minlength=A.shape[0])
    kappa = np.bincount(labels, weights=deg)
    within = float(A.data[labels[A.row] == labels[A.col]].sum())
    return within / two_m - gamma * float((kappa ** 2).sum()) / two_m ** 2


def rewired(A, seed: int):
    """A degree-preserving random graph with ``A``'s degrees (igraph's rewire), as a sparse adjacency."""
    import igraph as ig
    import scipy.sparse as sp

    C = sp.triu(A, k=1).tocoo()
    g = ig.Graph(n=A.shape[0], edges=list(zip(C.row.tolist(), C.col.tolist())))
    random.seed(seed)  # igraph draws from Python's random module
    g.rewire(n=REWIRE_PER_EDGE * g.ecount())
    e = np.array(g.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    B = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=A.shape).tocsr()
    B = ((B + B.T) > 0).astype(np.float32)
    return B.tocsr()


def collect(name: str, seed: int) -> dict:
    from sklearn.metrics import adjusted_rand_score as ari

    from cellwak.io import labelled_mask
    from cellwak.pp import _neighbors as nb
    from cellwak.tl._parallel_leiden import run_many
    from cellwak.tl._resolution import N_ITERATIONS, lattice
    from resolution_evidence import load_rep

    t = time.perf_counter()
    adata, rep = load_rep(name)
    gammas = lattice(*LATTICE)
    graphs = {}
    for k in (15, *K_OTHER):
        graphs[f"k{k}"] = nb.compute(adata, n_neighbors=k, n_pcs=None if rep else 50, use_rep=rep,
                                     random_state=seed).graph
    graphs["null"] = rewired(graphs["k15"], seed)
    tasks = [(gid, g, seed, N_ITERATIONS) for gid in graphs for g in gammas]
    labels = dict(zip([(t_[0], t_[1]) for t_ in tasks], run_many(graphs, tasks, n_jobs=2)))
    true, mask = labelled_mask(adata)
    rows = []
    for i, g in enumerate(gammas):
        part = np.asarray(labels[("k15", g)], dtype=np.int64)
        near = gammas[max(0, i - K_WINDOW): i + K_WINDOW + 1]
        rows.append({
            "gamma": g, "n_clusters": int(part.max() + 1), "ari": float(ari(true[mask], part[mask])),
            "planted_gamma": planted_gamma(graphs["k15"], part),
            "modularity": modularity(graphs["k15"], part, g),
            "null_modularity": modularity(graphs["null"], np.asarray(labels[("null", g)], dtype=np.int64), g),
            "k_consensus": {str(k): max(float(ari(part, labels[(f"k{k}", h)])) for h in near) for k in K_OTHER},
        })
    return {"dataset": name, "seed": seed, "seconds": time.perf_counter() - t, "rows": rows}


# ---------------------------------------------------------------- choices of the three criteria

GRID = slice(5, 35)  # the default grid's rows inside the lattice


def choose_planted(rows) -> int:
    """The fixed point of gamma -> planted_gamma(partition at gamma), from gamma = 1, on the lattice
    (where it cycles, the finest resolution of the cycle)."""
    gam = np.array([r["gamma"] for r in rows])
    i = int(np.argmin(np.abs(np.log(gam))))
    seen = []
    while i not in seen:
        seen.append(i)
        est = rows[i]["planted_gamma"]
        if not np.isfinite(est) or est <= 0:
            return i
        i = int(np.argmin(np.abs(np.log(gam) - np.log(est))))
    return max(seen[seen.index(i):])  # a fixed point (a cycle of one) or the finest of a cycle


def choose_null(rows) -> int:
    """The resolution of the default grid whose modularity exceeds the rewired graph's most."""
    idx = range(len(rows))[GRID]
    return max(idx, key=lambda i: rows[i]["modularity"] - rows[i]["null_modularity"])


def score_simple(alt, choose) -> list[dict]:
    out = []
    for (name, seed), rows in alt.items():
        i = choose(rows)
        oracle = max(r["ari"] for r in rows[GRID])
        out.append({"dataset": name, "seed": seed, "gamma": rows[i]["gamma"], "k": rows[i]["n_clusters"],
                    "ratio": rows[i]["ari"] / oracle if oracle > 0 else 1.0})
    return out


def consensus_runs(evidence, alt, how: str):
    """The evidence rows with the stability column replaced by ``how``: 'k' (consensus across k),
    'min' (the lower of it and the subsample stability) or 'product'; 5 subsamples as the CLI."""
    out = {}
    for key, rows in evidence.items():
        if key not in alt:
            continue
        new = []
        for r, a in zip(rows, alt[key]["rows"]):
            if abs(r["gamma"] - a["gamma"]) > 1e-6 or r["n_clusters"] != a["n_clusters"]:
                raise SystemExit(f"{key}: evidence and alternatives disagree at gamma {r['gamma']} "
                                 f"({r['n_clusters']} vs {a['n_clusters']} clusters): collect both with the same code")
            s, c = float(np.mean(r["sub_ari"][:5])), min(a["k_consensus"].values())
            new.append({**r, "sub_ari": [{"k": c, "min": min(s, c), "product": s * c}[how]]})
        out[key] = new
    return out


def consensus_lodo(evidence, alt):
    """Leave-one-dataset-out over the rule family x the three consensus columns (as resolution_rules)."""
    import resolution_rules as rr
    from cellwak.tl._resolution import Rule

    results = {}
    for how in ("k", "min", "product"):
        runs = consensus_runs(evidence, alt, how)
        for f, ref, sup in itertools.product((0.8, 0.85, 0.875, 0.9, 0.925, 0.95), ("second", "max"),
                                             ("point", "neighbour", "smooth", "plateau2", "plateau3")):
            run = int(sup[-1]) if sup.startswith("plateau") else 3
            results[f"{how} f={f} ref={ref} support={sup}"] = rr.score(
                runs, Rule(fraction=f, reference=ref, support=sup, run=run), n_sub=1)
    names = sorted({n for n, _ in alt})
    held = []
    for h in names:
        best = max(results, key=lambda c: rr.summary(results[c][results[c]["dataset"] != h]))
        held += list(results[best][results[best]["dataset"] == h]["ratio"])
    ranked = sorted(results, key=lambda c: rr.summary(results[c]), reverse=True)
    return results, ranked, held


HYBRID_TOLERANCES = (0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 1.0)


def hybrid_null(evidence, alt, tolerance: float) -> list[dict]:
    """The shipped rule's stable range (every resolution passing its test), then in that range the
    finest resolution whose modularity excess over the rewired null is at least ``tolerance`` x the
    range's largest (1.0: the range's peak excess); grid extension as the shipped rule."""
    import resolution_rules as rr

    out = []
    for key, rows in evidence.items():
        if key not in alt:
            continue
        a = alt[key]["rows"]
        cand, lo, hi = rr.passing_rows(rows)
        excess = {j: a[j]["modularity"] - a[j]["null_modularity"] for j in cand}
        top = max(excess.values())
        j = max(j for j in cand if excess[j] >= tolerance * top)
        oracle = max(r["ari"] for r in rows[lo:hi + 1])
        out.append({"dataset": key[0], "seed": key[1], "gamma": rows[j]["gamma"], "k": rows[j]["n_clusters"],
                    "ratio": rows[j]["ari"] / oracle if oracle > 0 else 1.0})
    return out


def hybrid_lodo(evidence, alt):
    """Each tolerance in sample, and the tolerance chosen on the other datasets judged on the held-out one."""
    import pandas as pd

    import resolution_rules as rr

    results = {t: pd.DataFrame(hybrid_null(evidence, alt, t)) for t in HYBRID_TOLERANCES}
    held = []
    for h in sorted({n for n, _ in alt}):
        best = max(results, key=lambda t: rr.summary(results[t][results[t]["dataset"] != h]))
        held += list(results[best][results[best]["dataset"] == h]["ratio"])
    return results, held


def load_dir(path: Path) -> dict:
    return {(d["dataset"], d["seed"]): d for d in (json.loads(p.read_text()) for p in sorted(path.glob("*.json")))}


def report(write: bool) -> str:
    import pandas as pd

    import resolution_rules as rr
    from cellwak.tl._resolution import PLATEAU_RULE as AUTO_RULE  # the rule shipped when measured

    alt = load_dir(OUT)
    evidence = {k: v for k, v in rr.load_evidence().items() if k in alt}
    if not alt or len(evidence) != len(alt):
        raise SystemExit("run `collect` here and benchmarks/resolution_evidence.py for the same datasets first")
    shipped = rr.score(evidence, AUTO_RULE, n_sub=5)
    planted = pd.DataFrame(score_simple({k: v["rows"] for k, v in alt.items()}, choose_planted))
    null = pd.DataFrame(score_simple({k: v["rows"] for k, v in alt.items()}, choose_null))
    results, ranked, held = consensus_lodo(evidence, alt)
    best = results[ranked[0]]
    hybrids, hybrid_held = hybrid_lodo(evidence, alt)

    def cell(df, name):
        r = df[df["dataset"] == name].sort_values("seed")
        return " / ".join(("**%.2f**" if v < 0.9 else "%.2f") % v for v in r["ratio"])

    def count(df):
        return f"{int((df['ratio'] >= 0.9).sum())} / {len(df)} (min {df['ratio'].min():.2f})"

    names = sorted({n for n, _ in alt})
    missing = sorted({n for n, _ in rr.load_evidence()} - set(names))
    lines = [
        "### Three more label-free criteria for the resolution, against the shipped rule",
        "",
        "`python benchmarks/resolution_alternatives.py collect`, then `report --write` (evidence of",
        f"`resolution_evidence.py` for the shipped rule's column). The {len(names)} sets below of the section above"
        + (f" ({', '.join(missing)} not collected: {MISSING_WHY})" if missing else "")
        + ", the same seeds, graph and lattice;",
        "ratio = ARI of the choice / best ARI on the default grid 0.05..3, per seed 0 / 1 / 2.",
        "Planted partition: Newman's (2016) maximum-likelihood resolution, iterated from gamma = 1 to its fixed point.",
        "Configuration null: the largest excess of modularity over a degree-preserving rewiring of the graph.",
        f"Consensus across k: the lower of the best ARIs with the k = 8 and k = 30 graphs' partitions within {K_WINDOW}",
        f"lattice steps, used as (or with) the stability column of the rule family; best of {len(results)} candidates in",
        f"sample (`{ranked[0]}`), and leave one dataset out as the shipped rule was chosen.",
        "",
        "| dataset | shipped rule (plateau-end) | planted partition | configuration null | consensus across k, best in sample |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        lines.append(f"| {name} | {cell(shipped, name)} | {cell(planted, name)} | {cell(null, name)} | {cell(best, name)} |")
    lines += [
        f"| pairs at >= 0.9x | {count(shipped)} | {count(planted)} | {count(null)} | {count(best)} |",
        "",
        f"Consensus across k held out (leave one dataset out): {sum(v >= 0.9 for v in held)} / {len(held)} pairs at >= 0.9x "
        f"(the stability rule's held-out count is in the section above).",
        "",
        "Stable range, then the null: among the resolutions passing the shipped rule's test, the finest whose",
        "modularity excess over the rewired null is at least t x the range's largest. Pairs at >= 0.9x in sample per t: "
        + ", ".join(f"t={t}: {int((df['ratio'] >= 0.9).sum())}" for t, df in hybrids.items())
        + f" (of {len(shipped)}); digits and pbmc68k_reduced per seed at t = 1.0: "
        + f"{cell(hybrids[1.0], 'digits')} and {cell(hybrids[1.0], 'pbmc68k_reduced')}; "
        + f"held out (t chosen on the other sets): {sum(v >= 0.9 for v in hybrid_held)} / {len(hybrid_held)}.",
    ]
    return rr.publish("\n".join(lines), "resolution-alternatives", write)


def main():
    import resolution_rules as rr

    rr.collect_or_report(__doc__, OUT, collect, report)


if __name__ == "__main__":
    main()
