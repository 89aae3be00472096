"""Batch-mixing and label-preservation metrics on features (cellwak.metrics.batch)."""

from __future__ import annotations

import numpy as np
import pytest

from cellwak.metrics import batch_silhouette, kbet, knn_accuracy, nsc_accuracy


def _blobs(shift: float, seed: int = 0):
    """Two cell types (+5 along e0 or e1) with two batches mixed inside them. Every cell sits
    50 along e7, so cosine similarity ranks neighbours as Euclidean distance does. Batch p2 is
    moved by ``shift`` * (0.6, -0.6, 1): away from p1 (along e2) and in the label plane, so that
    p2's type-B cells are the nearest p2 cells to p1's type-A cells (0: no batch effect)."""
    rng = np.random.default_rng(seed)
    n, d = 400, 8
    labels = np.repeat(["A", "B"], n // 2)
    batches = np.where(rng.random(n) < 0.5, "p1", "p2")
    X = rng.normal(0.0, 1.0, (n, d))
    X[:, 7] += 50.0
    X[labels == "A", 0] += 5.0
    X[labels == "B", 1] += 5.0
    X[batches == "p2", :3] += shift * np.array([0.6, -0.6, 1.0])
    return X, labels, batches


def test_mixed_batches_score_as_mixed():
    X, labels, batches = _blobs(shift=0.0)
    assert knn_accuracy(X, labels) > 0.99
    assert kbet(X, batches) > 0.8
    sil = batch_silhouette(X, batches, labels)
    assert abs(sil["silhouette_batch"]) < 0.05
    assert sil["asw_batch"] > 0.9
    nsc = nsc_accuracy(X, labels, batches)
    assert nsc["nsc"] > 0.99 and nsc["nscb"] > 0.99


def test_separated_batches_score_as_separated():
    X, labels, batches = _blobs(shift=15.0)
    assert knn_accuracy(X, labels) > 0.99  # cell types are still apart within each batch
    assert kbet(X, batches) < 0.2
    sil = batch_silhouette(X, batches, labels)
    assert sil["silhouette_batch"] > 0.5
    assert sil["asw_batch"] < 0.3
    nsc = nsc_accuracy(X, labels, batches)
    assert nsc["nsc"] > 0.95
    assert nsc["nscb"] < nsc["nsc"] - 0.3  # across batches, half the cells meet the other type


def test_knn_accuracy_weights_by_temperature():
    # query at 0 degrees, labelled 'a'; bank: one 'b' cell at 0 degrees (cosine 1, any length),
    # two 'a' cells at +-acos(0.9) (cosine 0.9 each).
    t = np.arccos(0.9)
    X = np.array([[1.0, 0.0], [3.0, 0.0], [np.cos(t), np.sin(t)], [np.cos(t), -np.sin(t)]])
    labels = ["a", "b", "a", "a"]
    query = np.array([True, False, False, False])
    bank = ~query
    # T = 0.1: b gets e^10 = 22026, a gets 2 e^9 = 16206 -> 'b' (wrong)
    assert knn_accuracy(X, labels, query=query, bank=bank, k=3, temperature=0.1) == 0.0
    # T = 1: b gets e^1 = 2.72, a gets 2 e^0.9 = 4.92 -> 'a' (right)
    assert knn_accuracy(X, labels, query=query, bank=bank, k=3, temperature=1.0) == 1.0
    # k = 1: the single nearest cell decides
    assert knn_accuracy(X, labels, query=query, bank=bank, k=1, temperature=1.0) == 0.0


def test_knn_accuracy_leave_one_out_and_missing_labels():
    # angles (radians): 'a' at 0, 0.1, 0.2; 'b' at 1.5, 1.4 and an odd one at 0.6. Without
    # leave-one-out each cell would find itself; with it only the odd 'b' is misclassified.
    angles = np.array([0.0, 0.1, 0.2, 1.5, 1.4, 0.6])
    X = np.stack([np.cos(angles), np.sin(angles)], axis=1) * np.arange(1, 7)[:, None]  # lengths do not matter
    labels = ["a", "a", "a", "b", "b", "b"]
    assert knn_accuracy(X, labels, k=1) == pytest.approx(5 / 6)
    # an unlabelled cell is neither classified nor a neighbour
    assert knn_accuracy(X, ["a", "a", "a", "b", "b", None], k=1) == 1.0
    assert knn_accuracy(X, ["a", "a", "a", "b", "b", float("nan")], k=1) == 1.0


def test_nsc_with_groups_hand_computed():
    def at(deg):
        return [np.cos(np.radians(deg)), np.sin(np.radians(deg))]

    # profiles: g1 (X, batch 0) is the mean of cells at 0 and 90 degrees -> 45 degrees;
    # g2 (Y, batch 0) at 40; g3 (X, batch 1) at 60; g4 (Y, batch 1) at 10
    X = np.array([at(0), at(90), at(40), at(60), at(10)])
    labels = ["X", "X", "Y", "X", "Y"]
    groups = ["g1", "g1", "g2", "g3", "g4"]
    batches = [0, 0, 0, 1, 1]
    # NSC: g1->g2 (wrong), g2->g1 (wrong), g3->g1 (right), g4->g2 (right): 2/4
    # NSCB: g1->g3 (right), g2->g3 (wrong), g3->g1 (right), g4->g2 (right): 3/4
    assert nsc_accuracy(X, labels, batches, groups=groups) == {"nsc": 0.5, "nscb": 0.75}
    # per cell (no groups), cell 0 at 0 degrees has cell 4 at 10 degrees (Y) as its neighbour
    per_cell = nsc_accuracy(X, labels, batches)
    assert per_cell["nsc"] < 1.0
    assert nsc_accuracy(X, labels, groups=groups)["nscb"] is None


def test_nsc_profiles_per_group_and_batch():
    # the same compound in two batches gives two profiles; NSC never pairs them, NSCB pairs
    # only different compounds across batches. Profiles (compound, batch): (c1,p) (c1,q) at
    # (1,0) 'a'; (c2,p) (c2,q) at (0,1) 'b'; (c3,p) at (0.9,0.1) 'a'; (c4,q) at (0.1,0.9) 'b'.
    X = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9]])
    labels = ["a", "a", "b", "b", "a", "b"]
    groups = ["c1", "c1", "c2", "c2", "c3", "c4"]
    batches = ["p", "q", "p", "q", "p", "q"]
    # NSC: every profile's nearest other compound has its label (c1 <-> c3, c2 <-> c4).
    # NSCB: (c1, p) can only meet c2 or c4 in q (both 'b') and (c2, q) only c1 or c3 in p
    # (both 'a'); the other four find their label: 4 of 6 right.
    out = nsc_accuracy(X, labels, batches, groups=groups)
    assert out["nsc"] == 1.0 and out["nscb"] == pytest.approx(4 / 6)


def test_bad_input_raises():
    X, labels, batches = _blobs(shift=0.0)
    with pytest.raises(ValueError, match="entries but X has"):
        knn_accuracy(X, labels[:-1])
    with pytest.raises(ValueError, match="at least 2"):
        kbet(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="at least 2"):
        batch_silhouette(X, ["one"] * len(X))
    with pytest.raises(ValueError, match="2-D"):
        kbet(X[:, 0], batches)
    with pytest.raises(ValueError, match="k must be"):
        kbet(X, batches, k=len(X))
    with pytest.raises(ValueError, match="temperature"):
        knn_accuracy(X, labels, temperature=0)
    with pytest.raises(ValueError, match="boolean mask"):
        knn_accuracy(X, labels, query=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="single label"):
        nsc_accuracy(X[:4], ["a", "b", "a", "a"], groups=["g1", "g1", "g2", "g2"])
    with pytest.raises(ValueError, match="NSCB needs"):
        nsc_accuracy(X, labels, ["p"] * len(X))
    with pytest.raises(ValueError, match="missing"):
        kbet(X, [None] + list(batches[1:]))


def test_kbet_subsample_and_explicit_k():
    X, _, batches = _blobs(shift=0.0)
    full = kbet(X, batches, k=20)
    part = kbet(X, batches, k=20, n_sample=100, seed=1)
    assert 0.7 < full <= 1.0 and 0.6 < part <= 1.0
    assert kbet(X, batches, k=20, n_sample=100, seed=1) == part
