"""The dashboard's text for one cluster fits the pane it is written for."""

from __future__ import annotations

from cellwak_tui.text import cluster_lines

CLUSTER = {"cluster": 0, "size": 2068, "share": 0.862, "unlabelled_share": 0.0,
           "markers": [{"name": "c0_y14_x19_long_feature", "direction": "-", "score": -88.3, "effect": -1.06},
                       {"name": "CD3", "direction": "+", "score": 12.5, "effect": 0.5}]}
SOURCE = {"method": "t-test", "source": "computed", "effect": "log2 fold change of means"}


def test_marker_lines_fit_a_narrow_pane_by_shortening_names():
    lines = cluster_lines(CLUSTER, SOURCE, 34)
    markers = [line for line in lines if line.startswith("  ")]
    assert len(markers) == 2 and all(len(line) <= 34 for line in markers)
    assert "c0_y14_x19_lon" in markers[0]  # shortened, not dropped


def test_a_wide_pane_keeps_sixteen_characters_of_a_name_and_draws_bars():
    markers = [line for line in cluster_lines(CLUSTER, SOURCE, 60) if line.startswith("  ")]
    assert "c0_y14_x19_long_" in markers[0] and "█" in markers[0]
    assert all(len(line) <= 60 for line in markers)


def test_the_status_line_names_the_knn_search_and_its_recall_only_when_measured():
    from cellwak_tui.screens.clusters import _knn_text

    assert _knn_text({"knn": "ivf", "knn_recall": 0.98174}) == "kNN ivf (recall 0.982)"
    assert _knn_text({"knn": "exact", "knn_recall": 1.0}) == "kNN exact"
    assert _knn_text({"knn": "hnsw", "knn_recall": None}) == "kNN hnsw"  # approximate, recall not measured
    assert _knn_text({}) == ""  # a clustering recorded before the graph kept its search
