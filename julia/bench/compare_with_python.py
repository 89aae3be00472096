"""Time cellwak's Julia kernels against Python references on Gaussian blobs.

    python julia/bench/compare_with_python.py [--n 20000] [--d 30] [--k 15] [--repeats 3]
    python julia/bench/compare_with_python.py --backends [--n 100000] [--write]

Reports Julia start-up, exact kNN (Julia vs a numpy blocked-matmul reference) and Leiden
(Julia vs igraph's community_leiden, modularity objective) on the same union kNN graph.
Prints one JSON object.

``--backends``: the product's ``--backend julia`` paths against the Python paths they replace,
on the synthetic mixture of benchmarks/synthetic.py (32 dims), each as a ratio Julia / Python
measured in the same run (julia_backends.py); ``--write`` puts the table into
benchmarks/BENCHMARKS.md (section julia-backends).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time

import igraph as ig
import numpy as np
import scipy.sparse as sp

from cellwak.backends.julia import JuliaKernels, julia_executable


def blobs(n: int, d: int, centers: int, spread: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mu = rng.normal(scale=spread, size=(centers, d))
    return (mu[rng.integers(centers, size=n)] + rng.normal(size=(n, d))).astype(np.float32)


def numpy_knn(X: np.ndarray, k: int, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Blocked Gram-trick kNN (self excluded), the reference the Julia kernel is timed against."""
    n = len(X)
    sq = np.einsum("ij,ij->i", X, X)
    idx = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k), dtype=X.dtype)
    for s in range(0, n, block):
        e = min(s + block, n)
        d2 = sq[s:e, None] - 2 * X[s:e] @ X.T + sq[None, :]
        d2[np.arange(e - s), np.arange(s, e)] = np.inf
        part = np.argpartition(d2, k, axis=1)[:, :k]
        pd = np.take_along_axis(d2, part, axis=1)
        order = np.argsort(pd, axis=1)
        idx[s:e] = np.take_along_axis(part, order, axis=1)
        dist[s:e] = np.sqrt(np.maximum(np.take_along_axis(pd, order, axis=1), 0))
    return idx, dist


def union_graph(idx: np.ndarray) -> sp.csr_matrix:
    n, k = idx.shape
    G = sp.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), idx.ravel())), shape=(n, n))
    return ((G + G.T) > 0).astype(np.float64).tocsr()


def modularity(A: sp.csr_matrix, labels: np.ndarray, gamma: float = 1.0) -> float:
    k = np.asarray(A.sum(axis=1)).ravel()
    two_w = k.sum()
    coo = A.tocoo()
    inside = coo.data[labels[coo.row] == labels[coo.col]].sum()
    tot = np.bincount(labels, weights=k)
    return float(inside / two_w - gamma * np.sum((tot / two_w) ** 2))


def best_of(f, repeats: int, jk: JuliaKernels | None = None, op: str = ""):
    """(best wall time, result, Julia compute seconds of that best call or None)."""
    best, out, inner = float("inf"), None, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        wall = time.perf_counter() - t
        if wall < best:
            best, inner = wall, (jk.last_seconds[op] if jk else None)
    return best, out, inner


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--d", type=int, default=30)
    ap.add_argument("--k", type=int, default=15)
    ap.add_argument("--centers", type=int, default=12)
    ap.add_argument("--spread", type=float, default=4.0, help="scale of the blob centres (smaller: more overlap)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backends", action="store_true", help="time the --backend julia paths against Python")
    ap.add_argument("--write", action="store_true", help="with --backends: write the BENCHMARKS.md section")
    args = ap.parse_args()
    if args.backends:
        from julia_backends import run

        run(args.n, write=args.write)
        return
    report: dict = {"n": args.n, "d": args.d, "k": args.k, "spread": args.spread}

    exe = julia_executable()
    t = time.perf_counter()
    subprocess.run([exe, "--startup-file=no", "-e", "0"], check=True)
    report["julia_startup_s"] = round(time.perf_counter() - t, 3)

    X = blobs(args.n, args.d, args.centers, args.spread, seed=0)
    jk = JuliaKernels(mode="subprocess")
    t = time.perf_counter()
    jk.knn_exact(X[:50], 3)                   # start the server and compile the kNN kernel
    report["julia_server_start_and_first_knn_s"] = round(time.perf_counter() - t, 3)

    report["knn_numpy_s"], (ref_idx, _), _ = best_of(lambda: numpy_knn(X, args.k), args.repeats)
    report["knn_julia_wall_s"], (jl_idx, _), inner = best_of(lambda: jk.knn_exact(X, args.k), args.repeats, jk, "nn")
    report["knn_julia_compute_s"] = round(inner, 3)
    report["knn_indices_equal_fraction"] = float(np.mean(np.sort(ref_idx, 1) == np.sort(jl_idx, 1)))

    A = union_graph(ref_idx)
    report["graph_edges"] = int(A.nnz // 2)
    upper = sp.triu(A, 1).tocoo()
    g = ig.Graph(n=args.n, edges=np.column_stack([upper.row, upper.col]).tolist())
    g.es["weight"] = upper.data.tolist()

    def igraph_leiden():
        return np.asarray(g.community_leiden(objective_function="modularity", weights="weight", resolution=1.0,
                                             beta=0.01, n_iterations=2).membership)

    t = time.perf_counter()
    jk.leiden(A, 1.0, seed=0)
    report["leiden_julia_first_call_s"] = round(time.perf_counter() - t, 3)
    report["leiden_igraph_s"], ig_labels, _ = best_of(igraph_leiden, args.repeats)
    report["leiden_julia_wall_s"], jl_labels, inner = best_of(lambda: jk.leiden(A, 1.0, seed=0), args.repeats, jk, "l0")
    report["leiden_julia_compute_s"] = round(inner, 3)
    report["leiden_ratio_julia_wall_over_igraph"] = round(report["leiden_julia_wall_s"] / report["leiden_igraph_s"], 2)
    report["leiden_ratio_julia_compute_over_igraph"] = round(report["leiden_julia_compute_s"] / report["leiden_igraph_s"], 2)
    report["modularity_igraph"] = round(modularity(A, ig_labels), 5)
    report["modularity_julia"] = round(modularity(A, jl_labels), 5)
    report["clusters_igraph"] = int(ig_labels.max() + 1)
    report["clusters_julia"] = int(jl_labels.max() + 1)
    jk.close()
    for key in ("knn_numpy_s", "knn_julia_wall_s", "leiden_igraph_s", "leiden_julia_wall_s"):
        report[key] = round(report[key], 3)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
