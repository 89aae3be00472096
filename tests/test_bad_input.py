"""Bad input: one clear line on stderr, exit status 2, workspace unchanged."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from conftest import snapshot


def _files(tmp_path):
    """Each bad file, written on demand."""
    rng = np.random.default_rng(0)

    def make(kind):
        p = tmp_path / "bad"
        p.mkdir(exist_ok=True)
        if kind == "empty":
            (p / "empty.csv").write_bytes(b"")
            return p / "empty.csv"
        if kind == "header_only":
            (p / "h.csv").write_text("a,b,c\n")
            return p / "h.csv"
        if kind == "no_numeric":
            (p / "s.csv").write_text("a,b\nx,y\nz,w\n")
            return p / "s.csv"
        if kind == "nan":
            (p / "n.csv").write_text("id,a,b\nr1,1,2\nr2,nan,3\nr3,4,5\n")
            return p / "n.csv"
        if kind == "dup_ids":
            (p / "d.csv").write_text("id,a\nx,1\ny,2\nx,3\n")
            return p / "d.csv"
        if kind == "typo":
            rows = "\n".join(f"{i},{i * 0.5}" for i in range(40))
            (p / "t.csv").write_text(f"a,b\n{rows}\n41,oops\n")
            return p / "t.csv"
        if kind == "xlsx":
            (p / "cells.xlsx").write_bytes(b"PK\x03\x04")
            return p / "cells.xlsx"
        if kind == "npz_truncated":
            np.savez(p / "full.npz", images=rng.integers(0, 255, (20, 3, 8, 8), dtype=np.uint8))
            data = (p / "full.npz").read_bytes()
            (p / "cut.npz").write_bytes(data[: len(data) // 2])
            return p / "cut.npz"
        if kind == "h5ad_corrupt":
            (p / "x.h5ad").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
            return p / "x.h5ad"
        if kind == "idx_truncated":
            raw = bytes([0, 0, 8, 3]) + (100).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(5000)
            (p / "t-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw)[:-20])
            return p / "t-images-idx3-ubyte.gz"
        if kind == "fcs_corrupt":
            (p / "x.fcs").write_bytes(b"FCS3.0    garbage that is not an FCS header" * 3)
            return p / "x.fcs"
        if kind == "shapes":
            from PIL import Image

            (p / "imgs").mkdir()
            Image.fromarray(np.zeros((10, 10), np.uint8)).save(p / "imgs" / "a.png")
            Image.fromarray(np.zeros((12, 10), np.uint8)).save(p / "imgs" / "b.png")
            return p / "imgs"
        if kind == "5d":
            np.save(p / "x.npy", np.zeros((2, 1, 1, 4, 4), np.float32))
            return p / "x.npy"
        if kind == "labels_short":
            (p / "l.txt").write_text("a\nb\n")
            return p / "l.txt"
        raise KeyError(kind)

    return make


CASES = [
    # (id, args builder, words the message must contain)
    ("missing path", lambda f, t: ["data", "add", t.parent / "nope.csv", "--name", "x"], "no such file"),
    ("unsupported extension", lambda f, t: ["data", "add", f("xlsx"), "--name", "x"], "unsupported file type"),
    ("empty file", lambda f, t: ["data", "add", f("empty"), "--name", "x"], "empty"),
    ("header only", lambda f, t: ["data", "add", f("header_only"), "--name", "x"], "no cells"),
    ("no numeric columns", lambda f, t: ["data", "add", f("no_numeric"), "--name", "x"], "no numeric"),
    ("non-finite values", lambda f, t: ["data", "add", f("nan"), "--name", "x", "--id", "id"], "--drop-nonfinite"),
    ("duplicate ids", lambda f, t: ["data", "add", f("dup_ids"), "--name", "x", "--id", "id"], "duplicated"),
    ("numeric column with a typo", lambda f, t: ["data", "add", f("typo"), "--name", "x"], "oops"),
    ("labels file wrong length", lambda f, t: ["data", "add", t, "--name", "x", "--labels", f("labels_short")], "one label per cell"),
    ("labels file missing", lambda f, t: ["data", "add", t, "--name", "x", "--labels", t.parent / "nope.txt"], "no such labels file"),
    ("unknown label column", lambda f, t: ["data", "add", t, "--name", "x", "--label", "celltype"], "no such column"),
    ("unknown batch column", lambda f, t: ["data", "add", t, "--name", "x", "--batch", "plate_id"], "no such column"),
    ("inconsistent image shapes", lambda f, t: ["data", "add", f("shapes"), "--name", "x"], "inconsistent image shapes"),
    ("5-D array", lambda f, t: ["data", "add", f("5d"), "--name", "x"], "dimensions"),
    ("truncated npz", lambda f, t: ["data", "add", f("npz_truncated"), "--name", "x"], "corrupt"),
    ("corrupt h5ad", lambda f, t: ["data", "add", f("h5ad_corrupt"), "--name", "x"], "corrupt"),
    ("truncated idx", lambda f, t: ["data", "add", f("idx_truncated"), "--name", "x"], "truncated"),
    ("corrupt fcs", lambda f, t: ["data", "add", f("fcs_corrupt"), "--name", "x"], "FCS"),
    ("arcsinh cofactor <= 0", lambda f, t: ["data", "add", t.parent / "bad" / "x.fcs", "--name", "x", "--arcsinh", "0"], "cofactor"),
    ("name with path separator", lambda f, t: ["data", "add", t, "--name", "a/b"], "path separator"),
    ("name not allowed", lambda f, t: ["data", "add", t, "--name", ".hidden"], "not allowed"),
    ("name already taken", lambda f, t: ["data", "add", t, "--name", "cells"], "already exists"),
    ("unlabeled without labels", lambda f, t: ["data", "add", t, "--name", "x", "--unlabeled", "NA"], "no labels"),
    ("show unknown dataset", lambda f, t: ["data", "show", "nosuch"], "no dataset named"),
    ("rm unknown dataset", lambda f, t: ["data", "rm", "nosuch"], "no dataset named"),
    ("export bad extension", lambda f, t: ["data", "export", "cells", "--out", t.parent / "x.xlsx"], "cannot export"),
    ("export into missing folder", lambda f, t: ["data", "export", "cells", "--out", t.parent / "no" / "x.csv"], "does not exist"),
    ("cluster unknown dataset", lambda f, t: ["cluster", "--dataset", "nosuch"], "no dataset named"),
    ("gamma zero", lambda f, t: ["cluster", "--dataset", "cells", "--gamma", "0"], "gamma"),
    ("gamma negative", lambda f, t: ["cluster", "--dataset", "cells", "--gamma", "-1"], "gamma"),
    ("k not below n", lambda f, t: ["cluster", "--dataset", "cells", "--k", "90"], "smaller than the number of cells"),
    ("unknown representation", lambda f, t: ["cluster", "--dataset", "cells", "--rep", "X_umap"], "no representation"),
    ("unknown device", lambda f, t: ["cluster", "--dataset", "cells", "--device", "tpu"], "device"),
    ("gamma not a number", lambda f, t: ["cluster", "--dataset", "cells", "--gamma", "lots"], "gamma"),
    ("unknown option", lambda f, t: ["data", "add", t, "--colour", "red"], "colour"),
    ("option the format ignores", lambda f, t: ["data", "add", t, "--name", "x", "--arcsinh", "5"],
     "--arcsinh does not apply to CSV/TSV tables"),
    ("channels on a table", lambda f, t: ["data", "add", t, "--name", "x", "--channels-last"], "does not apply"),
    ("unknown choice", lambda f, t: ["cluster", "--dataset", "cells", "--knn", "annoy"],
     "'--knn': 'annoy' is not one of 'auto', 'exact', 'kdtree', 'ivf', 'nndescent', 'hnsw'"),
    ("clusters rm unknown id", lambda f, t: ["clusters", "rm", "999"], "no clustering #999"),
    ("runs export unknown run", lambda f, t: ["runs", "export", "7", "--csv", t.parent / "m.csv"], "no run #7"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(case, cli, home, populated, tmp_path, table_csv):
    _, build, words = case
    make = _files(tmp_path)
    if case[0] == "arcsinh cofactor <= 0":  # needs a valid FCS file to reach the option check
        import flowio

        (tmp_path / "bad").mkdir(exist_ok=True)
        with open(tmp_path / "bad" / "x.fcs", "wb") as fh:
            flowio.create_fcs(fh, [1.0, 2.0, 3.0, 4.0], ["FSC-A", "FL1-A"])
    args = build(make, table_csv)
    before = snapshot(home)
    assert before == populated
    r = cli(*args)
    assert r.code == 2, (r.code, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith("cellwak: error: ") and "Traceback" not in r.err
    assert words.lower() in lines[0].lower(), lines[0]
    assert snapshot(home) == before


def test_bad_input_with_json_prints_an_error_object(cli, populated):
    r = cli("cluster", "--dataset", "nosuch", "--json")
    assert r.code == 2
    assert r.json()["exit_code"] == 2 and "no dataset named" in r.json()["error"]


def test_home_that_is_a_file(tmp_path, capsys):
    from cellwak.cli import run

    f = tmp_path / "file"
    f.write_text("x")
    assert run(["data", "list", "--home", str(f)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a file" in err[0]


def test_debug_shows_the_traceback(cli, populated):
    r = cli("cluster", "--dataset", "nosuch", "--debug")
    assert r.code == 2 and "Traceback" in r.err
