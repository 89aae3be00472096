"""Hostile input files: pickles, HDF5 files that point at other files, decompression bombs, path
tricks in names, and devices or FIFOs posing as data files.

Every one must end in one line on stderr and exit status 2, with the workspace unchanged, and
without cellwak unpickling, following, inflating or reading what the file points at. Inputs
that would make an unfixed reader hang run in a subprocess with a time limit.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from _refusal import cellwak_subprocess, refused
from conftest import snapshot

h5py = pytest.importorskip("h5py")




# ---- pickles -------------------------------------------------------------------------------------


class Unpickled:
    """Unpickling this creates a folder: proof that a pickle was loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def _object_array(marker: Path) -> np.ndarray:
    arr = np.empty((4, 2), dtype=object)
    for i in range(4):
        arr[i, 0], arr[i, 1] = Unpickled(marker), float(i)
    return arr


def test_pickled_npy_is_refused_and_never_unpickled(cli, home, populated, tmp_path):
    marker = tmp_path / "unpickled"
    np.save(tmp_path / "x.npy", _object_array(marker), allow_pickle=True)
    before = snapshot(home)
    line = refused(cli("data", "add", tmp_path / "x.npy", "--name", "x"), home, before, "pickle")
    assert "never loads" in line
    assert not marker.exists()


def test_pickled_npz_member_is_refused_and_never_unpickled(cli, home, populated, tmp_path):
    marker = tmp_path / "unpickled"
    np.savez(tmp_path / "x.npz", images=np.zeros((4, 1, 8, 8), np.uint8), labels=_object_array(marker)[:, 0])
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "x.npz", "--name", "x"), home, before, "pickle")
    assert not marker.exists()


# ---- HDF5 files that point at other files ----------------------------------------------------------


def _target(tmp_path) -> Path:
    """The 'other file': 12 float32 values."""
    p = tmp_path / "elsewhere.bin"
    p.write_bytes(np.arange(12, dtype="<f4").tobytes())
    return p


def _other_h5(tmp_path) -> Path:
    p = tmp_path / "other.h5"
    with h5py.File(p, "w") as f:
        f["X"] = np.arange(12, dtype=np.float32).reshape(4, 3)
    return p


def _plain_h5_with_external_x(path: Path, target: Path, shape=(4, 3), dtype="<f4") -> Path:
    with h5py.File(path, "w") as f:
        f.create_dataset("X", shape=shape, dtype=dtype, external=[(str(target), 0, h5py.h5f.UNLIMITED)])
    return path


def _h5ad_with(path: Path, replace) -> Path:
    import anndata as ad
    import pandas as pd

    a = ad.AnnData(X=np.ones((4, 3), np.float32), obs=pd.DataFrame({"kind": list("abab")}, index=list("wxyz")))
    a.write_h5ad(path)
    with h5py.File(path, "a") as f:
        replace(f)
    return path


def _external_dataset(f, name: str, target: Path, shape, dtype):
    attrs = dict(f[name].attrs)
    del f[name]
    f.create_dataset(name, shape=shape, dtype=dtype, external=[(str(target), 0, h5py.h5f.UNLIMITED)])
    for k, v in attrs.items():
        f[name].attrs[k] = v


def test_plain_h5_whose_x_uses_external_storage_is_refused(cli, home, populated, tmp_path):
    path = _plain_h5_with_external_x(tmp_path / "m.h5", _target(tmp_path))
    before = snapshot(home)
    refused(cli("data", "add", path, "--name", "x"), home, before, "uses external storage/links",
            "cellwak reads only self-contained files", "dataset 'X'")


@pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="no /etc/passwd here")
def test_h5_whose_x_is_stored_in_etc_passwd_is_refused(cli, home, populated, tmp_path):
    n = min(Path("/etc/passwd").stat().st_size, 64)
    path = _plain_h5_with_external_x(tmp_path / "m.h5", Path("/etc/passwd"), shape=(1, n), dtype="u1")
    before = snapshot(home)
    refused(cli("data", "add", path, "--name", "x"), home, before, "external storage")


def test_h5ad_whose_x_uses_external_storage_is_refused(cli, home, populated, tmp_path):
    target = _target(tmp_path)
    path = _h5ad_with(tmp_path / "a.h5ad", lambda f: _external_dataset(f, "X", target, (4, 3), "<f4"))
    before = snapshot(home)
    refused(cli("data", "add", path, "--name", "x"), home, before, "external storage", "dataset 'X'")


def test_h5ad_whose_obs_column_uses_external_storage_is_refused(cli, home, populated, tmp_path):
    """Not only X: any dataset the reader would read."""
    target = tmp_path / "codes.bin"
    target.write_bytes(bytes([0, 1, 0, 1]))
    path = _h5ad_with(tmp_path / "a.h5ad", lambda f: _external_dataset(f, "obs/kind/codes", target, (4,), "i1"))
    before = snapshot(home)
    refused(cli("data", "add", path, "--name", "x"), home, before, "external storage", "obs/kind/codes")


def test_h5_with_an_external_link_is_refused(cli, home, populated, tmp_path):
    other = _other_h5(tmp_path)
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f["X"] = h5py.ExternalLink(str(other), "/X")
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "m.h5", "--name", "x"), home, before, "external link", "self-contained")


def test_h5ad_with_an_external_link_is_refused(cli, home, populated, tmp_path):
    other = _other_h5(tmp_path)

    def link(f):
        f["layers_elsewhere"] = h5py.ExternalLink(str(other), "/X")

    path = _h5ad_with(tmp_path / "a.h5ad", link)
    before = snapshot(home)
    refused(cli("data", "add", path, "--name", "x"), home, before, "external link")


def test_10x_h5_whose_matrix_is_an_external_link_is_refused_without_following_it(cli, home, populated, tmp_path):
    """The format sniffers look through hard links only: a link to a missing file would fail
    differently if it were followed."""
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f["matrix"] = h5py.ExternalLink(str(tmp_path / "does-not-exist.h5"), "/matrix")
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "m.h5", "--name", "x"), home, before, "external link")


def test_h5_with_a_virtual_dataset_mapping_another_file_is_refused(cli, home, populated, tmp_path):
    other = _other_h5(tmp_path)
    layout = h5py.VirtualLayout(shape=(4, 3), dtype="f4")
    layout[:] = h5py.VirtualSource(str(other), "X", shape=(4, 3))
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f.create_virtual_dataset("X", layout)
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "m.h5", "--name", "x"), home, before, "virtual dataset")


def test_soft_links_inside_the_file_are_fine(cli, home, tmp_path):
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f["X"] = np.arange(12, dtype=np.float32).reshape(4, 3)
        f["cell_labels"] = np.array([b"a", b"b", b"a", b"b"])
        f["Y"] = h5py.SoftLink("/cell_labels")
    r = cli("data", "add", tmp_path / "m.h5", "--name", "x", "--json")
    assert r.code == 0, r.err
    assert r.json()["label_counts"] == {"a": 2, "b": 2}


# ---- decompression bombs ---------------------------------------------------------------------------


def _gzip_stream(path: Path, head: bytes, unit: bytes, total: int) -> int:
    """Write head + unit repeated to ``total`` bytes, gzip-compressed without holding it all."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = unit * max(1, (1 << 20) // len(unit))
    written = len(head)
    with open(path, "wb") as fh:
        fh.write(comp.compress(head))
        while written < total:
            fh.write(comp.compress(block))
            written += len(block)
        fh.write(comp.flush())
    return written


@pytest.fixture
def inflation_spy(monkeypatch):
    """The largest number of bytes cellwak inflated before deciding."""
    from cellwak.io import limits

    seen = {"max": 0}
    check = limits.check_inflation

    def spy(path, inflated, compressed, what="it"):
        seen["max"] = max(seen["max"], inflated)
        return check(path, inflated, compressed, what)

    monkeypatch.setattr(limits, "check_inflation", spy)
    return seen


def test_csv_gz_bomb_is_refused_before_it_is_inflated(cli, home, populated, tmp_path, inflation_spy):
    path = tmp_path / "bomb.csv.gz"
    total = _gzip_stream(path, b"a,b,c\n", b"0,0,0\n", 400 << 20)
    assert total / path.stat().st_size > 500
    before = snapshot(home)
    refused(cli("data", "add", path, "--name", "x"), home, before, "decompression bomb", "decompress it yourself")
    assert 0 < inflation_spy["max"] < total // 2


def test_a_plain_highly_compressible_but_small_csv_gz_is_read(cli, home, tmp_path):
    """Below the floor the ratio is no concern: 2 MB of text from a few KB is fine."""
    path = tmp_path / "zeros.csv.gz"
    _gzip_stream(path, b"a,b,c\n", b"0,0,1\n", 2 << 20)
    r = cli("data", "add", path, "--name", "x", "--json")
    assert r.code == 0, r.err
    assert r.json()["n_vars"] == 3


def _patch_zip_sizes(data: bytes, size: int) -> bytes:
    """Declare every member ``size`` bytes long (local headers and central directory)."""
    buf = bytearray(data)
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := buf.find(sig, start)) >= 0:
            buf[start + offset: start + offset + 4] = struct.pack("<I", size)
            start += 4
    return bytes(buf)


def test_npz_member_declaring_a_huge_size_is_refused(cli, home, populated, tmp_path):
    buf = io.BytesIO()
    np.savez_compressed(buf, images=np.zeros((4, 1, 8, 8), np.uint8))
    (tmp_path / "x.npz").write_bytes(_patch_zip_sizes(buf.getvalue(), 0xF0000000))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "x.npz", "--name", "x"), home, before, "decompression bomb")


def test_npz_bomb_is_refused_before_it_is_inflated(cli, home, populated, tmp_path):
    """Judged by the sizes the zip directory declares, before any member is read."""
    np.savez_compressed(tmp_path / "x.npz", images=np.zeros((2000, 1, 256, 256), np.uint8))  # 131 MB
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "x.npz", "--name", "x"), home, before, "decompression bomb")


def test_idx_gz_declaring_a_huge_shape_is_refused_before_allocating(cli, home, populated, tmp_path):
    raw = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (4_000_000, 28, 28)) + bytes(100)
    (tmp_path / "t-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "t-images-idx3-ubyte.gz", "--name", "x"), home, before,
            "decompression bomb", "(4000000, 28, 28)")


def test_hdf5_compression_bomb_is_refused(cli, home, populated, tmp_path):
    with h5py.File(tmp_path / "m.h5", "w") as f:
        X = f.create_dataset("X", shape=(30000, 1000), dtype="f4", chunks=(3000, 1000), compression="gzip",
                             compression_opts=9)
        zeros = np.zeros((3000, 1000), np.float32)
        for i in range(0, 30000, 3000):
            X[i:i + 3000] = zeros
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "m.h5", "--name", "x"), home, before, "decompression bomb", "dataset 'X'")


def _png(width: int, height: int, bit_depth: int = 8, color: int = 0, idat: bytes = b"") -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color, 0, 0, 0))
            + chunk(b"IDAT", idat or zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def test_png_bomb_beyond_pillows_limit_is_a_bomb_error(cli, home, populated, tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(_png(30000, 30000))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "imgs", "--name", "x"), home, before, "decompression bomb",
            "crop the images")


def test_png_in_pillows_warning_range_is_refused_not_decoded(cli, home, populated, tmp_path):
    """Pillow only warns between MAX_IMAGE_PIXELS and twice that, then decodes: cellwak refuses."""
    from PIL import Image

    side = int((Image.MAX_IMAGE_PIXELS * 1.2) ** 0.5) // 8 * 8
    rows = (b"\0" + b"\0" * (side // 8)) * side  # 1-bit grey: small even for ~100 M pixels
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(_png(side, side, bit_depth=1, idat=zlib.compress(rows, 9)))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "imgs", "--name", "x"), home, before, "decompression bomb")


def _tiff(width: int, height: int) -> bytes:
    """A minimal little-endian TIFF declaring width x height 8-bit grey pixels, holding 16 bytes."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 0),
               (277, 3, 1), (278, 4, height), (279, 4, 16)]
    data_offset = 8 + 2 + 12 * len(entries) + 4
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        value = data_offset if tag == 273 else value
        ifd += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<I", value) if kind == 4 else struct.pack("<HH", value, 0))
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + bytes(16)


def test_tiff_bomb_is_refused_before_decoding(cli, home, populated, tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.tif").write_bytes(_tiff(20000, 20000))
    before = snapshot(home)
    refused(cli("data", "add", tmp_path / "imgs", "--name", "x"), home, before, "decompression bomb")


# ---- path tricks ---------------------------------------------------------------------------------


def _npz_with_members(path: Path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, arr in members.items():
            buf = io.BytesIO()
            np.save(buf, arr)
            z.writestr(name, buf.getvalue())
    return path


@pytest.mark.parametrize("member", ["../../x.npy", "/abs/x.npy", "sub/x.npy", "..\\..\\x.npy", ".hidden.npy"])
def test_npz_member_names_with_paths_are_refused(cli, home, populated, tmp_path, member):
    path = _npz_with_members(tmp_path / "x.npz",
                             {member: np.zeros((4, 1, 8, 8), np.uint8)})
    before = snapshot(home)
    refused(cli("data", "add", path, "--name", "x"), home, before, repr(member)[1:-1])
    assert not (tmp_path.parent / "x.npy").exists() and not (tmp_path / "x.npy").exists()


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".", "a\nb", "a\x00b", "", "\nx", "x\\y"])
def test_hostile_dataset_names_are_refused(cli, home, populated, table_csv, name):
    before = snapshot(home)
    refused(cli("data", "add", table_csv, "--name", name), home, before)
    assert not (home.parent / "x").exists()


def test_dataset_name_with_a_trailing_newline_is_refused(cli, home, populated, table_csv):
    """re.match with '$' accepts 'x\\n' (a '$' also matches before a final newline): the name
    check in cellwak/store/workspace.py must match the whole name."""
    before = snapshot(home)
    refused(cli("data", "add", table_csv, "--name", "x\n"), home, before, "not allowed")


# ---- devices and FIFOs posing as data files ------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
@pytest.mark.parametrize("name", ["x.csv", "x.csv.gz", "x.npy", "x.h5ad", "x.fcs", "t-images-idx3-ubyte"])
def test_dev_zero_linked_as_a_data_file_is_refused_quickly(home, populated, tmp_path, name):
    link = tmp_path / name
    link.symlink_to("/dev/zero")
    before = snapshot(home)
    refused(cellwak_subprocess(["data", "add", link, "--name", "x"], home), home, before,
            "character device, not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_as_a_data_file_is_refused_without_blocking(home, populated, tmp_path):
    os.mkfifo(tmp_path / "x.csv")
    before = snapshot(home)
    refused(cellwak_subprocess(["data", "add", tmp_path / "x.csv", "--name", "x"], home), home, before,
            "FIFO", "not a regular file")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_dev_zero_inside_an_image_folder_is_refused(home, populated, tmp_path):
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "imgs" / "a.png")
    (tmp_path / "imgs" / "b.png").symlink_to("/dev/zero")
    before = snapshot(home)
    refused(cellwak_subprocess(["data", "add", tmp_path / "imgs", "--name", "x"], home), home, before,
            "b.png", "not a regular file")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
@pytest.mark.parametrize("option", ["--labels", "--obs"])
def test_dev_zero_as_a_labels_or_obs_file_is_refused(home, populated, table_csv, tmp_path, option):
    link = tmp_path / "side.csv"
    link.symlink_to("/dev/zero")
    before = snapshot(home)
    refused(cellwak_subprocess(["data", "add", table_csv, "--name", "x", option, link], home), home, before,
            "not a regular file")
