"""Which values of an obs column (conditions, perturbed genes, samples, labels) each cluster of a
recorded clustering over-represents: hypergeometric tests with BH FDR (:mod:`cellwak.tl._enrich`).

Light at import (no NumPy): the command line reads :class:`EnrichConfig` at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InputError
from ..progress import NULL
from ._common import Result, editing, open_workspace, recorded_clustering
from .config import _Config


@dataclass
class EnrichConfig(_Config):
    """``cellwak enrich``: the enrichment of ``obs[by]`` in a recorded clustering."""

    by: str = ""                     # the obs column: a condition, perturbed gene, sample, label
    clustering: int | None = None    # default: the dataset's latest clustering
    fdr: float = 0.05                # what counts as significant in the answer (every test is stored)

    def check(self) -> None:
        if not self.by:
            raise InputError("no column given", "name the obs column to test with --by (e.g. --by Condition)")
        if not 0 < self.fdr <= 1:
            raise InputError(f"--fdr must be above 0 and at most 1, got {self.fdr}", "for example --fdr 0.05")


@dataclass
class EnrichOutcome(Result):
    dataset: str
    clustering_id: int
    clustering_key: str
    by: str
    key: str                         # uns key of the stored table
    n_cells: int
    n_clusters: int
    n_values: int
    n_tests: int
    fdr: float
    n_significant: int               # over-represented cluster x value pairs at FDR <= fdr
    clusters: list                   # per cluster: cluster, cells, enriched (value, count, value_size, expected,
                                     # fold, log2_odds_ratio, pvalue, fdr; by FDR)
    table: list = field(default_factory=list)   # every test (cluster x value)


def enrich(ws, dataset: str, config: EnrichConfig, progress=NULL) -> EnrichOutcome:
    """Hypergeometric over-representation of every value of ``obs[config.by]`` in every cluster of
    a recorded clustering (default: the latest), BH FDR over all tests; the table is stored in
    ``uns['cellwak_enrichment']``."""
    from ..tl._enrich import KEY, run_enrich

    config.check()
    ws = open_workspace(ws)
    ws.dataset(dataset)
    record = recorded_clustering(ws, dataset, config.clustering)
    labels = ws.clustering_labels(record["id"])
    with editing(ws, dataset) as adata:
        with progress.task("enrichment", total=1) as task:
            result = run_enrich(adata, config.by, record["key"], key_added=KEY, groups=labels,
                                params={"clustering_id": int(record["id"])})
            task.advance()
    table = result.table
    significant = result.significant(config.fdr)
    sizes = table.drop_duplicates("cluster").set_index("cluster")["cluster_size"]
    show = ["value", "count", "value_size", "expected", "fold", "log2_odds_ratio", "pvalue", "fdr"]
    clusters = [{"cluster": c, "cells": int(sizes[c]),
                 "enriched": significant.loc[significant["cluster"] == c, show].to_dict(orient="records")}
                for c in sizes.index]
    return EnrichOutcome(
        dataset=dataset, clustering_id=int(record["id"]), clustering_key=record["key"], by=config.by, key=KEY,
        n_cells=result.params["n_cells"], n_clusters=result.params["n_clusters"], n_values=result.params["n_values"],
        n_tests=result.params["n_tests"], fdr=config.fdr, n_significant=int(len(significant)), clusters=clusters,
        table=table.to_dict(orient="records"))
