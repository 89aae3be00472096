"""Enrichment of obs values per cluster (cellwak.tl._enrich, api.enrich, `cellwak enrich`):
hypergeometric p-values, log2 odds ratios and BH FDR checked against scipy on hand-made data."""

from __future__ import annotations

import io

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control, fisher_exact, hypergeom

import cellwak as cw
from cellwak import api
from cellwak.errors import InputError
from cellwak.tl._enrich import bh_fdr, enrichment_table, log2_odds_ratio

from conftest import snapshot

# 3 clusters x 3 conditions, 30 cells: cluster 0 is mostly A, cluster 2 holds no A at all
GROUPS = ["0"] * 10 + ["1"] * 12 + ["2"] * 8
VALUES = (["A"] * 8 + ["B"] * 2) + (["B"] * 6 + ["C"] * 5 + ["A"] * 1) + (["C"] * 7 + ["B"] * 1)


def test_table_matches_scipy_hypergeometric_and_fisher():
    t = enrichment_table(GROUPS, VALUES)
    assert len(t) == 9 and list(t["cluster"].unique()) == ["0", "1", "2"]
    N = len(VALUES)
    for r in t.itertuples():
        k = sum(g == r.cluster and v == r.value for g, v in zip(GROUPS, VALUES))
        n, K = GROUPS.count(r.cluster), VALUES.count(r.value)
        assert (r.count, r.cluster_size, r.value_size, r.n) == (k, n, K, N)
        assert r.pvalue == pytest.approx(hypergeom.sf(k - 1, N, K, n), rel=1e-12)
        table = [[k, n - k], [K - k, N - n - K + k]]
        assert r.pvalue == pytest.approx(fisher_exact(table, alternative="greater").pvalue, rel=1e-9)
        assert r.expected == pytest.approx(n * K / N)
        cells = np.array(table, dtype=float)
        if (cells == 0).any():
            cells += 0.5
        assert r.log2_odds_ratio == pytest.approx(np.log2(cells[0, 0] * cells[1, 1] / (cells[0, 1] * cells[1, 0])))
    assert np.allclose(t["fdr"], false_discovery_control(t["pvalue"], method="bh"))
    top = t.sort_values("pvalue").iloc[0]
    assert (top["cluster"], top["value"], top["count"]) == ("0", "A", 8)
    zero = t[(t["cluster"] == "2") & (t["value"] == "A")].iloc[0]  # a 0 cell: corrected, finite
    assert zero["count"] == 0 and np.isfinite(zero["log2_odds_ratio"]) and zero["log2_odds_ratio"] < 0


def test_bh_matches_scipy_with_ties_and_keeps_nan():
    rng = np.random.default_rng(0)
    p = np.round(rng.uniform(size=200) ** 3, 3)  # many ties
    assert np.allclose(bh_fdr(p), false_discovery_control(p, method="bh"))
    q = bh_fdr([0.01, np.nan, 0.04, 0.03])
    assert np.isnan(q[1]) and np.allclose(q[[0, 2, 3]], false_discovery_control([0.01, 0.04, 0.03]))
    assert bh_fdr([]).size == 0


def test_log2_odds_ratio_without_zero_cells_has_no_correction():
    assert log2_odds_ratio(4, 6, 8, 20) == pytest.approx(np.log2((4 * 10) / (2 * 4)))


def _adata():
    a = ad.AnnData(np.zeros((len(VALUES), 2), dtype=np.float32))
    a.obs_names = [f"c{i}" for i in range(len(VALUES))]
    a.obs["condition"] = VALUES
    a.obs["cellwak_leiden"] = pd.Categorical(GROUPS)
    a.obs["one"] = "x"
    return a


def test_in_memory_tool_is_scanpy_shaped():
    a = _adata()
    a.obs.loc["c0", "condition"] = np.nan  # a cell without a value is left out
    out = cw.tl.enrich(a, "condition", copy=True)
    assert "cellwak_enrichment" not in a.uns and out is not None
    table = cw.tl.enrichment(out)
    assert table["n"].iloc[0] == len(VALUES) - 1
    assert out.uns["cellwak_enrichment"]["params"]["by"] == "condition"
    assert cw.tl.enrich(a, "condition", key_added="mine") is None and "mine" in a.uns
    with pytest.raises(InputError, match="no obs column 'nope'"):
        cw.tl.enrich(a, "nope")
    with pytest.raises(InputError, match="holds one value"):
        cw.tl.enrich(a, "one")
    with pytest.raises(InputError, match="no clustering"):
        cw.tl.enrich(a, "condition", groupby="missing")


@pytest.fixture
def clustered(cli, table_csv):
    """The 3-group table with a second, clustered dataset beside it."""
    assert cli("data", "add", table_csv, "--name", "cells", "--label", "type", "--batch", "plate").code == 0
    r = cli("cluster", "-d", "cells", "--json")
    assert r.code == 0, r.err
    return r.json()["clustering_id"]


def test_cli_and_api_enrich_a_recorded_clustering(cli, home, clustered):
    r = cli("enrich", "-d", "cells", "--by", "type", "--json")
    assert r.code == 0, r.err
    out = r.json()  # strict JSON, one line
    assert out["clustering_id"] == clustered and out["n_clusters"] == 3 and out["n_values"] == 3
    assert out["n_tests"] == 9 == len(out["table"]) and out["n_significant"] == 3
    assert all(len(c["enriched"]) == 1 and c["enriched"][0]["count"] == 30 for c in out["clusters"])
    stored = cw.Workspace(home).load("cells").uns["cellwak_enrichment"]
    assert stored["params"]["clustering_id"] == clustered and len(stored["table"]["pvalue"]) == 9

    again = api.enrich(home, "cells", api.EnrichConfig(by="plate", clustering=clustered))
    assert again.n_significant == 0 and again.by == "plate"  # plates are spread over the clusters

    text = cli("enrich", "-d", "cells", "--by", "type", "--fdr", "0.01")
    assert text.code == 0 and "3 enriched pairs (cluster, value) at FDR <= 0.01" in text.out


def test_render_fits_80_columns():
    from rich.console import Console

    from cellwak.cli.enrich import render

    enriched = [{"value": f"a_rather_long_condition_name_{i}", "count": 120, "value_size": 174, "expected": 20.0,
                 "fold": 6.0, "log2_odds_ratio": 3.2, "pvalue": 1e-30, "fdr": 1e-28} for i in range(9)]
    out = {"dataset": "embryo", "clustering_id": 12, "n_clusters": 2, "n_cells": 1831, "by": "Condition",
           "n_values": 27, "n_significant": 9, "fdr": 0.05,
           "clusters": [{"cluster": "0", "cells": 1200, "enriched": enriched}, {"cluster": "1", "cells": 631, "enriched": []}]}
    buf = io.StringIO()
    render(Console(file=buf, width=80), out)
    lines = buf.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80 and "and 3 more" in buf.getvalue()


def test_bad_input_is_one_line_and_changes_nothing(cli, home, clustered):
    before = snapshot(home)
    for args, words in [(["--by", "nope"], "no obs column 'nope'"), (["--by", "plate", "--fdr", "0"], "--fdr must be above 0"),
                        (["--by", "type", "--clustering", "999"], "no clustering #999"), ([], "Missing option '--by'")]:
        r = cli("enrich", "-d", "cells", *args)
        assert r.code == 2 and words in r.err and len(r.err.strip().splitlines()) == 1, (args, r.err)
    assert snapshot(home) == before


def test_clustering_of_another_dataset_and_single_valued_column(cli, home, clustered, table_csv):
    assert cli("data", "add", table_csv, "--name", "other", "--label", "type").code == 0
    before = snapshot(home)
    r = cli("enrich", "-d", "other", "--by", "type", "--clustering", clustered)
    assert r.code == 2 and "belongs to dataset 'cells'" in r.err
    r = cli("enrich", "-d", "other", "--by", "type")
    assert r.code == 2 and "has no clustering yet" in r.err
    assert snapshot(home) == before


def test_single_valued_column_is_refused(home, clustered):
    from cellwak.api._common import editing

    with editing(cw.Workspace(home), "cells") as adata:  # give the dataset a constant column
        adata.obs["same"] = "x"
    before = snapshot(home)
    with pytest.raises(InputError, match="holds one value"):
        api.enrich(home, "cells", api.EnrichConfig(by="same"))
    assert snapshot(home) == before
