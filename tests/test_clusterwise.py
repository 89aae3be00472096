"""The clusterwise floor of the label-free rule (``stable-clusters``): Hennig's Jaccard per cluster,
the floor among the passing resolutions, its bootstrap, its evidence, and digits end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cellwak.tl import _resolution as res
from cellwak.tl._clusterwise import cluster_jaccard, lowest


def test_jaccard_is_one_for_a_relabelled_partition_and_a_half_for_a_split_cluster():
    full = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    cells = np.arange(8)
    np.testing.assert_allclose(cluster_jaccard(full, cells, np.array([5, 5, 5, 5, 2, 2, 2, 2])), [1, 1])
    # cluster 0 split in two halves: its best match holds 2 of its 4 cells -> 2 / 4; cluster 1 kept
    np.testing.assert_allclose(cluster_jaccard(full, cells, np.array([0, 0, 1, 1, 2, 2, 2, 2])), [0.5, 1])
    # clusters 0 and 1 merged: each is half of the merged cluster
    np.testing.assert_allclose(cluster_jaccard(full, cells, np.zeros(8, int)), [0.5, 0.5])
    # only 3 cells of cluster 1 drawn: cluster 0 is not found at all; cluster 1 is judged on its drawn
    # cells only (Hennig), all in one subsample cluster
    np.testing.assert_allclose(cluster_jaccard(full, np.array([4, 5, 6]), np.array([0, 0, 0])), [0, 1])
    np.testing.assert_allclose(cluster_jaccard(full, np.array([3, 4, 5, 6]), np.array([0, 0, 0, 0])), [0.25, 0.75])
    with pytest.raises(ValueError, match="subsample labels"):
        cluster_jaccard(full, cells, np.zeros(3, int))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000))
def test_jaccard_matches_its_definition_on_random_partitions(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 80))
    full = np.unique(rng.integers(0, int(rng.integers(1, 6)), n), return_inverse=True)[1]
    cells = np.sort(rng.choice(n, int(rng.integers(1, n + 1)), replace=False))
    sub = rng.integers(0, int(rng.integers(1, 5)), len(cells))
    got = cluster_jaccard(full, cells, sub)
    for c in range(full.max() + 1):
        mine = set(cells[full[cells] == c])
        best = max((len(mine & set(cells[sub == d])) / len(mine | set(cells[sub == d])) for d in np.unique(sub)),
                   default=0.0) if mine else 0.0
        assert got[c] == pytest.approx(best)


def test_lowest_ignores_clusters_under_one_percent_and_is_nan_without_subsamples():
    j = np.array([[0.9, 0.8, 0.1], [0.7, 0.8, 0.3]])          # 2 subsamples x 3 clusters
    assert lowest(j, [500, 480, 4]) == pytest.approx(0.8)       # the 4-cell cluster (0.4%) is left out
    assert lowest(j, [500, 480, 20]) == pytest.approx(0.2)      # at 2% it counts
    assert np.isnan(lowest([], [10, 10]))


def _table(stability, clusters, jaccard=None):
    t = pd.DataFrame({"gamma": res.lattice(0, len(stability) - 1), "n_clusters": clusters, "stability": stability,
                      "stability_sd": 0.01, "stability_n": 5})
    if jaccard is not None:
        t["cluster_jaccard"] = jaccard
    return t


S = [0.70, 0.95, 0.96, 0.94, 0.93, 0.92, 0.91, 0.60]   # threshold 0.875 x 0.95: rows 1-6 pass
K = [1, 4, 8, 10, 12, 16, 21, 30]


def test_the_floor_trims_tiles_from_the_end_of_the_passing_range():
    """The stability test passes up to 21 clusters; from 12 on a cluster is found again under 0.6:
    the finest passing resolution whose clusters all reach the floor (10 clusters) is chosen."""
    d = res.apply_rule(_table(S, K, [1.0, 0.9, 0.85, 0.7, 0.45, 0.4, 0.3, 0.2]), res.AUTO_RULE)
    assert d.plateau_end == 6 and d.index == 3
    assert d.runner_up == 4                                  # the next finer: passes, but under the floor
    assert res.apply_rule(_table(S, K), res.AUTO_RULE).index == 6        # no Jaccards (an old table): no floor
    assert res.apply_rule(_table(S, K, [1.0] * 8), res.PLATEAU_RULE).index == 6


def test_the_floor_never_leaves_the_passing_range():
    """A failing resolution with perfect clusters is not taken; with no passing resolution at the
    floor, the passing one whose least reproducible cluster is best is kept."""
    d = res.apply_rule(_table(S, K, [1.0, 0.5, 0.55, 0.5, 0.58, 0.4, 0.3, 1.0]), res.AUTO_RULE)
    assert d.index == 4                                      # 0.58: the best of the passing rows 1-6
    assert res.apply_rule(_table(S, K, [1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.9]), res.AUTO_RULE).index == 1


def test_rule_names_old_and_new_are_label_free():
    assert res.AUTO_RULE.name == "stable-clusters-5" and res.PLATEAU_RULE.name == "plateau-end"
    assert res.STABLE_CLUSTERS_2.name == "stable-clusters"  # the rule of 2026-12-02, named in older records
    assert {res.AUTO_RULE.name, res.STABLE_CLUSTERS_2.name, res.PLATEAU_RULE.name} <= set(res.LABEL_FREE_RULES)
    assert set(res.FLOOR_RULES) == {res.AUTO_RULE.name, res.STABLE_CLUSTERS_2.name}
    assert res.AUTO_RULE.cluster_floor == res.CLUSTER_FLOOR == 0.6


def test_bootstrap_resamples_the_jaccards_with_the_scores():
    scores = [[x] * 5 for x in S]
    sizes = [100, 100]

    def jac(*per_sub):
        return (np.array([[v, 1.0] for v in per_sub]), sizes)

    firm = [jac(1, 1, 1, 1, 1)] * 4 + [jac(0.3, 0.3, 0.3, 0.3, 0.3)] * 4
    assert res.agreement(scores, np.array(K), res.AUTO_RULE, 10, jaccards=firm) == 1.0
    # the 12-cluster level reaches the floor on the mean (0.604) but not on most resamples
    shaky = firm[:4] + [jac(0.7, 0.7, 0.5, 0.5, 0.62)] + firm[5:]
    t = _table(S, K, [lowest(j, s) for j, s in shaky])
    assert K[res.apply_rule(t, res.AUTO_RULE).index] == 12
    share = res.agreement(scores, np.array(K), res.AUTO_RULE, 12, jaccards=shaky)
    assert 0.3 < share < 0.75   # the scores alone are firm: ignoring the Jaccards would give 1.0


def test_the_reason_says_the_finest_passing_resolution_once_when_it_is_the_next_finer():
    t = _table(S, K, [1.0, 0.9, 0.85, 0.7, 0.65, 0.62, 0.3, 0.2])   # the floor stops one short of the end
    d = res.apply_rule(t, res.AUTO_RULE)
    assert (d.index, d.plateau_end, d.runner_up) == (5, 6, 6)
    why = res._explain(t, d, res.AUTO_RULE, 0, 0.9)
    assert why.count("(21 clusters)") == 1 and "only 0.300 (tiles, not groups); it is the next finer, at 0.910" in why


def test_the_reason_names_the_trimmed_tiles_and_json_carries_the_jaccards():
    t = _table(S, K, [1.0, 0.9, 0.85, 0.7, 0.45, 0.4, 0.3, 0.2])
    d = res.apply_rule(t, res.AUTO_RULE)
    why = res._explain(t, d, res.AUTO_RULE, 0, 0.9)
    assert "Jaccard of 0.6 or more (here the least: 0.700)" in why
    assert "up to gamma" in why and "(21 clusters)" in why and "only 0.300 (tiles, not groups)" in why
    assert "passes, but its least reproducible cluster has 0.450" in why
    t["passed"] = d.passed
    sel = res.Selection(table=t, chosen=float(t["gamma"].iloc[d.index]), runner_up=float(t["gamma"].iloc[4]),
                        labels={}, threshold=d.threshold, reference=d.reference, confidence="high", reason=why,
                        warnings=[], extended=[], rule=res.AUTO_RULE.name,
                        plateau_end=float(t["gamma"].iloc[d.plateau_end]))
    ev = json.loads(json.dumps(sel.evidence()))
    assert ev["chosen"]["cluster_jaccard"] == 0.7 and ev["plateau_end"]["n_clusters"] == 21
    assert [r["cluster_jaccard"] for r in ev["resolutions"]][:3] == [1.0, 0.9, 0.85]


def test_digits_are_not_tiled_into_twenty_clusters():
    """scikit-learn's bundled digits (1,797 real handwritten digits), CLI defaults, seed 0: the
    stability test alone passes up to 21 clusters (ARI 0.63); the floor chooses about ten (11 here)."""
    import cellwak as cw
    import anndata as ad
    from sklearn.datasets import load_digits
    from sklearn.metrics import adjusted_rand_score

    X, y = load_digits(return_X_y=True)
    adata = ad.AnnData(X=X.astype(np.float32))
    cw.pp.neighbors(adata, n_neighbors=15, random_state=0)
    cw.tl.leiden(adata, resolution="auto", random_state=0)
    labels = adata.obs["cellwak_leiden"].astype(int).to_numpy()
    ev = json.loads(adata.uns["cellwak"]["leiden"]["params"]["evidence_json"])
    assert ev["plateau_end"]["n_clusters"] >= 18
    assert 9 <= labels.max() + 1 <= 13 and adjusted_rand_score(y, labels) > 0.78
    assert ev["chosen"]["cluster_jaccard"] >= res.CLUSTER_FLOOR
