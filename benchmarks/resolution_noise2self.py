"""The noise2self loss of each resolution's partition as a label-free criterion (development).

    python benchmarks/resolution_noise2self.py collect [--datasets NAME ...] [--seeds 0 1 2]
    python benchmarks/resolution_noise2self.py report [--write]

Issue 14 lists "a noise2self criterion on the graph diffusion rather than on the partition kernel"
and "the DeePWAK/DEWAK loss on held-out features" among the ideas worth measuring. Noise2self
(Batson & Royer 2019) scores a denoiser by how well it predicts each cell from the others only
(J-invariance: the prediction of cell i never uses cell i). A partition P is such a denoiser in two
ways, both measured here on the representation the graph was built on (PCA 50 of the scaled
features, or blood_pbc28's DINO features), at every resolution of the lattice of
resolution_evidence.py, Leiden until stable as the CLI:

- **partition kernel** (DeePWAK's, :func:`cellwak.graph.kernels.pwak_apply`): cell i is predicted by
  the mean of the other cells of its cluster (``row``; a singleton by the mean of all cells). For a
  hard partition DeePWAK's column-normalised kernel is the same matrix.
- **graph diffusion within the partition**: the kNN graph with every edge between clusters cut,
  row-normalised, zero diagonal; one step (``graph1``) or two (``graph2``: the two-step walk with its
  return-to-self mass removed). A cell left without a neighbour in its cluster is predicted by the
  mean of all cells. With one cluster this is DEWAK's plain kNN-smoothing loss.

Each criterion chooses the resolution of the default grid with the lowest loss (``argmin``); and,
as the null-model hybrid of resolution_alternatives.py, the lowest loss inside the shipped rule's
passing range (``in range``). ``collect`` writes benchmarks/out/noise2self/{dataset}_seed{seed}.json;
``report`` needs those and benchmarks/out/evidence and writes section ``resolution-noise2self``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

OUT = HERE / "out" / "noise2self"
LATTICE = (-5, 37)   # as resolution_evidence.py: the default grid 0.05..3 is rows 5..34
GRID = slice(5, 35)
CRITERIA = ("row", "graph1", "graph2")


def _row_normalise(W):
    import scipy.sparse as sp

    s = np.asarray(W.sum(axis=1)).ravel()
    inv = np.divide(1.0, s, out=np.zeros_like(s, dtype=np.float64), where=s > 0)
    return sp.diags(inv) @ W, s > 0


def _fill(pred, has, X):
    pred[~has] = X.mean(axis=0)
    return pred


def losses(A, X: np.ndarray, labels: np.ndarray) -> dict:
    """The three noise2self losses (mean squared error per entry) of partition ``labels``."""
    import scipy.sparse as sp

    from cellwak.graph.kernels import one_hot

    X = np.asarray(X, dtype=np.float64)
    C = one_hot(labels)
    sizes = np.asarray(C.sum(axis=0)).ravel()[labels]
    row = (C @ (C.T @ X) - X) / np.maximum(sizes - 1, 1)[:, None]
    out = {"row": _fill(row, sizes > 1, X)}
    A = sp.csr_matrix(A, dtype=np.float64)
    Ac = A.tocoo()
    keep = labels[Ac.row] == labels[Ac.col]
    M = sp.csr_matrix((Ac.data[keep], (Ac.row[keep], Ac.col[keep])), shape=A.shape)
    M.setdiag(0)
    M.eliminate_zeros()
    W, has = _row_normalise(M)
    out["graph1"] = _fill(np.asarray(W @ X), has, X)
    W2 = (W @ W).tolil()
    W2.setdiag(0)
    W2, has2 = _row_normalise(W2.tocsr())
    out["graph2"] = _fill(np.asarray(W2 @ X), has2, X)
    return {k: float(np.mean(np.square(X - v))) for k, v in out.items()}


def collect(name: str, seed: int) -> dict:
    from sklearn.metrics import adjusted_rand_score as ari

    from cellwak.io import labelled_mask
    from cellwak.pp import _neighbors as nb
    from cellwak.tl._parallel_leiden import run_many
    from cellwak.tl._resolution import N_ITERATIONS, lattice
    from resolution_evidence import load_rep

    t = time.perf_counter()
    adata, rep = load_rep(name)
    ctx = nb.compute(adata, n_neighbors=15, n_pcs=None if rep else 50, use_rep=rep, random_state=seed)
    gammas = lattice(*LATTICE)
    parts = run_many({"full": ctx.graph}, [("full", g, seed, N_ITERATIONS) for g in gammas], n_jobs=2)
    true, mask = labelled_mask(adata)
    rows = []
    for g, part in zip(gammas, parts):
        part = np.asarray(part, dtype=np.int64)
        rows.append({"gamma": g, "n_clusters": int(part.max() + 1), "ari": float(ari(true[mask], part[mask])),
                     **losses(ctx.graph, ctx.rep, part)})
    return {"dataset": name, "seed": seed, "seconds": time.perf_counter() - t, "rows": rows}


def choose_argmin(rows, criterion: str) -> int:
    idx = range(len(rows))[GRID]
    return min(idx, key=lambda i: rows[i][criterion])


def in_range(evidence, n2s, criterion: str) -> list[dict]:
    """Inside the shipped rule's passing range, the resolution of lowest loss."""
    import resolution_rules as rr

    out = []
    for key, rows in evidence.items():
        a = n2s[key]["rows"]
        cand, lo, hi = rr.passing_rows(rows)
        j = min(cand, key=lambda i: a[i][criterion])
        oracle = max(r["ari"] for r in rows[lo:hi + 1])
        out.append({"dataset": key[0], "seed": key[1], "gamma": rows[j]["gamma"], "k": rows[j]["n_clusters"],
                    "ratio": rows[j]["ari"] / oracle if oracle > 0 else 1.0})
    return out


def report(write: bool) -> str:
    import pandas as pd

    import resolution_rules as rr
    from cellwak.tl._resolution import PLATEAU_RULE as AUTO_RULE  # the rule shipped when measured
    from resolution_alternatives import load_dir

    evidence = rr.load_evidence()  # its sets (blood_pbc28 on raw pixels was not used to develop the rule)
    n2s = {k: v for k, v in load_dir(OUT).items() if k in evidence}
    evidence = {k: v for k, v in evidence.items() if k in n2s}
    if not n2s or len(evidence) != len(n2s):
        raise SystemExit("run `collect` here and benchmarks/resolution_evidence.py for the same datasets first")
    for key, rows in evidence.items():
        for r, a in zip(rows, n2s[key]["rows"]):
            if abs(r["gamma"] - a["gamma"]) > 1e-6 or r["n_clusters"] != a["n_clusters"]:
                raise SystemExit(f"{key}: evidence and noise2self disagree at gamma {r['gamma']}: collect both "
                                 "with the same code")
    columns = {"shipped rule (plateau-end)": rr.score(evidence, AUTO_RULE, n_sub=5)}
    for c in CRITERIA:
        rows = []
        for (name, seed), d in n2s.items():
            i = choose_argmin(d["rows"], c)
            oracle = max(r["ari"] for r in d["rows"][GRID])
            rows.append({"dataset": name, "seed": seed, "k": d["rows"][i]["n_clusters"],
                         "ratio": d["rows"][i]["ari"] / oracle if oracle > 0 else 1.0})
        columns[f"{c}, argmin"] = pd.DataFrame(rows)
    for c in CRITERIA:
        columns[f"{c}, in range"] = pd.DataFrame(in_range(evidence, n2s, c))

    count = rr.pairs_count
    names = sorted({n for n, _ in n2s})
    shown = ["shipped rule (plateau-end)", "row, argmin", "graph1, argmin", "graph2, argmin",
             "row, in range", "graph1, in range"]
    lines = [
        "### The noise2self loss of each partition as the resolution criterion",
        "",
        "`python benchmarks/resolution_noise2self.py collect`, then `report --write`. The sets of section",
        "`resolution-lodo`, seeds 0-2, the CLI's graph, Leiden until stable at every resolution of its lattice;",
        "the loss on the graph's representation. Ratio = ARI of the choice / best ARI on the default grid",
        "(cluster count in brackets), per seed 0 / 1 / 2. row: each cell predicted by the mean of the other cells",
        "of its cluster; graph1 / graph2: one / two steps of the kNN graph's diffusion with the edges between",
        "clusters cut. argmin: the lowest loss on the default grid; in range: the lowest loss among the",
        "resolutions the shipped rule passes.",
        "",
        *rr.ratio_table({c: columns[c] for c in shown}, names),
    ]
    lines += ["", "Every criterion: " + "; ".join(f"{c} {count(df)}" for c, df in columns.items()) + "."]
    return rr.publish("\n".join(lines), "resolution-noise2self", write)


def main():
    import resolution_rules as rr

    rr.collect_or_report(__doc__, OUT, collect, report)


if __name__ == "__main__":
    main()
