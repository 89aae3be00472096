"""Known interactions as an external criterion of a clustering (STRING, or a table of gene pairs).

The DeePWAK/CrobustaScreen work judges a clustering of a perturbation screen by whether genes
known to interact (STRING) end up in the same clusters (shared methods/deepwak.md 1.7, 3). Here
the conditions (the values of an obs column: perturbed genes) are mapped to proteins, the known
interactions among them form a graph (igraph; vertices the conditions, an edge per interacting
pair), and a clustering is scored by

1. each condition's profile over the clusters: the share of its cells in each cluster;
2. the correlation across clusters of the profiles of two conditions, after subtracting the
   share of all scored cells in each cluster (raw shares would correlate through cluster sizes
   alone): the mean over interacting pairs (``r_pairs``) against the mean over all other pairs
   (``r_others``);
3. precision and recall of "interacting pairs share a cluster", a condition's cluster being its
   most-enriched one (largest Pearson residual (observed - expected) / sqrt(expected));
4. a permutation null: random partitions with exactly the clustering's cluster sizes (its labels
   shuffled over the cells, seeded), scored the same way, vectorised (1,000 take well under a
   second on the 1,831-embryo screen); ``p_value`` = (1 + #null >= observed) / (1 + permutations)
   for ``r_pairs`` (and ``recall_p_value`` for the recall).

Only conditions that map count (with a pair table: the conditions named in it; with STRING's
files: those whose name or alias is a protein of the info/aliases files); the others are listed
as unmapped. Mapping is by exact name ignoring case first, then ignoring punctuation too
(``Gna12/13`` = ``Gna12.13``), preferred names before aliases.

Scanpy-shaped: :func:`interactions` writes ``uns[key_added]`` (default ``cellwak_interactions``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import provenance
from ..errors import InputError, short_list
from ..io.string_db import check_links, name_key, read_aliases, read_info, read_links, read_pairs

KEY = "cellwak_interactions"
GROUPBY = "cellwak_leiden"
MIN_SCORE = 400          # STRING's "medium confidence"
PERMUTATIONS = 1000
CELLS_PER_CHUNK = 4_000_000   # permuted labels held at once (permutations x cells)


@dataclass
class InteractionNetwork:
    """The conditions that map, the known interactions among them, how each was mapped."""

    graph: object                    # igraph.Graph: vertex attribute 'name' (condition), edge 'weight'
    mapping: dict                    # condition -> the protein ids (or pair-table names) it maps to
    how: dict                        # condition -> 'name', 'alias', 'name (loose)', 'alias (loose)'
    unmapped: list                   # conditions that map to nothing
    source: dict = field(default_factory=dict)

    @property
    def conditions(self) -> list[str]:
        return list(self.graph.vs["name"])

    def pairs(self) -> list[tuple[str, str, float]]:
        names = self.graph.vs["name"]
        return [(names[e.source], names[e.target], float(e["weight"])) for e in self.graph.es]


def _lookup_table(names: pd.Series, ids: pd.Series, priority: int) -> pd.DataFrame:
    return pd.DataFrame({"lower": names.astype(str).str.lower().to_numpy(),
                         "loose": names.astype(str).map(name_key).to_numpy(), "id": ids.astype(str).to_numpy(),
                         "priority": priority})


def map_conditions(conditions, table: pd.DataFrame) -> tuple[dict, dict, list]:
    """Map each condition through ``table`` (columns lower, loose, id, priority: 0 preferred
    names, 1 aliases): exact names ignoring case first, then names ignoring punctuation; a lower
    priority wins within a tier. Returns (condition -> sorted ids, condition -> how, unmapped)."""
    tiers = [("lower", lambda c: str(c).lower(), ""), ("loose", name_key, " (loose)")]
    kinds = {0: "name", 1: "alias"}
    conditions = list(conditions)
    wanted = table["lower"].isin({str(c).lower() for c in conditions}) | table["loose"].isin(set(map(name_key, conditions)))
    table = table[wanted.to_numpy()]  # only the rows that can match: a whole species' names group slowly
    groups = {col: {k: g for k, g in table.groupby(col, sort=False)} for col, _, _ in tiers}
    mapping, how, unmapped = {}, {}, []
    for cond in conditions:
        for col, key, suffix in tiers:
            k = key(cond)
            hit = groups[col].get(k) if k else None
            if hit is not None and len(hit):
                best = int(hit["priority"].min())
                mapping[cond] = sorted(set(hit.loc[hit["priority"] == best, "id"]))
                how[cond] = kinds.get(best, "name") + suffix
                break
        else:
            unmapped.append(cond)
    return mapping, how, unmapped


def _graph(conditions: list[str], edges: dict) -> object:
    import igraph as ig

    index = {c: i for i, c in enumerate(conditions)}
    g = ig.Graph(n=len(conditions))
    g.vs["name"] = list(conditions)
    items = sorted(edges.items(), key=lambda kv: (index[kv[0][0]], index[kv[0][1]]))
    g.add_edges([(index[a], index[b]) for (a, b), _ in items])
    g.es["weight"] = [float(w) for _, w in items]
    return g


def _refuse_unmapped(conditions, unmapped, source: str) -> None:
    if len(unmapped) == len(conditions):
        raise InputError(f"none of the {len(conditions)} conditions maps to {source} (unmapped: {short_list(unmapped, 4)})",
                         "check --condition, and that the files name these genes (same species, same names)")
    mapped = len(conditions) - len(unmapped)
    if mapped < 2:
        raise InputError(f"only {mapped} of {len(conditions)} conditions maps to {source} "
                         f"(unmapped: {short_list(unmapped, 4)})", "at least two must map to score pairs")


def _condition_edges(mapping: dict, links: pd.DataFrame, *, count: bool = False) -> dict:
    """(condition a, condition b) -> the highest score of a link between their proteins (or,
    with ``count``, how many rows link them)."""
    owners: dict[str, list[str]] = {}
    for cond, ids in mapping.items():
        for i in ids:
            owners.setdefault(i, []).append(cond)
    order = {c: i for i, c in enumerate(mapping)}
    edges: dict[tuple[str, str], float] = {}
    for p1, p2, score in zip(links["a"], links["b"], links["score"]):
        found = set()
        for ca in owners.get(p1, ()):
            for cb in owners.get(p2, ()):
                if ca != cb:  # a condition with itself (Gata-Gata) says nothing about a partition
                    found.add((ca, cb) if order[ca] < order[cb] else (cb, ca))
        for key in found:
            edges[key] = edges.get(key, 0.0) + 1.0 if count else max(edges.get(key, -np.inf), float(score))
    return edges


def _no_edges(mapped: int, source: str, fix: str):
    return InputError(f"no two of the {mapped} mapped conditions interact in {source}", fix)


def pair_network(conditions, pairs) -> InteractionNetwork:
    """The network of a pair table (a path, or a :class:`cellwak.io.string_db.PairTable`)."""
    table = read_pairs(pairs) if not hasattr(pairs, "pairs") else pairs
    names = pd.Series(pd.unique(pd.concat([table.pairs["a"], table.pairs["b"]], ignore_index=True)))
    conditions = [str(c) for c in conditions]
    mapping, how, unmapped = map_conditions(conditions, _lookup_table(names, names, 0))
    source = f"a gene of the pair table {pairs}" if not hasattr(pairs, "pairs") else "a gene of the pair table"
    _refuse_unmapped(conditions, unmapped, source)
    how = {c: "pair table" + (" (loose)" if h.endswith("(loose)") else "") for c, h in how.items()}
    links = pd.DataFrame({"a": table.pairs["a"].to_numpy(), "b": table.pairs["b"].to_numpy(), "score": 1.0})
    edges = _condition_edges(mapping, links, count=True)  # weight: how many rows of the table name the pair
    if not edges:
        raise _no_edges(len(mapping), "the pair table", "check that the table pairs these conditions' genes")
    return InteractionNetwork(graph=_graph(list(mapping), edges), mapping=mapping, how=how, unmapped=unmapped,
                              source={"kind": "pairs", "pairs": str(pairs) if not hasattr(pairs, "pairs") else None,
                                      "columns": list(table.columns), "rows": int(len(table.pairs))})


def string_network(conditions, links, info, aliases=None, *, min_score: int = MIN_SCORE) -> InteractionNetwork:
    """The network among ``conditions`` from STRING's flat files: each condition mapped to the
    proteins whose preferred name (``info``) or alias (``aliases``) it is, an edge where two
    conditions' proteins have a link with ``combined_score >= min_score``."""
    conditions = [str(c) for c in conditions]
    check_links(links)  # a wrong file is named before anything is read in full
    info_t = read_info(info)
    table = _lookup_table(info_t["preferred_name"], info_t["string_protein_id"], 0)
    if aliases is not None:
        alias_t = read_aliases(aliases, names=conditions)
        table = pd.concat([table, _lookup_table(alias_t["alias"], alias_t["string_protein_id"], 1)], ignore_index=True)
    mapping, how, unmapped = map_conditions(conditions, table)
    _refuse_unmapped(conditions, unmapped, "a protein of the STRING info" + (" or aliases file" if aliases else " file"))
    proteins = {i for ids in mapping.values() for i in ids}
    read = read_links(links, proteins=proteins, min_score=min_score)
    edges = _condition_edges(mapping, read.rename(columns={"protein1": "a", "protein2": "b", "combined_score": "score"}))
    if not edges:
        raise _no_edges(len(mapping), f"the STRING links at --min-score {min_score}",
                        "lower --min-score (STRING: 150 low, 400 medium, 700 high confidence)")
    return InteractionNetwork(graph=_graph(list(mapping), edges), mapping=mapping, how=how, unmapped=unmapped,
                              source={"kind": "string", "links": str(links), "info": str(info),
                                      "aliases": str(aliases) if aliases is not None else None,
                                      "min_score": int(min_score), "links_kept": int(len(read))})


def interaction_network(conditions, *, pairs=None, links=None, info=None, aliases=None,
                        min_score: int = MIN_SCORE) -> InteractionNetwork:
    """:func:`pair_network` with ``pairs``, else :func:`string_network` with ``links`` and ``info``."""
    if (pairs is None) == (links is None):
        raise InputError("give either a pair table or STRING's links file, not both" if pairs is not None
                         else "no interactions given", "pass --pairs FILE, or --links FILE with --info FILE")
    if pairs is not None:
        return pair_network(conditions, pairs)
    if info is None:
        raise InputError("--links needs --info", "pass STRING's protein.info file of the same species and release")
    return string_network(conditions, links, info, aliases, min_score=min_score)


# -- scoring -------------------------------------------------------------------------------------

def random_partitions(labels, count: int, seed: int = 0, rng=None) -> np.ndarray:
    """``count`` random partitions with exactly the cluster sizes of ``labels``: each row is
    ``labels`` shuffled (count x n)."""
    rng = np.random.default_rng(seed) if rng is None else rng
    labels = np.asarray(labels)
    return rng.permuted(np.broadcast_to(labels, (int(count), labels.size)), axis=1)


@dataclass
class _Setup:
    conditions: list          # the scored conditions (network order)
    cond: np.ndarray          # per cell: index into conditions, -1 when not scored
    pairs: np.ndarray         # (P, 2) interacting pairs (indices)
    pair_weight: np.ndarray
    others: np.ndarray        # (Q, 2) every other pair of scored conditions


def _setup(values, network: InteractionNetwork) -> _Setup:
    conditions = network.conditions
    vals = pd.Series(np.asarray(values, dtype=object))
    cond = pd.Categorical(vals.where(vals.isna(), vals.astype(str)), categories=conditions).codes.astype(np.int64)
    c = len(conditions)
    iu, ju = np.triu_indices(c, 1)
    adj = np.zeros((c, c), dtype=bool)
    weight = np.zeros((c, c))
    for e in network.graph.es:
        a, b = sorted((e.source, e.target))
        adj[a, b] = True
        weight[a, b] = e["weight"]
    inter = adj[iu, ju]
    return _Setup(conditions=conditions, cond=cond, pairs=np.stack([iu[inter], ju[inter]], 1),
                  pair_weight=weight[iu[inter], ju[inter]], others=np.stack([iu[~inter], ju[~inter]], 1))


def _stats(setup: _Setup, labels: np.ndarray, K: int) -> dict:
    """The scores of a batch of partitions (``labels``: B x n cluster indices), vectorised."""
    scored = setup.cond >= 0
    cond = setup.cond[scored]
    lab = labels[:, scored]
    B, c = lab.shape[0], len(setup.conditions)
    flat = (np.arange(B)[:, None] * (c * K) + cond[None, :] * K + lab).ravel()
    counts = np.bincount(flat, minlength=B * c * K).reshape(B, c, K).astype(float)
    sizes = counts.sum(axis=2, keepdims=True)                     # cells per condition (B, c, 1)
    total = sizes.sum(axis=1, keepdims=True)                      # (B, 1, 1)
    col = counts.sum(axis=1, keepdims=True)                       # cells per cluster (B, 1, K)
    share = counts / np.maximum(sizes, 1)
    resid = share - col / total
    resid -= resid.mean(axis=2, keepdims=True)
    norm = np.sqrt((resid ** 2).sum(axis=2, keepdims=True))
    z = np.divide(resid, norm, out=np.zeros_like(resid), where=norm > 1e-12)
    corr = z @ z.transpose(0, 2, 1)                               # (B, c, c)
    expected = sizes * col / total
    with np.errstate(divide="ignore", invalid="ignore"):
        pearson = np.where(expected > 0, (counts - expected) / np.sqrt(expected), -np.inf)
    top = pearson.argmax(axis=2)                                  # (B, c): most-enriched cluster
    p, q = setup.pairs, setup.others
    r_pairs = corr[:, p[:, 0], p[:, 1]]
    r_others = corr[:, q[:, 0], q[:, 1]] if len(q) else np.full((B, 0), np.nan)
    same_pairs = top[:, p[:, 0]] == top[:, p[:, 1]]
    same_others = top[:, q[:, 0]] == top[:, q[:, 1]] if len(q) else np.zeros((B, 0), dtype=bool)
    hits = same_pairs.sum(axis=1)
    predicted = hits + same_others.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, hits / np.maximum(predicted, 1), np.nan)
    recall = hits / max(len(p), 1)
    with np.errstate(invalid="ignore"):
        f1 = np.where(hits > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {"r_pairs": r_pairs.mean(axis=1), "r_others": r_others.mean(axis=1) if len(q) else np.full(B, np.nan),
            "precision": precision, "recall": recall, "f1": f1, "hits": hits, "predicted": predicted,
            "_corr": corr, "_top": top, "_counts": counts, "_same": same_pairs, "_r": r_pairs}


@dataclass
class InteractionResult:
    conditions: list               # scored conditions
    n_clusters: int
    n_cells: int                   # cells of the scored conditions
    r_pairs: float                 # mean profile correlation of interacting pairs
    r_others: float                # ... of all other pairs of scored conditions
    precision: float
    recall: float
    f1: float
    n_pairs: int
    n_others: int
    n_predicted: int               # pairs sharing their most-enriched cluster
    n_hits: int                    # interacting pairs among them
    permutations: int
    p_value: float | None          # permutation p of r_pairs
    recall_p_value: float | None
    null: dict                     # mean and sd of each score over the random partitions
    pairs: list                    # per interacting pair: a, b, weight, r, cluster_a, cluster_b, same
    per_condition: list            # condition, cells, cluster (most enriched), profile (shares)
    clusters: list                 # cluster names, in profile order
    params: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """The scalar scores (what a sweep reports per resolution)."""
        return {"r_pairs": self.r_pairs, "r_others": self.r_others, "precision": self.precision,
                "recall": self.recall, "f1": self.f1, "p_value": self.p_value, "recall_p_value": self.recall_p_value}


def _clusters(labels) -> tuple[np.ndarray, list]:
    labels = np.asarray(labels)
    names, codes = np.unique(labels.astype(str), return_inverse=True)
    try:
        order = sorted(range(len(names)), key=lambda i: int(names[i]))
    except ValueError:
        order = list(range(len(names)))
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    return rank[codes.ravel()], [str(names[i]) for i in order]


def score_interactions(values, labels, network: InteractionNetwork, *, permutations: int = PERMUTATIONS,
                       seed: int = 0) -> InteractionResult:
    """Score the clustering ``labels`` (one per cell) by the known interactions among the
    conditions ``values`` (one per cell; the module docstring says how)."""
    labels = np.asarray(labels)
    values = np.asarray(values, dtype=object)
    if labels.shape[0] != values.shape[0]:
        raise InputError(f"{labels.shape[0]} cluster labels for {values.shape[0]} conditions", "give one of each per cell")
    if permutations < 0:
        raise InputError(f"--permutations must be 0 or more, got {permutations}")
    setup = _setup(values, network)
    if not (setup.cond >= 0).any():
        raise InputError("no cell has a mapped condition", "check --condition")
    codes, clusters = _clusters(labels)
    K = len(clusters)
    obs = _stats(setup, codes[None, :], K)
    null_keys = ("r_pairs", "r_others", "precision", "recall", "f1")
    null = {k: [] for k in null_keys}
    rng = np.random.default_rng(seed)
    per_chunk = max(1, CELLS_PER_CHUNK // max(codes.size, 1))
    done = 0
    while done < permutations:
        b = min(per_chunk, permutations - done)
        s = _stats(setup, random_partitions(codes, b, rng=rng), K)
        for k in null_keys:
            null[k].append(s[k])
        done += b
    null = {k: np.concatenate(v) if v else np.array([]) for k, v in null.items()}

    def pvalue(key):
        if not permutations:
            return None
        return float((1 + np.sum(null[key] >= obs[key][0] - 1e-12)) / (1 + permutations))

    def stat(v):
        v = v[~np.isnan(v)]
        return {"mean": float(v.mean()) if v.size else None, "sd": float(v.std(ddof=1)) if v.size > 1 else None}

    names = setup.conditions
    top, counts = obs["_top"][0], obs["_counts"][0]
    sizes = counts.sum(axis=1)
    pairs = [{"a": names[i], "b": names[j], "weight": float(w), "r": float(r), "cluster_a": clusters[top[i]],
              "cluster_b": clusters[top[j]], "same": bool(s)}
             for (i, j), w, r, s in zip(setup.pairs, setup.pair_weight, obs["_r"][0], obs["_same"][0])]
    per_condition = [{"condition": names[i], "cells": int(sizes[i]), "cluster": clusters[top[i]] if sizes[i] else None,
                      "profile": (counts[i] / max(sizes[i], 1)).round(6).tolist()} for i in range(len(names))]
    first = lambda key: float(obs[key][0])  # noqa: E731
    return InteractionResult(
        conditions=names, n_clusters=K, n_cells=int(sizes.sum()), r_pairs=first("r_pairs"), r_others=first("r_others"),
        precision=first("precision"), recall=first("recall"), f1=first("f1"), n_pairs=int(len(setup.pairs)),
        n_others=int(len(setup.others)), n_predicted=int(obs["predicted"][0]), n_hits=int(obs["hits"][0]),
        permutations=int(permutations), p_value=pvalue("r_pairs"), recall_p_value=pvalue("recall"),
        null={k: stat(v) for k, v in null.items()} if permutations else {}, pairs=pairs, per_condition=per_condition,
        clusters=clusters, params={"permutations": int(permutations), "seed": int(seed)})


def check_condition(adata, condition: str) -> None:
    if condition not in adata.obs:
        raise InputError(f"no obs column {condition!r}", f"choose one of {short_list(list(adata.obs.columns), 12)}")
    present = adata.obs[condition].dropna().astype(str).unique()
    if len(present) < 2:
        raise InputError(f"obs column {condition!r} holds {'one value' if len(present) else 'no values'}",
                         "name the column of the perturbed genes (one value per condition)")


def conditions_of(adata, condition: str) -> list[str]:
    """The distinct values of ``obs[condition]``, largest first."""
    check_condition(adata, condition)
    return [str(v) for v in adata.obs[condition].dropna().astype(str).value_counts().index]


def run_interactions(adata, condition: str, network: InteractionNetwork, groupby: str = GROUPBY, *,
                     groups=None, key_added: str = KEY, permutations: int = PERMUTATIONS, seed: int = 0,
                     params: dict | None = None) -> InteractionResult:
    """:func:`score_interactions` of ``obs[groupby]`` (or the labels ``groups``) by the conditions
    in ``obs[condition]``; writes ``uns[key_added]`` and returns the result."""
    check_condition(adata, condition)
    if groups is None and groupby not in adata.obs:
        raise InputError(f"no clustering obs[{groupby!r}]", "run cw.tl.leiden(adata) first, or name the column with groupby=")
    labels = adata.obs[groupby].to_numpy() if groups is None else np.asarray(groups)
    values = adata.obs[condition].astype(object).where(adata.obs[condition].notna(), None).to_numpy()
    result = score_interactions(values, labels, network, permutations=permutations, seed=seed)
    result.params.update({"condition": condition, "groupby": groupby, **network.source, **(params or {})})
    write_interactions(adata, result, network, key_added)
    return result


def _plain(d: dict) -> dict:
    """An uns-writable dict: no None values."""
    return {k: v for k, v in d.items() if v is not None}


def write_interactions(adata, result: InteractionResult, network: InteractionNetwork, key_added: str = KEY) -> None:
    summary = {**result.summary(), "n_pairs": result.n_pairs, "n_others": result.n_others,
               "n_predicted": result.n_predicted, "n_hits": result.n_hits, "n_clusters": result.n_clusters,
               "n_cells": result.n_cells}
    pairs = pd.DataFrame(result.pairs)
    adata.uns[key_added] = {
        "summary": _plain({k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in summary.items()}),
        "null": {k: _plain(v) for k, v in result.null.items()},
        "pairs": {c: pairs[c].to_numpy() for c in pairs.columns} if len(pairs) else {},
        "conditions": np.asarray(result.conditions, dtype=str),
        "unmapped": np.asarray(network.unmapped, dtype=str),
        "clusters": np.asarray(result.clusters, dtype=str),
        "profiles": np.asarray([r["profile"] for r in result.per_condition], dtype=float),
        "params": _plain(result.params)}
    adata.uns.setdefault("cellwak", {})["interactions"] = provenance.record("interactions", _plain(result.params),
                                                                            seed=result.params.get("seed"))


def interactions(adata, condition: str, network: InteractionNetwork, groupby: str = GROUPBY, key_added: str = KEY,
                 permutations: int = PERMUTATIONS, seed: int = 0, copy: bool = False):
    """Score the clustering ``obs[groupby]`` by the known interactions ``network``
    (:func:`interaction_network`) among the conditions in ``obs[condition]``: profile
    correlations of interacting vs other pairs, precision/recall of shared clusters and a
    permutation p-value (module docstring). Writes ``uns[key_added]``. Returns None, or a
    modified copy with ``copy=True``."""
    adata = adata.copy() if copy else adata
    run_interactions(adata, condition, network, groupby, key_added=key_added, permutations=permutations, seed=seed)
    return adata if copy else None


def sweep_columns(values, partitions: dict, network: InteractionNetwork, *, permutations: int = PERMUTATIONS,
                  seed: int = 0, prefix: str = "string_") -> dict:
    """Per partition (``{gamma: labels}``) the interaction scores, as columns (name -> list in
    the order of ``partitions``) to report beside a sweep's label-free evidence."""
    columns: dict[str, list] = {}
    for labels in partitions.values():
        s = score_interactions(values, labels, network, permutations=permutations, seed=seed).summary()
        for k, v in s.items():
            columns.setdefault(prefix + k, []).append(np.nan if v is None else v)
    return columns
