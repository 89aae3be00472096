"""The workspace operations (cellwak.api) under the CLI, and the in-memory tools under them: the
same data and seed give the same clustering whichever face asks."""

from __future__ import annotations

import numpy as np
import pytest

import cellwak as cw
from cellwak import api
from cellwak.errors import InputError, NotFoundError

from conftest import snapshot


def _labels(home, clustering_id) -> np.ndarray:
    return cw.Workspace(home).clustering_labels(clustering_id)


@pytest.mark.parametrize("gamma", ["1.0", pytest.param("auto", marks=pytest.mark.slow)])  # auto: ~70 s on a busy machine
def test_cli_api_and_notebook_give_identical_labels(cli, home, gamma):
    r = cli("cluster", "-d", "blood", "--gamma", gamma, "--seed", "3", "--json")
    assert r.code == 0, r.err
    from_cli = _labels(home, r.json()["clustering_id"])

    out = api.cluster(home, "blood", api.ClusterConfig(gamma=gamma, seed=3))
    from_api = _labels(home, out.clustering_id)

    from cellwak.datasets import load_builtin

    adata = load_builtin("blood")
    cw.pp.neighbors(adata, n_neighbors=15, n_pcs=50, random_state=3)
    cw.tl.leiden(adata, resolution=gamma if gamma == "auto" else float(gamma), random_state=3)
    in_memory = adata.obs["cellwak_leiden"].astype(int).to_numpy()

    assert len(np.unique(from_cli)) >= 2  # auto on these raw-pixel crops: the coarse split, with the images hint
    if gamma == "auto":
        assert any("train dino" in w for w in r.json()["warnings"])
    np.testing.assert_array_equal(from_cli, from_api)
    np.testing.assert_array_equal(from_cli, in_memory)
    assert out.gamma == r.json()["gamma"] and out.to_dict()["sizes"] == r.json()["sizes"]


def test_device_auto_is_accepted_everywhere():
    a = cw.datasets.blobs(300, 8, 3, seed=0)
    result = cw.tl.cluster(a, gamma=1.0, device="auto")  # raised a raw torch error before
    assert result.n_clusters == 3 and result.params["device"] in ("cpu", "cuda")
    cw.pp.neighbors(a, device="auto", key_added="again")
    assert a.uns["again"]["params"]["n_neighbors"] == 15
    with pytest.raises(InputError, match="unknown --device 'tpu'"):
        cw.tl.cluster(a, device="tpu")


def test_operations_refuse_bad_settings_before_touching_the_workspace(home):
    api.cluster(home, "blood", api.ClusterConfig(gamma=1.0))  # registers blood, records one clustering
    before = snapshot(home)
    cases = [(api.cluster, api.ClusterConfig(gamma="-1"), "--gamma must be > 0"),
             (api.cluster, api.ClusterConfig(k=5000), "not smaller than the number of cells"),
             (api.cluster, api.ClusterConfig(knn="annoy"), "unknown --knn 'annoy'"),
             (api.cluster, api.ClusterConfig(device="tpu"), "unknown --device"),
             (api.cluster, api.ClusterConfig(rep="X_nope"), "no representation 'X_nope'"),
             (api.sweep, api.SweepConfig(gammas="3:1:4"), "cannot read the resolutions"),
             (api.sweep, api.SweepConfig(rule="oracle"), "unknown --rule 'oracle'"),
             (api.dewak, api.DewakConfig(k_max=0), "--k-max must be at least 1")]
    for operation, config, message in cases:
        with pytest.raises(InputError, match=message):
            operation(home, "blood", config)
    with pytest.raises(NotFoundError, match="no dataset named 'nope'"):
        api.cluster(home, "nope")
    assert snapshot(home) == before


def test_sweep_records_every_resolution_in_one_transaction(home):
    out = api.sweep(home, "blood", api.SweepConfig(gammas="0.2,1,3", subsamples=2, jobs=1))
    rows = cw.Workspace(home).clusterings("blood")
    assert [r["id"] for r in rows] == out.clustering_ids and len(rows) == 3
    assert sum(bool(r["params"]["chosen"]) for r in rows) == 1
    d = out.to_dict()
    assert d["chosen_gamma"] in (0.2, 1.0, 3.0) and [r["gamma"] for r in d["rows"]] == [0.2, 1.0, 3.0]


@pytest.mark.slow  # 4-7 s: the default run keeps its 3-minute budget (measured 169-177 s in CI)
def test_prune_and_remove_clusterings_drop_their_columns(home):
    auto = api.cluster(home, "blood", api.ClusterConfig(gamma="auto", auto_gammas="0.2:2:4", subsamples=2, jobs=1))
    ws = cw.Workspace(home)
    rows = ws.clusterings("blood")
    assert len(rows) == 5  # 4 resolutions + the chosen clustering
    unchosen = {r["key"] for r in rows if r["method"] == "leiden-sweep" and not r["params"]["chosen"]}
    pruned = api.prune_clusterings(home, "blood")
    assert len(pruned.removed) == 3 and set(pruned.dropped_columns["blood"]) == unchosen
    left = ws.clusterings("blood")
    assert [r["method"] for r in left] == ["leiden-sweep", "leiden"] and left[0]["params"]["chosen"]
    obs = set(ws.load("blood").obs.columns)
    assert not unchosen & obs and {"cellwak_leiden", left[0]["key"]} <= obs
    removed = api.remove_clusterings(home, [auto.clustering_id])
    assert removed.removed == [auto.clustering_id] and "cellwak_leiden" not in ws.load("blood").obs
    with pytest.raises(NotFoundError, match="no clustering #999"):
        api.remove_clusterings(home, [left[0]["id"], 999])
    assert len(ws.clusterings("blood")) == 1  # nothing removed when one id is unknown


def test_score_and_classify_in_memory():
    a = cw.datasets.blobs(400, 6, 4, seed=2)
    cw.pp.neighbors(a)
    cw.tl.leiden(a, 0.5)
    s = cw.tl.score(a, label_key="label")
    assert s["ari"] == pytest.approx(1.0) and s["contingency"]["counts"]
    with pytest.raises(InputError, match="no obs column 'nope'"):
        cw.tl.score(a, label_key="nope")
    a.obs["tags"] = np.where(a.obs["label"].astype(str).isin(["0", "1"]), "x", "y")
    cw.tl.classify(a, "tags", n_estimators=20)
    assert a.obsm["cellwak_predicted_labels_proba"].shape == (400, 2)
    assert a.uns["cellwak_predicted_labels"]["heldout_macro_f1"] > 0.9


def test_leiden_without_a_graph_says_what_to_run():
    a = cw.datasets.blobs(100, 4, 2, seed=0)
    with pytest.raises(InputError, match=r"run cw.pp.neighbors\(adata\) first"):
        cw.tl.leiden(a)
