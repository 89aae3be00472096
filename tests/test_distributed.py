"""A sweep's Leiden runs on a Dask cluster: a LocalCluster of 2 worker processes gives the labels
the single-process path gives; a scheduler that cannot be used is refused before any work."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import snapshot

distributed = pytest.importorskip("distributed", reason="dask[distributed] is a dev dependency")


@pytest.fixture(scope="module")
def dask_cluster():
    """Two worker processes, one thread each (as `dask worker` would run on two machines)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        yield lc.scheduler_address


def _mixture(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 8)) + rng.integers(0, 5, size=(n, 1)) * 4).astype(np.float32)


@pytest.mark.slow  # a LocalCluster starts two Python processes
def test_run_many_on_two_workers_equals_the_local_runs(dask_cluster):
    from cellwak.graph import exact_knn
    from cellwak.graph.build import build_graph, knn_graph
    from cellwak.tl._distributed import scheduler
    from cellwak.tl._parallel_leiden import run_many

    knn = exact_knn(_mixture(), 10)
    graphs = {"binary": knn_graph(knn), "weighted": build_graph(knn, weights="umap")}
    tasks = [(gid, gamma, seed, -1) for gid in graphs for gamma in (0.3, 1.0, 2.5) for seed in (0, 1)]
    local = run_many(graphs, tasks, n_jobs=1)
    with scheduler(dask_cluster):
        remote = run_many(graphs, tasks)
    assert len(remote) == len(tasks)
    for a, b in zip(local, remote):
        np.testing.assert_array_equal(a, b)
    assert len({int(r.max()) for r in remote}) > 1  # the resolutions differ: the comparison means something


@pytest.mark.slow  # a LocalCluster starts two Python processes
def test_cluster_auto_with_a_scheduler_gives_the_same_choice_and_labels(home, cli, table_csv, dask_cluster):
    from cellwak import api

    assert cli("data", "add", table_csv, "--name", "cells", "--id", "cell", "--label", "type").code == 0
    here = api.cluster(home, "cells", api.ClusterConfig(gamma="auto", k=10, jobs=1))
    r = cli("--json", "cluster", "--dataset", "cells", "--gamma", "auto", "--k", "10", "--scheduler", dask_cluster)
    assert r.code == 0, r.err
    there = json.loads(r.out)
    assert there["gamma"] == here.gamma and there["n_clusters"] == here.n_clusters
    assert there["params"]["scheduler"] == dask_cluster and there["params"]["dask_workers"] == 2
    from cellwak.api._common import open_workspace

    ws = open_workspace(home)
    np.testing.assert_array_equal(ws.clustering_labels(there["clustering_id"]), ws.clustering_labels(here.clustering_id))


@pytest.mark.slow  # a LocalCluster starts two Python processes
def test_the_environment_variable_names_the_scheduler(home, cli, table_csv, dask_cluster, monkeypatch):
    assert cli("data", "add", table_csv, "--name", "cells", "--id", "cell", "--label", "type").code == 0
    monkeypatch.setenv("CELLWAK_DASK_SCHEDULER", dask_cluster)
    r = cli("--json", "sweep", "--dataset", "cells", "--k", "10", "--gamma", "0.2,1,3")
    assert r.code == 0, r.err
    assert json.loads(r.out)["params"]["scheduler"] == dask_cluster


@pytest.mark.parametrize("address, message", [
    ("tcp://127.0.0.1:9", "no Dask scheduler answers at tcp://127.0.0.1:9"),
    ("localhost:8786", "is not a Dask scheduler address"),
])
def test_an_unusable_scheduler_is_refused_before_any_work(populated, home, cli, address, message, monkeypatch):
    monkeypatch.setattr("cellwak.tl._distributed.CONNECT_TIMEOUT", "1s")  # the default waits 10 s for a far scheduler
    r = cli("cluster", "--dataset", "cells", "--gamma", "auto", "--scheduler", address)
    assert r.code == 2 and message in r.err
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    assert snapshot(home) == populated


def test_without_dask_the_refusal_says_how_to_install_it(populated, home, cli, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_distributed(name, *args, **kwargs):
        if name == "distributed" or name.startswith("distributed."):
            raise ImportError("No module named 'distributed'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_distributed)
    r = cli("sweep", "--dataset", "cells", "--scheduler", "tcp://127.0.0.1:8786")
    assert r.code == 2 and "pip install 'cellwak[dask]'" in r.err
    assert snapshot(home) == populated
