"""The "if needed" repair of approximate kNN lists: the exact lists of a sample of the flagged
cells decide whether the flagged cells are searched again (cellwak.graph.repair.finish)."""

from __future__ import annotations

import numpy as np
import pytest

from cellwak.graph import repair as rp
from cellwak.graph.exact import KNN, exact_knn
from cellwak.progress import NULL


@pytest.fixture(scope="module")
def cells():
    return np.random.default_rng(5).normal(size=(2000, 4)).astype(np.float32)


def _stranded(Y, k, cells):
    """Exact lists, except that ``cells`` hold lists from the far side of the data (a failed search)."""
    exact = exact_knn(Y, k)
    idx, dist = exact.indices.copy(), exact.distances.copy()
    far = np.argsort(-np.linalg.norm(Y[cells][:, None] - Y[None], axis=2), axis=1)[:, :k]
    idx[cells] = far
    dist[cells] = np.sort(np.linalg.norm(Y[far] - Y[cells][:, None], axis=2), axis=1)
    return exact, KNN(idx, dist, method="nndescent")


def test_a_repair_if_needed_is_skipped_when_the_flagged_cells_already_hold_their_neighbours(cells):
    exact = exact_knn(cells, 10)
    flagged = rp.missed_cells(exact)
    assert flagged.size > 0   # outliers carry the trace even in exact lists
    out = rp.finish(cells, KNN(exact.indices, exact.distances, method="nndescent"), repair_lists="if needed",
                    seed=0, progress=NULL)
    check = out.choice["repair"]
    assert check == {"flagged": int(flagged.size), "sampled": min(rp.CHECK_SAMPLE, flagged.size), "recall": 1.0,
                     "repaired": False}
    assert out.repaired == 0
    np.testing.assert_array_equal(out.indices, exact.indices)


def test_a_repair_if_needed_runs_when_the_sampled_flagged_cells_miss_their_neighbours(cells):
    lost = np.arange(0, 2000, 10)  # 10% of the cells
    exact, broken = _stranded(cells, 10, lost)
    out = rp.finish(cells, broken, repair_lists="if needed", seed=0, progress=NULL)
    check = out.choice["repair"]
    assert check["repaired"] is True and check["recall"] < rp.CHECK_FLOOR
    flagged = np.intersect1d(lost, rp.missed_cells(broken))
    assert flagged.size >= 0.95 * lost.size and out.repaired >= flagged.size  # the trace shows on nearly all
    np.testing.assert_array_equal(out.indices[flagged], exact.indices[flagged])


def test_the_check_is_drawn_with_the_seed_and_its_floor_decides(cells, monkeypatch):
    lost = np.arange(0, 2000, 400)  # 5 stranded cells among the outliers flagged anyway
    _, broken = _stranded(cells, 10, lost)
    a = rp.flagged_recall(cells, broken, sample=20, seed=1)
    assert a == rp.flagged_recall(cells, broken, sample=20, seed=1) and a["sampled"] == 20
    monkeypatch.setattr(rp, "CHECK_FLOOR", 0.0)   # nothing falls under it: no repair
    assert rp.finish(cells, broken, repair_lists="if needed", seed=0, progress=NULL).repaired == 0
    monkeypatch.setattr(rp, "CHECK_FLOOR", 1.01)  # everything does
    assert rp.finish(cells, broken, repair_lists="if needed", seed=0, progress=NULL).repaired > 0


def test_finish_refuses_an_unknown_repair_mode(cells):
    exact = exact_knn(cells[:100], 5)
    with pytest.raises(ValueError, match="repair_lists must be"):
        rp.finish(cells[:100], exact, repair_lists="sometimes", seed=0, progress=NULL)


def test_the_check_holds_flagged_cells_to_the_floor_the_whole_search_is_held_to():
    from cellwak.graph.choose import MIN_RECALL

    assert rp.CHECK_FLOOR == MIN_RECALL
