"""The reader registry, refused options, default names, and identifier-like table columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cellwak.io as cio
from cellwak.errors import InputError
from cellwak.io import (
    ReadOptions,
    default_name,
    detect_format,
    known_suffixes,
    read,
    readers,
    registry,
)

# ---- the registry --------------------------------------------------------------------------------


def test_every_format_is_registered_with_its_options():
    by_name = {r.name: r for r in readers()}
    assert set(by_name) == {"csv", "parquet", "h5ad", "10x_h5", "hdf5", "fcs", "npz", "idx", "folder"}
    assert "--meta" in by_name["csv"].flags and "--feature" in by_name["parquet"].flags
    assert "arcsinh" in by_name["fcs"].options and "arcsinh" not in by_name["csv"].options
    assert "--channels-last/--channels-first" in by_name["npz"].flags
    assert {"genome", "all_feature_types"} <= set(by_name["10x_h5"].options)
    for r in by_name.values():  # labels and metadata can come from separate files for every format
        assert {"label", "labels_file", "obs_file", "unlabeled", "drop_nonfinite"} <= set(r.options), r.name
        assert r.description and r.kind


def test_known_suffixes_longest_first():
    suffixes = known_suffixes()
    for s in (".csv.gz", ".h5ad", ".tab", ".pq", ".h5", ".hdf5", ".fcs", ".npy", ".tsv.gz"):
        assert s in suffixes
    assert [len(s) for s in suffixes] == sorted((len(s) for s in suffixes), reverse=True)
    assert suffixes.index(".csv.gz") < suffixes.index(".csv")


@pytest.mark.parametrize("path,name", [
    ("cells.csv", "cells"), ("cells.csv.gz", "cells"), ("x/plate 1.tab", "plate_1"), ("a.pq", "a"),
    ("pbmc_10k.h5", "pbmc_10k"), ("Quake.hdf5", "Quake"), ("run.h5ad", "run"), ("ff.fcs", "ff"),
    ("t10k-images-idx3-ubyte.gz", "t10k-images"), ("imgs/", "imgs"), ("Cells.CSV", "Cells"),
    ("__.csv", "dataset"), ("é!.npz", "dataset"), ("v1.2.parquet", "v1.2"), ("a.b.csv.gz", "a.b"),
])
def test_default_name(path, name):
    assert default_name(path) == name


def test_supported_is_generated_from_the_registry():
    for words in ("CSV/TSV tables", ".tab", ".pq", "10x Genomics", "HDF5 matrices", "FCS", "MNIST idx", "folders"):
        assert words in cio.SUPPORTED


def test_unknown_suffix_lists_what_is_supported(tmp_path):
    (tmp_path / "cells.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(InputError, match="unsupported file type '.xlsx'.*cellwak reads CSV/TSV tables"):
        read(tmp_path / "cells.xlsx")
    (tmp_path / "a.png").write_bytes(b"\x89PNG")
    with pytest.raises(InputError, match="single image is not a dataset"):
        read(tmp_path / "a.png")


@pytest.fixture
def scratch_registry(monkeypatch):
    """Registrations made in a test are forgotten after it."""
    monkeypatch.setattr(registry, "_READERS", dict(registry._READERS))


def test_a_new_format_is_one_function_and_one_registration(scratch_registry, tmp_path):
    import anndata as ad

    def read_toy(path, opts):
        values = [float(v) for v in path.read_text().split()]
        X = np.array(values, dtype=np.float32).reshape(-1, 2)
        return cio.Loaded(ad.AnnData(X=X), {"toy_version": 1})

    cio.register_reader("toy", kind="toy files", suffixes=(".toy", ".toy.gz"), read=read_toy,
                        options={"label", "labels_file", "drop_nonfinite"}, description="pairs of numbers")
    (tmp_path / "pairs.toy").write_text("1 2 3 4 5 6")
    (tmp_path / "l.txt").write_text("a\nb\nc\n")
    a = read(tmp_path / "pairs.toy", ReadOptions(labels_file=tmp_path / "l.txt"))
    assert a.shape == (3, 2) and a.uns["cellwak"]["dataset"]["format"] == "toy"
    assert a.uns["cellwak"]["dataset"]["toy_version"] == 1 and a.uns["cellwak"]["dataset"]["label_key"] == "label"
    assert ".toy.gz" in known_suffixes() and default_name("p.toy.gz") == "p"
    assert any(r.name == "toy" and r.flags == ("--label", "--labels", "--drop-nonfinite") for r in readers())
    assert "toy files (.toy, optionally .gz)" in registry.supported_text()
    with pytest.raises(InputError, match="--obs does not apply to toy files"):
        read(tmp_path / "pairs.toy", ReadOptions(obs_file=tmp_path / "l.txt"))


def test_content_sniffing_finds_a_file_whose_suffix_says_nothing(scratch_registry, tmp_path):
    import anndata as ad

    cio.register_reader("magic", kind="magic files", suffixes=(".mg",),
                        read=lambda p, o: cio.Loaded(ad.AnnData(X=np.ones((2, 2), np.float32))),
                        sniff=lambda p: p.is_file() and p.read_bytes()[:5] == b"MAGIC")
    (tmp_path / "data.bin").write_bytes(b"MAGIC....")
    assert detect_format(tmp_path / "data.bin") == "magic"
    (tmp_path / "other.bin").write_bytes(b"nothing")
    with pytest.raises(InputError, match="unsupported file type '.bin'"):
        detect_format(tmp_path / "other.bin")


def test_registering_an_unknown_option_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown options"):
        registry.register_reader("bad", kind="x", read=lambda p, o: None, options={"colour"})


# ---- options a format ignores are refused -------------------------------------------------------


@pytest.fixture
def fcs_file(tmp_path):
    import flowio

    with open(tmp_path / "x.fcs", "wb") as fh:
        flowio.create_fcs(fh, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], ["FSC-A", "FL1-A"])
    return tmp_path / "x.fcs"


def test_channels_option_on_fcs_names_the_flag_and_the_format(fcs_file):
    with pytest.raises(InputError) as err:
        read(fcs_file, ReadOptions(channels_last=True))
    assert str(err.value).startswith("--channels-last does not apply to FCS files")


@pytest.mark.parametrize("opts,flag", [
    (ReadOptions(arcsinh=5.0), "--arcsinh"), (ReadOptions(channels_last=True), "--channels-last"),
    (ReadOptions(channels_last=False), "--channels-first"), (ReadOptions(genome="mm10"), "--genome"),
    (ReadOptions(all_feature_types=True), "--all-feature-types"),
])
def test_format_specific_options_are_refused_on_tables(table_csv, opts, flag):
    with pytest.raises(InputError, match=f"^{flag} does not apply to CSV/TSV tables .*; remove it$"):
        read(table_csv, opts)


def test_table_options_are_refused_elsewhere(tmp_path):
    np.savez(tmp_path / "x.npz", images=np.zeros((4, 1, 6, 6), np.uint8))
    with pytest.raises(InputError, match="--feature does not apply to NumPy image or feature arrays"):
        read(tmp_path / "x.npz", ReadOptions(features=["c0_y0_x0"]))
    import anndata as ad

    ad.AnnData(X=np.ones((3, 2), np.float32)).write_h5ad(tmp_path / "x.h5ad")
    with pytest.raises(InputError, match="--meta does not apply to AnnData files"):
        read(tmp_path / "x.h5ad", ReadOptions(meta=["a"]))


def test_labels_column_needs_labels(table_csv):
    with pytest.raises(InputError, match="--labels-column applies only together with --labels"):
        read(table_csv, ReadOptions(labels_column="cluster"))


def test_channels_flag_on_a_feature_matrix_npz_is_refused(tmp_path):
    np.save(tmp_path / "f.npy", np.ones((7, 3), dtype=np.float32))
    with pytest.raises(InputError, match="--channels-last does not apply to .*feature matrix, not images"):
        read(tmp_path / "f.npy", ReadOptions(channels_last=True))


def test_options_that_apply_everywhere_are_accepted(fcs_file, tmp_path):
    (tmp_path / "l.txt").write_text("a\nb\nc\n")
    pd.DataFrame({"donor": ["d1", "d2", "d1"]}).to_csv(tmp_path / "obs.csv", index=False)
    a = read(fcs_file, ReadOptions(labels_file=tmp_path / "l.txt", unlabeled=["c"], obs_file=tmp_path / "obs.csv",
                                   batch="donor", drop_nonfinite=True))
    info = a.uns["cellwak"]["dataset"]
    assert info["label_key"] == "label" and info["batch_key"] == "donor" and info["unlabeled"] == ["c"]


def test_refused_option_through_the_cli_is_one_line_exit_2(cli, fcs_file):
    r = cli("data", "add", fcs_file, "--name", "x", "--channels-first")
    assert r.code == 2
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and "--channels-first does not apply to FCS files" in lines[0]


# ---- identifier-like numeric columns in tables --------------------------------------------------


def _cellprofiler_like(n=400, seed=0) -> pd.DataFrame:
    """20 images of 20 cells each."""
    rng = np.random.default_rng(seed)
    images = np.repeat(np.arange(1, 21), n // 20)
    return pd.DataFrame({
        "ImageNumber": images,
        "ObjectNumber": np.tile(np.arange(1, n // 20 + 1), 20),
        "Metadata_Site": (images - 1) % 3 + 1,
        "sample": rng.integers(1, 4, n),
        "AreaShape_Area": rng.integers(50, 400, n),  # integer-valued measurement, not an identifier
        "AreaShape_EulerNumber": rng.integers(0, 2, n),  # a shape measure despite its name
        "Intensity_MeanIntensity_DNA": rng.random(n),
    })


def test_identifier_columns_are_kept_as_metadata(tmp_path):
    frame = _cellprofiler_like()
    frame.to_csv(tmp_path / "cp.csv", index=False)
    a = read(tmp_path / "cp.csv")
    assert list(a.var_names) == ["AreaShape_Area", "AreaShape_EulerNumber", "Intensity_MeanIntensity_DNA"]
    kept = a.uns["cellwak"]["dataset"]["kept_as_metadata"]
    assert list(kept) == ["ImageNumber", "ObjectNumber", "Metadata_Site", "sample"]
    assert kept["ImageNumber"] == "integer image number with 20 values"
    assert kept["sample"] == "integer sample number with 3 values"
    assert a.obs["ImageNumber"].dtype == np.int64 and a.obs["ImageNumber"].tolist() == frame["ImageNumber"].tolist()
    frame.to_parquet(tmp_path / "cp.parquet")
    p = read(tmp_path / "cp.parquet")
    assert list(p.var_names) == list(a.var_names) and p.uns["cellwak"]["dataset"]["kept_as_metadata"] == kept
    np.testing.assert_allclose(p.X, a.X, rtol=1e-6)


def test_index_like_column_of_consecutive_integers(tmp_path):
    n = 300
    rng = np.random.default_rng(1)
    pd.DataFrame({"index": np.arange(n)[::-1], "cell_id": rng.permutation(10 * n)[:n],
                  "x": rng.random(n), "y": rng.random(n)}).to_csv(tmp_path / "t.csv", index=False)
    a = read(tmp_path / "t.csv")
    kept = a.uns["cellwak"]["dataset"]["kept_as_metadata"]
    assert kept == {"index": "unique consecutive integers 0..299, like a row index"}
    assert list(a.var_names) == ["cell_id", "x", "y"]  # unique but scattered IDs: not index-like, stays


def test_identifier_named_but_not_identifier_valued_stays_a_feature_in_place(tmp_path):
    n = 200
    rng = np.random.default_rng(2)
    pd.DataFrame({"a": rng.random(n), "plate": rng.permutation(1000)[:n], "sample": rng.random(n) * 3,
                  "b": rng.random(n)}).to_csv(tmp_path / "t.csv", index=False)
    a = read(tmp_path / "t.csv")
    assert list(a.var_names) == ["a", "plate", "sample", "b"] and "kept_as_metadata" not in a.uns["cellwak"]["dataset"]
    frame = pd.read_csv(tmp_path / "t.csv")
    np.testing.assert_allclose(a.X, frame.to_numpy(np.float32), rtol=1e-6)


def test_feature_option_keeps_an_identifier_like_column(tmp_path):
    _cellprofiler_like().to_csv(tmp_path / "cp.csv", index=False)
    a = read(tmp_path / "cp.csv", ReadOptions(features=["Metadata_Site", "sample"]))
    assert list(a.var_names) == ["Metadata_Site", "sample", "AreaShape_Area", "AreaShape_EulerNumber",
                                 "Intensity_MeanIntensity_DNA"]
    assert list(a.uns["cellwak"]["dataset"]["kept_as_metadata"]) == ["ImageNumber", "ObjectNumber"]


def test_named_columns_keep_their_existing_roles(tmp_path):
    _cellprofiler_like().to_csv(tmp_path / "cp.csv", index=False)
    a = read(tmp_path / "cp.csv", ReadOptions(label="sample", batch="ImageNumber", meta=["AreaShape_Area"]))
    info = a.uns["cellwak"]["dataset"]
    assert info["label_key"] == "sample" and info["batch_key"] == "ImageNumber"
    assert set(info["kept_as_metadata"]) == {"ObjectNumber", "Metadata_Site"}
    assert list(a.var_names) == ["AreaShape_EulerNumber", "Intensity_MeanIntensity_DNA"]


def test_small_table_from_the_existing_tests_is_unchanged(table_csv):
    a = read(table_csv, ReadOptions(id="cell"))
    assert list(a.var_names) == [f"m{j}" for j in range(5)] and "kept_as_metadata" not in a.uns["cellwak"]["dataset"]


def test_only_identifier_columns_is_refused_naming_feature(tmp_path):
    pd.DataFrame({"ImageNumber": [1, 1, 2, 2], "ObjectNumber": [1, 2, 1, 2]}).to_csv(tmp_path / "ids.csv", index=False)
    with pytest.raises(InputError, match="no features left.*ImageNumber: integer image number with 2 values"
                                         ".*pass --feature ImageNumber"):
        read(tmp_path / "ids.csv")
    assert read(tmp_path / "ids.csv", ReadOptions(features=["ObjectNumber"])).shape == (4, 1)


@pytest.mark.parametrize("opts,words", [
    (ReadOptions(features=["nope"]), "--feature 'nope': no such column"),
    (ReadOptions(features=["name"]), "--feature 'name': column of .* is not numeric"),
    (ReadOptions(features=["x"], meta=["x"]), "--feature 'x' is also named by --meta"),
])
def test_bad_feature_options(tmp_path, opts, words):
    pd.DataFrame({"name": list("abcd"), "x": [1.0, 2, 3, 4], "y": [4.0, 3, 2, 1]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(InputError, match=words):
        read(tmp_path / "t.csv", opts)


def test_identifier_column_with_a_float_in_a_late_row_still_parses(tmp_path, monkeypatch):
    from cellwak.io import tables

    monkeypatch.setattr(tables, "SCHEMA_BLOCK", 64)  # types inferred from the first rows only
    rows = [f"{i % 3},{i * 0.5}" for i in range(200)] + ["2.5,1.0"]
    (tmp_path / "t.csv").write_text("sample,x\n" + "\n".join(rows) + "\n")
    a = read(tmp_path / "t.csv")
    assert a.shape == (201, 2) and "kept_as_metadata" not in a.uns["cellwak"]["dataset"]  # not whole numbers


def test_identifier_only_table_through_the_cli_is_one_line_exit_2(cli, tmp_path):
    pd.DataFrame({"ImageNumber": [1, 1, 2, 2]}).to_csv(tmp_path / "ids.csv", index=False)
    r = cli("data", "add", tmp_path / "ids.csv", "--name", "x")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "--feature" in r.err
