"""Dashboard, clusters screen: re-cluster at a new gamma and at auto in a worker, the cluster
table, a cluster's markers (the same as `clusters show`), crops and enrichment, the sweep chart."""

from __future__ import annotations

import pytest
from cellwak_tui.app import CellwakApp

from cellwak import api
from tests.tui.conftest import pilot, rows, text_of, until

pytestmark = pytest.mark.slow  # re-clustering through the screen: about 30 s for the file


def _latest(home):
    return api.list_clusterings(home, "blood").clusterings[-1]


@pilot
async def test_recluster_at_a_new_gamma_records_it_and_fills_the_table(blood_home, monkeypatch):
    from cellwak_tui.screens import clusters

    monkeypatch.setattr(clusters, "CHILD_PROCESS_CELLS", 1000)  # blood's 2,400 cells go to a child process
    app = CellwakApp(str(blood_home), dataset="blood", mode="clusters")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: rows(app, "#cluster-table"), what="the first clustering's table")
        first = _latest(blood_home)
        assert len(rows(app, "#cluster-table")) == first["n_clusters"]
        app.screen.query_one("#cl-gamma").value = "0.3"
        await pilot.click("#cl-run")
        await until(pilot, lambda: _latest(blood_home)["id"] != first["id"], what="the new clustering")
        new = _latest(blood_home)
        assert new["gamma"] == 0.3 and new["method"] == "leiden"
        await until(pilot, lambda: str(app.screen.query_one("#cl-clustering").value) == str(new["id"])
                    and len(rows(app, "#cluster-table")) == new["n_clusters"], what="the table of the new one")
        assert new["n_clusters"] < first["n_clusters"]  # a lower resolution: fewer clusters
        status = text_of(app, "#cl-status")
        assert f"#{new['id']}" in status and "gamma 0.3" in status
        params = api.show_clustering(blood_home, new["id"])["params"]  # which kNN search built the graph
        assert params["knn"] and f"kNN {params['knn']}" in status
        assert ("recall" in status) == (params["knn"] != "exact" and params.get("knn_recall") is not None)


@pilot
async def test_auto_chooses_a_gamma_and_draws_the_sweep(home, table_csv):
    api.add_dataset(home, table_csv, name="cells", options=api.ReadOptions(label="type", id="cell"))
    app = CellwakApp(str(home), dataset="cells", mode="clusters")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: "no clustering yet" in text_of(app, "#cl-status"), what="the empty dataset")
        await pilot.press("a")
        await until(pilot, lambda: api.list_clusterings(home, "cells").clusterings, timeout=60, what="auto")
        chosen = [c for c in api.list_clusterings(home, "cells").clusterings if c["method"] == "leiden"][-1]
        await until(pilot, lambda: f"#{chosen['id']} leiden" in text_of(app, "#cl-status")
                    and "resolutions" in text_of(app, "#sweep-info"), what="the chosen clustering and its sweep")
        status = text_of(app, "#cl-status")
        record = api.show_clustering(home, chosen["id"])
        assert f"({record['params']['gamma_rule']})" in status and f"{chosen['n_clusters']} clusters" in status
        profile = api.sweep_profile(home, "cells", chosen["id"])
        assert profile["chosen_gamma"] == chosen["gamma"] and len(profile["rows"]) > 5
        assert f"chosen gamma {chosen['gamma']:.3g}" in text_of(app, "#sweep-info")
        evidence = record["params"]["evidence"]  # why it won, as the CLI prints it
        assert f"why: {evidence['reason'][:40]}" in " ".join(text_of(app, "#sweep-info").split())
        # the coarser reproducible partition, exactly when the evidence names one
        assert ("also reproducible: " in text_of(app, "#sweep-info")) == (evidence.get("also") is not None)
        # the chart's crosses and line, named under it (they have no legend entry)
        assert f"level dotted line: its threshold {profile['threshold']:.3f}" in text_of(app, "#sweep-info")
        failing = any(r["passed"] is False for r in profile["rows"])
        assert ("x: fails the stability test" in text_of(app, "#sweep-info")) == failing
        assert f"confidence {evidence['confidence']}" in status
        assert len(rows(app, "#cluster-table")) == chosen["n_clusters"]
        await pilot.press("s")
        await until(pilot, lambda: app.screen.query_one("#cl-tabs").active == "tab-sweep", timeout=3,
                    what="the sweep tab")


@pilot
async def test_opening_a_cluster_shows_its_markers_crops_and_enrichment(blood_home):
    clustering = _latest(blood_home)
    summary = api.show_clustering(blood_home, clustering["id"])
    app = CellwakApp(str(blood_home), dataset="blood", mode="clusters")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: len(rows(app, "#cluster-table")) > 2, what="the table")
        await pilot.press("down")  # the second-largest cluster
        k = int(rows(app, "#cluster-table")[1][0])
        expected = next(c for c in summary["clusters"] if c["cluster"] == k)
        await until(pilot, lambda: f"cluster {k} " in text_of(app, "#cluster-info"), what="the cluster's detail")
        info = text_of(app, "#cluster-info")
        for m in expected["markers"]:
            assert m["name"][:16] in info
        assert expected["majority"]["label"] in info
        await until(pilot, lambda: f"crops of cluster {k}" in text_of(app, "#cluster-crops .crop-caption"),
                    what="the cluster's crops")
        assert f"of {expected['size']:,} crops" in text_of(app, "#cluster-crops .crop-caption")
        app.screen.query_one("#enrich-by").value = "label"
        await until(pilot, lambda: rows(app, "#enrich-table"), timeout=30, what="the enrichment")
        top = rows(app, "#enrich-table")[0]
        assert top[0] == expected["majority"]["label"]  # the majority label is the most enriched value


@pilot
async def test_a_bad_gamma_is_refused_on_the_screen_and_nothing_is_recorded(blood_home):
    before = [c["id"] for c in api.list_clusterings(blood_home).clusterings]
    app = CellwakApp(str(blood_home), dataset="blood", mode="clusters")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: rows(app, "#cluster-table"), what="the table")
        app.screen.query_one("#cl-gamma").value = "-1"
        await pilot.click("#cl-run")
        await until(pilot, lambda: "gamma" in text_of(app, "#cl-status") and "must" in text_of(app, "#cl-status"),
                    what="the refusal")
        app.screen.query_one("#cl-gamma").value = "high"
        await pilot.click("#cl-run")
        assert "gamma must be a number or auto" in text_of(app, "#cl-status")
    assert [c["id"] for c in api.list_clusterings(blood_home).clusterings] == before


@pilot
async def test_the_figure_key_writes_the_r_figure_of_the_view_shown(blood_home, tmp_path, monkeypatch):
    from cellwak.backends.r import figure_available

    why = figure_available()
    if why is not None:
        pytest.skip(why)
    monkeypatch.chdir(tmp_path)
    clustering = _latest(blood_home)
    app = CellwakApp(str(blood_home), dataset="blood", mode="clusters")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: rows(app, "#cluster-table"), what="the table")
        await pilot.press("p")
        await until(pilot, lambda: "figure written" in text_of(app, "#cl-status"), timeout=120, what="the figure")
        path = tmp_path / "cellwak-figures" / f"blood-heatmap-{clustering['id']}.png"
        assert str(path) in text_of(app, "#cl-status")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000


@pilot
async def test_a_clusterings_warnings_are_shown_when_it_is_done(home, table_csv, monkeypatch):
    from cellwak.tl import _leiden

    warning = "the hnsw neighbour search found only 0.80 of each cell's 15 nearest neighbours"
    monkeypatch.setattr(_leiden, "recall_warnings", lambda ctx: [warning])  # carried by the real API path
    api.add_dataset(home, table_csv, name="cells", options=api.ReadOptions(label="type", id="cell"))
    app = CellwakApp(str(home), dataset="cells", mode="clusters")
    shown: list[tuple[str, str]] = []
    original = app.notify

    def notify(message, *args, **kwargs):
        shown.append((str(message), kwargs.get("severity", "information")))
        return original(message, *args, **kwargs)

    app.notify = notify
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: "no clustering yet" in text_of(app, "#cl-status"), what="the empty dataset")
        app.screen.query_one("#cl-gamma").value = "1.0"
        await pilot.click("#cl-run")
        await until(pilot, lambda: any(sev == "warning" for _, sev in shown), timeout=60, what="the warning")
        assert (warning, "warning") in shown
        assert api.list_clusterings(home, "cells").clusterings  # recorded, with its warning shown


@pilot
async def test_auto_above_the_subset_size_shows_the_full_graph_verdict(home, table_csv, monkeypatch):
    import importlib

    sweep_module = importlib.import_module("cellwak.tl.sweep")  # the module (cw.tl.sweep is the function)
    monkeypatch.setattr(sweep_module, "STABILITY_CELLS", 60)  # 90 cells take the large-data path
    api.add_dataset(home, table_csv, name="cells", options=api.ReadOptions(label="type", id="cell"))
    app = CellwakApp(str(home), dataset="cells", mode="clusters")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: "no clustering yet" in text_of(app, "#cl-status"), what="the empty dataset")
        await pilot.press("a")
        await until(pilot, lambda: "resolutions" in text_of(app, "#sweep-info"), timeout=60, what="auto and its sweep")
        chosen = [c for c in api.list_clusterings(home, "cells").clusterings if c["method"] == "leiden"][-1]
        full = api.show_clustering(home, chosen["id"])["params"]["evidence"]["chosen"]["full_graph"]
        info = " ".join(text_of(app, "#sweep-info").split())
        assert "the points above are a subset graph's (ARI: the full graph's partitions); on the full graph (90 cells)" in info
        # the chart draws the subset graph's evidence at every resolution, not only the one partitioned on the full graph
        evidence = api.show_clustering(home, chosen["id"])["params"]["evidence"]
        profile = api.sweep_profile(home, "cells", chosen["id"])
        assert [r["gamma"] for r in profile["rows"]] == [e["gamma"] for e in evidence["resolutions"]]
        assert [r["n_clusters"] for r in profile["rows"]] == [e["n_clusters"] for e in evidence["resolutions"]]
        assert f"{len(evidence['resolutions'])} resolutions from" in info and len(evidence["resolutions"]) >= 30
        recorded = [r for r in profile["rows"] if r["clustering_id"] is not None]
        assert recorded and all(r["ari"] is not None for r in recorded) and profile["chosen_gamma"] == chosen["gamma"]
        assert f"least reproducible cluster {full['cluster_jaccard']:.3f}: " in info
        assert ("not confirmed" in info) == (not full["passed"])
