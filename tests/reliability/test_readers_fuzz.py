"""Property-based fuzzing of every reader through ``cellwak data add``.

For each format a small valid file is built once; hypothesis then feeds the CLI random bytes,
truncations at random offsets and byte mutations (flip / insert / delete) of that file. Every run
must end in one of two ways:

* exit 0 with a valid dataset (``data show x --json`` works), or
* exit 2 with exactly one stderr line starting ``cellwak: error:`` and the workspace unchanged;

never exit 1 ("internal error"), never a traceback. Each example gets its own copy of a populated
workspace (hypothesis does not mix with function-scoped fixtures), so "unchanged" is a real check.

By default each format gets ``EXAMPLES`` examples (17 formats x 28 = 476 inputs; the whole file
runs in about 50 s on two cores); the ``slow`` variant runs ten times as many (4,760).

Bugs this fuzzing found in cellwak/io (all fixed; each has a deterministic regression test in
test_reader_cases.py): a CSV column empty throughout (None values AnnData cannot write); a NUL
byte in a CSV text field; a header that is not UTF-8 (UnicodeDecodeError from Arrow); zlib.error
from a damaged deflated .npz member and from a damaged .idx.gz; NotImplementedError from zipfile
(unknown zip version or compression method); tokenize.TokenError from numpy's .npy header parser;
tifffile logging a line per damaged TIFF tag beside cellwak's one; an .h5ad on which the HDF5
library loops forever holding the GIL (damaged global heap); an HDF5 dataset name that is not
UTF-8 (a bytes key pandas refuses).
"""

from __future__ import annotations

import atexit
import contextlib
import gzip
import io
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from conftest import snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = 28  # per format, default run: 17 formats x 28 = 476 fuzzed inputs
SLOW_EXAMPLES = EXAMPLES * 10
SETTINGS = {"deadline": None, "derandomize": False, "database": None,
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much]}
N = 12  # cells in every valid file


# ---- the valid file of each format ---------------------------------------------------------------


def _csv_text(sep: str = ",") -> bytes:
    rng = np.random.default_rng(0)
    lines = [sep.join(["cell", "type", "m0", "m1", "m2"])]
    for i in range(N):
        lines.append(sep.join([f"c{i}", "ab"[i % 2], *(f"{v:.3f}" for v in rng.normal(size=3))]))
    return ("\n".join(lines) + "\n").encode()


def _parquet() -> bytes:
    import pandas as pd

    rng = np.random.default_rng(1)
    df = pd.DataFrame({"cell": [f"c{i}" for i in range(N)], "type": list("ab" * (N // 2)),
                       "m0": rng.normal(size=N), "m1": rng.normal(size=N).astype(np.float32)})
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def _via_file(write: Callable[[Path], None], suffix: str) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"f{suffix}"
        write(p)
        return p.read_bytes()


def _h5ad() -> bytes:
    import anndata as ad
    import pandas as pd

    rng = np.random.default_rng(2)
    a = ad.AnnData(X=rng.normal(size=(N, 4)).astype(np.float32),
                   obs=pd.DataFrame({"ct": pd.Categorical(list("ab" * (N // 2)))}, index=[f"c{i}" for i in range(N)]),
                   var=pd.DataFrame(index=[f"g{j}" for j in range(4)]))
    return _via_file(a.write_h5ad, ".h5ad")


def _tenx() -> bytes:
    import h5py
    import scipy.sparse as sp

    rng = np.random.default_rng(3)
    dense = (rng.integers(0, 5, size=(N, 5)) * (rng.random((N, 5)) < 0.6)).astype(np.int32)
    csr = sp.csr_matrix(dense)

    def write(p):
        with h5py.File(p, "w") as f:
            m = f.create_group("matrix")
            m["data"], m["indices"], m["indptr"] = csr.data, csr.indices.astype(np.int64), csr.indptr.astype(np.int64)
            m["shape"] = np.array([5, N], dtype=np.int32)
            m["barcodes"] = np.array([f"AAAC{i:04d}-1".encode() for i in range(N)])
            feats = m.create_group("features")
            feats["name"] = np.array([f"G{j}".encode() for j in range(5)])
            feats["id"] = np.array([f"ENSG{j}".encode() for j in range(5)])
            feats["feature_type"] = np.array([b"Gene Expression"] * 5)
            feats["genome"] = np.array([b"GRCh38"] * 5)

    return _via_file(write, ".h5")


def _hdf5() -> bytes:
    import h5py

    rng = np.random.default_rng(4)

    def write(p):
        with h5py.File(p, "w") as f:
            f["X"] = rng.normal(size=(N, 4)).astype(np.float32)
            f["Y"] = (np.arange(N) % 3).astype(np.int64)
            f["cell_names"] = np.array([f"c{i}".encode() for i in range(N)])

    return _via_file(write, ".h5")


def _fcs() -> bytes:
    import flowio

    events = np.random.default_rng(5).uniform(0, 1000, size=(N, 3)).astype(np.float32)
    buf = io.BytesIO()
    flowio.create_fcs(buf, events.ravel().tolist(), ["FSC-A", "FL1-A", "FL2-A"], opt_channel_names=["", "CD3", "CD4"])
    return buf.getvalue()


def _images(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, size=(N, 1, 8, 8), dtype=np.uint8)


def _npz(compressed: bool) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, images=_images(6), labels=np.arange(N) % 2,
                                                      class_names=np.array(["neg", "pos"]))
    return buf.getvalue()


def _npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.random.default_rng(7).normal(size=(N, 5)).astype(np.float32))
    return buf.getvalue()


def _idx() -> bytes:
    arr = _images(8)[:, 0]
    return bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes()


def _png(seed: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(_images(seed)[0, 0]).save(buf, format="PNG")
    return buf.getvalue()


def _tif(seed: int) -> bytes:
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, _images(seed)[0, 0])
    return buf.getvalue()


@dataclass(frozen=True)
class Format:
    """A valid file (``make``: its bytes), the name it is written under, and how damaged bytes
    become the file (``pack``: e.g. gzip the damaged text, so the parser and not gzip sees the damage).
    ``folder``: the other files of an image folder, written unchanged beside the damaged one."""

    name: str
    filename: str
    make: Callable[[], bytes]
    pack: Callable[[bytes], bytes] = None  # None: written as damaged
    folder: dict = field(default_factory=dict)


def _folder(kind: str) -> dict:
    make = _png if kind == "png" else _tif
    return {f"{cls}/{i}.{kind}": (lambda s=10 + i: make(s)) for i, cls in enumerate("aabb") if i}


FORMATS = {f.name: f for f in [
    Format("csv", "cells.csv", _csv_text),
    Format("tsv", "cells.tsv", lambda: _csv_text("\t")),
    Format("csv.gz-compressed", "cells.csv.gz", lambda: gzip.compress(_csv_text(), mtime=0)),
    Format("csv.gz-text", "cells.csv.gz", _csv_text, pack=lambda b: gzip.compress(b, mtime=0)),
    Format("parquet", "cells.parquet", _parquet),
    Format("h5ad", "cells.h5ad", _h5ad),
    Format("10x_h5", "filtered_feature_bc_matrix.h5", _tenx),
    Format("hdf5", "matrix.h5", _hdf5),
    Format("fcs", "events.fcs", _fcs),
    Format("npz", "crops.npz", lambda: _npz(False)),
    Format("npz-compressed", "crops.npz", lambda: _npz(True)),
    Format("npy", "features.npy", _npy),
    Format("idx", "t-images-idx3-ubyte", _idx),
    Format("idx.gz", "t-images-idx3-ubyte.gz", lambda: gzip.compress(_idx(), mtime=0)),
    Format("png-folder", "imgs/a/0.png", lambda: _png(10), folder=_folder("png")),
    Format("tiff-folder", "imgs/a/0.tif", lambda: _tif(10), folder=_folder("tif")),
    Format("mixed-folder", "imgs/a/0.png", lambda: _png(10), folder=_folder("tif")),
]}


@cache
def valid_bytes(name: str) -> bytes:
    return FORMATS[name].make()


# ---- the damage ----------------------------------------------------------------------------------


@st.composite
def damaged(draw, valid: bytes) -> tuple[str, bytes]:
    """(what was done, bytes): random bytes, a truncation, or 1-8 flips/inserts/deletes."""
    kind = draw(st.sampled_from(["random", "truncate", "mutate", "mutate"]))
    if kind == "random":
        return kind, draw(st.binary(min_size=0, max_size=4096))
    if kind == "truncate":
        cut = draw(st.integers(0, max(len(valid) - 1, 0)))
        return f"truncate at {cut}", valid[:cut]
    data = bytearray(valid)
    ops = []
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "flip", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7)) if draw(st.booleans()) else draw(st.integers(1, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif data:
            del data[pos:pos + draw(st.integers(1, 16))]
        ops.append(f"{op}@{pos}")
    return "mutate " + " ".join(ops), bytes(data)


# ---- running the CLI on a fresh copy of a populated workspace -------------------------------------


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def cellwak(*args) -> Outcome:
    from cellwak.cli import run

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run([str(a) for a in args])
    return Outcome(code, out.getvalue(), err.getvalue())


@cache
def template_workspace() -> Path:
    """A workspace holding one dataset, built once; every example works on a copy of it."""
    root = Path(tempfile.mkdtemp(prefix="cellwak-fuzz-template-"))
    atexit.register(shutil.rmtree, root, True)
    (root / "seed.csv").write_bytes(_csv_text())
    r = cellwak("data", "add", root / "seed.csv", "--name", "seed", "--home", root / "home")
    assert r.code == 0, r.err
    return root / "home"


@contextlib.contextmanager
def short_hdf5_probe(seconds: float = 10.0):
    """A damaged HDF5 file can make the HDF5 library loop; cellwak's probe process gives up on it
    after PROBE_TIMEOUT (30 s and more): the fuzzing waits less."""
    from cellwak.io import h5files

    was = h5files.PROBE_TIMEOUT
    h5files.PROBE_TIMEOUT = seconds
    try:
        yield
    finally:
        h5files.PROBE_TIMEOUT = was


def check_add(fmt: Format, content: bytes, what: str) -> Outcome:
    """``data add`` of ``content`` written as ``fmt``'s file: a dataset, or one clean error line."""
    root = Path(tempfile.mkdtemp(prefix="cellwak-fuzz-"))
    try:
        home = root / "home"
        shutil.copytree(template_workspace(), home)
        for rel, make in fmt.folder.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(make())
        target = root / fmt.filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(fmt.pack(content) if fmt.pack else content)
        before = snapshot(home)
        source = root / "imgs" if fmt.folder else target
        with short_hdf5_probe():
            r = cellwak("data", "add", source, "--name", "x", "--home", home)
        context = f"[{fmt.name}: {what}] exit {r.code}: {r.err[-2000:]}"
        assert r.code in (0, 2), context
        assert "Traceback" not in r.err and "internal error" not in r.err, context
        if r.code == 2:
            lines = r.err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("cellwak: error: "), context
            assert snapshot(home) == before, f"{context}: the workspace changed"
        else:
            shown = cellwak("data", "show", "x", "--json", "--home", home)
            assert shown.code == 0, f"{context}; data show: {shown.err}"
            summary = json.loads(shown.out)
            assert summary["name"] == "x" and summary["n_obs"] > 0 and summary["n_vars"] > 0, context
        return r
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_every_valid_file_is_added():
    """The undamaged files are read, so the fuzzing below starts from files that work."""
    for fmt in FORMATS.values():
        r = check_add(fmt, valid_bytes(fmt.name), "valid")
        assert r.code == 0, (fmt.name, r.err)


def test_check_add_catches_an_internal_error(monkeypatch):
    """The property can fail: a reader that raises a non-InputError is reported."""
    from cellwak.io import registry

    template_workspace()  # built with the real reader: the first test of a worker builds it, and this may be it
    reader = registry.get_reader("csv")

    def broken(path, opts):
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(registry._READERS, "csv", registry.Reader(**{**reader.__dict__, "read": broken}))
    with pytest.raises(AssertionError, match="exit 1"):
        check_add(FORMATS["csv"], valid_bytes("csv"), "valid")


def _fuzz(fmt_name: str, data) -> None:
    fmt = FORMATS[fmt_name]
    what, content = data.draw(damaged(valid_bytes(fmt_name)), label="damage")
    check_add(fmt, content, what)


@pytest.mark.parametrize("fmt_name", list(FORMATS))
@settings(max_examples=EXAMPLES, **SETTINGS)
@given(data=st.data())
def test_damaged_file_is_a_dataset_or_one_clean_error(fmt_name, data):
    _fuzz(fmt_name, data)


@pytest.mark.slow
@pytest.mark.parametrize("fmt_name", list(FORMATS))
@settings(max_examples=SLOW_EXAMPLES, **SETTINGS)
@given(data=st.data())
def test_damaged_file_is_a_dataset_or_one_clean_error_long(fmt_name, data):
    _fuzz(fmt_name, data)
