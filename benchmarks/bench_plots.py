"""R figures at 1,000,000 cells, and where R should run (in this process or a child process).

    python benchmarks/bench_plots.py [--cells 1000000] [--repeats 3]

A synthetic AnnData (cells x 20 features in 12 clusters, a 2-D layout, labels, 4 batches). Timed,
each the median of --repeats in one process after R has started (its start is reported apart):
- the cluster x feature heatmap (``cw.pl.heatmap``: the per-cluster means in NumPy, then
  ComplexHeatmap on 12 x 20 values), peer: scanpy's ``sc.pl.matrixplot`` (matplotlib) of the
  same means, scaled per feature;
- the embedding (``cw.pl.embedding``, PNG, points rasterised past 50,000 cells), peer: a
  matplotlib scatter of the same points (``s=0.1``, ``rasterized=True``) into a PNG;
- in-process vs child-process R for one small figure (a 2,000-cell embedding PNG).
Updates the "plots" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine, update_section


def synthetic(n: int, seed: int = 0):
    import anndata as ad
    import pandas as pd

    rng = np.random.default_rng(seed)
    k, d = 12, 20
    groups = rng.integers(0, k, n)
    centres = rng.normal(0, 2, (k, d)).astype(np.float32)
    X = centres[groups] + rng.normal(0, 1, (n, d)).astype(np.float32)
    layout = rng.normal(0, 4, (k, 2))[groups] + rng.normal(0, 1, (n, 2))
    obs = pd.DataFrame({"cluster": pd.Categorical(groups.astype(str), categories=[str(i) for i in range(k)]),
                        "type": pd.Categorical(np.array(list("ABCDEF"))[groups % 6]),
                        "batch": pd.Categorical(np.array(["b0", "b1", "b2", "b3"])[rng.integers(0, 4, n)])},
                       index=[f"c{i}" for i in range(n)])
    adata = ad.AnnData(X, obs=obs, var=pd.DataFrame(index=[f"m{j}" for j in range(d)]))
    adata.obsm["X_cellwak_umap"] = layout
    adata.uns["cellwak"] = {"dataset": {"label_key": "type", "batch_key": "batch"}}
    return adata


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peer_heatmap(adata, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import scanpy as sc

    sc.pl.matrixplot(adata, list(adata.var_names), "cluster", standard_scale="var", show=False)
    plt.savefig(out, dpi=150)
    plt.close("all")


def peer_scatter(adata, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xy = adata.obsm["X_cellwak_umap"]
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.scatter(xy[:, 0], xy[:, 1], c=adata.obs["cluster"].cat.codes, s=0.1, cmap="tab20", rasterized=True)
    fig.savefig(out, dpi=150)
    plt.close(fig)


def main() -> None:
    import cellwak as cw

    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-plots-"))
    small = synthetic(2_000)
    t0 = time.perf_counter()
    cw.pl.embedding(small, "cluster", out=folder / "warmup.png")
    r_start = time.perf_counter() - t0
    inprocess = timed(lambda: cw.pl.embedding(small, "cluster", out=folder / "s.png", mode="inprocess"), args.repeats)
    child = timed(lambda: cw.pl.embedding(small, "cluster", out=folder / "c.png", mode="child"), args.repeats)

    big = synthetic(args.cells)
    heat = timed(lambda: cw.pl.heatmap(big, "cluster", out=folder / "h.png"), args.repeats)
    heat_pdf = timed(lambda: cw.pl.heatmap(big, "cluster", out=folder / "h.pdf"), 1)
    heat_peer = timed(lambda: peer_heatmap(big, folder / "hp.png"), args.repeats)
    emb = timed(lambda: cw.pl.embedding(big, "cluster", out=folder / "e.png"), args.repeats)
    emb_pdf = timed(lambda: cw.pl.embedding(big, "cluster", out=folder / "e.pdf"), 1)
    emb_peer = timed(lambda: peer_scatter(big, folder / "ep.png"), args.repeats)
    sizes = {p.name: p.stat().st_size // 1024 for p in folder.iterdir()}
    n = f"{args.cells:,}"
    markdown = f"""### R figures at {n} cells (`cw.pl`, R through rpy2)

`python benchmarks/bench_plots.py --cells {args.cells} --repeats {args.repeats}` ({machine()}); synthetic
{n} cells x 20 features, 12 clusters, labels and 4 batches; median of {args.repeats} in one process after R
started (its start, with ggplot2 loaded: {r_start:.1f} s, once per process).

| figure | cellwak (R) | peer (same run) | ratio | file |
|---|---|---|---|---|
| heatmap, PNG (means in NumPy, ComplexHeatmap) | {heat:.2f} s | scanpy `pl.matrixplot` {heat_peer:.2f} s | {heat / heat_peer:.2f}x | {sizes['h.png']} kB |
| heatmap, PDF | {heat_pdf:.2f} s | | | {sizes['h.pdf']} kB |
| embedding, PNG (rasterised points) | {emb:.2f} s | matplotlib `scatter(rasterized=True)` {emb_peer:.2f} s | {emb / emb_peer:.2f}x | {sizes['e.png']} kB |
| embedding, PDF (rasterised points) | {emb_pdf:.2f} s | | | {sizes['e.pdf']} kB |

Where R runs, one 2,000-cell embedding PNG: in this process (R already started) {inprocess:.2f} s, in a child
process (a fresh Python with R each time) {child:.2f} s ({child / inprocess:.0f}x). `cw.pl` and `cellwak plot`
therefore run R in-process on the main thread (a one-shot command pays R's start either way); a call from another
thread (the dashboard's workers) goes to a child process, because embedded R must not run off the main thread.
"""
    print(markdown)
    update_section("plots", markdown)


if __name__ == "__main__":
    main()
