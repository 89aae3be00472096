"""Search strategies over (d, k) for DEWAK, all filling one :class:`LossTable`.

grid        every d of a list (default 1..d_max) x every k in 1..k_max; one neighbour search per d.
coordinate  the windowed coordinate descent of DeePWAK.jl (``src/train.jl``, ``update!``): from
            (d0, k0) evaluate every d in [d - w_d, d + w_d] at the current k and move d to the
            argmin, then every k in [k - w_k, k + w_k] at the new d and move k; stop when (d, k)
            no longer changes or after ``max_steps``; then one wide pass with windows
            (d - 1, k - 1). Defaults d0 = k0 = 6, w_d = w_k = 5, 100 steps (the reference driver).
golden      for large data: golden-section search over d on the profile min_k L(d, k), the
            minimum taken over a ladder of k (every k up to 8, then steps of about 25 %), followed
            by every k between the ladder neighbours of the best k at the best d. One neighbour
            search per d visited; ``max_d`` of them at most (8 close the bracket on 1..50).
"""

from __future__ import annotations

import numpy as np

from ._dewak_eval import LossTable

INV_PHI2 = (3 - 5 ** 0.5) / 2     # 0.382: the golden-section split


def grid(table: LossTable, d_values, progress) -> dict:
    ks = np.arange(1, table.k_max + 1)
    with progress.task("DEWAK grid over d", total=len(d_values)) as task:
        table.evaluate_many([(int(d), ks) for d in d_values], on_done=task.advance)
    return {"d_values": [int(d) for d in d_values]}


def coordinate(table: LossTable, d_max: int, progress, *, start=(6, 6), window=(5, 5), max_steps: int = 100,
               wide_pass: bool = True) -> dict:
    d, k = min(int(start[0]), d_max), min(int(start[1]), table.k_max)
    w_d, w_k = int(window[0]), int(window[1])
    path = [(d, k)]
    steps, converged = 0, False
    with progress.task("DEWAK coordinate search", total=max_steps) as task:
        for steps in range(1, max_steps + 1):
            new_d, new_k = _coordinate_step(table, d, k, w_d, w_k, d_max)
            task.advance()
            if (new_d, new_k) == (d, k):
                converged = True
                break
            d, k = new_d, new_k
            path.append((d, k))
    if wide_pass:
        d, k = _coordinate_step(table, d, k, d - 1, k - 1, d_max)
        path.append((d, k))
    return {"start": [int(s) for s in start], "window": [w_d, w_k], "steps": int(steps),
            "converged": bool(converged), "final_state": [int(d), int(k)],
            "path_d": [p[0] for p in path], "path_k": [p[1] for p in path]}


def _coordinate_step(table: LossTable, d: int, k: int, w_d: int, w_k: int, d_max: int) -> tuple[int, int]:
    """One ``update!``: the best d in its window at k, then the best k in its window at that d."""
    ds = list(range(max(1, d - w_d), min(d_max, d + w_d) + 1))
    table.evaluate_many([(dd, [k]) for dd in ds])      # independent: at once on a Dask cluster
    d = ds[int(np.argmin([table.loss(dd, k) for dd in ds]))]
    ks = list(range(max(1, k - w_k), min(table.k_max, k + w_k) + 1))
    k = ks[int(np.argmin(table.losses(d, ks)))]
    return d, k


def k_ladder(k_max: int, dense_until: int = 8, ratio: float = 1.25) -> list[int]:
    """1..dense_until, then roughly geometric steps, always ending at k_max."""
    ks = list(range(1, min(dense_until, k_max) + 1))
    value = float(ks[-1])
    while ks[-1] < k_max:
        value *= ratio
        ks.append(min(k_max, max(ks[-1] + 1, int(round(value)))))
    return ks


def golden(table: LossTable, d_max: int, progress, *, max_d: int = 8, d_min: int = 1) -> dict:
    ladder = k_ladder(table.k_max)
    profile = {}

    def f(d: int) -> float:
        if d not in profile:
            profile[d] = float(table.losses(d, ladder).min())
            task.advance()
        return profile[d]

    with progress.task("DEWAK golden-section search over d", total=max_d) as task:
        a, b = d_min - 1, d_max + 1              # virtual ends, never evaluated
        x = min(d_max, max(d_min, a + int(round((b - a) * INV_PHI2))))
        fx = f(x)
        while len(profile) < max_d and b - a > 2:
            if b - x >= x - a:
                y = x + max(1, int(round((b - x) * INV_PHI2)))
            else:
                y = x - max(1, int(round((x - a) * INV_PHI2)))
            fy = f(y)
            if fy < fx:
                a, b = (x, b) if y > x else (a, x)
                x, fx = y, fy
            elif y > x:
                b = y
            else:
                a = y
    _, best_k, _ = table.best(x)
    pos = int(np.argmin([abs(k - best_k) for k in ladder]))
    lo = ladder[pos - 1] + 1 if pos > 0 else 1
    hi = ladder[pos + 1] - 1 if pos + 1 < len(ladder) else table.k_max
    table.losses(x, range(lo, hi + 1))
    return {"k_ladder": ladder, "d_visited": sorted(profile), "bracket": [int(a), int(b)],
            "refined_k": [int(lo), int(hi)], "max_d": int(max_d)}
