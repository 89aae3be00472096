"""`cluster --gamma 1.0` on a Dask LocalCluster of 2 workers vs one process, and what an atlas needs.

    python benchmarks/bench_dask.py cluster [--n 1000000]   kNN + graph + Leiden, here vs on 2 Dask workers
                                                            (writes section dask-N of BENCHMARKS.md)
    python benchmarks/bench_dask.py atlas [--n 200000]      memory and time per step at 10M and 100M cells,
                                                            projected from a one-process 1M run and the
                                                            Dask run of N cells (section
                                                            atlas-projection; README's table is this output)

Data: the Gaussian mixture of benchmarks/synthetic.py (14 components, 32 dims). Each run is a fresh
interpreter running ``cellwak.tl.cluster(adata, gamma=1.0)``, the in-memory call under
`cellwak cluster --gamma 1.0` (k = 15, auto kNN, binary graph, Leiden until stable); the Dask run
wraps it in ``cellwak.tl._distributed.scheduler(address)`` as `--scheduler` does, so the kNN
queries run in shards on the workers (cellwak.graph.sharded). Seconds per step come from the
progress reporter (each step's task, start to end). Peak memory: the caller's peak RSS and, for
the workers, each worker's peak RSS minus its RSS before the run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import REPORT, machine, run_probe, update_section  # noqa: E402

RUN = """
import json, resource, sys, time
sys.path.insert(0, {here!r})
import numpy as np
from synthetic import gaussian_mixture

class Steps:
    \"\"\"A progress reporter that times each step (seconds summed per description).\"\"\"
    def __init__(self):
        self.seconds = {{}}
    def task(self, description, total=None):
        steps = self
        class Task:
            def __enter__(self):
                self.t = time.perf_counter(); return self
            def advance(self, n=1):
                pass
            def __exit__(self, *exc):
                key = description.split(" (")[0] if description.startswith("kNN search") else description
                steps.seconds[key] = steps.seconds.get(key, 0.0) + time.perf_counter() - self.t
                return False
        return Task()

def rss_gb():
    with open('/proc/self/status') as fh:
        for line in fh:
            if line.startswith('VmRSS'):
                return int(line.split()[1]) / 2**20

def peak_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

def main():
    import anndata as ad
    import cellwak as cw
    from cellwak.tl._distributed import scheduler
    X, truth = gaussian_mixture({n})
    adata = ad.AnnData(X)
    address, cluster, start_s, base = None, None, 0.0, {{}}
    if {dask}:
        import distributed
        t = time.perf_counter()
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = distributed.Client(cluster, set_as_default=False)
        start_s = time.perf_counter() - t
        address = cluster.scheduler_address
        base = client.run(rss_gb)
    steps = Steps()
    try:
        t = time.perf_counter()
        with scheduler(address):
            result = cw.tl.cluster(adata, gamma=1.0, progress=steps)
        wall = time.perf_counter() - t
        workers = {{}}
        if cluster is not None:
            peaks = client.run(peak_gb)
            workers = {{w: round(peaks[w] - base[w], 3) for w in peaks}}
    finally:
        if cluster is not None:
            client.close(); cluster.close()
    from sklearn.metrics import adjusted_rand_score
    graph = adata.obsp["cellwak_connectivities"]
    np.save({labels!r}, result.labels)
    np.save({indices!r}, adata.obsp["cellwak_distances"].indices.reshape({n}, -1))
    print(json.dumps({{"wall": wall, "cluster_start": start_s, "timings": result.timings, "steps": steps.seconds,
                      "peak_gb": peak_gb(), "worker_peak_gb": workers, "n_clusters": int(result.n_clusters),
                      "ari_truth": adjusted_rand_score(truth, result.labels), "knn": result.params.get("knn"),
                      "knn_choice": result.params.get("knn_choice"), "recall": result.params.get("knn_recall"),
                      "graph_bytes": int(graph.data.nbytes + graph.indices.nbytes + graph.indptr.nbytes),
                      "graph_nnz": int(graph.nnz)}}, default=str))

main()
"""


def measure(n: int, dask: bool, folder: Path) -> tuple[dict, Path, Path]:
    labels, indices = folder / f"labels_{int(dask)}.npy", folder / f"indices_{int(dask)}.npy"
    code = RUN.format(here=str(HERE), n=n, dask=dask, labels=str(labels), indices=str(indices))
    return run_probe(code, timeout=3600), labels, indices


def cluster(n: int) -> dict:
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        here, lab_here, idx_here = measure(n, False, folder)
        print("here", json.dumps(here), flush=True)
        there, lab_there, idx_there = measure(n, True, folder)
        print("dask", json.dumps(there), flush=True)
        a, b = np.load(lab_here), np.load(lab_there)
        ia, ib = np.load(idx_here), np.load(idx_there)
        same_lists = float(np.mean(np.all(np.sort(ia, 1) == np.sort(ib, 1), axis=1)))
        overlap = float(np.mean([len(np.intersect1d(x, y)) for x, y in zip(ia[::100], ib[::100])]) / ia.shape[1])
    compare = {"identical_labels": bool(np.array_equal(a, b)), "ari": float(adjusted_rand_score(a, b)),
               "same_neighbour_sets": same_lists, "neighbour_overlap": overlap}
    out = {"n": n, "here": here, "dask": there, "compare": compare}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"dask_{n}.json").write_text(json.dumps(out, indent=1, default=str))
    update_section(f"dask-{n}", cluster_markdown(out))
    return out


def cluster_markdown(out: dict) -> str:
    n, here, there, cmp = out["n"], out["here"], out["dask"], out["compare"]
    steps = sorted(set(here["steps"]) | set(there["steps"]), key=lambda s: -max(here["steps"].get(s, 0),
                                                                                 there["steps"].get(s, 0)))
    lines = [f"### {n:,} cells: `cluster --gamma 1.0` in one process vs on a Dask LocalCluster of 2 workers", "",
             f"`python benchmarks/bench_dask.py cluster --n {n}` - {machine()}; 2 worker processes, 1 thread each, "
             "on the same 2 cores as the caller (and other users' jobs). Gaussian mixture, 14 components, 32 dims; "
             "k = 15, auto kNN, binary graph, Leiden at gamma 1 until stable. Each run a fresh process.", "",
             "| step | one process s | Dask s | ratio |", "|---|---|---|---|"]
    for s in steps:
        h, d = here["steps"].get(s), there["steps"].get(s)
        cells = [f"{v:.1f}" if v is not None else "-" for v in (h, d)]
        lines.append(f"| {s} | {cells[0]} | {cells[1]} | {f'{d / h:.2f}' if h and d else ''} |")
    for key, label in (("knn", "kNN total"), ("graph", "graph"), ("leiden", "Leiden")):
        h, d = here["timings"][key], there["timings"][key]
        lines.append(f"| **{label}** | {h:.1f} | {d:.1f} | {d / h:.2f} |")
    lines.append(f"| **wall (kNN + graph + Leiden)** | {here['wall']:.1f} | {there['wall']:.1f} | "
                 f"{there['wall'] / here['wall']:.2f} |")
    lines.append(f"| LocalCluster start (not in wall) | - | {there['cluster_start']:.1f} | |")
    workers = ", ".join(f"{v:.2f}" for v in there["worker_peak_gb"].values())
    lines += ["", f"- Same labels: **{'identical' if cmp['identical_labels'] else 'not identical'}**, "
              f"ARI {cmp['ari']:.4f} between the two runs; {here['n_clusters']} and {there['n_clusters']} clusters; "
              f"ARI against the mixture components {here['ari_truth']:.3f} / {there['ari_truth']:.3f}.",
              f"- kNN: {here['knn'] + ' in both' if here['knn'] == there['knn'] else here['knn'] + ' / ' + there['knn']} "
              f"(recall@15 estimated {here['recall']:.3f} / {there['recall']:.3f}); "
              f"identical neighbour sets for {100 * cmp['same_neighbour_sets']:.1f}% of cells, mean overlap "
              f"{cmp['neighbour_overlap']:.4f} (every 100th cell).",
              f"- Peak memory: caller {here['peak_gb']:.2f} GB alone, {there['peak_gb']:.2f} GB with Dask; "
              f"each worker +{workers} GB over its start.",
              f"- Graph: {here['graph_nnz']:,} stored entries, {here['graph_bytes'] / 2**20:.0f} MiB (CSR)."]
    return "\n".join(lines)


# -- the atlas projection -------------------------------------------------------------------------
def atlas(n_dask: int = 200_000) -> str:
    """Memory and time per step at 10M and 100M cells from measured per-cell costs: the one-process
    1M run (results/cluster_1000000_one_process.json, this script's run code) for the caller's steps and
    memory, the Dask run of ``n_dask`` cells (results/dask_N.json) for a query worker's memory and rate."""
    import math

    here = json.loads((HERE / "results" / "cluster_1000000_one_process.json").read_text())
    there = json.loads((HERE / "results" / f"dask_{n_dask}.json").read_text())["dask"]
    n0, dims, k = 1_000_000, 32, 15
    s = here["steps"]
    build = s.get("kNN index (HNSW, 32 dims)", 0.0)
    query_here = s.get("kNN search", 0.0)
    query_dask = there["steps"].get("kNN search", 0.0) * (n0 / n_dask) * math.log(n0) / math.log(n_dask)
    repair = s.get("kNN repair", 0.0)
    graph_s, leiden_s = here["timings"]["graph"], here["timings"]["leiden"]
    graph_b = here["graph_bytes"] / n0
    peak_b = here["peak_gb"] * 2**30 / n0
    rows = []
    for n in (n0, 10 * n0, 100 * n0):
        grow = n / n0 * math.log(n) / math.log(n0)          # HNSW insert/search: n log n
        lin = n / n0
        rows.append({
            "cells": n, "data_gb": n * dims * 4 / 1e9, "knn_gb": n * k * 12 / 1e9, "graph_gb": graph_b * n / 1e9,
            "caller_peak_gb": peak_b * n / 1e9,
            "build_s": build * grow, "query_s": query_here * grow, "query_per_worker_s": query_dask * grow * 2,
            "repair_s": repair, "graph_s": graph_s * lin, "leiden_s": leiden_s * lin})
    lines = ["Projected from `benchmarks/results/cluster_1000000_one_process.json` (1,000,000 cells, one process, "
             f"this script's run code) and `benchmarks/results/dask_{n_dask}.json` (`bench_dask.py cluster --n {n_dask}`: "
             "a query worker's memory per cell and its query rate). Gaussian mixture, 32 dims, k = 15, HNSW; 2 shared "
             "cores (load average 4-6 during the runs). Memory per cell as measured, times n; HNSW build and queries "
             "grow as n log n, graph and Leiden as n (Leiden's iterations until stable may grow too: a lower bound); "
             "the repair is capped at 5e9 distances (constant); W = query workers. A query worker holds the cells and "
             f"the HNSW index (at {n_dask:,} cells each worker's peak rose by "
             f"{max(there['worker_peak_gb'].values()):.2f} GB, imports of cellwak and torch included: too little to "
             "separate a per-cell cost from the fixed one).", "",
             "| cells | data GB (float32) | kNN lists GB | graph GB | caller peak GB | "
             "HNSW build s (caller, 2 cores) | queries s (2 cores) | queries s per 1-thread worker x W | repair s | "
             "graph s | Leiden s |", "|" + "---|" * 11]
    for r in rows:
        lines.append(f"| {r['cells']:,} | {r['data_gb']:.1f} | {r['knn_gb']:.1f} | {r['graph_gb']:.1f} | "
                     f"{r['caller_peak_gb']:.1f} | {r['build_s']:,.0f} | {r['query_s']:,.0f} | "
                     f"{r['query_per_worker_s']:,.0f} / W | {r['repair_s']:.0f} | {r['graph_s']:,.0f} | "
                     f"{r['leiden_s']:,.0f} |")
    text = "\n".join(lines)
    update_section("atlas-projection", "### What a 10M- and 100M-cell atlas needs (projection)\n\n" + text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("cluster", "atlas"))
    parser.add_argument("--n", type=int, default=None, help="cells (cluster: 1,000,000; atlas: the Dask run's, 200,000)")
    args = parser.parse_args()
    if args.what == "cluster":
        print(cluster_markdown(cluster(args.n or 1_000_000)))
    else:
        print(atlas(args.n or 200_000))


if __name__ == "__main__":
    assert REPORT.exists() and re.search("bench:", REPORT.read_text())
    main()
