"""``--backend julia`` behind sweep, dewak and DeePWAK's evaluation, against the Python paths.

What is compared, and why it should match:
* kNN: CellWAK.jl's exact search and cellwak's exact search rank the same true distances (ties by
  index), so on real data without exact ties the neighbour indices are identical.
* noise2self loss / DEWAK: the same kernel (WAK of the kNN graph times inverse distances) and the
  same mean squared error; only the float arithmetic differs (float64 in Julia, float32 products in
  torch), so losses agree to 1e-5 relative and the argmin (d, k) is the same pair.
* Leiden: two implementations of one algorithm (igraph's C and CellWAK.jl) with the same
  iteration policy do not draw the same random numbers, so partitions are compared by modularity
  (within 1 %) and by agreement (ARI) where the graph's structure is clear; a Julia run at one
  resolution alone and inside a sweep is the same run (same seed, same policy): identical labels.
* DeePWAK: encoders and decoders stay in torch; Julia computes each head's WAK(C C^T) E, which
  must equal torch's to 1e-5, and the held-out loss with it.

Julia is needed (``bash julia/install_julia.sh`` or CELLWAK_JULIA); those tests skip without it.
The refusals (no Julia) need nothing and run in the default set.
"""

from __future__ import annotations

import numpy as np
import pytest

from cellwak.backends import julia as jl
from conftest import SHARED_DATA, snapshot

needs_julia = pytest.mark.skipif(jl.julia_executable() is None,
                                 reason="no julia executable: run `bash julia/install_julia.sh` or set CELLWAK_JULIA")


def _embryo(n: int) -> np.ndarray:
    import pandas as pd

    path = SHARED_DATA / "embryo_screen" / "z_dat.csv"
    if not path.is_file():
        pytest.skip(f"shared data not found at {path}")
    return pd.read_csv(path, index_col=0).to_numpy(np.float32)[:n]


def _pbmc():
    import anndata as ad

    path = SHARED_DATA / "pbmc68k_reduced" / "10x_pbmc68k_reduced.h5ad"
    if not path.is_file():
        pytest.skip(f"shared data not found at {path}")
    a = ad.read_h5ad(path)
    return ad.AnnData(np.asarray(a.X, dtype=np.float32))


# -- refusals: no Julia --------------------------------------------------------------------------


@pytest.fixture
def no_julia(monkeypatch, tmp_path):
    monkeypatch.setenv(jl.ENV_JULIA, str(tmp_path / "no-such-julia"))
    monkeypatch.setenv(jl.ENV_MODE, "subprocess")
    monkeypatch.setattr(jl, "_SHARED", None)     # a server started by another test must not answer


@pytest.mark.parametrize("args", [
    ["sweep", "-d", "cells", "--backend", "julia", "--gamma", "0.5,1"],
    ["cluster", "-d", "cells", "--gamma", "auto", "--backend", "julia"],
    ["dewak", "-d", "cells", "--backend", "julia", "--k-max", "10"],
    ["train", "deepwak", "-d", "cells", "--eval-backend", "julia", "--epochs", "1", "--heads", "1"],
], ids=["sweep", "cluster-auto", "dewak", "train-deepwak"])
def test_missing_julia_refuses_in_one_line_and_leaves_the_workspace(cli, home, populated, no_julia, args):
    r = cli(*args)
    assert r.code == 2, r.err
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert len(lines) == 1, r.err
    assert "CELLWAK_JULIA" in lines[0] and "install_julia.sh" in lines[0]
    assert "Traceback" not in r.err
    assert snapshot(home) == populated


def test_unknown_backends_are_refused(cli, populated):
    assert cli("sweep", "-d", "cells", "--backend", "leidenalg").code == 2
    assert cli("dewak", "-d", "cells", "--backend", "fortran").code == 2


def test_julia_leiden_reads_the_python_iteration_policy(monkeypatch):
    from cellwak.graph import leiden as leiden_module
    from cellwak.tl._julia_leiden import iteration_policy

    monkeypatch.setattr(leiden_module, "TOLERANCE", 0.25)
    monkeypatch.setattr(leiden_module, "TOLERANCE_FROM_EDGES", 1000)
    monkeypatch.setattr(leiden_module, "MAX_ITERATIONS", 7)
    assert iteration_policy(1000) == {"tolerance": 0.25, "max_iterations": 7}
    assert iteration_policy(999) == {"tolerance": 0.0, "max_iterations": 7}  # small graphs: while any gain


# -- parity (Julia needed) -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def jk():
    if jl.julia_executable() is None:
        pytest.skip("no julia executable: run `bash julia/install_julia.sh` or set CELLWAK_JULIA")
    return jl.shared_kernels()


@pytest.mark.julia
@pytest.mark.slow  # Julia starts and compiles (5-10 s)
def test_knn_and_noise2self_loss_match_python(jk):
    from cellwak.graph import kernels
    from cellwak.graph.exact import exact_knn

    X = _embryo(800)
    ref = exact_knn(X, 15)
    idx, dist = jk.knn_exact(X.astype(np.float64), 15)
    np.testing.assert_array_equal(idx, ref.indices)
    np.testing.assert_allclose(dist, ref.distances, rtol=1e-5)
    n = len(X)
    G = kernels.inverse_distance(np.asarray(ref.distances, dtype=np.float64))
    import scipy.sparse as sp

    A = sp.csr_matrix((G.ravel(), (np.repeat(np.arange(n), 15), ref.indices.ravel())), shape=(n, n))
    for norm in ("col", "row"):
        expected = kernels.noise2self_loss(X, kernels.wak(A, norm))
        assert jk.noise2self_loss(X, A, norm=norm) == pytest.approx(expected, rel=1e-5)
    assert jk.noise2self_loss(X, A, norm="col") != pytest.approx(jk.noise2self_loss(X, A, norm="row"), rel=1e-3)


@pytest.mark.julia
@pytest.mark.slow
def test_julia_leiden_iteration_policy(jk):
    from cellwak.graph.kernels import modularity

    A = _pbmc_graph()
    one = jk.leiden(A, 1.0, seed=3, n_iterations=1)
    capped = jk.leiden(A, 1.0, seed=3, n_iterations=-1, max_iterations=1)
    assert jk.last_iterations == [1]
    np.testing.assert_array_equal(capped, one)
    two = jk.leiden(A, 1.0, seed=3, n_iterations=2)
    loose = jk.leiden(A, 1.0, seed=3, n_iterations=-1, tolerance=1.0)  # any gain is "too small": stop after 2
    assert jk.last_iterations == [2]
    np.testing.assert_array_equal(loose, two if modularity(A, two, 1.0) > modularity(A, one, 1.0) else one)
    strict = jk.leiden(A, 1.0, seed=3, n_iterations=-1, tolerance=0.0, max_iterations=20)
    assert jk.last_iterations[0] >= 2
    assert modularity(A, strict, 1.0) >= modularity(A, one, 1.0) - 1e-12


def _pbmc_graph():
    from cellwak.graph.build import build_graph
    from cellwak.graph.exact import exact_knn

    X = _pbmc().X
    return build_graph(exact_knn(X, 15), weights="binary", symmetrize_how="union").tocsr()


@pytest.mark.julia
@pytest.mark.slow  # two sweeps with subsamples (about 15 s)
def test_sweep_julia_agrees_with_igraph(jk):
    import cellwak as cw
    from sklearn.metrics import adjusted_rand_score

    from cellwak.graph.kernels import modularity

    adata = _pbmc()
    cw.pp.neighbors(adata, n_neighbors=15)
    runs = {}
    for backend in ("igraph", "julia"):
        a = adata.copy()
        cw.tl.sweep(a, "0.1,0.3,1", subsamples=2, backend=backend, random_state=0)
        runs[backend] = a
    params = runs["julia"].uns["cellwak"]["sweep"]["params"]
    assert params["backend"] == "julia" and params["julia_version"].startswith("julia version")
    assert params["julia_transport"] in ("subprocess", "juliacall")
    graph = runs["julia"].obsp["cellwak_connectivities"]
    for g in (0.1, 0.3, 1.0):
        key = f"cellwak_leiden_g{g:g}"
        a, b = (runs[k].obs[key].astype(int).to_numpy() for k in ("igraph", "julia"))
        assert modularity(graph, b, g) == pytest.approx(modularity(graph, a, g), rel=0.01)
        assert adjusted_rand_score(a, b) >= 0.9, (g, adjusted_rand_score(a, b))
    table = cw.tl.sweep_table(runs["julia"])
    assert table["stability_subsample"].notna().all()
    alone = runs["julia"].copy()                 # one resolution alone: the sweep's partition exactly
    cw.tl.leiden(alone, 0.3, backend="julia", random_state=0)
    np.testing.assert_array_equal(alone.obs["cellwak_leiden"].astype(int), runs["julia"].obs["cellwak_leiden_g0.3"].astype(int))


@pytest.mark.julia
@pytest.mark.slow  # two DEWAK grids (about 10 s)
def test_dewak_julia_matches_python(jk):
    import anndata as ad

    from cellwak.tl._dewak_eval import LossTable
    from cellwak.tl._dewak_julia import JuliaLossTable
    from cellwak.tl.dewak import dewak

    adata = ad.AnnData(_embryo(600))
    for norm in ("col", "row"):
        py = dewak(adata.copy(), search="grid", d_max=10, k_max=30, norm=norm)
        ju = dewak(adata.copy(), search="grid", d_max=10, k_max=30, norm=norm, backend="julia")
        assert (ju.d, ju.k) == (py.d, py.k)
        a, b = (r.table.set_index(["d", "k"])["loss"] for r in (py, ju))
        assert a.index.equals(b.index) and len(a) == 300
        # Julia ranks float64 distances, the Python search float32 ones: a near-tie at the k-th
        # neighbour can swap one list entry (seen once in 300 pairs, 1.5e-4); the rest agree to 1e-5.
        rel = np.abs(b.to_numpy() / a.to_numpy() - 1)
        assert np.mean(rel < 1e-5) >= 0.98 and rel.max() < 1e-3, np.sort(rel)[-5:]
        assert ju.params["backend"] == "julia" and "julia_version" in ju.params
    X, E = adata.X, np.random.default_rng(0).normal(size=(600, 6)).astype(np.float32)
    py_table = LossTable(X, E, 20)
    idx_py, aff_py = py_table.neighbour_lists(6)
    idx_jl, aff_jl = JuliaLossTable(X, E, 20, kernels=jk).neighbour_lists(6)
    np.testing.assert_array_equal(idx_jl, idx_py)           # random PCs: no near-ties
    np.testing.assert_allclose(aff_jl, aff_py, rtol=1e-5)
    ks = list(range(1, 21))
    for norm in ("col", "row"):                              # the same lists: the same kernel and loss
        expected = LossTable(X, E, 20, norm=norm).losses(6, ks)
        got = jk.dewak_losses(X, ks, norm=norm, neighbours=(idx_py, aff_py))["losses"]
        np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.julia
@pytest.mark.slow
def test_deepwak_evaluation_in_julia_matches_torch(jk):
    import torch

    from cellwak.models import create_task
    from cellwak.models._deepwak_task import julia_kernels

    X = _embryo(300)
    for norm in ("col", "row"):
        torch.manual_seed(0)
        ref = create_task("deepwak", X, heads=2, wak_norm=norm)
        torch.manual_seed(0)
        task = create_task("deepwak", X, heads=2, wak_norm=norm, eval_backend="julia")
        assert task.config["eval_backend"] == "julia" and "julia_version" in task.config
        batch = task.data[:200]
        for stage in ("block", "consensus_partitioner", "consensus_encoder"):
            with torch.no_grad():
                pairs = ref.model.kernel_inputs(batch, stage)
                expected = [h.kernel(C) @ E for h, (C, E) in zip(ref.model.block.heads, pairs)]
                got = julia_kernels(pairs, norm)
            for e, g in zip(expected, got):
                torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6)
            assert task.evaluate(batch, stage)["loss"] == pytest.approx(ref.evaluate(batch, stage)["loss"], rel=1e-5)
    # an untrained partitioner is nearly uniform; sharp soft partitions show the kernels differ
    g = torch.Generator().manual_seed(1)
    sharp = [(torch.softmax(5 * torch.randn(150, 6, generator=g), 1), torch.randn(150, 4, generator=g))]
    from cellwak.models._deepwak_layers import pwak

    col, row = julia_kernels(sharp, "col")[0], julia_kernels(sharp, "row")[0]
    torch.testing.assert_close(col, pwak(sharp[0][0], "col") @ sharp[0][1], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(row, pwak(sharp[0][0], "row") @ sharp[0][1], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(col, row, rtol=1e-2, atol=1e-3)
    with pytest.raises(Exception, match="v2 only"):
        create_task("deepwak", X, variant="v1", eval_backend="julia")


@pytest.mark.julia
@pytest.mark.slow
@needs_julia
def test_cli_sweep_and_dewak_with_julia(cli, populated):
    r = cli("sweep", "-d", "cells", "--backend", "julia", "--gamma", "0.5,1", "--subsamples", "2", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["params"]["backend"] == "julia" and "julia_version" in out["params"]
    r = cli("dewak", "-d", "cells", "--backend", "julia", "--k-max", "10", "--json")
    assert r.code == 0, r.err
    assert r.json()["params"]["backend"] == "julia"
