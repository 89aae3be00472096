"""Per-label classifiers (tl/classify.py, `cellwak classify`): label parsing, both F1 figures,
predictions written back, and bad input refused without a trace."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import snapshot

from cellwak.errors import InputError
from cellwak.store import Workspace
from cellwak.metrics.multilabel import label_sets
from cellwak.tl.classify import per_label_classifiers


def multilabel(n=600, seed=0):
    """Two independent binary traits, each shifting its own features; labels like 'a;b'."""
    rng = np.random.default_rng(seed)
    a, b = rng.random(n) < 0.4, rng.random(n) < 0.15
    X = rng.normal(0, 1, (n, 6)).astype(np.float32)
    X[:, 0] += 3 * a
    X[:, 1] += 3 * b
    values = np.array([";".join(name for name, on in (("a", x), ("b", y)) if on) for x, y in zip(a, b)], dtype=object)
    return X, values, a, b


def test_label_sets_parse_separators_and_missing_values():
    sets, names = label_sets(["a;b", "b", "", None, float("nan"), " c ; a "])
    assert names == ["a", "b", "c"]
    assert sets == [{"a", "b"}, {"b"}, set(), set(), set(), {"a", "c"}]


def test_both_f1_figures_and_predictions():
    X, values, a, b = multilabel()
    r = per_label_classifiers(X, values, seed=0)
    assert r.labels == ["a", "b"] and r.proba.shape == (600, 2)
    assert r.balanced_macro_f1 > 0.85 and r.heldout_macro_f1 > 0.7
    rare = next(x for x in r.per_label if x["label"] == "b")
    assert rare["heldout_f1"] <= rare["balanced_f1"] + 0.05  # the natural distribution is harder for a rare label
    test = r.test_cells
    assert len(test) == 150
    agree = np.mean([set(p.split(";")) - {""} == set(v.split(";")) - {""} for p, v in zip(r.predicted[test], values[test])])
    assert agree > 0.7
    again = per_label_classifiers(X, values, seed=0)
    assert np.array_equal(again.proba, r.proba)  # seeded


@pytest.mark.parametrize("kwargs, message", [
    ({"threshold": 1.0}, "--threshold must be between 0 and 1"),
    ({"test_fraction": 0}, "--test-fraction must be between 0 and 1"),
])
def test_bad_settings(kwargs, message):
    X, values, _, _ = multilabel(100)
    with pytest.raises(InputError, match=message):
        per_label_classifiers(X, values, **kwargs)


def test_a_column_without_labels_is_refused():
    with pytest.raises(InputError, match="holds no labels"):
        per_label_classifiers(np.zeros((10, 2)), [None] * 10)


@pytest.fixture
def cells(cli, home, tmp_path):
    X, values, _, _ = multilabel()
    pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]).assign(locations=values).to_csv(tmp_path / "c.csv", index=False)
    r = cli("data", "add", tmp_path / "c.csv", "--name", "cells")
    assert r.code == 0, r.err
    return "cells"


def test_classify_from_the_command_line(cli, home, cells):
    r = cli("classify", "-d", cells, "--label", "locations", "--rep", "X", "--trees", "50", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["labels"] == ["a", "b"] and out["balanced_macro_f1"] > 0.8 and out["heldout_macro_f1"] > 0.6
    adata = Workspace(home).load(cells)
    assert adata.obsm["cellwak_predicted_labels_proba"].shape == (600, 2) and "cellwak_predicted_labels" in adata.obs


@pytest.mark.parametrize("args, message", [
    (["--label", "nope"], "no column 'nope'"),
    (["--label", "locations", "--threshold", "2"], "--threshold must be between 0 and 1"),
    (["--label", "locations", "--trees", "0"], "--trees must be at least 1"),
    (["--label", "locations", "--rep", "X_nope"], "no representation 'X_nope'"),
])
def test_bad_classify_input_exits_2_and_changes_nothing(cli, home, cells, args, message):
    before = snapshot(home)
    r = cli("classify", "-d", cells, *args)
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and message in r.err, r.err
    assert snapshot(home) == before
