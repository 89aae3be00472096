"""The capped views the dashboard and notebooks read (cellwak.api.views), the terminal's
graphics support, and `cellwak tui` on the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cellwak import api
from cellwak.api.views import display_rgb
from cellwak.errors import InputError, NotFoundError
from cellwak.terminal import graphics_support
from tests.conftest import snapshot


@pytest.fixture(scope="module")
def blood(tmp_path_factory):
    home = tmp_path_factory.mktemp("views") / "home"
    out = api.cluster(home, "blood", api.ClusterConfig(gamma=1.0))
    return home, out


def test_crops_of_a_cluster_are_its_cells_in_row_order(blood, monkeypatch):
    home, out = blood
    labels = np.asarray(api.open_workspace(home).clustering_labels(out.clustering_id))
    crops = api.crops(home, "blood", n=10, clustering_id=out.clustering_id, cluster=1, seed=4)
    assert crops.rgb.shape == (10, 28, 28, 3) and crops.rgb.dtype == np.uint8
    assert crops.n_cells == int((labels == 1).sum())
    assert all(labels[i] == 1 for i in crops.indices) and crops.indices == sorted(crops.indices)
    again = api.crops(home, "blood", n=10, clustering_id=out.clustering_id, cluster=1, seed=4)
    assert again.indices == crops.indices  # seeded
    from cellwak.datasets import load_builtin

    full = load_builtin("blood").obsm["images"][crops.indices]  # what a full load would give
    assert np.array_equal(display_rgb(full), crops.rgb)
    assert "rgb" not in crops.to_dict() and json.dumps(crops.to_dict())


def test_crops_refuse_tables_and_unknown_clusters(blood, table_csv, tmp_path):
    home, out = blood
    with pytest.raises(InputError, match="has no cluster 99; choose a cluster from 0 to"):
        api.crops(home, "blood", clustering_id=out.clustering_id, cluster=99)
    with pytest.raises(InputError, match="n must be between 1 and 256"):
        api.crops(home, "blood", n=0)
    other = tmp_path / "other"
    api.add_dataset(other, table_csv, name="cells", options=api.ReadOptions(label="type", id="cell"))
    before = snapshot(other)
    with pytest.raises(InputError, match="is a table of features and has no crops"):
        api.crops(other, "cells")
    with pytest.raises(NotFoundError):
        api.crops(other, "nothing")
    assert snapshot(other) == before


def test_display_rgb_scales_16_bit_grey_and_keeps_three_channels():
    grey = np.arange(2 * 1 * 4 * 4, dtype=np.uint16).reshape(2, 1, 4, 4) * 1000
    rgb = display_rgb(grey)
    assert rgb.shape == (2, 4, 4, 3) and rgb[..., 0].tolist() == rgb[..., 2].tolist()
    assert rgb.min() == 0 and rgb.max() == 255  # stretched to the 1st-99th percentile
    colour = np.zeros((1, 3, 2, 2), dtype=np.uint8)
    colour[0, 0] = 200  # red only
    assert display_rgb(colour)[0, 0, 0].tolist()[1:] == [0, 0]


def test_embedding_sample_says_how_to_make_a_layout_then_samples_it(blood):
    home, out = blood
    empty = api.embedding_sample(home, "blood")
    assert empty.basis is None and "cellwak embed umap -d blood" in empty.hint
    api.embed(home, "blood", api.embedding.EmbedConfig(method="pca"))
    sample = api.embedding_sample(home, "blood", max_points=500, seed=1)
    assert sample.basis == "X_cellwak_pca2" and sample.n_shown == 500 and sample.n_total == 2400
    assert len(sample.x) == len(sample.clusters) == 500 and max(sample.clusters) < out.n_clusters
    with pytest.raises(InputError, match="has no layout 'X_nope'"):
        api.embedding_sample(home, "blood", basis="X_nope")


@pytest.mark.slow  # three clusterings, two of them auto
def test_sweep_profile_finds_the_sweep_behind_an_auto_clustering(table_csv, tmp_path):
    home = tmp_path / "home"
    api.add_dataset(home, table_csv, name="cells", options=api.ReadOptions(label="type", id="cell"))
    first = api.cluster(home, "cells", api.ClusterConfig(gamma="auto", subsamples=2))
    api.cluster(home, "cells", api.ClusterConfig(gamma=0.5))
    second = api.cluster(home, "cells", api.ClusterConfig(gamma="auto", subsamples=2, k=10))
    for out in (first, second):
        profile = api.sweep_profile(home, "cells", out.clustering_id)
        assert [r["clustering_id"] for r in profile["rows"]] == sorted(out.sweep_clustering_ids)
        assert profile["chosen_gamma"] == pytest.approx(out.gamma)
        assert [r["gamma"] for r in profile["rows"]] == sorted(r["gamma"] for r in profile["rows"])
        # the stability rule's test per resolution and its threshold, as the evidence recorded them
        tested = {r["gamma"]: r["passed"] for r in out.evidence["resolutions"]}
        assert {r["gamma"]: r["passed"] for r in profile["rows"]} == tested
        assert profile["threshold"] == pytest.approx(out.evidence["threshold"])
    latest = api.sweep_profile(home, "cells")
    assert [r["clustering_id"] for r in latest["rows"]] == sorted(second.sweep_clustering_ids)
    fixed = [c for c in api.list_clusterings(home, "cells").clusterings if c["gamma"] == 0.5][0]
    assert api.sweep_profile(home, "cells", fixed["id"])["rows"] == []


def test_graphics_support_from_the_environment():
    assert graphics_support({"TERM": "xterm-kitty"}, query=False)["protocol"] == "tgp"
    assert graphics_support({"TERM": "xterm-256color", "TERM_PROGRAM": "WezTerm"}, query=False)["protocol"] == "sixel"
    tmux = graphics_support({"TERM": "tmux-256color", "TMUX": "/tmp/x", "COLORTERM": "truecolor"}, query=False)
    assert tmux["protocol"] == "half-block" and tmux["colors"] == "truecolor"
    assert graphics_support({"TERM": "dumb"}, query=False)["protocol"] == "none"


def test_tui_on_the_command_line(cli, home, populated):
    r = cli("tui", "-d", "cells", "--json")
    assert r.code == 0 and r.json()["dataset"] == "cells" and r.json()["graphics"]["protocol"]
    r = cli("tui")  # the test runner is no terminal
    assert r.code == 2 and "needs an interactive terminal" in r.err and len(r.err.strip().splitlines()) == 1
    r = cli("tui", "-d", "nothing", "--json")
    assert r.code == 2 and "no dataset named 'nothing'" in r.err
    assert snapshot(home) == populated
    report = cli("doctor", "--no-r", "--no-julia", "--json").json()
    assert report["terminal"]["protocol"] in ("sixel", "tgp", "half-block", "none")
    assert report["tui"]["status"] == "ok"  # the dashboard's application module is installed


def test_the_dashboards_lookups_do_not_bring_back_a_removed_builtin(tmp_path):
    home = tmp_path / "home"
    api.show_dataset(home, "blood")          # a built-in is added on first use...
    api.remove_dataset(home, "blood")
    before = snapshot(home)
    with pytest.raises(NotFoundError, match="no dataset named 'blood'"):
        api.show_dataset(home, "blood", add_builtin=False)   # ...but not by the dashboard's details
    with pytest.raises(NotFoundError):
        api.crops(home, "blood", add_builtin=False)
    assert snapshot(home) == before and api.list_datasets(home).datasets == []


def test_sweep_profile_has_no_stability_test_when_another_rule_chose(table_csv, tmp_path):
    home = tmp_path / "home"
    api.add_dataset(home, table_csv, name="cells", options=api.ReadOptions(label="type", id="cell"))
    api.sweep(home, "cells", api.SweepConfig(gammas="0.2,0.5,1", subsamples=2, rule="silhouette"))
    profile = api.sweep_profile(home, "cells")
    assert len(profile["rows"]) == 3 and profile["threshold"] is None
    assert all(r["passed"] is None for r in profile["rows"])
    api.sweep(home, "cells", api.SweepConfig(gammas="0.2,0.5,1", subsamples=2))
    profile = api.sweep_profile(home, "cells")
    assert all(isinstance(r["passed"], bool) for r in profile["rows"]) and profile["threshold"] > 0
