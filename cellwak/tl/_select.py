"""Label-free rules that pick a Leiden resolution from a sweep's table.

Every rule sees only the table of :func:`cellwak.tl.sweep.evaluate_partitions`, never labels,
and never picks a partition with a single cluster.

``auto`` (the default of ``sweep``, ``cluster --gamma auto`` and ``tl.leiden('auto')``): the rule
    of :mod:`cellwak.tl._resolution` (``AUTO_RULE``), applied there with adaptive subsamples and
    grid extension; here on a finished table it gives the same choice.
``reproducible`` (the default before issue 14): the finest partition that is still reproducible: the
    largest resolution whose stability across subsamples is at least ``0.9 x`` the sweep's
    second-best (robust to one outlying estimate, e.g. a tiny cluster that always splits off). On the six shared datasets it picks within 10% of the oracle ARI on five
    (benchmarks/bench_gamma.py); it fails where only trivial splits are stable (raw pixels of
    blood cells).
``most-stable``: the largest resolution within 0.02 of the most stable one (chooseR-like);
    tends to pick coarse splits.
``silhouette``: the highest mean silhouette; prefers two or three clusters.
``n2s``: the lowest DEPWAK noise2self loss, MSE(X, WAK(G (.) S (.) P) X). Restricting the kNN
    kernel to within-cluster edges never improved denoising on the shared data (column- or
    row-normalised), so this picks the coarsest partition: DeePWAK's known trap, kept for study.
``plateau``: the middle of the longest range of resolutions (log scale) with the same number
    of clusters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError

REPRODUCIBLE_FRACTION = 0.9


def _candidates(table: pd.DataFrame) -> pd.DataFrame:
    ok = table[table["n_clusters"] >= 2]
    return ok if len(ok) else table


def _require(table: pd.DataFrame, column: str, rule: str, fix: str) -> pd.Series:
    if column not in table or not table[column].notna().any():
        raise InputError(f"the '{rule}' rule needs {column.replace('_', ' ')} from the sweep", fix)
    return table[column]


def rule_reproducible(table: pd.DataFrame) -> float:
    t = _candidates(table)
    s = _require(t, "stability_subsample", "reproducible", "use --subsamples 1 or more")
    ranked = np.sort(s.dropna().to_numpy())
    reference = ranked[-2] if len(ranked) > 1 else ranked[-1]  # robust to one outlying estimate
    return float(t.loc[s >= REPRODUCIBLE_FRACTION * reference, "gamma"].max())


def rule_most_stable(table: pd.DataFrame, tolerance: float = 0.02) -> float:
    t = _candidates(table)
    parts = [t[c] for c in ("stability_seeds", "stability_subsample") if c in t and t[c].notna().any()]
    if not parts:
        raise InputError("the 'most-stable' rule needs stability from the sweep", "use --seeds 2 or more, or --subsamples 1 or more")
    s = sum(parts) / len(parts)
    return float(t.loc[s >= s.max() - tolerance, "gamma"].max())


def rule_silhouette(table: pd.DataFrame) -> float:
    t = _candidates(table)
    return float(t.loc[t["silhouette"].idxmax(), "gamma"])


def rule_n2s(table: pd.DataFrame) -> float:
    t = _candidates(table)
    return float(t.loc[t["n2s_depwak"].idxmin(), "gamma"])


def rule_plateau(table: pd.DataFrame) -> float:
    t = _candidates(table).sort_values("gamma").reset_index(drop=True)
    logg = np.log(t["gamma"].to_numpy())
    counts = t["n_clusters"].to_numpy()
    best, best_len, start = (0, 0), -1.0, 0
    for i in range(1, len(t) + 1):
        if i == len(t) or counts[i] != counts[start]:
            length = logg[i - 1] - logg[start]
            if length > best_len:
                best, best_len = (start, i - 1), length
            start = i
    return float(np.exp((logg[best[0]] + logg[best[1]]) / 2))


def rule_auto(table: pd.DataFrame) -> float:
    from ._resolution import AUTO_RULE, apply_rule

    s = _require(table, "stability_subsample", "auto", "use --subsamples 1 or more")
    n = table["stability_n"] if "stability_n" in table else pd.Series(np.nan, index=table.index)
    evidence = pd.DataFrame({
        "gamma": table["gamma"],
        "n_clusters": table["stability_clusters"] if "stability_clusters" in table else table["n_clusters"],
        "stability": s, "stability_sd": table.get("stability_sd", pd.Series(np.nan, index=table.index)),
        "stability_n": n.fillna(1),
        **({"cluster_jaccard": table["cluster_jaccard"]} if "cluster_jaccard" in table else {}),
    }).sort_values("gamma").reset_index(drop=True)
    return float(evidence["gamma"].iloc[apply_rule(evidence, AUTO_RULE).index])


RULES = {
    "reproducible": rule_reproducible,
    "most-stable": rule_most_stable,
    "silhouette": rule_silhouette,
    "n2s": rule_n2s,
    "plateau": rule_plateau,
}
DEFAULT_RULE = "auto"
RULES["auto"] = rule_auto


def check_rule(rule: str, seeds: int, subsamples: int) -> None:
    """Refuse, before any work, a rule the planned sweep cannot feed."""
    if rule not in RULES:
        raise InputError(f"unknown selection rule {rule!r}", f"choose one of {', '.join(RULES)}")
    name = rule
    if name in ("auto", "reproducible") and subsamples < 1:
        raise InputError(f"the '{name}' rule (--gamma auto) needs stability across subsamples",
                         "use --subsamples 1 or more")
    if name == "most-stable" and seeds < 2 and subsamples < 1:
        raise InputError("the 'most-stable' rule needs stability", "use --seeds 2 or more, or --subsamples 1 or more")


def choose_gamma(table: pd.DataFrame, rule: str = "auto") -> tuple[float | None, str]:
    """(chosen resolution, the rule's name), snapped to a swept resolution."""
    if table.empty:
        return None, rule
    gamma = RULES[rule](table)
    gammas = table["gamma"].to_numpy()
    if rule == "auto":
        from ._resolution import AUTO_RULE

        rule = AUTO_RULE.name
    return float(gammas[np.argmin(np.abs(np.log(gammas) - np.log(gamma)))]), rule
