"""`cellwak embed --run ID [--dataset D]`: a done run's outputs into its own or another dataset."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import snapshot
from test_runs import FAST, cells  # noqa: F401 (fixture)

from cellwak.store import Workspace


@pytest.fixture
def trained(cli, home, cells, tmp_path):
    r = cli("train", "ae", "-d", cells, "--epochs", "2", "--latent", "3", *FAST, "--json")
    assert r.code == 0, r.err
    rng = np.random.default_rng(1)
    np.save(tmp_path / "more.npy", rng.normal(0, 3, (200, 32)).astype(np.float32))
    np.save(tmp_path / "narrow.npy", rng.normal(0, 3, (200, 7)).astype(np.float32))
    for name in ("more", "narrow"):
        assert cli("data", "add", tmp_path / f"{name}.npy", "--name", name).code == 0
    return r.json()["run_id"]


def test_embed_into_the_runs_own_and_another_dataset(cli, home, cells, trained):
    own = Workspace(home).load(cells).obsm["X_ae"].copy()
    r = cli("embed", "run", trained, "--json")
    assert r.code == 0, r.err
    assert r.json()["dataset"] == cells
    assert np.array_equal(Workspace(home).load(cells).obsm["X_ae"], own)
    r = cli("embed", "run", trained, "-d", "more", "--json")
    assert r.code == 0, r.err
    assert r.json()["outputs"] == ["obsm/X_ae"]
    adata = Workspace(home).load("more")
    assert adata.obsm["X_ae"].shape == (200, 3) and adata.uns["cellwak"]["embed_ae"]["run"] == trained


@pytest.mark.parametrize("args, message", [
    (["run", "999"], "no run #999"),
    (["run", "{run}", "-d", "narrow"], "another shape than dataset 'narrow'"),
    (["run", "{run}", "-d", "nope"], "no dataset named 'nope'"),
])
def test_bad_embed_input_exits_2_and_changes_nothing(cli, home, trained, args, message):
    args = [str(trained) if a == "{run}" else a for a in args]
    before = snapshot(home)
    r = cli("embed", *args)
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and message in r.err, r.err
    assert snapshot(home) == before


@pytest.mark.slow  # numba compiles umap-learn's layout on first use (about 20 s in a fresh environment)
def test_embed_umap_lays_out_the_stored_graph_and_pca_the_first_two_pcs(cli, home):
    import numpy as np

    from cellwak.store import Workspace

    assert cli("cluster", "--json").code == 0  # stores blood's graph
    r = cli("embed", "umap", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["key"] == "X_cellwak_umap" and out["graph"] == "stored" and out["neighbors_key"] == "cellwak_neighbors"
    adata = Workspace(home).load("blood")
    layout = adata.obsm["X_cellwak_umap"]
    assert layout.shape == (2400, 2) and np.isfinite(layout).all() and layout.std(axis=0).min() > 0.5
    again = cli("embed", "umap", "--json").json()  # seeded: the same layout
    np.testing.assert_allclose(Workspace(home).load("blood").obsm["X_cellwak_umap"], layout)
    assert again["params"]["init"] == "spectral"
    pca = cli("embed", "umap", "--method", "pca", "--key", "X_pca2", "--json").json()
    pcs = Workspace(home).load("blood").obsm["X_pca2"]
    assert pca["key"] == "X_pca2" and np.allclose(pcs.mean(axis=0), 0, atol=1e-3) and pcs.var(axis=0)[0] >= pcs.var(axis=0)[1]


@pytest.mark.slow  # as above
def test_embed_umap_neighbours_of_blood_stay_neighbours(cli, home):
    """A layout for looking must keep local structure: most of a cell's 15 nearest cells in the
    layout are among its graph neighbours' neighbourhood, far above chance."""
    import numpy as np

    from cellwak.graph.knn import exact_knn
    from cellwak.store import Workspace

    assert cli("embed", "umap", "--rep", "X", "-k", "15").code == 0  # builds the graph on the scaled pixels
    adata = Workspace(home).load("blood")
    graph = adata.obsp["cellwak_connectivities"].tocsr()

    def kept(layout):
        near = exact_knn(layout, 15).indices
        return np.mean([len(set(near[i]) & set(graph.indices[graph.indptr[i]:graph.indptr[i + 1]])) / 15
                        for i in range(adata.n_obs)])

    shuffled = np.random.default_rng(0).permutation(adata.obsm["X_cellwak_umap"])
    assert kept(adata.obsm["X_cellwak_umap"]) > 0.15 > 10 * kept(shuffled)  # measured 0.23; a random layout ~0.007


@pytest.mark.parametrize("args, message", [
    (["--method", "tsne"], "'--method': 'tsne' is not one of"),
    (["--neighbors-key", "nope"], "has no graph under 'nope'"),
    (["--min-dist", "5"], "--min-dist 5 must lie between 0 and --spread 1"),
    (["-d", "nope"], "no dataset named 'nope'"),
    (["--rep", "X_nope"], "no representation 'X_nope'"),
])
def test_bad_embed_umap_input_exits_2_and_changes_nothing(cli, home, args, message):
    assert cli("data", "show", "blood").code == 0
    before = snapshot(home)
    r = cli("embed", "umap", *args)
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and message in r.err, r.err
    assert snapshot(home) == before


def test_embed_pca_layout_is_the_first_two_pcs_of_the_graphs_representation(cli, home):
    import numpy as np

    from cellwak.store import Workspace

    out = cli("embed", "umap", "--method", "pca", "--json").json()  # builds the graph: none is stored
    assert out["graph"] == "built" and out["key"] == "X_cellwak_pca2"
    adata = Workspace(home).load("blood")
    pcs, rep = adata.obsm["X_cellwak_pca2"], adata.obsm["X_cellwak_pca"]
    assert pcs.shape == (2400, 2) and pcs.var(axis=0)[0] >= pcs.var(axis=0)[1]
    np.testing.assert_allclose(np.abs(np.corrcoef(pcs[:, 0], rep[:, 0])[0, 1]), 1.0, atol=1e-3)
