"""``compare_with_python.py --backends``: the ``--backend julia`` paths of cellwak against the
Python paths they replace, on the synthetic mixture of benchmarks/synthetic.py (n cells x 32).

Each step is timed once per path in the same run (shared cores: read the ratios, not the
seconds); Julia times are wall times from Python (file exchange included), after one warm-up call
that starts the Julia server and compiles the kernel.

    kNN           cellwak.graph.exact.exact_knn (torch)  vs  JuliaKernels.knn_exact, k = 15
    sweep Leiden  run_many(backend='igraph') (processes) vs  backend='julia' (one Julia process,
                  threads), resolutions 0.5, 1, 2 on the full kNN graph, until-stable policy
    dewak eval    one d of the golden search: LossTable.losses(d=10, k ladder to k_max=50), exact
                  kNN at k_max included, torch vs JuliaLossTable
    noise2self    MSE(X, WAK_col(kNN graph x inverse distance) X): cellwak.graph.kernels vs Julia
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def _timed(f):
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def run(n: int, write: bool = False) -> dict:
    import scipy.sparse as sp
    from _common import machine, update_section
    from synthetic import gaussian_mixture

    from cellwak.backends.julia import JuliaKernels
    from cellwak.graph import kernels
    from cellwak.graph.build import build_graph
    from cellwak.graph.exact import exact_knn
    from cellwak.tl._dewak_eval import LossTable
    from cellwak.tl._dewak_julia import JuliaLossTable
    from cellwak.tl._dewak_search import k_ladder
    from cellwak.tl._julia_leiden import run_many_julia
    from cellwak.tl._parallel_leiden import run_many

    X, _ = gaussian_mixture(n, 32, seed=0)
    report: dict = {"n": n, "dims": 32, "machine": machine(), "steps": {}}
    jk = JuliaKernels(mode="subprocess")
    small = X[:2000]
    t, _ = _timed(lambda: jk.knn_exact(small, 15))            # start + compile: reported, not in ratios
    report["julia_start_and_compile_s"] = round(t, 2)

    def step(name, python, julia, agree):
        report["steps"][name] = {"python_s": round(python, 2), "julia_s": round(julia, 2),
                                 "ratio": round(julia / python, 2), "agreement": agree}
        print(name, report["steps"][name], flush=True)
        if write:  # after every step: what was measured survives a run cut short
            update_section("julia-backends", _markdown(report))

    t_py, knn = _timed(lambda: exact_knn(X, 15))
    t_jl, (idx, dist) = _timed(lambda: jk.knn_exact(X.astype(np.float64), 15))
    step("kNN (k=15)", t_py, t_jl, f"{np.mean(idx == knn.indices):.5f} of neighbour slots equal")

    A = build_graph(knn, weights="binary", symmetrize_how="union").tocsr()
    tasks = [("full", g, 0, -1) for g in (0.5, 1.0, 2.0)]
    jk_small = sp.csr_matrix(A[:2000, :2000])
    jk.leiden_many(jk_small, [1.0], [0], n_iterations=-1)      # compile
    import cellwak.backends.julia as jl_module

    jl_module._SHARED = jk                                    # the product path uses the shared kernels
    t_py, ig = _timed(lambda: run_many({"full": A}, tasks, n_jobs=2))
    t_jl, ju = _timed(lambda: run_many_julia({"full": A}, tasks, {"full": False}))
    q = [(kernels.modularity(A, a, g), kernels.modularity(A, b, g)) for (_, g, _, _), a, b in zip(tasks, ig, ju)]
    step("sweep Leiden (3 resolutions)", t_py, t_jl,
         "modularity igraph / julia " + ", ".join(f"{a:.4f}/{b:.4f}" for a, b in q))

    Xs = X / np.abs(X).max(axis=1, keepdims=True)
    from cellwak.pp.representation import pca

    E = pca(Xs, 10, 0)[0]
    ladder = k_ladder(50)
    JuliaLossTable(Xs[:2000], E[:2000], 50, kernels=jk).losses(10, ladder)   # compile
    t_py, lp = _timed(lambda: LossTable(Xs, E, 50, knn_method="exact").losses(10, ladder))
    t_jl, lj = _timed(lambda: JuliaLossTable(Xs, E, 50, kernels=jk).losses(10, ladder))
    step(f"dewak evaluation (d=10, {len(ladder)} k up to 50)", t_py, t_jl,
         f"losses max rel. diff {np.max(np.abs(lj / lp - 1)):.1e}")

    S = sp.csr_matrix((kernels.inverse_distance(np.asarray(knn.distances, dtype=np.float64)).ravel(),
                       (np.repeat(np.arange(n), 15), knn.indices.ravel())), shape=(n, n))
    jk.noise2self_loss(Xs[:2000], S[:2000, :2000])             # compile
    t_py, lp = _timed(lambda: kernels.noise2self_loss(Xs, kernels.wak(S, "col")))
    t_jl, lj = _timed(lambda: jk.noise2self_loss(Xs, S, norm="col"))
    step("noise2self loss (k=15 kernel)", t_py, t_jl, f"rel. diff {abs(lj / lp - 1):.1e}")
    jk.close()
    report["complete"] = True
    print(json.dumps(report))
    if write:
        update_section("julia-backends", _markdown(report))
    return report


def _markdown(report: dict) -> str:
    lines = [f"### `--backend julia` vs the Python paths ({report['n']:,} cells x {report['dims']}, synthetic mixture)",
             "",
             "`python julia/bench/compare_with_python.py --backends --n {:d} --write`; {}. Julia 1.5.3 through the "
             "subprocess transport (juliacall cannot start Julia here). One run, cores shared with other work: "
             "the ratio (Julia time / Python time, same run) is the number to read; below 1 Julia is faster. Julia "
             "start-up and compilation ({:.1f} s, once per process) are left out of the ratios.".format(
                 report["n"], report["machine"], report["julia_start_and_compile_s"]),
             "",
             "| step | Julia / Python | agreement |", "|---|---|---|"]
    for name, s in report["steps"].items():
        lines.append(f"| {name} | {s['ratio']:.2f} | {s['agreement']} |")
    if not report.get("complete"):
        lines += ["", "The run was stopped before the remaining steps (time limit); they were not measured."]
    return "\n".join(lines)
