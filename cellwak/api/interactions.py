"""Known interactions as an external criterion: score a recorded clustering (or every resolution
of a sweep) by whether conditions whose genes interact (STRING's flat files, or a table of gene
pairs) share clusters (:mod:`cellwak.tl._string`).

Light at import (no NumPy): the command line reads the configs at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InputError
from ..progress import NULL
from ._common import Result, editing, open_workspace, recorded_clustering
from .config import _Config

CRITERIA = ("string",)   # external criteria a sweep can report (`cellwak sweep --criterion`)
MAX_PERMUTATIONS = 100_000


@dataclass
class InteractionSource(_Config):
    """Where the interactions come from and which obs column names the perturbed genes."""

    condition: str = ""              # obs column of the conditions (perturbed genes)
    pairs: str | None = None         # a table of interacting gene pairs (CSV/TSV) ...
    links: str | None = None         # ... or STRING's protein.links[.detailed] file
    info: str | None = None          # STRING's protein.info file (with links)
    aliases: str | None = None       # STRING's protein.aliases file (optional, with links)
    min_score: int = 400             # STRING combined_score threshold (400: medium confidence)
    permutations: int = 1000         # random partitions with the same cluster sizes
    seed: int = 0

    def check(self) -> None:
        if not self.condition:
            raise InputError("no condition column given",
                             "name the obs column of the perturbed genes with --condition (e.g. --condition Condition)")
        if self.pairs is not None and self.links is not None:
            raise InputError("both --pairs and --links given", "use one source of interactions: a pair table or STRING's files")
        if self.pairs is None and self.links is None:
            raise InputError("no interactions given", "pass --pairs FILE, or --links FILE with --info FILE")
        if self.links is not None and self.info is None:
            raise InputError("--links needs --info", "pass STRING's protein.info file of the same species and release")
        if self.pairs is not None and (self.info is not None or self.aliases is not None):
            raise InputError("--info and --aliases describe STRING's --links file", "drop them, or use --links instead of --pairs")
        if not 0 <= self.min_score <= 1000:
            raise InputError(f"--min-score must be from 0 to 1000, got {self.min_score}", "STRING uses 150, 400, 700, 900")
        if not 0 <= self.permutations <= MAX_PERMUTATIONS:
            raise InputError(f"--permutations must be from 0 to {MAX_PERMUTATIONS:,}, got {self.permutations}")


@dataclass
class InteractionsConfig(InteractionSource):
    """``cellwak string``: a recorded clustering scored by known interactions."""

    clustering: int | None = None    # default: the dataset's latest clustering


@dataclass
class SweepCriterion(InteractionSource):
    """An external criterion reported for every resolution of a sweep (never used to choose)."""

    name: str | None = "string"

    def check(self) -> None:
        if self.name is None:
            raise InputError("--condition, --pairs, --links, --info, --aliases and --min-score describe an external criterion",
                             "add --criterion string")
        if self.name not in CRITERIA:
            raise InputError(f"unknown --criterion {self.name!r}", f"choose one of {', '.join(CRITERIA)}")
        super().check()


def network_for(adata, source: InteractionSource):
    """The interaction network among the values of ``obs[source.condition]``."""
    from ..tl._string import conditions_of, interaction_network

    return interaction_network(conditions_of(adata, source.condition), pairs=source.pairs, links=source.links,
                               info=source.info, aliases=source.aliases, min_score=source.min_score)


@dataclass
class InteractionsOutcome(Result):
    dataset: str
    clustering_id: int
    clustering_key: str
    condition: str
    source: dict                     # kind (pairs | string), files, min_score
    n_conditions: int
    n_mapped: int
    unmapped: list
    mapped: dict                     # condition -> how it mapped (name, alias, pair table; '(loose)': punctuation ignored)
    n_clusters: int
    n_cells: int                     # cells of mapped conditions
    n_pairs: int                     # interacting pairs of mapped conditions
    n_others: int
    r_pairs: float                   # mean profile correlation across clusters, interacting pairs
    r_others: float                  # ... all other pairs
    precision: float | None          # interacting among the pairs sharing their most-enriched cluster
    recall: float                    # interacting pairs that share it
    f1: float
    n_predicted: int
    n_hits: int
    permutations: int
    p_value: float | None            # P(random partition with the same sizes has r_pairs >= observed)
    recall_p_value: float | None
    null: dict                       # mean and sd over the random partitions
    key: str                         # uns key of the stored result
    pairs: list = field(default_factory=list)
    per_condition: list = field(default_factory=list)


def score_interactions(ws, dataset: str, config: InteractionsConfig, progress=NULL) -> InteractionsOutcome:
    """Score a recorded clustering (default: the latest) by the known interactions among the
    conditions of ``obs[config.condition]``; stored in ``uns['cellwak_interactions']``."""
    from ..tl._string import KEY, run_interactions

    config.check()
    ws = open_workspace(ws)
    ws.dataset(dataset)
    record = recorded_clustering(ws, dataset, config.clustering)
    labels = ws.clustering_labels(record["id"])
    with editing(ws, dataset) as adata:
        with progress.task("reading interactions", total=1) as task:
            network = network_for(adata, config)
            task.advance()
        with progress.task(f"scoring, {config.permutations:,} random partitions", total=1) as task:
            result = run_interactions(adata, config.condition, network, record["key"], groups=labels, key_added=KEY,
                                      permutations=config.permutations, seed=config.seed,
                                      params={"clustering_id": int(record["id"])})
            task.advance()
    return InteractionsOutcome(
        dataset=dataset, clustering_id=int(record["id"]), clustering_key=record["key"], condition=config.condition,
        source=network.source, n_conditions=len(network.mapping) + len(network.unmapped), n_mapped=len(network.mapping),
        unmapped=list(network.unmapped), mapped=dict(network.how), n_clusters=result.n_clusters, n_cells=result.n_cells,
        n_pairs=result.n_pairs, n_others=result.n_others, r_pairs=result.r_pairs, r_others=result.r_others,
        precision=result.precision, recall=result.recall, f1=result.f1, n_predicted=result.n_predicted,
        n_hits=result.n_hits, permutations=result.permutations, p_value=result.p_value,
        recall_p_value=result.recall_p_value, null=result.null, key=KEY, pairs=result.pairs,
        per_condition=result.per_condition)


class SweepScorer:
    """A sweep's external criterion, prepared (files read, conditions mapped) before the sweep
    runs so that bad input is refused before any work; :meth:`add_columns` scores every
    resolution afterwards and adds the columns to the sweep's table (``string_r_pairs``,
    ``string_r_others``, ``string_precision``, ``string_recall``, ``string_f1``,
    ``string_p_value``, ``string_recall_p_value``)."""

    def __init__(self, adata, criterion: SweepCriterion):
        criterion.check()
        self.criterion = criterion
        self.network = network_for(adata, criterion)
        self.values = adata.obs[criterion.condition].astype(object).where(adata.obs[criterion.condition].notna(),
                                                                           None).to_numpy()

    def add_columns(self, adata, result, progress=NULL) -> list[str]:
        import numpy as np

        from ..tl._string import sweep_columns
        from ..tl.sweep import sweep_key

        gammas = [float(g) for g in result.table["gamma"]]
        with progress.task(f"{self.criterion.name} criterion ({len(gammas)} resolutions)", total=1) as task:
            columns = sweep_columns(self.values, {g: result.labels[g] for g in gammas}, self.network,
                                    permutations=self.criterion.permutations, seed=self.criterion.seed,
                                    prefix=f"{self.criterion.name}_")
            task.advance()
        stored = adata.uns.get(sweep_key(result.params.get("key_added", "cellwak_leiden")), {}).get("table")
        for name, values in columns.items():
            result.table[name] = np.asarray(values, dtype=float)
            if stored is not None:
                stored[name] = np.asarray(values, dtype=float)
        result.params["criterion"] = {**{k: v for k, v in self.criterion.to_dict().items() if v is not None},
                                      "mapped": len(self.network.mapping), "pairs": self.network.graph.ecount()}
        return list(columns)


def sweep_scorer(adata, criterion: SweepCriterion | None):
    """A :class:`SweepScorer` for ``criterion`` (None: no criterion)."""
    return None if criterion is None else SweepScorer(adata, criterion)
