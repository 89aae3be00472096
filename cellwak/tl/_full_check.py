"""The choice of a stability graph confirmed on the full graph.

Above ``stability_cells`` cells (20,000) the resolution is chosen on the kNN graph of a random
subset (:mod:`cellwak.tl.sweep`): the whole sweep on the full graph took 476 s against 60 s on
the subset at 100,000 cells (30 resolutions x 6 Leiden runs). But a subset is a sparser sample,
and its stable plateau need not end where the full graph's does. On the 100,000-cell mixture of
14 Gaussians the 20,000-cell subset graph keeps 13 clusters up to gamma 0.97, so the rule chose
0.97; on the full graph 0.97 already splits the largest component, a split the full graph's own
subsamples find again at a Jaccard of only 0.49 (stability 0.70): ARI 0.70, where 0.84 has 1.00
and the sweep on the full graph chooses 0.84. On flowsom_bal resampled to 100,000 cells the
subset's choice can be 1.12 (15 clusters, ARI 0.34) where the full graph supports 0.31 (8, 0.98).
Coarsening the full graph to 20,000 groups of neighbouring cells instead of subsampling
(modularity is exact on the aggregate) did not help: in 32 dimensions no grouping of neighbours
carries the full graph's cut, and the aggregate kept 14 clusters up to 1.29.

So the choice is checked where it will be used (benchmarks/resolution_full_check.py, section
``resolution-full-check`` of BENCHMARKS.md). A resolution is partitioned on the full graph and on
``subsamples`` of its 80 % induced subgraphs (the measurement below 20,000 cells, the same seeds,
and the full graph's Leiden iteration policy for the subsamples too); it is confirmed when its
stability reaches the rule's threshold and, with a cluster floor, its least reproducible cluster
(1 % of the cells or more) the floor. The chosen resolution is checked first; when it fails, the
coarser resolutions that passed on the subset are searched for the finest the full graph
confirms (:func:`search`: galloping, then bisection), at most ``MAX_CHECKS`` checks in all; when
none is confirmed, the most reproducible one checked is kept with a warning. Only coarser: a
finer one failed on the subset already, and every check costs six Leiden runs on the full graph
(about 6 s at 100,000 cells on two cores; at 1,000,000 cells 5.5 minutes while
other work shared them: `--gamma auto` then took 2.35x the CPU time of one clustering).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MAX_CHECKS = 8


@dataclass
class FullCheck:
    """The checks on the full graph."""

    n_cells: int
    rows: list = field(default_factory=list)     # per check, in the order run: gamma, n_clusters, stability, stability_sd, stability_n, cluster_jaccard, passed
    labels: dict = field(default_factory=dict)   # gamma -> the full graph's partition at each resolution checked
    index: int | None = None                     # the selection table's row finally chosen
    confirmed: bool = False
    seconds: float = 0.0                         # the checks' time (subsample graphs, Leiden runs, scores)

    @property
    def moved(self) -> bool:
        """The choice first checked failed on the full graph."""
        return bool(self.rows) and not self.rows[0]["passed"]

    def row(self, gamma: float) -> dict | None:
        return next((r for r in self.rows if r["gamma"] == gamma), None)


def candidates(table: pd.DataFrame, index: int, passed: np.ndarray, cluster_floor: float | None) -> list[int]:
    """Rows that may be checked: the chosen one, then the coarser ones that passed the stability
    graph's test (with 2+ clusters and, with a floor, at the floor), finest first."""
    k = table["n_clusters"].to_numpy()
    j = table["cluster_jaccard"].to_numpy(dtype=float) if "cluster_jaccard" in table else np.full(len(table), np.nan)
    coarser = [i for i in range(index - 1, -1, -1)
               if passed[i] and k[i] >= 2 and (cluster_floor is None or not np.isfinite(j[i]) or j[i] >= cluster_floor)]
    return [index] + coarser


def search(holds, n: int, limit: int = MAX_CHECKS) -> int | None:
    """The first position of 0..n-1 (finest first) where ``holds(position)`` is true, assuming the
    positions fail up to a point and hold from there on, with at most ``limit`` calls: position 0,
    then galloping coarser (1, 3, 7, ... positions past the last failure) until one holds, then
    bisecting between the last failure and it. None when none checked holds. One step down is
    the common case (the mixture: 2 checks); galloping reaches a far boundary in log steps
    (resampled flow cytometry at 100,000 cells, seed 0: the subset's choice 9 passing
    resolutions above the full graph's)."""
    calls = 0

    def check(pos: int) -> bool:
        nonlocal calls
        calls += 1
        return holds(pos)

    if n == 0:
        return None
    if check(0):
        return 0
    failed, step, found = 0, 1, None
    while failed < n - 1 and calls < limit:
        pos = min(failed + step, n - 1)
        if check(pos):
            found = pos
            break
        failed, step = pos, step * 2
    if found is None:
        return None
    while found - failed > 1 and calls < limit:
        mid = (failed + found) // 2
        if check(mid):
            found = mid
        else:
            failed = mid
    return found


def confirm(graph, table: pd.DataFrame, index: int, passed: np.ndarray, threshold: float, cluster_floor: float | None, *,
            seed: int, subsamples: int, fraction: float, n_jobs, n_iterations: int, backend: str, progress) -> FullCheck:
    """Check the choice ``index`` of ``table`` (the stability graph's evidence) on ``graph``."""
    import time

    from ._resolution import _Runs

    t0 = time.perf_counter()
    check = FullCheck(n_cells=graph.shape[0])
    runs = _Runs(graph, "full", subsamples, fraction, seed, n_jobs, progress, n_iterations, backend)  # as the selection's
    rows = candidates(table, index, passed, cluster_floor)

    def holds(pos: int) -> bool:
        gamma = float(table["gamma"].iloc[rows[pos]])
        runs.measure([gamma], subsamples, f"gamma {gamma:g} checked on the full graph, {check.n_cells:,} cells")
        row = {**runs.row(gamma), "row": rows[pos]}
        row["passed"] = bool(row["stability"] >= threshold and (cluster_floor is None or row["cluster_jaccard"] >= cluster_floor))
        check.rows.append(row)
        check.labels[gamma] = runs.labels[gamma]
        return row["passed"]

    found = search(holds, len(rows))
    check.confirmed = found is not None
    if found is None:
        best = max(check.rows, key=lambda r: (np.nan_to_num(r["cluster_jaccard"], nan=-1.0), r["stability"]))
        check.index = best["row"]
    else:
        check.index = rows[found]
    check.seconds = time.perf_counter() - t0
    return check


def explain(check: FullCheck, table: pd.DataFrame, stability_cells: int) -> str:
    """The check in words (appended to the selection's reason)."""
    def said(r):
        return (f"{r['n_clusters']} clusters, stability {r['stability']:.3f}, least cluster Jaccard "
                f"{r['cluster_jaccard']:.3f}")

    first, chosen = check.rows[0], check.row(float(table["gamma"].iloc[check.index]))
    where = f"on the full graph ({check.n_cells:,} cells; the evidence above is from a {stability_cells:,}-cell subset graph)"
    if not check.moved:
        return f"; confirmed {where}: {said(first)}"
    failed = "; ".join(f"gamma {r['gamma']:g} fails ({said(r)})" for r in check.rows if not r["passed"])
    if check.confirmed:
        return (f"; but {where} {failed}: finer splits are not found again on the full graph's subsamples, so the "
                f"finest coarser resolution the full graph confirms is taken, gamma {chosen['gamma']:g} ({said(chosen)})")
    return (f"; but {where} none of the {len(check.rows)} resolutions checked is confirmed ({failed}): the most "
            f"reproducible of them, gamma {chosen['gamma']:g}, is kept")


def warning(check: FullCheck) -> str | None:
    if check.confirmed:
        return None
    return (f"none of the {len(check.rows)} resolutions checked on the full graph ({check.n_cells:,} cells) is as "
            "stable there as on the subset graph the choice was made on: the clusters may be finer than the data "
            "supports; compare a lower --gamma, or sweep with --subsamples on a smaller sample")
