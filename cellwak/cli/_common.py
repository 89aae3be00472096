"""Catalog recording shared by several commands."""

from __future__ import annotations


def record_clustering(ws, dataset: str, key: str, labels, params: dict, metrics: dict, provenance: dict,
                      seconds: float | None, method: str = "leiden") -> dict:
    import numpy as np

    sizes = np.bincount(np.asarray(labels)).tolist()
    return ws.add_clustering(dataset, labels, {"method": method, "key": key, "params": params, "n_clusters": len(sizes),
                                               "sizes": sizes, "metrics": metrics, "provenance": provenance,
                                               "seconds": seconds})


def record_sweep(ws, dataset: str, result) -> list[dict]:
    """One catalog row per swept resolution (obs['cellwak_leiden_g{gamma}'])."""
    from ..tl.sweep import gamma_key

    rows = []
    table = result.table.set_index("gamma")
    for g, labels in result.labels.items():
        evidence = {c: (None if v != v else float(v)) for c, v in table.loc[g].items()}  # NaN -> None
        metrics = {m: evidence.pop(m) for m in ("ari", "nmi") if m in evidence}
        params = {**{k: v for k, v in result.params.items() if k != "gammas"}, "gamma": g, "evidence": evidence,
                  "chosen": g == result.chosen}
        rows.append(record_clustering(ws, dataset, gamma_key(g), labels, params, metrics, {}, None, method="leiden-sweep"))
    return rows
