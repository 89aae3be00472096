"""Layouts for looking at scale: `cw.tl.umap` on cellwak's graph, beside scanpy's `sc.tl.umap` on
the same stored graph (the peer, measured in the same run) where it fits in time.

    python benchmarks/bench_umap.py [--n 100000 1000000] [--peer-max 100000]

Data: the Gaussian mixture of benchmarks/synthetic.py (14 components, 32 dims). Each row is a
fresh interpreter: the kNN graph (`cw.pp.neighbors`, k = 15) is built first and timed apart; the
layout time is the UMAP alone. "kept" is the share of each cell's 15 nearest cells in the layout
that come from its own mixture component (on 5,000 random cells; a random layout keeps about the
sum of squared component shares, 0.1-0.2 here).
Rewrites the section `umap` of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import machine, run_probe, update_section  # noqa: E402

CODE = """
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, {here!r})
import numpy as np, anndata as ad
from synthetic import gaussian_mixture
import cellwak as cw
X, labels = gaussian_mixture({n})
a = ad.AnnData(X=X)
t = time.perf_counter()
cw.pp.neighbors(a, use_rep="X")
t_graph = time.perf_counter() - t
t = time.perf_counter()
if {peer!r}:
    import scanpy as sc
    sc.tl.umap(a, neighbors_key="cellwak_neighbors", key_added="X_layout", random_state=0)
else:
    cw.tl.umap(a, key_added="X_layout")
t_layout = time.perf_counter() - t
from cellwak.graph.knn import exact_knn
rng = np.random.default_rng(0)
cells = rng.choice(a.n_obs, min(5000, a.n_obs), replace=False)
L = a.obsm["X_layout"]
near = exact_knn(L, 15, rows=cells).indices
kept = float(np.mean(labels[near] == labels[cells][:, None]))
print(json.dumps({{"n": {n}, "who": "scanpy sc.tl.umap" if {peer!r} else "cellwak cw.tl.umap", "graph_s": t_graph,
                  "layout_s": t_layout, "kept": kept,
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--peer-max", type=int, default=100_000)
    args = parser.parse_args()
    rows = []
    for n in args.n:
        for peer in ([False, True] if n <= args.peer_max else [False]):
            row = run_probe(CODE.format(here=str(HERE), n=n, peer=peer), timeout=7200)
            print(row, flush=True)
            rows.append(row)
    lines = ["### Layouts for looking: UMAP on cellwak's graph", "",
             f"`python benchmarks/bench_umap.py` - {machine()}; each row a fresh process, the same data "
             "(Gaussian mixture, 32 dims), the graph built once per row with `cw.pp.neighbors` (k = 15).", "",
             "| cells | layout by | graph (s) | layout (s) | kept | peak GB |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['n']:,} | {r['who']} | {r['graph_s']:.1f} | {r['layout_s']:.1f} | {r['kept']:.2f} | "
                     f"{r['peak_gb']:.2f} |")
    lines += ["", "kept: the share of a cell's 15 nearest cells in the layout from its own mixture component "
              "(5,000 random cells). The layout times are umap-learn's optimisation either way; scanpy lays out the "
              "graph as stored (binary: every edge sampled every epoch), cellwak the same kNN lists with UMAP's "
              "fuzzy weights. Other processes shared the two cores: compare the ratio of the two 100,000 rows."]
    update_section("umap", "\n".join(lines))


if __name__ == "__main__":
    main()
