"""DEWAK's (d, k) evaluations and the kNN queries on a Dask cluster: a LocalCluster of 2 worker
processes gives the single-process result, and both workers did the work; a scheduler that cannot
be used is refused before any work (one line, exit status 2, workspace unchanged)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import snapshot

distributed = pytest.importorskip("distributed", reason="dask[distributed] is a dev dependency")


@pytest.fixture(scope="module")
def dask_cluster():
    """Two worker processes, one thread each (as `dask worker` would run on two machines)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        yield lc.scheduler_address


def _stream_index(address: str) -> int:
    """The scheduler's task-stream cursor (recording starts at the first call)."""
    with distributed.Client(address, set_as_default=False) as client:
        return client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.get_task_stream_index())


def _workers_that_ran(address: str, prefix: str, since: int) -> set[str]:
    """The workers that ran tasks of function ``prefix`` since the cursor ``since``."""
    with distributed.Client(address, set_as_default=False) as client:
        stream = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.get_task_stream(start_index=since))
    return {t["worker"] for t in stream if str(t["key"]).lstrip("('").startswith(prefix)}


def _mixture(n, dim=12, groups=5, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, size=(groups, dim))
    return (centres[rng.integers(0, groups, n)] + rng.normal(size=(n, dim))).astype(np.float32)


# -- DEWAK -----------------------------------------------------------------------------------
@pytest.mark.slow  # a LocalCluster starts two Python processes
@pytest.mark.parametrize("search", ["grid", "coordinate", "golden"])
def test_dewak_on_two_workers_gives_the_same_losses_and_choice(dask_cluster, search):
    import anndata as ad

    from cellwak.tl._distributed import scheduler
    from cellwak.tl.dewak import dewak

    adata = ad.AnnData(_mixture(1200))
    options = dict(search=search, d_max=10, k_max=25, max_d=5)
    here = dewak(adata.copy(), **options)
    since = _stream_index(dask_cluster)
    with scheduler(dask_cluster):
        there = dewak(adata.copy(), **options)
    ran = _workers_that_ran(dask_cluster, "_evaluate", since)
    assert ran and (search == "golden" or len(ran) == 2)  # golden: one d at a time, on either worker
    assert (there.d, there.k) == (here.d, here.k) and there.loss == here.loss
    np.testing.assert_array_equal(there.table[["d", "k"]].to_numpy(), here.table[["d", "k"]].to_numpy())
    np.testing.assert_array_equal(there.table["loss"].to_numpy(), here.table["loss"].to_numpy())
    assert there.n_knn == here.n_knn
    assert there.table["loss"].nunique() > 10  # the losses differ across (d, k): the comparison means something


def _remote_table(address, n=600):
    from cellwak.tl._dewak_dask import RemoteLossTable

    X = _mixture(n)
    embedding = np.linalg.svd(X - X.mean(0), full_matrices=False)[0][:, :6].astype(np.float32)
    return RemoteLossTable(address, X, embedding, 20, knn_method="exact")


@pytest.mark.slow  # a LocalCluster starts two Python processes
def test_each_d_runs_only_on_its_worker_even_when_the_other_is_idle(dask_cluster):
    """Work stealing would move a queued d to the idle worker, which searches its neighbours
    again: the restriction is strict, so 16 requests at one d make one search."""
    table = _remote_table(dask_cluster, n=3000)
    try:
        since = _stream_index(dask_cluster)
        table.evaluate_many([(4, [k]) for k in range(5, 21)])
        ran = _workers_that_ran(dask_cluster, "_evaluate", since)
        assert ran == {table.placed[4]} and table.n_knn == 1
    finally:
        table.close()


@pytest.mark.slow  # a LocalCluster starts two Python processes
def test_a_d_whose_worker_left_is_placed_again(dask_cluster, monkeypatch):
    """Between calls (the next call places d on a live worker and searches again) and while the
    evaluation waits (a worker that is gone never runs it: it is resubmitted, not waited on)."""
    import cellwak.tl._dewak_dask as dd

    table = _remote_table(dask_cluster)
    try:
        live = table._live_workers()
        first = table.losses(3, [5])
        gone = table.placed[3]
        monkeypatch.setattr(table, "_live_workers", lambda: [w for w in live if w != gone])
        np.testing.assert_array_equal(table.losses(3, [5, 10])[:1], first)
        assert table.placed[3] != gone and table.n_knn == 2
        # a placement that is stale once submitted: a worker that is not there
        monkeypatch.setattr(dd, "POLL_SECONDS", 0.2)
        answers = iter([["tcp://127.0.0.1:9"] + live])
        monkeypatch.setattr(table, "_live_workers", lambda: next(answers, live))
        table.placed[5] = "tcp://127.0.0.1:9"
        assert np.isfinite(table.losses(5, [5])).all() and table.placed[5] in live
    finally:
        table.close()


@pytest.mark.slow  # a LocalCluster starts two Python processes
def test_dewak_command_with_a_scheduler_chooses_the_same_d_and_k(cli, home, table_csv, dask_cluster, monkeypatch):
    assert cli("data", "add", table_csv, "--name", "cells", "--id", "cell", "--label", "type").code == 0
    here = cli("--json", "dewak", "-d", "cells", "--k-max", "20", "--search", "grid").json()
    there = cli("--json", "dewak", "-d", "cells", "--k-max", "20", "--search", "grid", "--scheduler", dask_cluster).json()
    assert there["params"]["scheduler"] == dask_cluster and there["params"]["dask_workers"] == 2
    assert (there["d"], there["k"], there["loss"], there["best"]) == (here["d"], here["k"], here["loss"], here["best"])
    monkeypatch.setenv("CELLWAK_DASK_SCHEDULER", dask_cluster)
    by_env = cli("--json", "dewak", "-d", "cells", "--k-max", "20", "--search", "grid").json()
    assert by_env["params"]["scheduler"] == dask_cluster and (by_env["d"], by_env["k"]) == (here["d"], here["k"])


# -- kNN queries in shards ----------------------------------------------------------------------
@pytest.mark.slow  # a LocalCluster starts two Python processes
@pytest.mark.parametrize("method, prefix", [("exact", "_exact_shard"), ("kdtree", "_tree_shard"),
                                            ("ivf", "_ivf_shard"), ("hnsw", "_hnsw_shard")])
def test_knn_queries_in_shards_on_two_workers_give_the_same_lists(dask_cluster, method, prefix):
    from cellwak.graph.knn import neighbors
    from cellwak.graph.sharded import shard_bounds

    X = _mixture(12_000, dim=8)
    options = {"build_threads": 1} if method == "hnsw" else {}  # one build thread: the same index twice
    here = neighbors(X, 15, method=method, **options)
    since = _stream_index(dask_cluster)
    there = neighbors(X, 15, method=method, scheduler=dask_cluster, **options)
    assert len(shard_bounds(len(X), 2)) > 2
    assert len(_workers_that_ran(dask_cluster, prefix, since)) == 2  # the queries ran on both workers
    np.testing.assert_array_equal(there.indices, here.indices)
    np.testing.assert_array_equal(there.distances, here.distances)
    assert (there.method, there.recall, there.repaired) == (here.method, here.recall, here.repaired)


@pytest.mark.slow  # a LocalCluster starts two Python processes
def test_the_auto_choice_is_told_the_workers_threads(dask_cluster, monkeypatch):
    import cellwak.graph.choose as choose_mod
    from cellwak.graph.knn import exact_knn, neighbors, recall

    monkeypatch.setattr(choose_mod, "EXACT_MAX_CPU", 1000)
    X = _mixture(6_000, dim=8)
    knn = neighbors(X, 15, scheduler=dask_cluster, threads=1)
    assert "in shards on 2 Dask worker threads" in knn.choice["queries"]  # 1 thread here, 2 there: x 0.5
    assert "x 0.5 " in knn.choice["queries"]
    assert knn.method in ("kdtree", "ivf", "hnsw") and recall(knn, exact_knn(X, 15)) >= 0.95


@pytest.mark.slow  # a LocalCluster starts two Python processes
def test_cluster_at_one_gamma_with_a_scheduler_gives_the_same_labels(cli, home, dask_cluster):
    import anndata as ad

    from cellwak.api._common import open_workspace

    path = home.parent / "mix.h5ad"
    ad.AnnData(_mixture(3000)).write_h5ad(path)
    assert cli("data", "add", path, "--name", "mix").code == 0, "dataset not added"
    here = cli("--json", "cluster", "-d", "mix", "--gamma", "1.0", "--knn", "kdtree").json()
    since = _stream_index(dask_cluster)
    there = cli("--json", "cluster", "-d", "mix", "--gamma", "1.0", "--knn", "kdtree", "--scheduler", dask_cluster).json()
    assert _workers_that_ran(dask_cluster, "_tree_shard", since)
    assert there["params"]["scheduler"] == dask_cluster and there["n_clusters"] == here["n_clusters"] > 1
    ws = open_workspace(home)
    np.testing.assert_array_equal(ws.clustering_labels(there["clustering_id"]), ws.clustering_labels(here["clustering_id"]))


# -- refusals (no cluster needed) ---------------------------------------------------------------
@pytest.mark.parametrize("args", [["dewak", "--k-max", "10"], ["cluster", "--gamma", "1.0"]])
@pytest.mark.parametrize("address, message", [
    ("tcp://127.0.0.1:9", "no Dask scheduler answers at tcp://127.0.0.1:9"),
    ("127.0.0.1:8786", "is not a Dask scheduler address"),
])
def test_an_unusable_scheduler_is_refused_before_any_work(populated, home, cli, args, address, message, monkeypatch):
    monkeypatch.setattr("cellwak.tl._distributed.CONNECT_TIMEOUT", "1s")
    r = cli(args[0], "--dataset", "cells", *args[1:], "--scheduler", address)
    assert r.code == 2 and message in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    assert snapshot(home) == populated
