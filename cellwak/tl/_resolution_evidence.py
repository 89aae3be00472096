"""What a label-free resolution choice records and says: :class:`Selection` (the evidence of every
resolution, the choice, the runner-up, the coarser alternative) and :func:`_explain` (why the
chosen resolution won, in words). The choosing itself is :mod:`._resolution`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ._full_check import FullCheck
    from ._resolution import Decision, Rule


@dataclass
class Selection:
    """What the selection measured and decided (no labels used)."""

    table: pd.DataFrame        # per resolution: gamma, n_clusters, stability, stability_sd, stability_n, passed
    chosen: float
    runner_up: float | None    # the nearest finer resolution not chosen (failed the test, or a cluster under the floor)
    labels: dict               # gamma -> partition of the graph stability was measured on
    threshold: float
    reference: float
    confidence: str            # 'high' or 'low' (the choice is fragile: see reason and warnings)
    reason: str
    warnings: list
    extended: list             # resolutions added beyond the asked grid
    rule: str
    agreement: float = float("nan")  # share of bootstrap resamples choosing the same number of clusters
    scores: dict = None        # gamma -> the subsample ARIs
    plateau_end: float | None = None  # the finest passing resolution (the choice without the cluster floor)
    full_check: FullCheck | None = None  # the choice checked on the full graph (the evidence is a subset graph's)

    def _passing(self) -> pd.DataFrame:
        t = self.table
        return t[t["passed"].astype(bool) & (t["n_clusters"] >= 2)]

    def coarser(self) -> float | None:
        """The most stable passing resolution with fewer clusters than the chosen one: the coarser
        partition the user may want instead (on digits, seed 0: 9 clusters at 0.945 where 11 are chosen)."""
        chosen_k = int(self.table.loc[self.table["gamma"] == self.chosen, "n_clusters"].iloc[0])
        p = self._passing()
        p = p[p["n_clusters"] < chosen_k]
        return None if p.empty else float(p.loc[p["stability"].idxmax(), "gamma"])

    def stable_range(self) -> dict | None:
        """The coarsest and finest passing resolutions (gamma, clusters)."""
        p = self._passing()
        if p.empty:
            return None
        lo, hi = p.iloc[0], p.iloc[-1]
        return {"gamma": [float(lo["gamma"]), float(hi["gamma"])],
                "n_clusters": [int(lo["n_clusters"]), int(hi["n_clusters"])], "passing": int(len(p))}

    def _also(self, g: float | None, rng: dict | None) -> str | None:
        """The passing range ``rng`` and the most stable coarser partition ``g`` in words (None
        without a coarser one)."""
        if g is None or rng is None:
            return None
        r = self.table.loc[self.table["gamma"] == g].iloc[0]
        return (f"{rng['n_clusters'][0]}-{rng['n_clusters'][1]} clusters (gamma {rng['gamma'][0]:g}-{rng['gamma'][1]:g}, "
                f"{rng['passing']} resolutions pass the test); the most stable coarser one: gamma {g:g} "
                f"({int(r['n_clusters'])} clusters), stability {r['stability']:.3f}")

    def evidence(self) -> dict:
        """The chosen resolution's evidence as plain values (for provenance, --json and the faces)."""
        def row(g):
            if g is None:
                return None
            r = self.table.loc[self.table["gamma"] == g].iloc[0]
            return {"gamma": float(g), "n_clusters": int(r["n_clusters"]), "stability": _num(r["stability"]),
                    "stability_sd": _num(r["stability_sd"]), "stability_n": int(r["stability_n"]),
                    "cluster_jaccard": _num(r.get("cluster_jaccard", np.nan))}

        coarser, stable = self.coarser(), self.stable_range()
        checks = [{k: (_num(v) if isinstance(v, float) and k != "gamma" else v) for k, v in r.items() if k != "row"}
                  for r in (self.full_check.rows if self.full_check else [])]
        chosen = row(self.chosen)
        if checks:
            chosen["full_graph"] = next((c for c in checks if c["gamma"] == self.chosen), None)
        return {"rule": self.rule, "chosen": chosen, "runner_up": row(self.runner_up),
                "full_graph_checks": checks, "full_graph_cells": self.full_check.n_cells if self.full_check else None,
                "full_graph_seconds": round(self.full_check.seconds, 2) if self.full_check else None,
                "plateau_end": row(self.plateau_end),
                "coarser": row(coarser), "stable_range": stable, "also": self._also(coarser, stable),
                "threshold": round(self.threshold, 4), "reference": round(self.reference, 4),
                "confidence": self.confidence, "bootstrap_agreement": _num(self.agreement), "reason": self.reason,
                "warnings": list(self.warnings), "extended": list(self.extended),
                "resolutions": [{"gamma": float(r.gamma), "n_clusters": int(r.n_clusters), "stability": _num(r.stability),
                                 "stability_sd": _num(r.stability_sd), "stability_n": int(r.stability_n),
                                 "passed": bool(r.passed), "cluster_jaccard": _num(getattr(r, "cluster_jaccard", np.nan)),
                                 "scores": [round(float(x), 4) for x in (self.scores or {}).get(r.gamma, [])]}
                                for r in self.table.itertuples()]}


def _num(v):
    return None if v != v else round(float(v), 4)


def _mean3(table: pd.DataFrame, i: int) -> float:
    s = table["stability"].to_numpy(dtype=float)
    return float(np.mean(s[max(0, i - 1): i + 2]))


def _explain(table: pd.DataFrame, decision: Decision, rule: Rule, n_extended: int, share: float,
             check: FullCheck | None = None, subset_cells: int | None = None) -> str:
    """Why the chosen resolution won, in words (``check``: the choice checked on the full graph,
    ``subset_cells`` the size of the graph the table was measured on)."""
    from dataclasses import replace

    from ._full_check import explain
    from ._resolution import BOOTSTRAP, next_finer

    shown = decision
    if check is not None and check.moved:  # the table's reasoning is about the row checked first
        first = check.rows[0]["row"]
        shown = replace(decision, index=first, runner_up=next_finer(table, first))
    why = _why(table, shown, rule, n_extended) + ("" if check is None else explain(check, table, subset_cells))
    whose = "the subset's subsamples" if check is not None else "the subsamples"
    k = int(table["n_clusters"].iloc[decision.index])
    if check is not None and check.moved:
        return (why + f"; {100 * share:.0f}% of {BOOTSTRAP} bootstrap resamples of {whose} choose {k} clusters, "
                f"the subset graph's count at the resolution the full graph confirmed")
    return why + f"; {100 * share:.0f}% of {BOOTSTRAP} bootstrap resamples of {whose} choose {k} clusters too"


_RANK_WORD = {"max": "best", "second": "second-best", "third": "third-best", "fifth": "fifth-best"}


def _why(table: pd.DataFrame, decision: Decision, rule: Rule, n_extended: int) -> str:
    """The rule's reasoning on the table."""
    r = table.iloc[decision.index]
    jac = table["cluster_jaccard"].to_numpy(dtype=float) if "cluster_jaccard" in table else np.full(len(table), np.nan)
    floor = rule.cluster_floor if rule.cluster_floor is not None and np.isfinite(jac).any() else None
    clusters = ("" if floor is None else "every cluster (of those holding 1% of the cells or more) is found again "
                f"on the subsamples with a Jaccard of {floor:g} or more (here the least: {jac[decision.index]:.3f}) "
                "and whose ")
    why = (f"finest resolution whose {clusters}stability {r['stability']:.3f} +/- "
           f"{np.nan_to_num(r['stability_sd']):.3f} (sd over {int(r['stability_n'])} subsamples) reaches "
           f"{rule.fraction:g} x {decision.reference:.3f} (the {_RANK_WORD[rule.reference]} stability) = "
           f"{decision.threshold:.3f}")
    if rule.support == "smooth":
        why += f", and so does its mean with its neighbours ({_mean3(table, decision.index):.3f})"
    elif rule.support == "neighbour" and decision.passed[decision.index]:
        beside = [j for j in (decision.index - 1, decision.index + 1) if 0 <= j < len(table) and decision.passed[j]]
        if beside:
            b = table.iloc[beside[0]]
            why += f", and so does its neighbour gamma {b['gamma']:g} ({b['stability']:.3f})"
    if not decision.passed[decision.index]:
        why = f"no resolution passes {rule.fraction:g} x {decision.reference:.3f}: the most stable one is kept"
    elif floor is not None and not jac[decision.index] >= floor:
        why = (f"of the resolutions passing the stability test ({rule.fraction:g} x {decision.reference:.3f}), none "
               f"keeps every cluster at a Jaccard of {floor:g} or more on the subsamples: the one whose least "
               f"reproducible cluster is the most reproducible ({jac[decision.index]:.3f}) is kept")
    if decision.plateau_end is not None and decision.plateau_end != decision.index:
        e = table.iloc[decision.plateau_end]
        why += (f"; finer resolutions pass the stability test up to gamma {e['gamma']:g} ({int(e['n_clusters'])} "
                f"clusters), but there a cluster is found again at only {jac[decision.plateau_end]:.3f} (tiles, not groups)")
    if decision.runner_up is not None and decision.runner_up == decision.plateau_end != decision.index:
        u = table.iloc[decision.runner_up]  # the finest passing one, just described: its stability only
        why += f"; it is the next finer, at {u['stability']:.3f} +/- {np.nan_to_num(u['stability_sd']):.3f}"
    elif decision.runner_up is not None:
        u = table.iloc[decision.runner_up]
        why += (f"; the next finer, gamma {u['gamma']:g} ({int(u['n_clusters'])} clusters), has {u['stability']:.3f} "
                f"+/- {np.nan_to_num(u['stability_sd']):.3f}")
        if decision.passed[decision.runner_up]:
            why += f" and passes, but its least reproducible cluster has {jac[decision.runner_up]:.3f}"
        elif u["stability"] >= decision.threshold:
            why += (f", above the threshold but not supported (mean with its neighbours {_mean3(table, decision.runner_up):.3f}: "
                    "an isolated pass, as when Leiden tiles a continuum)" if rule.support == "smooth"
                    else " but no neighbouring resolution passes (an isolated pass)")
    if n_extended:
        why += f"; grid extended by {n_extended} resolutions to reach it"
    return why
