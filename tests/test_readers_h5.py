"""HDF5 formats: 10x Genomics .h5 (v3 and legacy v2) and plain HDF5 matrices (X + Y), with bad input.

Every file is written here with h5py from small synthetic matrices; nothing is downloaded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cellwak.errors import InputError
from cellwak.io import ReadOptions, detect_format, read

h5py = pytest.importorskip("h5py")

GENES = ["Actb", "Gapdh", "X", "X", "Cd3e"]  # a duplicated gene name: 'X', 'X-1'
ADT = ["CD3_TotalSeqB", "CD4_TotalSeqB"]


def _counts(n_cells=6, n_features=7, seed=0):
    rng = np.random.default_rng(seed)
    dense = rng.integers(0, 5, size=(n_cells, n_features)) * (rng.random((n_cells, n_features)) < 0.6)
    return dense.astype(np.int32)


def write_10x_v3(path, dense, names, types, genome="GRCh38", ids=None, **extra):
    """Cell Ranger v3 layout: features x cells CSC = cells x features CSR."""
    csr = sp.csr_matrix(dense)
    n_cells, n_features = dense.shape
    with h5py.File(path, "w") as f:
        m = f.create_group("matrix")
        m["data"], m["indices"], m["indptr"] = csr.data.astype(np.int32), csr.indices.astype(np.int64), csr.indptr.astype(np.int64)
        m["shape"] = np.array([n_features, n_cells], dtype=np.int32)
        m["barcodes"] = np.array([f"AAAC{i:04d}-1".encode() for i in range(n_cells)])
        feats = m.create_group("features")
        feats["name"] = np.array([n.encode() for n in names])
        feats["id"] = np.array([(ids or [f"ENSG{j:05d}" for j in range(n_features)])[j].encode() for j in range(n_features)])
        feats["feature_type"] = np.array([t.encode() for t in types])
        if genome is not None:
            feats["genome"] = np.array([(genome if isinstance(genome, str) else genome[j]).encode()
                                        for j in range(n_features)])
        feats["_all_tag_keys"] = np.array([b"genome"])
        for key, value in extra.items():
            m[key] = value
    return path


def write_10x_v2(path, genomes: dict):
    """Legacy layout: one group per genome with gene_names and genes."""
    with h5py.File(path, "w") as f:
        for genome, (dense, names) in genomes.items():
            csr = sp.csr_matrix(dense)
            g = f.create_group(genome)
            g["data"], g["indices"], g["indptr"] = csr.data.astype(np.int32), csr.indices.astype(np.int64), csr.indptr.astype(np.int64)
            g["shape"] = np.array([dense.shape[1], dense.shape[0]], dtype=np.int32)
            g["barcodes"] = np.array([f"CELL{i}".encode() for i in range(dense.shape[0])])
            g["gene_names"] = np.array([n.encode() for n in names])
            g["genes"] = np.array([f"ID{j}".encode() for j in range(dense.shape[1])])
    return path


@pytest.fixture
def tenx_v3(tmp_path):
    dense = _counts()
    return write_10x_v3(tmp_path / "pbmc_filtered_feature_bc_matrix.h5", dense, GENES + ADT,
                        ["Gene Expression"] * 5 + ["Antibody Capture"] * 2), dense


def test_10x_v3_is_cells_by_genes_sparse_float32_with_gene_expression_only(tenx_v3):
    path, dense = tenx_v3
    a = read(path)
    assert detect_format(path) == "10x_h5"
    assert sp.isspmatrix_csr(a.X) and a.X.dtype == np.float32 and a.shape == (6, 5)
    np.testing.assert_array_equal(a.X.toarray(), dense[:, :5])
    assert list(a.obs_names) == [f"AAAC{i:04d}-1" for i in range(6)]
    assert list(a.var_names) == ["Actb", "Gapdh", "X", "X-1", "Cd3e"]
    assert list(a.var["gene_ids"]) == [f"ENSG{j:05d}" for j in range(5)]
    assert set(a.var["feature_types"]) == {"Gene Expression"} and set(a.var["genome"]) == {"GRCh38"}
    info = a.uns["cellwak"]["dataset"]
    assert info["format"] == "10x_h5" and info["feature_types"] == {"Gene Expression": 5, "Antibody Capture": 2}
    assert "Antibody Capture" in info["dropped_features"] and "--all-feature-types" in info["dropped_features"]


def test_10x_all_feature_types_keeps_antibody_capture(tenx_v3):
    path, dense = tenx_v3
    a = read(path, ReadOptions(all_feature_types=True))
    assert a.shape == (6, 7) and "dropped_features" not in a.uns["cellwak"]["dataset"]
    np.testing.assert_array_equal(a.X.toarray(), dense)
    assert list(a.var["feature_types"][-2:]) == ["Antibody Capture"] * 2


def test_10x_single_feature_type_is_kept_whatever_it_is(tmp_path):
    dense = _counts(n_features=2)
    path = write_10x_v3(tmp_path / "adt.h5", dense, ADT, ["Antibody Capture"] * 2)
    assert read(path).shape == (6, 2)


def test_10x_v3_genome_filter(tmp_path):
    dense = _counts(n_features=4)
    path = write_10x_v3(tmp_path / "barnyard.h5", dense, ["A", "B", "a", "b"], ["Gene Expression"] * 4,
                        genome=["GRCh38", "GRCh38", "mm10", "mm10"])
    assert read(path).shape == (6, 4)
    mouse = read(path, ReadOptions(genome="mm10"))
    assert list(mouse.var_names) == ["a", "b"] and mouse.uns["cellwak"]["dataset"]["genome"] == "mm10"
    with pytest.raises(InputError, match="no such genome.*GRCh38, mm10"):
        read(path, ReadOptions(genome="hg19"))


def test_10x_legacy_v2_single_and_several_genomes(tmp_path):
    dense = _counts(n_features=5)
    one = read(write_10x_v2(tmp_path / "v2.h5", {"hg19": (dense, GENES)}))
    assert one.shape == (6, 5) and list(one.var_names) == ["Actb", "Gapdh", "X", "X-1", "Cd3e"]
    assert list(one.var["gene_ids"]) == [f"ID{j}" for j in range(5)] and one.obs_names[0] == "CELL0"
    np.testing.assert_array_equal(one.X.toarray(), dense)
    assert one.uns["cellwak"]["dataset"]["layout"] == "10x Genomics legacy (v2)"
    two = write_10x_v2(tmp_path / "v2two.h5", {"hg19": (dense, GENES), "mm10": (dense[:, :2], ["a", "b"])})
    with pytest.raises(InputError, match="2 genomes.*--genome"):
        read(two)
    assert list(read(two, ReadOptions(genome="mm10")).var_names) == ["a", "b"]


def test_10x_is_detected_by_content_not_only_by_suffix(tenx_v3, tmp_path):
    path, _ = tenx_v3
    for name in ("counts.hdf5", "counts_without_suffix"):
        other = tmp_path / name
        other.write_bytes(path.read_bytes())
        assert detect_format(other) == "10x_h5"
        assert read(other).shape == (6, 5)


def test_10x_with_labels_from_an_obs_file_and_a_valid_h5ad(tenx_v3, tmp_path):
    path, _ = tenx_v3
    pd.DataFrame({"barcode": [f"AAAC{i:04d}-1" for i in range(6)][::-1], "ct": list("aabbcc")}).to_csv(
        tmp_path / "obs.csv", index=False)
    a = read(path, ReadOptions(obs_file=tmp_path / "obs.csv", label="ct"))
    assert a.obs.loc["AAAC0000-1", "ct"] == "c" and a.uns["cellwak"]["dataset"]["label_key"] == "ct"
    a.write_h5ad(tmp_path / "back.h5ad")  # a valid AnnData, uns info included
    import anndata as ad

    back = ad.read_h5ad(tmp_path / "back.h5ad")
    assert sp.issparse(back.X) and back.uns["cellwak"]["dataset"]["feature_types"]["Antibody Capture"] == 2


def test_10x_nonfinite_values_are_refused_or_dropped_on_sparse_x(tmp_path):
    dense = np.array([[1, 0, 2], [0, 3, 0], [4, 0, 0]], dtype=np.float32)
    path = tmp_path / "nan.h5"
    write_10x_v3(path, dense.astype(np.int32), ["a", "b", "c"], ["Gene Expression"] * 3)
    with h5py.File(path, "r+") as f:
        data = f["matrix/data"][()].astype(np.float32)
        data[2] = np.nan  # second cell's only value
        del f["matrix/data"]
        f["matrix/data"] = data
    with pytest.raises(InputError, match="NaN or inf values in 1 cells.*--drop-nonfinite"):
        read(path)
    a = read(path, ReadOptions(drop_nonfinite=True))
    assert a.n_obs == 2 and sp.issparse(a.X) and a.uns["cellwak"]["dataset"]["dropped_nonfinite"] == 1


def test_sparse_validation_helpers():
    from cellwak.io.validate import check_not_empty, nonfinite_rows

    X = sp.csr_matrix(np.array([[1.0, 0], [0, np.inf], [0, 0]], dtype=np.float32))
    assert nonfinite_rows(X).tolist() == [False, True, False]
    assert nonfinite_rows(X.tocsc()).tolist() == [False, True, False]
    assert nonfinite_rows(sp.csr_matrix(np.eye(3, dtype=np.int64))).tolist() == [False] * 3
    with pytest.raises(InputError, match="no features"):
        check_not_empty(3, 0, "x")


def test_same_result_as_scanpy_read_10x_h5(tenx_v3, tmp_path):
    sc = pytest.importorskip("scanpy")
    path, _ = tenx_v3
    ours = read(path)
    ref = sc.read_10x_h5(path)
    ref.var_names_make_unique()
    np.testing.assert_array_equal(ours.X.toarray(), ref.X.toarray())
    assert list(ours.obs_names) == list(ref.obs_names) and list(ours.var_names) == list(ref.var_names)
    for col in ("gene_ids", "feature_types", "genome"):
        assert list(ours.var[col]) == list(ref.var[col])
    legacy = write_10x_v2(tmp_path / "v2.h5", {"hg19": (_counts(n_features=5), GENES)})
    ref2 = sc.read_10x_h5(legacy)
    ref2.var_names_make_unique()
    ours2 = read(legacy)
    np.testing.assert_array_equal(ours2.X.toarray(), ref2.X.toarray())
    assert list(ours2.var_names) == list(ref2.var_names) and list(ours2.var["gene_ids"]) == list(ref2.var["gene_ids"])


# ---- bad 10x files -------------------------------------------------------------------------------


def test_10x_truncated_file(tenx_v3, tmp_path):
    path, _ = tenx_v3
    cut = tmp_path / "cut.h5"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="corrupt or truncated"):
        read(cut)


def test_10x_inconsistent_pointers_and_missing_barcodes(tmp_path):
    dense = _counts(n_features=3)
    bad = write_10x_v3(tmp_path / "bad.h5", dense, ["a", "b", "c"], ["Gene Expression"] * 3)
    with h5py.File(bad, "r+") as f:
        del f["matrix/shape"]
        f["matrix/shape"] = np.array([3, 99], dtype=np.int32)
    with pytest.raises(InputError, match="inconsistent.*Cell Ranger"):
        read(bad)
    nobc = write_10x_v3(tmp_path / "nobc.h5", dense, ["a", "b", "c"], ["Gene Expression"] * 3)
    with h5py.File(nobc, "r+") as f:
        del f["matrix/barcodes"]
    with pytest.raises(InputError, match="no 'matrix/barcodes'"):
        read(nobc)
    short = write_10x_v3(tmp_path / "short.h5", dense, ["a", "b"], ["Gene Expression"] * 2, genome=None,
                         ids=["i0", "i1", "i2"])
    with pytest.raises(InputError, match="'matrix/features/name'.*2 entries, expected 3"):
        read(short)


# ---- plain HDF5 matrices -------------------------------------------------------------------------


def write_plain(path, X=None, **datasets):
    with h5py.File(path, "w") as f:
        if X is not None:
            f["X"] = X
        for key, value in datasets.items():
            f[key] = value
    return path


@pytest.fixture
def xy(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.poisson(2.0, size=(40, 12)).astype(np.float64)
    Y = np.array([b"T cell", b"B cell"] * 20)
    return write_plain(tmp_path / "Quake_10x_Limb_Muscle.h5", X, Y=Y), X, Y


def test_plain_hdf5_x_and_y(xy):
    path, X, _ = xy
    a = read(path)
    assert detect_format(path) == "hdf5" and a.shape == (40, 12) and a.X.dtype == np.float32
    np.testing.assert_allclose(a.X, X)
    info = a.uns["cellwak"]["dataset"]
    assert info["label_key"] == "label" and info["label_dataset"] == "Y"
    assert isinstance(a.obs["label"].dtype, pd.CategoricalDtype)
    assert a.obs["label"].value_counts().to_dict() == {"B cell": 20, "T cell": 20}


def test_plain_hdf5_label_option_names_the_dataset_and_numeric_labels(tmp_path):
    X = np.ones((6, 3), np.float32)
    path = write_plain(tmp_path / "x.hdf5", X, Y=np.zeros(6), celltype=np.array([1.0, 2, 2, 3, 3, 3]),
                       batch=np.array([b"b1", b"b2"] * 3))
    a = read(path, ReadOptions(label="celltype", batch="batch"))
    info = a.uns["cellwak"]["dataset"]
    assert info["label_dataset"] == "celltype" and info["label_key"] == "label" and info["batch_key"] == "batch"
    assert list(a.obs["label"].cat.categories) == ["1", "2", "3"]  # whole-number floats as integers
    assert a.obs["batch"].tolist() == ["b1", "b2"] * 3


@pytest.mark.parametrize("name", ["y", "labels", "cell_type"])
def test_plain_hdf5_label_names_found_without_an_option(tmp_path, name):
    path = write_plain(tmp_path / "x.h5", np.ones((4, 2)), **{name: np.array([0, 1, 0, 1])})
    assert read(path).uns["cellwak"]["dataset"]["label_dataset"] == name


def test_plain_hdf5_names_used_when_their_lengths_fit(tmp_path):
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    path = write_plain(tmp_path / "x.h5", X, cell_names=np.array([b"c1", b"c2", b"c3", b"c4"]),
                       gene_names=np.array([b"g", b"g", b"h"]), barcodes=np.array([b"only", b"two"]))
    a = read(path)
    assert list(a.obs_names) == ["c1", "c2", "c3", "c4"] and list(a.var_names) == ["g", "g-1", "h"]
    wrong = write_plain(tmp_path / "w.h5", X, obs_names=np.array([b"a", b"b"]), var_names=np.array([b"a"]))
    b = read(wrong)
    assert list(b.obs_names) == ["0", "1", "2", "3"] and list(b.var_names) == ["f0", "f1", "f2"]


def test_plain_hdf5_sparse_x_group(tmp_path):
    dense = _counts(n_cells=5, n_features=4).astype(np.float32)
    csr = sp.csr_matrix(dense)
    path = tmp_path / "sparse.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"], g["shape"] = csr.data, csr.indices, csr.indptr, np.array(dense.shape)
        f["Y"] = np.arange(5) % 2
    a = read(path)
    assert sp.issparse(a.X) and a.X.dtype == np.float32
    np.testing.assert_array_equal(a.X.toarray(), dense)


def test_anndata_file_named_h5_is_read_as_h5ad(tmp_path):
    import anndata as ad

    ad.AnnData(X=np.ones((3, 2), np.float32)).write_h5ad(tmp_path / "saved.h5")
    assert detect_format(tmp_path / "saved.h5") == "h5ad"
    assert read(tmp_path / "saved.h5").shape == (3, 2)


def test_plain_hdf5_label_from_obs_file_column(tmp_path):
    path = write_plain(tmp_path / "x.h5", np.ones((3, 2)))
    pd.DataFrame({"celltype": ["a", "b", "a"]}).to_csv(tmp_path / "obs.csv", index=False)
    a = read(path, ReadOptions(obs_file=tmp_path / "obs.csv", label="celltype"))
    assert a.uns["cellwak"]["dataset"]["label_key"] == "celltype"


# ---- bad plain HDF5 files ------------------------------------------------------------------------


def _bad(tmp_path, kind):
    X = np.ones((5, 3))
    if kind == "no_x":
        return write_plain(tmp_path / "nox.h5", None, data=X, Y=np.arange(5)), "no dataset 'X' \\(datasets: Y, data\\)"
    if kind == "text_x":
        return write_plain(tmp_path / "tx.h5", np.array([[b"a", b"b"]] * 5)), "not numbers"
    if kind == "1d_x":
        return write_plain(tmp_path / "1d.h5", np.ones(5)), "not cells x features"
    if kind == "short_label":
        return write_plain(tmp_path / "sl.h5", X, Y=np.arange(4)), "'Y'.*shape \\(4,\\) but X has 5 cells"
    if kind == "transposed":
        return write_plain(tmp_path / "tr.h5", X, Y=np.arange(3)), "X looks transposed"
    if kind == "truncated":
        full = write_plain(tmp_path / "full.h5", np.random.default_rng(0).random((200, 50)), Y=np.arange(200))
        data = full.read_bytes()
        (tmp_path / "cut.h5").write_bytes(data[: len(data) // 3])
        return tmp_path / "cut.h5", "corrupt or truncated"
    if kind == "not_hdf5":
        (tmp_path / "text.h5").write_text("this is not HDF5\n" * 10)
        return tmp_path / "text.h5", "corrupt or truncated"
    if kind == "empty":
        (tmp_path / "empty.h5").write_bytes(b"")
        return tmp_path / "empty.h5", "is empty"
    if kind == "bad_sparse":
        path = tmp_path / "bs.h5"
        with h5py.File(path, "w") as f:
            g = f.create_group("X")
            g["data"], g["indices"], g["indptr"], g["shape"] = [1.0, 2.0], [0, 7], [0, 1, 2], [2, 3]
        return path, "not a consistent sparse matrix"
    raise KeyError(kind)


@pytest.mark.parametrize("kind", ["no_x", "text_x", "1d_x", "short_label", "transposed", "truncated", "not_hdf5",
                                  "empty", "bad_sparse"])
def test_bad_plain_hdf5_is_one_input_error(tmp_path, kind):
    path, words = _bad(tmp_path, kind)
    with pytest.raises(InputError, match=words) as err:
        read(path)
    assert "\n" not in str(err.value)


def test_label_option_naming_a_missing_dataset_lists_the_datasets(tmp_path):
    path = write_plain(tmp_path / "x.h5", np.ones((5, 3)), Y=np.arange(5), cell_names=np.arange(5))
    with pytest.raises(InputError, match="--label 'celltype': no such dataset.*datasets in the file: X, Y, cell_names"):
        read(path, ReadOptions(label="celltype"))
    with pytest.raises(InputError, match="'Y' of .* has shape \\(5,\\) but X has 4 cells"):
        read(write_plain(tmp_path / "y.h5", np.ones((4, 3)), Y=np.arange(5)), ReadOptions(label="Y"))


@pytest.mark.parametrize("kind", ["no_x", "truncated"])
def test_bad_hdf5_through_the_cli_is_one_line_exit_2(cli, tmp_path, kind):
    path, _ = _bad(tmp_path, kind)
    r = cli("data", "add", path, "--name", "x")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
