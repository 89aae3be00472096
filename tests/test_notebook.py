"""cellwak in a notebook beside scanpy: the scanpy-shaped functions on an AnnData the user already
analysed (scanpy's pbmc68k_reduced: its own PCA, neighbours, UMAP, Louvain and marker genes) add
their results under their own keys and leave every byte of the user's untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import cellwak as cw


def _pbmc_path() -> Path:
    scanpy = pytest.importorskip("scanpy")
    path = Path(scanpy.__file__).parent / "datasets" / "10x_pbmc68k_reduced.h5ad"
    if not path.exists():
        pytest.skip("scanpy's bundled pbmc68k_reduced is missing")
    return path


def _digest(value) -> str:
    h = hashlib.sha1()
    if isinstance(value, dict):
        for k in sorted(value):
            h.update(str(k).encode() + _digest(value[k]).encode())
    elif sp.issparse(value):
        value = value.tocsr()
        for part in (value.data, value.indices, value.indptr, np.asarray(value.shape)):
            h.update(np.ascontiguousarray(part).tobytes())
    elif isinstance(value, pd.DataFrame):
        h.update(_digest({c: value[c] for c in value.columns}).encode() + _digest(value.index).encode())
    elif isinstance(value, (pd.Series, pd.Index)):
        h.update(str(value.dtype).encode() + pd.util.hash_pandas_object(pd.Series(np.asarray(value, dtype=object)),
                                                                      index=False).values.tobytes())
    elif isinstance(value, np.ndarray):
        h.update(str(value.dtype).encode() + np.ascontiguousarray(value).tobytes() if value.dtype != object
                 else repr(value.tolist()).encode())
    else:
        h.update(repr(value).encode())
    return h.hexdigest()


def fingerprint(adata) -> dict:
    """A digest of every key the user has: X, obs/var columns, obsm, varm, obsp, layers, uns."""
    out = {"X": _digest(adata.X), "obs_names": _digest(adata.obs_names), "var_names": _digest(adata.var_names)}
    out.update({f"obs/{c}": _digest(adata.obs[c]) for c in adata.obs.columns})
    out.update({f"var/{c}": _digest(adata.var[c]) for c in adata.var.columns})
    for where in ("obsm", "varm", "obsp", "layers", "uns"):
        out.update({f"{where}/{k}": _digest(v) for k, v in getattr(adata, where).items()})
    return out


def _read_pbmc():
    import warnings

    import anndata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return anndata.read_h5ad(_pbmc_path())


def test_fingerprint_sees_a_changed_byte():
    adata = _read_pbmc()
    before = fingerprint(adata)
    adata.obsm["X_pca"][3, 1] += 1e-3
    changed = {k for k, v in fingerprint(adata).items() if before.get(k) != v}
    assert changed == {"obsm/X_pca"}


def test_neighbors_and_leiden_leave_the_users_keys_byte_identical():
    adata = _read_pbmc()
    before = fingerprint(adata)
    cw.pp.neighbors(adata)
    cw.tl.leiden(adata, resolution="auto")
    after = fingerprint(adata)
    assert {k: after.get(k) for k in before} == before
    new = set(after) - set(before)
    assert {"obsm/X_cellwak_pca", "obsp/cellwak_connectivities", "obsp/cellwak_distances", "uns/cellwak_neighbors",
            "obs/cellwak_leiden", "uns/cellwak_leiden", "uns/cellwak_leiden_sweep"} <= new
    assert all(k.split("/", 1)[1].startswith(("cellwak", "X_cellwak")) for k in new), sorted(new)
    assert adata.obs["cellwak_leiden"].dtype == "category"
    assert cw.tl.score(adata, label_key="bulk_labels")["ari"] > 0.3  # the clusters mean something


def test_copy_returns_a_new_object_and_leaves_the_input_alone():
    adata = _read_pbmc()
    before = fingerprint(adata)
    out = cw.pp.neighbors(adata, copy=True)
    assert out is not adata and "cellwak_neighbors" in out.uns and fingerprint(adata) == before
    assert cw.tl.leiden(out, copy=True).obs["cellwak_leiden"].nunique() > 1 and "cellwak_leiden" not in out.obs


def test_leiden_on_scanpys_own_graph():
    adata = _read_pbmc()
    cw.tl.leiden(adata, 1.0, neighbors_key="neighbors", key_added="leiden_on_scanpy_graph")
    labels = adata.obs["leiden_on_scanpy_graph"]
    assert labels.nunique() > 3 and cw.tl.score(adata, "leiden_on_scanpy_graph", "louvain")["ari"] > 0.5


@pytest.mark.slow
def test_scanpy_umap_and_plot_on_the_cellwak_graph(tmp_path):
    """The notebook of the issue: read, cw.pp.neighbors, cw.tl.leiden(auto), then scanpy's own
    UMAP and plot on cellwak's graph; the user's keys stay byte-identical (numba compiles UMAP
    on first use: about 20 s, hence slow)."""
    import matplotlib

    matplotlib.use("Agg")
    import scanpy as sc

    adata = _read_pbmc()
    before = fingerprint(adata)
    cw.pp.neighbors(adata)
    cw.tl.leiden(adata, resolution="auto")
    sc.tl.umap(adata, neighbors_key="cellwak_neighbors", key_added="X_cellwak_umap", random_state=0)
    assert adata.obsm["X_cellwak_umap"].shape == (adata.n_obs, 2) and np.isfinite(adata.obsm["X_cellwak_umap"]).all()
    figure = tmp_path / "umap.png"
    ax = sc.pl.embedding(adata, basis="X_cellwak_umap", color="cellwak_leiden", show=False)
    ax.figure.savefig(figure, dpi=60)
    assert figure.stat().st_size > 5000
    sc.tl.rank_genes_groups(adata, "cellwak_leiden", key_added="cellwak_markers")  # scanpy's tools on our labels
    assert "cellwak_markers" in adata.uns
    after = fingerprint(adata)
    assert {k: after.get(k) for k in before} == before


@pytest.mark.slow
def test_the_readmes_three_ways_to_scanpy_neighbours_above_ten_thousand_cells():
    """scanpy 1.11.5's own ``pp.neighbors`` cannot read pynndescent 0.6+'s ``csr_array`` above a
    few thousand cells; the README offers cellwak's kNN as scanpy's transformer, cellwak's graph
    under scanpy's keys, or scanpy's exact sklearn transformer. Each must give scanpy's tools a graph
    they use, at 12,000 cells (25 s, scanpy's import and Leiden included: slow)."""
    sc = pytest.importorskip("scanpy")
    import anndata as ad

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 6, size=(4, 8))
    truth = rng.integers(0, 4, 12_000)
    adata = ad.AnnData(X=(centres[truth] + rng.normal(size=(12_000, 8))).astype(np.float32))
    cw.pp.neighbors(adata, use_rep="X", key_added="cw")
    sc.tl.leiden(adata, neighbors_key="cw", key_added="on_cellwak", flavor="igraph", n_iterations=2, directed=False)
    sc.pp.neighbors(adata, n_neighbors=15, use_rep="X", transformer="sklearn")
    sc.tl.leiden(adata, key_added="on_sklearn", flavor="igraph", n_iterations=2, directed=False)
    sc.pp.neighbors(adata, use_rep="X", transformer=cw.pp.KNNTransformer(n_neighbors=15), key_added="cw_t")
    assert np.all(adata.obsp["cw_t_distances"].getnnz(axis=1) == 14)      # n_neighbors counts the cell itself
    assert adata.uns["cw_t"]["params"]["n_neighbors"] == 15
    sc.tl.leiden(adata, neighbors_key="cw_t", key_added="on_transformer", flavor="igraph", n_iterations=2,
                 directed=False)
    from sklearn.metrics import adjusted_rand_score

    for key in ("on_cellwak", "on_sklearn", "on_transformer"):
        assert adjusted_rand_score(truth, adata.obs[key].astype(int)) > 0.9, key
