"""Simulated batch effects on image datasets (cellwak.datasets.batch_effects) and
``cellwak data simulate-batches``."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import snapshot

from cellwak.datasets.batch_effects import simulate_batches


def _images(n=120, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 0.8, size=(n, 3, 12, 12))
    if np.dtype(dtype).kind == "f":
        return x.astype(dtype)
    top = 255 if dtype == np.uint8 else 4095  # a 12-bit camera in 16-bit files
    return np.rint(x * top).astype(dtype)


def _labels(n=120):
    return np.repeat(["a", "b", "c", "d"], n // 4)


def test_same_seed_same_output_other_seed_other_output():
    images, labels = _images(), _labels()
    s1, b1, p1 = simulate_batches(images, 4, labels=labels, seed=3)
    s2, b2, p2 = simulate_batches(images, 4, labels=labels, seed=3)
    assert np.array_equal(s1, s2) and np.array_equal(b1, b2) and p1 == p2
    s3, _, _ = simulate_batches(images, 4, labels=labels, seed=4)
    assert not np.array_equal(s1, s3)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_shape_dtype_and_range_are_kept(dtype):
    images = _images(dtype=dtype)
    shifted, batch, params = simulate_batches(images, 3, composition="uniform", seed=1)
    assert shifted.shape == images.shape and shifted.dtype == images.dtype
    assert batch.shape == (len(images),) and set(batch.tolist()) == {0, 1, 2}
    assert np.bincount(batch).tolist() == [40, 40, 40]  # uniform: equal sizes
    if np.dtype(dtype).kind == "f":
        assert shifted.min() >= 0.0 and shifted.max() <= 1.0
    elif dtype == np.uint16:
        assert shifted.max() <= images.max()  # the data's maximum is the full range
    assert [p["cells"] for p in params] == [40, 40, 40]
    assert [p["batch"] for p in params] == ["b0", "b1", "b2"]


def test_each_batch_gets_its_own_intensity_shift():
    images = _images()
    shifted, batch, params = simulate_batches(images, 4, composition="uniform", seed=0)
    means = np.array([shifted[batch == b].mean(axis=(0, 2, 3)) for b in range(4)])  # batch x channel
    original = np.array([images[batch == b].mean(axis=(0, 2, 3)) for b in range(4)])
    assert np.abs(original - original.mean(axis=0)).max() < 3  # same content in every batch...
    spread = means.max(axis=0) - means.min(axis=0)
    assert spread.max() > 20  # ...but clearly different intensities (uint8 units) after the shift
    for p in params:  # parameters within the documented ranges at strength 1
        assert all(0.7 <= a <= 1.3 for a in p["gain"]) and all(-0.1 <= o <= 0.1 for o in p["offset"])
        assert all(np.exp(-0.35) <= g <= np.exp(0.35) for g in p["gamma"])
        assert p["blur_sigma"] in (0.0, 0.5, 1.0) and p["noise_sd"] == pytest.approx(0.02)


def test_hand_computed_intensity_shift():
    # a constant image through gamma -> gain -> offset at the drawn parameters (blur keeps it
    # constant; the noise averages out over 4 cells x 25 pixels)
    images = np.full((8, 2, 5, 5), 0.5, dtype=np.float64)
    shifted, batch, params = simulate_batches(images, 2, composition="uniform", seed=7, strength=1.0)
    for b, p in enumerate(params):
        expected = np.clip(0.5 ** np.array(p["gamma"]) * np.array(p["gain"]) + np.array(p["offset"]), 0, 1)
        got = shifted[batch == b].mean(axis=(0, 2, 3))
        assert np.allclose(got, expected, atol=3 * p["noise_sd"] / np.sqrt(4 * 25))


def test_strength_zero_changes_nothing():
    images = _images()
    shifted, _, params = simulate_batches(images, 2, composition="uniform", strength=0.0)
    assert np.array_equal(shifted, images)
    assert params[0]["gain"] == [1.0, 1.0, 1.0] and params[0]["noise_sd"] == 0.0


def test_dirichlet_gives_each_batch_its_own_mixture():
    images, labels = _images(400), np.repeat(["a", "b", "c", "d"], 100)
    _, batch, params = simulate_batches(images, 4, labels=labels, seed=0)
    table = np.array([[np.sum((batch == b) & (labels == c)) for c in "abcd"] for b in range(4)])
    assert (table.sum(axis=1) > 0).all()  # every batch has cells
    fractions = table / table.sum(axis=1, keepdims=True)
    assert (fractions.max(axis=0) - fractions.min(axis=0)).max() > 0.2  # mixtures differ
    _, ubatch, _ = simulate_batches(images, 4, composition="uniform", seed=0)
    utable = np.array([[np.sum((ubatch == b) & (labels == c)) for c in "abcd"] for b in range(4)])
    assert (fractions.max(axis=0) - fractions.min(axis=0)).max() > \
        np.ptp(utable / utable.sum(axis=1, keepdims=True), axis=0).max()
    assert [p["cells"] for p in params] == table.sum(axis=1).tolist()


def test_every_batch_gets_a_cell_even_when_unlikely():
    images = _images(6)
    for seed in range(20):
        _, batch, _ = simulate_batches(images, 6, labels=["a"] * 6, seed=seed)
        assert sorted(batch.tolist()) == [0, 1, 2, 3, 4, 5]


def test_bad_input_raises():
    images = _images()
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        simulate_batches(images[:, 0], 2, composition="uniform")
    with pytest.raises(ValueError, match="at least 2"):
        simulate_batches(images, 1, composition="uniform")
    with pytest.raises(ValueError, match="needs the labels"):
        simulate_batches(images, 2)
    with pytest.raises(ValueError, match="labels has shape"):
        simulate_batches(images, 2, labels=["a"] * 3)
    with pytest.raises(ValueError, match="composition"):
        simulate_batches(images, 2, composition="blocks")
    with pytest.raises(ValueError, match="strength"):
        simulate_batches(images, 2, composition="uniform", strength=-1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        simulate_batches(images.astype(np.float32), 2, composition="uniform")  # floats in 0..255
    with pytest.raises(ValueError, match="cannot fill"):
        simulate_batches(images[:3], 4, composition="uniform")


# -- the command ---------------------------------------------------------------------------------
def test_cli_simulates_batches_on_blood(cli, home):
    r = cli("data", "simulate-batches", "blood", "--into", "blood4", "--seed", "1", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["name"] == "blood4" and out["cells"] == 2400
    assert sorted(out["batches"]) == ["b0", "b1", "b2", "b3"] and sum(out["batches"].values()) == 2400

    shown = cli("data", "show", "blood4", "--json").json()
    assert shown["batch_column"] == "batch" and shown["batch_counts"] == out["batches"]
    assert shown["label_column"] == "label" and len(shown["label_counts"]) == 8

    from cellwak.store import Workspace

    ws = Workspace(home)
    new, source = ws.load("blood4"), ws.load("blood")  # the source is read, and only registered here
    assert new.obsm["images"].shape == source.obsm["images"].shape and new.obsm["images"].dtype == np.uint8
    assert np.array_equal(new.X, new.obsm["images"].reshape(new.n_obs, -1))
    assert not np.array_equal(new.obsm["images"], source.obsm["images"])
    assert list(new.obs["batch"].cat.categories) == ["b0", "b1", "b2", "b3"]
    record = new.uns["cellwak"]["batch_effects"]
    assert record["seed"] == 1 and record["composition"] == "dirichlet" and len(record["batches"]) == 4
    assert new.uns["cellwak"]["dataset"]["batch_key"] == "batch"
    assert new.uns["cellwak"]["dataset"]["label_key"] == "label"

    human = cli("data", "simulate-batches", "blood", "--into", "blood2", "--batches", "2",
                "--composition", "uniform")
    assert human.code == 0, human.err
    assert "added blood2" in human.out and "b0: 1,200" in human.out


def test_cli_refuses_an_existing_target_unless_forced(cli, home):
    assert cli("data", "simulate-batches", "blood", "--into", "sim", "--batches", "2").code == 0
    before = snapshot(home)
    r = cli("data", "simulate-batches", "blood", "--into", "sim", "--batches", "3")
    assert r.code == 2 and r.out == ""
    assert len(r.err.strip().splitlines()) == 1 and "already exists" in r.err and "--force" in r.err
    assert snapshot(home) == before
    forced = cli("data", "simulate-batches", "blood", "--into", "sim", "--batches", "3", "--force", "--json")
    assert forced.code == 0, forced.err
    assert len(forced.json()["batches"]) == 3


def test_cli_refuses_a_table_dataset(cli, home, table_csv):
    assert cli("data", "add", table_csv, "--name", "cells", "--label", "type").code == 0
    before = snapshot(home)
    r = cli("data", "simulate-batches", "cells", "--into", "cells4")
    assert r.code == 2
    assert len(r.err.strip().splitlines()) == 1 and "not images" in r.err
    assert snapshot(home) == before


def test_cli_refuses_bad_requests_with_one_line(cli, home):
    for args in (["nope", "--into", "x"], ["blood", "--into", "blood"], ["blood", "--into", "x", "--batches", "1"],
                 ["blood", "--into", "x", "--composition", "blocks"], ["blood", "--into", "bad/name"]):
        r = cli("data", "simulate-batches", *args)
        assert r.code == 2, (args, r.err)
        assert len(r.err.strip().splitlines()) == 1, r.err
    assert not (home / "datasets").exists()  # nothing registered, not even the built-in source
