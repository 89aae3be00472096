"""The workspace catalog and its artifacts."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from cellwak.datasets import blobs
from cellwak.errors import ConflictError, NotFoundError
from cellwak.store import Workspace


def test_catalog_is_wal_and_rows_point_to_complete_artifacts(tmp_path):
    ws = Workspace(tmp_path / "h")
    row = ws.add_dataset("b", blobs(50, 4, 2))
    assert (ws.home / row["artifact"]).is_file()
    mode = sqlite3.connect(ws.catalog_path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    a = ws.load("b")
    assert a.shape == (50, 4) and a.uns["cellwak"]["dataset"]["label_key"] == "label"


def test_failed_write_leaves_no_row_and_no_folder(tmp_path, monkeypatch):
    ws = Workspace(tmp_path / "h")
    import cellwak.io.writers as export

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(export, "write_h5ad", boom)
    with pytest.raises(OSError):
        ws.add_dataset("b", blobs(20, 2, 2))
    assert ws.datasets() == []
    assert not ws.dataset_dir("b").exists()
    assert not list((ws.home / "datasets").glob(".tmp-*"))


def test_stale_folder_without_row_is_not_a_dataset(tmp_path):
    ws = Workspace(tmp_path / "h")
    ws.dataset_dir("b").mkdir(parents=True)
    (ws.dataset_dir("b") / "junk").write_text("left by a crash")
    with pytest.raises(NotFoundError):
        ws.dataset("b")
    ws.add_dataset("b", blobs(20, 2, 2))
    assert not (ws.dataset_dir("b") / "junk").exists()


def test_names_are_unique_and_remove_cascades(tmp_path):
    ws = Workspace(tmp_path / "h")
    ws.add_dataset("b", blobs(30, 2, 2))
    with pytest.raises(ConflictError):
        ws.add_dataset("b", blobs(30, 2, 2))
    ws.add_clustering("b", np.zeros(30, int), {"method": "leiden", "key": "k", "params": {}, "n_clusters": 1,
                                               "sizes": [30], "metrics": {}, "provenance": {}, "seconds": 0.1})
    assert len(ws.clusterings("b")) == 1
    ws.remove_dataset("b")
    assert ws.datasets() == [] and ws.clusterings() == []
    assert not ws.dataset_dir("b").exists()


def test_builtin_is_registered_on_first_use(tmp_path):
    ws = Workspace(tmp_path / "h")
    row = ws.dataset("blood")
    assert row["builtin"] == 1 and row["n_obs"] >= 2000
    counts = row["info"]["summary"]["label"]["counts"]
    assert len(counts) == 8 and min(counts.values()) >= 250
    assert "CC BY 4.0" in row["info"]["attribution"]


def test_read_only_commands_do_not_create_a_workspace(tmp_path):
    ws = Workspace(tmp_path / "never")
    assert ws.datasets() == [] and ws.clusterings() == []
    assert not (tmp_path / "never").exists()


def test_image_datasets_store_pixels_once(tmp_path):
    from cellwak.datasets import cell_crops

    ws = Workspace(tmp_path / "h")
    crops = cell_crops(40, size=16)
    ws.add_dataset("crops", crops)
    import h5py

    with h5py.File(ws.dataset_dir("crops") / "data.h5ad") as f:
        assert "X" not in f and f["obsm/images"].shape == (40, 2, 16, 16)
    a = ws.load("crops")
    assert np.shares_memory(a.X, a.obsm["images"])
    np.testing.assert_array_equal(a.obsm["images"], crops.obsm["images"])
