"""Specific reader cases that were wrong, and the bugs the fuzzing of test_readers_fuzz.py found.

(a) non-UTF-8 text in a CSV: refused with the row and column, and how to save the file as UTF-8
    (not read as latin-1: a file that is mostly UTF-8 would have its other characters garbled);
(b) a CSV field of several MB: read whole (parse blocks grow to hold the longest row);
(c) an empty value in the --id column: refused, naming the row;
(d) blank or NA values in a --labels file: no label (left out of metrics), never a class;
(e) 16-bit TIFFs mixed with 8-bit PNGs: refused (pixel scales differ; cellwak does not guess a
    rescaling);
(f) other damaged files that ended in "internal error" (exit 1), each a regression test.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _refusal import cellwak_subprocess, refused
from conftest import snapshot




def added(r):
    assert r.code == 0, r.err
    return r.json()


def _table(rows: int = 6, text=lambda i: "ab"[i % 2]) -> str:
    lines = ["cell,type,m0,m1"] + [f"c{i},{text(i)},{i * 0.5},{i % 3}.25" for i in range(rows)]
    return "\n".join(lines) + "\n"


# ---- (a) non-UTF-8 text ---------------------------------------------------------------------------


def test_latin1_byte_in_a_text_column_names_row_and_column(cli, home, populated, tmp_path):
    text = _table().replace("c2,a,", "c2,caf\xe9,")  # row 3
    (tmp_path / "t.csv").write_bytes(text.encode("latin-1"))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "t.csv", "--name", "x"), home, before,
            "not UTF-8", "byte 0xe9", "row 3 (line 4)", "column 'type'", "save the file as UTF-8")


def test_latin1_byte_in_the_header_is_refused(cli, home, populated, tmp_path):
    (tmp_path / "t.csv").write_bytes(_table().replace("m0", "\xb5m").encode("latin-1"))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "t.csv", "--name", "x"), home, before,
            "not UTF-8", "header line, column 3", "UTF-8")


def test_latin1_in_a_gzipped_tsv_is_refused_too(cli, home, populated, tmp_path):
    text = _table().replace(",", "\t").replace("c4\ta", "c4\t\xe9t\xe9")
    (tmp_path / "t.tsv.gz").write_bytes(gzip.compress(text.encode("latin-1")))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "t.tsv.gz", "--name", "x"), home, before, "row 5", "column 'type'")


def test_invalid_utf8_in_a_parquet_text_column_is_refused_naming_the_column(cli, home, populated, tmp_path):
    """Parquet stores text as bytes that no reader checks until they become Python text (found
    by the fuzzing: a flipped byte in a text value ended in 'internal error')."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cells = pa.array([b"c0", b"c\xe91", b"c2"], pa.binary()).view(pa.string())  # not UTF-8 at row 2
    pq.write_table(pa.table({"cell": cells, "m0": [0.5, 1.5, 2.5], "m1": [1.0, 2.0, 3.0]}), tmp_path / "t.parquet")
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "t.parquet", "--name", "x"), home, before,
            "column 'cell'", "Invalid UTF8", "export it again")


def test_utf16_is_named(cli, home, populated, tmp_path):
    (tmp_path / "t.csv").write_bytes(_table().encode("utf-16"))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "t.csv", "--name", "x"), home, before, "UTF-16")


def test_utf8_text_and_header_are_read(cli, home, tmp_path):
    (tmp_path / "t.csv").write_text(_table(text=lambda i: "café" if i % 2 else "naïve").replace("m0", "µm"),
                                    encoding="utf-8")
    s = added(cli("data", "add", tmp_path / "t.csv", "--name", "x", "--label", "type", "--json"))
    assert s["label_counts"] == {"café": 3, "naïve": 3}


def test_latin1_labels_file_is_refused(cli, home, populated, table_csv, tmp_path):
    (tmp_path / "l.txt").write_bytes(("\n".join(["caf\xe9"] * 90) + "\n").encode("latin-1"))
    before = snapshot(home)
    refused(cli("data", "add", table_csv, "--name", "x", "--labels", tmp_path / "l.txt"), home, before, "not UTF-8")


# ---- (b) long fields ------------------------------------------------------------------------------


@pytest.mark.parametrize("size_mb", [2, 5])
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_a_text_field_of_several_megabytes_is_read(cli, home, tmp_path, size_mb, suffix):
    """The parse block was 1 MB (4 MB for the column types): a longer row was refused as 'not a
    complete CSV'."""
    from cellwak.store import Workspace

    long = "x" * (size_mb << 20)
    text = _table(text=lambda i: long if i == 3 else "short").encode()
    (tmp_path / f"t{suffix}").write_bytes(gzip.compress(text) if suffix.endswith(".gz") else text)
    s = added(cli("data", "add", tmp_path / f"t{suffix}", "--name", "x", "--json"))
    assert (s["n_obs"], s["n_vars"]) == (6, 2)
    obs = Workspace(home).load("x").obs
    assert len(obs["type"].iloc[3]) == len(long) and obs["type"].iloc[2] == "short"


# ---- (c) empty IDs --------------------------------------------------------------------------------


@pytest.mark.parametrize("empty", ["", "  ", '""'])
def test_empty_id_is_refused_with_its_row(cli, home, populated, tmp_path, empty):
    (tmp_path / "t.csv").write_text(_table().replace("\nc4,", f"\n{empty},"))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "t.csv", "--name", "x", "--id", "cell"), home, before,
            "ID column 'cell'", "empty in 1 row (5)", "give every cell an ID")


def test_empty_id_in_an_h5ad_obs_column_is_refused(cli, home, populated, tmp_path):
    import anndata as ad

    a = ad.AnnData(X=np.ones((4, 2), np.float32), obs=pd.DataFrame({"barcode": ["A", "B", None, "D"]},
                                                                  index=list("0123")))
    a.write_h5ad(tmp_path / "a.h5ad")
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "a.h5ad", "--name", "x", "--id", "barcode"), home, before,
            "ID column 'barcode'", "empty in 1 row (3)")


def test_numeric_ids_are_whole_numbers_not_floats(cli, home, tmp_path):
    """A whole-number float ID column gives '7', not '7.0'."""
    import anndata as ad

    from cellwak.store import Workspace

    a = ad.AnnData(X=np.ones((3, 2), np.float32), obs=pd.DataFrame({"n": [7.0, 8.0, 9.0]}, index=list("abc")))
    a.write_h5ad(tmp_path / "a.h5ad")
    added(cli("data", "add", tmp_path / "a.h5ad", "--name", "x", "--id", "n", "--json"))
    assert list(Workspace(home).load("x").obs_names) == ["7", "8", "9"]


# ---- (d) empty labels ------------------------------------------------------------------------------


@pytest.fixture
def thirty(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    rows = [f"c{i}," + ",".join(f"{v:.3f}" for v in rng.normal([0, 8, -8][i % 3], 1, 3)) for i in range(30)]
    path = tmp_path / "c30.csv"
    path.write_text("cell,m0,m1,m2\n" + "\n".join(rows) + "\n")
    return path


def _labels_with_gaps(tmp_path, header: bool, trailing: str) -> Path:
    lab = ["abc"[i % 3] for i in range(30)]
    lab[4], lab[7], lab[10], lab[13] = "", "NA", "   ", "nan"
    path = tmp_path / "labels.txt"
    path.write_text(("label\n" if header else "") + "\n".join(lab) + "\n" + trailing)
    return path


@pytest.mark.parametrize("header", [False, True])
@pytest.mark.parametrize("trailing", ["", "\n", "\n\n"])
def test_blank_and_na_labels_are_no_label_not_a_class(cli, home, thirty, tmp_path, header, trailing):
    from cellwak.io import labelled_mask
    from cellwak.store import Workspace

    labels = _labels_with_gaps(tmp_path, header, trailing)
    s = added(cli("data", "add", thirty, "--name", "x", "--labels", labels, "--json"))
    assert s["label_counts"] == {"a": 10, "b": 6, "c": 10}  # no 'nan', '', 'NA' class; nothing shifted
    values, mask = labelled_mask(Workspace(home).load("x"))
    assert mask.sum() == 26 and not mask[[4, 7, 10, 13]].any()
    assert list(values[:4]) == ["a", "b", "c", "a"]


def test_metrics_count_only_labelled_cells(cli, home, thirty, tmp_path):
    labels = _labels_with_gaps(tmp_path, header=False, trailing="")
    added(cli("data", "add", thirty, "--name", "x", "--labels", labels, "--json"))
    r = cli("cluster", "--dataset", "x", "--k", "5", "--json")
    assert r.code == 0, r.err
    metrics = r.json()["metrics"]
    assert metrics["n_labelled"] == 26 and metrics["ari"] == 1.0


def test_blank_label_column_values_in_a_table_are_no_label(cli, home, tmp_path):
    (tmp_path / "t.csv").write_text(_table(text=lambda i: ["a", "", "b", "NA", " ", "a"][i]))
    s = added(cli("data", "add", tmp_path / "t.csv", "--name", "x", "--label", "type", "--json"))
    assert s["label_counts"] == {"a": 2, "b": 1}


def test_nan_labels_in_an_npz_are_no_label(cli, home, tmp_path):
    from cellwak.io import labelled_mask
    from cellwak.store import Workspace

    np.savez(tmp_path / "x.npz", images=np.zeros((4, 1, 4, 4), np.uint8), labels=np.array([0.0, np.nan, 1.0, 1.0]))
    s = added(cli("data", "add", tmp_path / "x.npz", "--name", "x", "--json"))
    assert s["label_counts"] == {"0": 1, "1": 2}
    assert labelled_mask(Workspace(home).load("x"))[1].tolist() == [True, False, True, True]


def test_labelled_mask_treats_blank_labels_as_missing():
    import anndata as ad

    from cellwak.io import labelled_mask

    a = ad.AnnData(X=np.zeros((4, 1), np.float32), obs=pd.DataFrame({"y": ["a", "", " ", None]}, index=list("0123")))
    a.uns["cellwak"] = {"dataset": {"label_key": "y"}}
    assert labelled_mask(a)[1].tolist() == [True, False, False, False]


# ---- (e) bit depths ---------------------------------------------------------------------------------


def _image_folder(tmp_path, files: dict) -> Path:
    import tifffile
    from PIL import Image

    folder = tmp_path / "imgs"
    for rel, arr in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".tif"):
            tifffile.imwrite(folder / rel, arr)
        else:
            Image.fromarray(arr).save(folder / rel)
    return folder


def test_16_bit_tiffs_mixed_with_8_bit_pngs_are_refused(cli, home, populated, tmp_path):
    folder = _image_folder(tmp_path, {"a/0.png": np.full((8, 8), 200, np.uint8),
                                      "a/1.tif": np.full((8, 8), 50000, np.uint16),
                                      "b/2.png": np.full((8, 8), 10, np.uint8)})
    before = snapshot(home)
    refused(cli("data", "add", folder, "--name", "x"), home, before, "differ in bit depth",
            "a/1.tif is 16-bit (uint16)", "a/0.png is 8-bit (uint8)", "one bit depth")


def test_16_bit_pngs_and_tiffs_together_are_read_on_one_scale(cli, home, tmp_path):
    from cellwak.store import Workspace

    folder = _image_folder(tmp_path, {"a/0.png": np.full((8, 8), 40000, np.uint16),
                                      "a/1.tif": np.full((8, 8), 50000, np.uint16)})
    added(cli("data", "add", folder, "--name", "x", "--json"))
    images = Workspace(home).load("x").obsm["images"]
    assert images.dtype == np.uint16 and images[:, 0, 0, 0].tolist() == [40000, 50000]


def test_palette_png_becomes_rgb_not_palette_indices(cli, home, tmp_path):
    from PIL import Image

    from cellwak.store import Workspace

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        im = Image.fromarray(np.full((8, 8), i, np.uint8), mode="L").convert("P")
        im.putpalette([0, 0, 0, 250, 10, 20] + [0] * 762)
        im.save(folder / f"{i}.png")
    added(cli("data", "add", folder, "--name", "x", "--json"))
    images = Workspace(home).load("x").obsm["images"]
    assert images.shape == (2, 3, 8, 8) and images[1, :, 0, 0].tolist() == [250, 10, 20]


# ---- (f) other damaged files that were internal errors -----------------------------------------------


def test_a_csv_column_empty_throughout_is_read(cli, home, tmp_path):
    """Fuzz-found: an all-empty column was a column of None that AnnData cannot write (TypeError)."""
    (tmp_path / "t.csv").write_text("cell,note,m0\nc0,,1.5\nc1,,2.5\n")
    s = added(cli("data", "add", tmp_path / "t.csv", "--name", "x", "--json"))
    assert (s["n_obs"], s["n_vars"]) == (2, 1)


def test_a_column_empty_in_the_first_block_may_hold_text_later(cli, home, tmp_path):
    rows = [f"c{i},,{i}.5" for i in range(300_000)] + ["c300000,late,1.0"]
    (tmp_path / "t.csv").write_text("cell,note,m0\n" + "\n".join(rows) + "\n")
    s = added(cli("data", "add", tmp_path / "t.csv", "--name", "x", "--json"))
    assert (s["n_obs"], s["n_vars"]) == (300_001, 1)


def test_csv_dates_times_and_true_false_with_gaps_are_kept(cli, home, tmp_path):
    """A date column (Arrow infers timestamps) and a true/false column with a gap were values
    AnnData cannot write (TypeError)."""
    from cellwak.store import Workspace

    (tmp_path / "t.csv").write_text("cell,when,at,flag,m0\nc0,2020-01-01,12:00:00,true,1.5\n"
                                    "c1,2021-03-04,,,2.5\nc2,,13:30:00,false,3.5\n")
    added(cli("data", "add", tmp_path / "t.csv", "--name", "x", "--json"))
    obs = Workspace(home).load("x").obs
    assert str(obs["when"].iloc[0]).startswith("2020-01-01") and pd.isna(obs["when"].iloc[2])
    assert obs["flag"].tolist()[0] is True or obs["flag"].tolist()[0] == True
    assert pd.isna(obs["flag"].iloc[1])


def test_nul_byte_in_a_text_field_is_refused_with_row_and_column(cli, home, populated, tmp_path):
    """Fuzz-found: NUL characters cannot be stored in .h5ad text (ValueError on writing)."""
    (tmp_path / "t.csv").write_bytes(_table().replace("c3,b", "c3,b\0x").encode())
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "t.csv", "--name", "x"), home, before, "column 'type'", "NUL", "row 4")


def test_obs_column_named_index_is_refused(cli, home, populated, tmp_path):
    (tmp_path / "t.csv").write_text(_table().replace("type", "_index"))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "t.csv", "--name", "x"), home, before, "'_index'", "rename")


def test_slash_in_a_column_name_is_replaced_and_label_follows(cli, home, tmp_path):
    (tmp_path / "t.csv").write_text(_table().replace("type", "CD4/CD8"))
    s = added(cli("data", "add", tmp_path / "t.csv", "--name", "x", "--label", "CD4/CD8", "--json"))
    assert s["label_column"] == "CD4_CD8" and s["label_counts"] == {"a": 3, "b": 3}


def test_gzip_data_named_csv_is_told_to_be_renamed(cli, home, populated, tmp_path):
    (tmp_path / "t.csv").write_bytes(gzip.compress(_table().encode()))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "t.csv", "--name", "x"), home, before, "gzip-compressed", "t.csv.gz")


@pytest.mark.parametrize("name", ["t.csv.gz", "t.txt.gz", "t-images-idx3-ubyte.gz"])
def test_corrupt_deflate_stream_is_refused(cli, home, populated, tmp_path, name):
    """Fuzz-found: zlib.error from gzip streams (idx.gz; the delimiter sniff of .txt.gz)."""
    (tmp_path / name).write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"garbage that is no deflate" * 4)
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / name, "--name", "x"), home, before, "corrupt or truncated")


def test_truncated_gzip_is_refused(cli, home, populated, tmp_path):
    data = gzip.compress(_table(rows=2000).encode())
    (tmp_path / "t.csv.gz").write_bytes(data[: len(data) // 2])
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "t.csv.gz", "--name", "x"), home, before, "truncated")


def _npz_bytes(compressed=True) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, images=np.arange(4 * 64, dtype=np.uint8).reshape(4, 1, 8, 8))
    return buf.getvalue()


def test_npz_with_damaged_deflate_data_is_refused(cli, home, populated, tmp_path):
    """Fuzz-found: zlib.error while numpy inflated a member."""
    data = bytearray(_npz_bytes())
    at = data.find(b"PK\x03\x04")
    start = at + 30 + int.from_bytes(data[at + 26: at + 28], "little") + int.from_bytes(data[at + 28: at + 30], "little")
    data[start: start + 8] = b"\xff" * 8  # a deflate block of the reserved type
    (tmp_path / "x.npz").write_bytes(bytes(data))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "x.npz", "--name", "x"), home, before, "corrupt")


def test_npz_with_an_unknown_compression_method_is_refused(cli, home, populated, tmp_path):
    """Fuzz-found: NotImplementedError from zipfile."""
    data = bytearray(_npz_bytes())
    for sig, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = data.find(sig)
        data[at + offset: at + offset + 2] = (99).to_bytes(2, "little")
    (tmp_path / "x.npz").write_bytes(bytes(data))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "x.npz", "--name", "x"), home, before, "corrupt")


def test_npy_with_a_damaged_header_is_refused(cli, home, populated, tmp_path):
    """Fuzz-found: tokenize.TokenError from numpy's header parser."""
    buf = io.BytesIO()
    np.save(buf, np.zeros((4, 3), np.float32))
    data = bytearray(buf.getvalue())
    data[data.index(b"}")] = ord(" ")  # an unclosed brace: numpy's retry tokenizes and raises TokenError
    (tmp_path / "x.npy").write_bytes(bytes(data))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "x.npy", "--name", "x"), home, before, "corrupt")


def test_npy_declaring_more_data_than_it_holds_is_refused_before_allocating(cli, home, populated, tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.zeros((4, 3), np.float32))
    data = buf.getvalue()
    length = int.from_bytes(data[8:10], "little")
    header = data[10:10 + length].decode("latin-1").replace("(4, 3)", "(400000000000, 3)")
    header = header.rstrip("\n").rstrip(" ").ljust(length - 1) + "\n"
    assert len(header) == length
    (tmp_path / "x.npy").write_bytes(data[:10] + header.encode("latin-1") + data[10 + length:])
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "x.npy", "--name", "x"), home, before, "declares shape")


def test_npz_bytes_labels_that_are_not_utf8_are_read(cli, home, tmp_path):
    np.savez(tmp_path / "x.npz", images=np.zeros((3, 1, 4, 4), np.uint8), labels=np.array([b"a", b"\xff", b"a"]))
    s = added(cli("data", "add", tmp_path / "x.npz", "--name", "x", "--json"))
    assert s["label_counts"]["a"] == 2 and len(s["label_counts"]) == 2


@pytest.mark.parametrize("column", [
    pd.Series([[1, 2], [3], []]), pd.Series([b"a", b"b", None]),
])
def test_parquet_nested_or_binary_columns_are_refused(cli, home, populated, tmp_path, column):
    pd.DataFrame({"m0": [1.0, 2.0, 3.0], "odd": column}).to_parquet(tmp_path / "t.parquet")
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "t.parquet", "--name", "x"), home, before, "column 'odd'",
            "not one number or text per cell")


def test_parquet_timestamps_are_kept_as_text(cli, home, tmp_path):
    from cellwak.store import Workspace

    pd.DataFrame({"m0": [1.0, 2.0, 3.0], "when": pd.to_datetime(["2020-01-01", "2021-02-03", None])}) \
        .to_parquet(tmp_path / "t.parquet")
    added(cli("data", "add", tmp_path / "t.parquet", "--name", "x", "--json"))
    assert Workspace(home).load("x").obs["when"].iloc[0].startswith("2020-01-01")


def test_h5ad_whose_uns_cellwak_is_not_a_mapping_is_read(cli, home, tmp_path):
    import anndata as ad

    a = ad.AnnData(X=np.ones((3, 2), np.float32))
    a.uns["cellwak"] = "written by something else"
    a.write_h5ad(tmp_path / "a.h5ad")
    assert added(cli("data", "add", tmp_path / "a.h5ad", "--name", "x", "--json"))["format"] == "h5ad"


def test_h5ad_whose_x_holds_text_is_refused(cli, home, populated, tmp_path):
    h5py = pytest.importorskip("h5py")
    import anndata as ad

    ad.AnnData(X=np.ones((3, 2), np.float32)).write_h5ad(tmp_path / "a.h5ad")
    with h5py.File(tmp_path / "a.h5ad", "a") as f:
        attrs = dict(f["X"].attrs)
        del f["X"]
        f["X"] = np.array([[b"a", b"b"]] * 3)
        for k, v in attrs.items():
            f["X"].attrs[k] = v
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "a.h5ad", "--name", "x"), home, before, "not real numbers")


def test_out_of_memory_while_reading_is_one_line(cli, home, populated, tmp_path, monkeypatch):
    from cellwak.io import images

    def exhausted(path):
        raise MemoryError

    monkeypatch.setattr(images, "_load_npz", exhausted)
    np.save(tmp_path / "x.npy", np.zeros((3, 2), np.float32))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "x.npy", "--name", "x"), home, before, "too large", "memory")


# the next two need real stderr (pytest's log capture hides tifffile's log lines) or may hang an
# unfixed reader: they run in a subprocess

def _damaged_tiff() -> bytes:
    """A TIFF whose first IFD entries have an invalid data type: tifffile logs each one."""
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, np.zeros((8, 8), np.uint8))
    data = bytearray(buf.getvalue())
    ifd = int.from_bytes(data[4:8], "little")
    count = int.from_bytes(data[ifd: ifd + 2], "little")
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if int.from_bytes(data[entry: entry + 2], "little") not in (256, 257, 258, 273, 277, 278, 279):
            data[entry + 2: entry + 4] = (0).to_bytes(2, "little")  # data type 0: invalid
    return bytes(data)


def test_damaged_tiff_gives_exactly_one_line(home, populated, tmp_path):
    """Fuzz-found: tifffile logged a line per damaged tag to stderr besides cellwak's error."""
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.tif").write_bytes(_damaged_tiff())
    before = snapshot(home)
    r = cellwak_subprocess(["data", "add", tmp_path / "imgs", "--name", "x"], home, timeout=120)
    assert r.code in (0, 2), r.err
    if r.code == 2:
        refused(r, home, before)
    else:
        assert r.err.strip() == "" or not any("TiffTag" in line or "tifffile" in line for line in r.err.splitlines())


# Fuzz-found (CI, 2026-12-02): a TIFF of 330 bytes whose second IFD has no image and a damaged tag;
# tifffile 2026.3's page iterator (behind TiffFile.series) re-read that IFD forever
_ENDLESS_TIFF = bytes.fromhex(
    "49492a00080000000e000001040001000000080000000101040001000000080000000201030001000000080000000301"
    "030001000000010000000601030001000000010000000e01020012000000b60000001101040001000000000100001501"
    "030001000000010000001601040001000000080000001701040001000000400000001a01050001000000d80000001b01"
    "050001000000e000000028010300010000000100000031010200f20c000000e8000010000000007b22736861703a205b"
    "382c20385d7d000000000000f300000000000000000000010000000100000001000000010000007469666666696c652e"
    "7079000000000000000000000000009728cac52c86bbf33fc4954295a1293454a4e5c9c7f513d367f5c3826b593625e1"
    "fe35d4cf28468272af40268d9fca218f4b3108adaf519054c953cec8ea68d9b063af4967556662c67bd2"
)


def test_tiff_whose_page_iterator_never_ends_is_read_in_time(home, populated, tmp_path):
    (tmp_path / "imgs" / "a").mkdir(parents=True)
    (tmp_path / "imgs" / "a" / "0.tif").write_bytes(_ENDLESS_TIFF)
    r = cellwak_subprocess(["--json", "data", "add", tmp_path / "imgs", "--name", "x"], home, timeout=60)
    assert r.code == 0, r.err
    assert json.loads(r.out)["image_shape"] == [1, 8, 8]  # the first page's image; the second holds none


def test_tiff_pages_of_different_shapes_are_refused(cli, home, populated, tmp_path):
    import tifffile

    (tmp_path / "imgs").mkdir()
    tifffile.imwrite(tmp_path / "imgs" / "a.tif", np.zeros((8, 8), np.uint8))
    tifffile.imwrite(tmp_path / "imgs" / "a.tif", np.zeros((6, 6), np.uint8), append=True)
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "imgs", "--name", "x"), home, before, "pages", "differ in shape")


def test_tiff_with_more_pages_than_a_crop_has_is_refused(cli, home, populated, tmp_path):
    import tifffile

    from cellwak.io.images import MAX_TIFF_PAGES

    (tmp_path / "imgs").mkdir()
    tifffile.imwrite(tmp_path / "imgs" / "a.tif", np.zeros((MAX_TIFF_PAGES + 1, 2, 2), np.uint8))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "imgs", "--name", "x"), home, before, f"{MAX_TIFF_PAGES + 1:,} pages")


def _looping_h5ad(path: Path) -> Path:
    """An .h5ad whose global heap (where variable-length strings live) has a free-space object
    shortened so that the HDF5 library's parser meets a zero-sized header and never moves on."""
    import anndata as ad

    ad.AnnData(X=np.ones((3, 2), np.float32)).write_h5ad(path)
    data = bytearray(path.read_bytes())
    heap = data.find(b"GCOL\x01")
    size = int.from_bytes(data[heap + 8: heap + 16], "little")
    p = heap + 16
    while p + 16 <= heap + size:
        index, length = int.from_bytes(data[p: p + 2], "little"), int.from_bytes(data[p + 8: p + 16], "little")
        if index == 0:
            assert length >= 64 and not any(data[p + 16: p + 64])
            data[p + 8: p + 16] = (16).to_bytes(8, "little")
            path.write_bytes(bytes(data))
            return path
        p += 16 + (length + 7) // 8 * 8
    raise AssertionError("no free space in the global heap")


def test_hdf5_file_that_makes_the_hdf5_library_loop_is_refused(home, populated, tmp_path):
    """Fuzz-found: the HDF5 library looped forever (holding the GIL) reading such a file's
    attributes; cellwak's probe process gives up on it after CELLWAK_HDF5_PROBE_TIMEOUT."""
    path = _looping_h5ad(tmp_path / "loop.h5ad")
    before = snapshot(home)
    r = cellwak_subprocess(["data", "add", path, "--name", "x"], home, timeout=90,
                            env={"CELLWAK_HDF5_PROBE_TIMEOUT": "4"})
    refused(r, home, before, "HDF5 library", "corrupt")
