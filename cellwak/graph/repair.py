"""Repairing approximate neighbour lists where the search visibly failed.

HNSW can miss whole small, tight groups of cells (its graph leaves them few incoming links):
average recall stays high (0.98-0.99) while those cells, often a rare population, are absent
from their true neighbours' lists. Kernels that divide by how often a cell is listed (the
column-normalised WAK) and clusterings of rare populations are hurt most: on a 100,000-cell
benchmark the DEWAK loss rose by 110% over exact neighbours.

A miss leaves a trace: a near neighbour j of cell u (u lists j, and u is closer to j than j's
k-th neighbour) that does not list u; a search that ended in the wrong place leaves another: u
is farther from each of its first neighbours than their k-th neighbour. Such cells get an exact
search, and each is inserted into the list of every cell among its 3k nearest that it is closer
to than that cell's k-th neighbour; two passes.

NN-descent leaves fewer and milder traces: its random-projection start puts a tight group's
cells in the same leaves, so it finds them. Measured at 200,000 cells (18 flow channels, lists of
31): 6% of cells flagged, their recall@15 already 0.990, and the repair (9.0 s against 12.9 s for
the descent) raised the recall of random cells from 0.996 to 0.997; on the 32-dim mixture 0.987
and 0.993 -> 0.995. HNSW (M = 12) on the same flow data: 9% flagged at recall 0.953, 0.976 ->
0.982. So a search may ask for the repair ``"if needed"``: the exact lists of ``CHECK_SAMPLE``
flagged cells (drawn with the seed) are computed first, and the flagged cells are repaired only
when that sample's recall is under ``CHECK_FLOOR``, the recall the whole search is held to. (A
first bar of 0.98 repaired the 32-dim mixture at 1,000,000 cells, whose flagged cells sampled
0.968, in 30 s for no change in the recall of random cells: 0.981 before, 0.980 after.)

The exact searches cost (cells searched) x n distances, so they are capped at ``MAX_PAIRS``
(5e9: every flagged cell up to 50,000 at n = 100,000, where 20% are flagged, but at most 5,000 of
the flagged cells, drawn at random with the seed, at n = 1,000,000, where repairing all of them
took 840 s on two cores for a recall gain of 0.932 -> 0.971).
"""

from __future__ import annotations

import numpy as np

from .choose import MIN_RECALL
from .exact import KNN, exact_knn, recall

PROBE = 3           # how many of each cell's nearest neighbours are checked for the trace of a miss
REPAIR_PASSES = 2
REVERSE_REACH = 3   # a repaired cell is offered to the lists of its 3k nearest cells
MAX_PAIRS = 5e9     # distances the exact re-searches may compute in all
CHECK_SAMPLE = 256  # flagged cells searched exactly to decide an "if needed" repair
CHECK_FLOOR = MIN_RECALL  # their recall@k under which the flagged cells are repaired: the floor every search is held to


def missed_cells(knn: KNN, probe: int = PROBE) -> np.ndarray:
    """Cells whose lists show a failed search (missed by a near neighbour, or stranded)."""
    idx, dist = knn.indices, knn.distances
    near = idx[:, :probe]
    should = dist[:, :probe] < dist[near, -1]
    listed = (idx[near] == np.arange(len(idx))[:, None, None]).any(axis=2)
    missed = (should & ~listed).any(axis=1)
    stranded = ~should.any(axis=1)
    return np.nonzero(missed | stranded)[0]


def repair(X, knn: KNN, passes: int = REPAIR_PASSES, *, max_pairs: float = MAX_PAIRS,
           seed: int = 0) -> tuple[KNN, int]:
    """Exact lists for the cells a search missed, and those cells inserted where they belong.
    Returns the repaired lists and how many cells were searched again (at most
    ``max_pairs / n``; a random subset of the flagged cells when there are more)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    idx, dist = knn.indices.copy(), knn.distances.copy()
    done = np.zeros(len(idx), dtype=bool)
    searched = 0
    k = idx.shape[1]
    budget = int(max_pairs // max(1, len(X)))
    rng = np.random.default_rng(seed)
    for _ in range(passes):
        cells = missed_cells(KNN(idx, dist))
        cells = cells[~done[cells]]
        if cells.size > budget - searched:
            cells = np.sort(rng.choice(cells, budget - searched, replace=False))
        if cells.size == 0:
            break
        done[cells] = True
        searched += cells.size
        reach = exact_knn(X, min(len(X) - 1, REVERSE_REACH * k), rows=cells)
        idx[cells], dist[cells] = reach.indices[:, :k], reach.distances[:, :k]
        _insert(idx, dist, cells, reach.indices, reach.distances, done)
    return KNN(idx, dist, method=knn.method), searched



def flagged_recall(X, knn: KNN, *, sample: int = CHECK_SAMPLE, seed: int = 0) -> dict:
    """How many cells show the trace of a failed search, and the recall@k of up to ``sample`` of
    them (drawn with ``seed``) against their exact lists."""
    cells = missed_cells(knn)
    if cells.size == 0:
        return {"flagged": 0, "sampled": 0, "recall": 1.0}
    pick = np.sort(np.random.default_rng(seed).choice(cells, min(sample, cells.size), replace=False))
    truth = exact_knn(X, knn.k, rows=pick)
    return {"flagged": int(cells.size), "sampled": int(pick.size),
            "recall": round(recall(KNN(knn.indices[pick], knn.distances[pick]), truth), 4)}


def finish(X, knn: KNN, *, repair_lists: bool | str, seed: int, progress, rows=None, truth: KNN | None = None,
           choice: dict | None = None) -> KNN:
    """The last steps of an approximate search: the repair of visibly failed lists (when asked; with
    ``"if needed"`` only when a sample of the flagged cells falls under ``CHECK_FLOOR``, the check
    recorded in the choice as ``repair``), then, where a sample's exact lists ``truth`` (cells
    ``rows``) were measured for a recall floor, the recall on that sample after the repair and the
    floor's ``choice`` record."""
    if repair_lists == "if needed":
        with progress.task("kNN repair check", total=1) as task:
            check = flagged_recall(X, knn, seed=seed)
            task.advance()
        repair_lists = check["recall"] < CHECK_FLOOR
        check["repaired"] = bool(repair_lists)
        choice = {**(choice or {}), "repair": check}
    elif repair_lists not in (True, False):
        raise ValueError(f"repair_lists must be True, False or 'if needed', got {repair_lists!r}")
    if repair_lists:
        with progress.task("kNN repair", total=1) as task:
            knn, searched = repair(X, knn, seed=seed)
            knn.repaired = searched
            task.advance()
    if truth is not None:
        knn.recall = recall(KNN(knn.indices[rows], knn.distances[rows]), truth)
    if truth is not None or choice is not None:
        knn.choice = choice
    return knn


def _insert(idx, dist, cells, exact_i, exact_d, done):
    """Put each repaired cell u into the list of every cell j it is closer to than j's k-th
    neighbour (in place; lists stay sorted and free of duplicates)."""
    k = idx.shape[1]
    j = exact_i.ravel()
    u = np.repeat(cells, exact_i.shape[1])
    d = exact_d.ravel()
    keep = (d < dist[j, -1]) & ~done[j]
    j, u, d = j[keep], u[keep], d[keep]
    fresh = ~(idx[j] == u[:, None]).any(axis=1)
    j, u, d = j[fresh], u[fresh], d[fresh]
    if j.size == 0:
        return
    order = np.lexsort((d, j))
    j, u, d = j[order], u[order], d[order]
    rows, starts, counts = np.unique(j, return_index=True, return_counts=True)
    slot = np.arange(j.size) - np.repeat(starts, counts)
    which = np.repeat(np.arange(rows.size), counts)
    extra_i = np.full((rows.size, counts.max()), -1, dtype=np.int64)
    extra_d = np.full((rows.size, counts.max()), np.inf, dtype=np.float32)
    extra_i[which, slot], extra_d[which, slot] = u, d
    merged_i = np.concatenate([idx[rows], extra_i], axis=1)
    merged_d = np.concatenate([dist[rows], extra_d], axis=1)
    order = np.argsort(merged_d, axis=1, kind="stable")[:, :k]
    idx[rows] = np.take_along_axis(merged_i, order, 1)
    dist[rows] = np.take_along_axis(merged_d, order, 1)
