"""Above ``stability_cells`` cells the resolution chosen on a subset graph is checked on the full
graph (cellwak.tl._full_check): confirmed there, moved to a coarser passing resolution, or kept
with a warning when none checked holds."""

import json

import numpy as np
import pandas as pd
import pytest

from cellwak.graph.build import build_graph
from cellwak.graph.knn import exact_knn
from cellwak.progress import NULL
from cellwak.tl import _full_check as fc
from cellwak.tl.sweep import gamma_key

THRESHOLD, FLOOR = 0.875, 0.6


def graph_of(X, k=10):
    return build_graph(exact_knn(X.astype(np.float32), k))


@pytest.fixture(scope="module")
def blobs():
    """Three far-apart blobs of 300 cells: 3 clusters are stable, 30 are tiles."""
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 40, size=(3, 5))
    labels = np.repeat(np.arange(3), 300)
    return graph_of(centres[labels] + rng.normal(0, 1, size=(900, 5)))


def table_of(gammas, clusters, jaccards):
    return pd.DataFrame({"gamma": gammas, "n_clusters": clusters, "stability": 1.0, "cluster_jaccard": jaccards})


def confirm(graph, table, index, passed, floor=FLOOR):
    return fc.confirm(graph, table, index, np.asarray(passed), THRESHOLD, floor, seed=0, subsamples=5, fraction=0.8,
                      n_jobs=1, n_iterations=-1, backend="igraph", progress=NULL)


def test_candidates_are_the_choice_then_coarser_passing_rows_at_the_floor():
    t = table_of([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [1, 3, 4, 4, 5, 6], [1.0, 0.9, 0.5, 0.8, 0.9, 0.7])
    passed = np.array([True, True, True, True, False, True])
    # row 5 chosen; row 4 failed the test, row 2 is under the floor, row 0 has one cluster
    assert fc.candidates(t, 5, passed, FLOOR) == [5, 3, 1]
    assert fc.candidates(t, 5, passed, None) == [5, 3, 2, 1]  # without a floor row 2 is a candidate


@pytest.mark.parametrize("n", [1, 2, 5, 12, 40])
def test_search_finds_the_first_position_that_holds_in_few_checks(n):
    for boundary in range(n + 1):  # boundary == n: none holds
        calls = []

        def holds(pos):
            calls.append(pos)
            return pos >= boundary

        found = fc.search(holds, n, limit=100)
        assert found == (boundary if boundary < n else None)
        assert len(calls) == len(set(calls))  # no position checked twice
        assert len(calls) <= 2 + 2 * max(1, int(np.ceil(np.log2(n + 1))))
    assert fc.search(lambda pos: pos >= 1, 10) is not None
    # one step down, the common case, costs two checks
    calls = []
    fc.search(lambda pos: calls.append(pos) or pos >= 1, 30)
    assert calls == [0, 1]


def test_search_stops_at_the_limit():
    calls = []
    assert fc.search(lambda pos: calls.append(pos) or pos >= 35, 40, limit=4) is None
    assert len(calls) == 4


def test_a_choice_that_holds_on_the_full_graph_is_confirmed(blobs):
    t = table_of([0.05, 0.2], [3, 3], [1.0, 1.0])
    check = confirm(blobs, t, 1, [True, True])
    assert check.confirmed and not check.moved and check.index == 1
    r = check.rows[0]
    assert r["n_clusters"] == 3 and r["stability"] > 0.99 and r["cluster_jaccard"] > 0.95 and r["passed"]
    assert check.labels[0.2].shape == (900,) and check.labels[0.2].max() == 2
    assert fc.warning(check) is None
    assert "confirmed on the full graph (900 cells" in fc.explain(check, t, 300)


def test_tiles_on_the_full_graph_move_the_choice_to_a_coarser_passing_resolution(blobs):
    t = table_of([0.05, 0.3, 25.0], [3, 3, 3], [1.0, 1.0, 1.0])  # the subset graph says 3 clusters at 25
    check = confirm(blobs, t, 2, [True, True, True])
    assert check.moved and check.confirmed
    first = check.rows[0]
    assert first["gamma"] == 25.0 and not first["passed"] and first["n_clusters"] > 10
    assert first["cluster_jaccard"] < FLOOR  # tiles are not found again on the subsamples
    assert check.index == 1 and check.rows[1]["passed"] and check.rows[1]["n_clusters"] == 3
    words = fc.explain(check, t, 300)
    assert "gamma 25 fails" in words and "the full graph confirms is taken, gamma 0.3 (3 clusters" in words


def test_when_no_check_holds_the_most_reproducible_is_kept_with_a_warning(blobs):
    t = table_of([20.0, 25.0, 30.0], [3, 3, 3], [1.0, 1.0, 1.0])
    check = confirm(blobs, t, 2, [True, True, True])
    assert not check.confirmed and len(check.rows) == 3 and not any(r["passed"] for r in check.rows)
    best = max(check.rows, key=lambda r: (r["cluster_jaccard"], r["stability"]))
    assert check.index == best["row"]
    assert "none of the 3 resolutions checked" in fc.warning(check)


def test_the_sweep_checks_its_choice_on_the_full_graph_and_keeps_that_partition():
    import anndata as ad
    from sklearn.metrics import adjusted_rand_score

    import cellwak as cw

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 30, size=(4, 8))
    truth = rng.integers(0, 4, size=1500)
    a = ad.AnnData(X=(centres[truth] + rng.normal(0, 1, size=(1500, 8))).astype(np.float32))
    cw.pp.neighbors(a, use_rep="X")
    cw.tl.sweep(a, subsamples=3, n_jobs=1, stability_cells=500)
    stored = a.uns["cellwak_leiden_sweep"]
    ev = json.loads(stored["evidence_json"])
    assert ev["full_graph_cells"] == 1500 and ev["full_graph_checks"]
    chosen = ev["chosen"]["full_graph"]
    assert chosen["passed"] and chosen["n_clusters"] == 4 and chosen["gamma"] == stored["chosen_gamma"]
    assert "on the full graph (1,500 cells" in ev["reason"]
    labels = a.obs[gamma_key(stored["chosen_gamma"])]
    assert adjusted_rand_score(truth, labels.astype(int)) == 1.0


def test_the_checks_partition_subsamples_with_the_full_graphs_iteration_policy(monkeypatch, blobs):
    import scipy.sparse as sp

    from cellwak.graph import leiden as L
    from cellwak.tl._parallel_leiden import run_many

    seen = []
    real = L.tolerance_for
    monkeypatch.setattr(L, "tolerance_for", lambda n: seen.append(n) or real(n))
    run_many({"a": blobs}, [("a", 1.0, 0, -1)], n_jobs=1, policy_edges={"a": 5_000_000})
    assert seen == [5_000_000]
    seen.clear()
    run_many({"a": blobs}, [("a", 1.0, 0, -1)], n_jobs=1)
    assert seen == [sp.triu(blobs, k=1).nnz]  # by default a graph's own edges
    seen.clear()
    confirm(blobs, table_of([0.05, 0.2], [3, 3], [1.0, 1.0]), 1, [True, True])
    assert len(seen) == 6 and set(seen) == {sp.triu(blobs, k=1).nnz}  # the graph and its 5 subsamples alike


def test_the_cli_prints_the_full_graph_verdict():
    from rich.console import Console

    from cellwak.cli.cluster import render_evidence

    check = {"gamma": 0.84, "n_clusters": 14, "stability": 1.0, "stability_sd": 0.0, "stability_n": 5,
             "cluster_jaccard": 0.99, "passed": True}
    failed = {**check, "gamma": 0.97, "n_clusters": 15, "stability": 0.7, "cluster_jaccard": 0.49, "passed": False}
    out = {"evidence": {"chosen": {**check, "cluster_jaccard": 1.0, "stability": 1.0, "full_graph": check},
                        "reason": "because", "full_graph_cells": 100000, "full_graph_checks": [failed, check]},
           "confidence": "high", "warnings": []}
    console = Console(record=True, width=300)
    render_evidence(console, out)
    text = console.export_text()
    assert "on the full graph (100,000 cells" in text and "(14 clusters): confirmed after 2 checks" in text
    out["evidence"]["chosen"]["full_graph"] = failed
    console = Console(record=True, width=300)
    render_evidence(console, out)
    assert "not confirmed" in console.export_text()


@pytest.mark.slow
def test_cluster_auto_on_more_than_20000_cells_from_the_cli(cli, tmp_path):
    """The whole path from the command line: the subset graph's choice, checked on the full graph."""
    rng = np.random.default_rng(3)
    centres = rng.normal(0, 12, size=(6, 6))
    truth = rng.integers(0, 6, size=24_000)
    X = centres[truth] + rng.normal(0, 1, size=(24_000, 6))
    table = pd.DataFrame(X, columns=[f"m{i}" for i in range(6)]).assign(kind=truth.astype(str))
    table.to_csv(tmp_path / "blobs.csv", index=False)
    assert cli("data", "add", tmp_path / "blobs.csv", "--label", "kind").code == 0
    r = cli("cluster", "-d", "blobs", "--gamma", "auto", "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    ev = out["evidence"]
    assert ev["full_graph_cells"] == 24_000 and 1 <= len(ev["full_graph_checks"]) <= fc.MAX_CHECKS
    assert ev["chosen"]["full_graph"]["passed"] and out["n_clusters"] == 6
    assert out["metrics"]["ari"] > 0.99
    # what the command prints without --json is render_evidence of this same answer: rendered here rather
    # than by a second run of the command, which would double the test's time
    from rich.console import Console

    from cellwak.cli.cluster import render_evidence

    console = Console(record=True, width=300)
    render_evidence(console, out)
    text = console.export_text()
    assert "on the full graph (24,000 cells" in text and "confirmed" in text and "not confirmed" not in text
