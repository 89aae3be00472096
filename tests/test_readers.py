"""Every supported format becomes the AnnData the design promises."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from cellwak.io import ReadOptions, labelled_mask, read


def test_csv_detects_numeric_columns_and_keeps_the_rest(table_csv):
    a = read(table_csv, ReadOptions(id="cell", label="type", batch="plate"))
    assert a.shape == (90, 5)
    assert list(a.var_names) == [f"m{j}" for j in range(5)]
    assert a.obs_names[0] == "c0"
    assert a.obs["type"].value_counts().to_dict() == {"a": 30, "b": 30, "c": 30}
    info = a.uns["cellwak"]["dataset"]
    assert info["label_key"] == "type" and info["batch_key"] == "plate" and info["id_key"] == "cell"
    assert a.X.dtype == np.float32


def test_tsv_and_parquet_read_the_same_as_csv(table_csv, tmp_path):
    frame = pd.read_csv(table_csv)
    frame.to_csv(tmp_path / "cells.tsv", sep="\t", index=False)
    frame.to_parquet(tmp_path / "cells.parquet")
    base = read(table_csv, ReadOptions(id="cell"))
    for name in ("cells.tsv", "cells.parquet"):
        other = read(tmp_path / name, ReadOptions(id="cell"))
        np.testing.assert_allclose(other.X, base.X, rtol=1e-6)
        assert list(other.obs_names) == list(base.obs_names)


def test_gzipped_csv(table_csv, tmp_path):
    gz = tmp_path / "cells.csv.gz"
    gz.write_bytes(gzip.compress(table_csv.read_bytes()))
    assert read(gz, ReadOptions(id="cell")).shape == (90, 5)


def test_meta_keeps_a_numeric_column_out_of_the_features(table_csv):
    a = read(table_csv, ReadOptions(id="cell", meta=["m4"]))
    assert "m4" not in a.var_names and "m4" in a.obs


def test_unnamed_first_column_is_the_row_index(tmp_path):
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [3.0, 2.0, 1.0]}, index=["r1", "r2", "r3"]).to_csv(tmp_path / "t.csv")
    a = read(tmp_path / "t.csv")
    assert list(a.obs_names) == ["r1", "r2", "r3"] and list(a.var_names) == ["x", "y"]


def test_labels_file_with_and_without_header(table_csv, tmp_path):
    values = [f"g{i % 4}" for i in range(90)]
    (tmp_path / "plain.txt").write_text("\n".join(values) + "\n")
    (tmp_path / "header.csv").write_text("cluster\n" + "\n".join(values) + "\n")
    for name in ("plain.txt", "header.csv"):
        a = read(table_csv, ReadOptions(labels_file=tmp_path / name))
        assert a.uns["cellwak"]["dataset"]["label_key"] == "label"
        assert a.obs["label"].astype(str).tolist() == values


def test_unlabeled_values_are_kept_but_left_out_of_metrics(table_csv, tmp_path):
    values = ["Unlabeled" if i % 3 == 0 else "x" for i in range(90)]
    (tmp_path / "l.txt").write_text("\n".join(values))
    a = read(table_csv, ReadOptions(labels_file=tmp_path / "l.txt", unlabeled=["Unlabeled"]))
    labels, mask = labelled_mask(a)
    assert (a.obs["label"] == "Unlabeled").sum() == 30
    assert mask.sum() == 60 and set(labels[mask]) == {"x"}


def test_obs_file_joined_by_id(table_csv, tmp_path):
    ids = [f"c{i}" for i in range(90)][::-1]  # reversed order: must join by ID, not by position
    pd.DataFrame({"cell": ids, "condition": [f"k{i % 5}" for i in range(90)]}).to_csv(tmp_path / "meta.csv", index=False)
    a = read(table_csv, ReadOptions(id="cell", obs_file=tmp_path / "meta.csv", label="condition"))
    assert a.obs.loc["c89", "condition"] == "k0" and a.obs.loc["c0", "condition"] == "k4"


def test_h5ad_roundtrip_with_label_column(tmp_path):
    import anndata as ad

    src = ad.AnnData(X=np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32),
                     obs=pd.DataFrame({"ct": list("ab") * 10}, index=[f"c{i}" for i in range(20)]))
    src.write_h5ad(tmp_path / "x.h5ad")
    a = read(tmp_path / "x.h5ad", ReadOptions(label="ct"))
    assert a.shape == (20, 4) and a.uns["cellwak"]["dataset"]["label_key"] == "ct"


def test_fcs_names_from_pns_and_arcsinh(tmp_path):
    import flowio

    rng = np.random.default_rng(0)
    events = rng.uniform(0, 1000, size=(50, 3)).astype(np.float32)
    with open(tmp_path / "x.fcs", "wb") as fh:
        flowio.create_fcs(fh, events.ravel().tolist(), ["FSC-A", "FL1-A", "FL2-A"], opt_channel_names=["", "CD3", "CD4"])
    a = read(tmp_path / "x.fcs")
    assert list(a.var_names) == ["CD3", "CD4"]  # the stained channels are the features
    np.testing.assert_allclose(a.X, events[:, 1:], rtol=1e-5)
    np.testing.assert_allclose(a.obs["FSC-A"], events[:, 0], rtol=1e-5)  # scatter is per-cell metadata
    b = read(tmp_path / "x.fcs", ReadOptions(arcsinh=5.0, features=["FSC-A"]))
    assert list(b.var_names) == ["FSC-A", "CD3", "CD4"]
    np.testing.assert_allclose(b.X[:, 1], np.arcsinh(events[:, 1] / 5), rtol=1e-5)
    np.testing.assert_allclose(b.X[:, 0], events[:, 0], rtol=1e-5)  # scatter is not transformed


@pytest.mark.parametrize("layout", ["nchw", "nhwc", "nhw"])
def test_image_arrays_are_stored_once_as_nchw(tmp_path, layout):
    rng = np.random.default_rng(0)
    nchw = rng.integers(0, 255, size=(12, 3, 10, 10), dtype=np.uint8)
    arr = {"nchw": nchw, "nhwc": nchw.transpose(0, 2, 3, 1), "nhw": nchw[:, 0]}[layout]
    np.savez(tmp_path / "x.npz", images=arr, labels=np.arange(12) % 2, class_names=np.array(["neg", "pos"]))
    a = read(tmp_path / "x.npz")
    expected = nchw[:, :1] if layout == "nhw" else nchw
    assert a.obsm["images"].shape == expected.shape
    np.testing.assert_array_equal(a.obsm["images"], expected)
    assert np.shares_memory(a.X, a.obsm["images"])  # flat view, not a copy
    assert a.obs["label"].tolist()[:2] == ["neg", "pos"]


def test_npy_feature_matrix_is_a_table(tmp_path):
    np.save(tmp_path / "f.npy", np.ones((7, 3), dtype=np.float32))
    a = read(tmp_path / "f.npy")
    assert a.shape == (7, 3) and "images" not in a.obsm


def test_image_folder_with_class_subfolders(tmp_path):
    from PIL import Image
    import tifffile

    rng = np.random.default_rng(0)
    for cls in ("mitotic", "interphase"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(tmp_path / "imgs" / cls / f"{i}.png")
    a = read(tmp_path / "imgs")
    assert a.obsm["images"].shape == (6, 3, 16, 16)
    assert sorted(a.obs["label"].value_counts().to_dict().items()) == [("interphase", 3), ("mitotic", 3)]
    (tmp_path / "tifs").mkdir()
    for i in range(4):
        tifffile.imwrite(tmp_path / "tifs" / f"{i}.tif", rng.integers(0, 4000, (2, 12, 12), dtype=np.uint16))
    t = read(tmp_path / "tifs")
    assert t.obsm["images"].shape == (4, 2, 12, 12) and t.obsm["images"].dtype == np.uint16


def _write_idx(path, arr, code):
    header = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.astype(">u1").tobytes())


def test_idx_images_pick_up_their_labels_file(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 255, (9, 6, 6), dtype=np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", imgs, 0x08)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(9) % 3, 0x08)
    a = read(tmp_path / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(a.obsm["images"][:, 0], imgs)
    assert a.obs["label"].astype(str).tolist() == [str(i % 3) for i in range(9)]


def test_drop_nonfinite_drops_only_bad_rows(tmp_path):
    (tmp_path / "n.csv").write_text("a,b\n1,2\nnan,3\n4,inf\n5,6\n")
    a = read(tmp_path / "n.csv", ReadOptions(drop_nonfinite=True))
    assert a.n_obs == 2 and a.uns["cellwak"]["dataset"]["dropped_nonfinite"] == 2
