"""``cellwak string``: a clustering scored by known interactions among the perturbed genes."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from .. import api
from ..api.config import DEFAULT_DATASET
from ..api.interactions import CRITERIA, InteractionsConfig, InteractionSource, SweepCriterion
from ._options import Dataset, Seed
from ._progress import CliProgress
from ._state import emit, home

# the options of the interaction source, shared with `cellwak sweep --criterion string`
Condition = Annotated[Optional[str], typer.Option(help="obs column of the conditions (the perturbed genes), e.g. "
                                                       "Condition.", show_default=False)]
Pairs = Annotated[Optional[str], typer.Option(help="A table of interacting gene pairs (CSV or TSV; gene columns "
                                                   "name.x and name.y, gene1 and gene2, node1 and node2, or the only "
                                                   "two).", show_default=False)]
Links = Annotated[Optional[str], typer.Option(help="STRING's protein.links or protein.links.detailed file (plain or "
                                                   ".gz); needs --info.", show_default=False)]
Info = Annotated[Optional[str], typer.Option(help="STRING's protein.info file: preferred names of the proteins.",
                                             show_default=False)]
Aliases = Annotated[Optional[str], typer.Option(help="STRING's protein.aliases file: other names of the proteins.",
                                                show_default=False)]
MinScore = Annotated[int, typer.Option(help="Least STRING combined score of a link (150 low, 400 medium, 700 high "
                                            "confidence).")]
Criterion = Annotated[Optional[Literal[CRITERIA]], typer.Option(help="An external criterion reported for every "
                                                                     "resolution (never used to choose): string scores "
                                                                     "each by known interactions among --condition.",
                                                                show_default=False)]


MIN_SCORE = InteractionSource.min_score


def sweep_criterion(criterion, condition, pairs, links, info, aliases, min_score):
    """The sweep's criterion settings (None when none of its options is given)."""
    given = [criterion, condition, pairs, links, info, aliases]
    if all(v is None for v in given) and min_score == InteractionSource.min_score:
        return None
    return SweepCriterion(name=criterion, condition=condition or "", pairs=pairs, links=links, info=info,
                          aliases=aliases, min_score=min_score)


def string(
    condition: Annotated[str, typer.Option(help="obs column of the conditions (the perturbed genes), e.g. Condition.",
                                           show_default=False)],
    dataset: Dataset = DEFAULT_DATASET,
    pairs: Pairs = InteractionsConfig.pairs,
    links: Links = InteractionsConfig.links,
    info: Info = InteractionsConfig.info,
    aliases: Aliases = InteractionsConfig.aliases,
    min_score: MinScore = InteractionsConfig.min_score,
    clustering: Annotated[Optional[int], typer.Option(help="Clustering id to score (default: the dataset's latest).",
                                                      show_default=False)] = InteractionsConfig.clustering,
    permutations: Annotated[int, typer.Option(help="Random partitions with the same cluster sizes for the p-value "
                                                   "(0: none).")] = InteractionsConfig.permutations,
    seed: Seed = InteractionsConfig.seed,
):
    """Score a clustering by known interactions (STRING's flat files, or a table of gene pairs):
    do conditions whose genes interact have similar profiles over the clusters, and share their
    most-enriched cluster, more than random partitions with the same cluster sizes? Give either
    --pairs FILE or --links FILE --info FILE (and optionally --aliases FILE). The result is stored
    in uns cellwak_interactions.
    """
    config = InteractionsConfig(condition=condition, pairs=pairs, links=links, info=info, aliases=aliases,
                                min_score=min_score, clustering=clustering, permutations=permutations, seed=seed)
    with CliProgress() as progress:
        out = api.score_interactions(home(), dataset, config, progress)
    emit(out, lambda c: render(c, out.to_dict()))


def _f(v, digits=3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _p(v) -> str:
    return "-" if v is None else (f"{v:.3f}" if v >= 0.001 else f"{v:.1e}")


def render(console, out: dict) -> None:
    from pathlib import PurePath

    from rich.markup import escape
    from rich.table import Table

    src = out["source"]
    where = (f"pair table {PurePath(src['pairs']).name}" if src.get("kind") == "pairs" and src.get("pairs")
             else f"STRING, score >= {src.get('min_score')}")
    console.print(escape(f"{out['dataset']} clustering #{out['clustering_id']} ({out['n_clusters']} clusters) by known "
                         f"interactions among obs {out['condition']!r}"))
    unmapped = out["unmapped"]
    shown = ", ".join(unmapped[:6]) + (f" (and {len(unmapped) - 6} more)" if len(unmapped) > 6 else "")
    console.print(escape(f"{out['n_mapped']} of {out['n_conditions']} conditions map ({where}): {out['n_cells']:,} "
                         f"cells, {out['n_pairs']} interacting pairs, {out['n_others']} other pairs"
                         + (f"; unmapped: {shown}" if unmapped else "")))
    null = out["null"] or {}
    table = Table(show_edge=False, pad_edge=False, box=None)
    table.add_column("")
    table.add_column("observed", justify="right")
    if out["permutations"]:
        table.add_column(f"random ({out['permutations']:,})", justify="right")
        table.add_column("p", justify="right")

    def row(label, key, p=None):
        cells = [label, _f(out[key])]
        if out["permutations"]:
            n = null.get(key) or {}
            cells += [f"{_f(n.get('mean'))} +- {_f(n.get('sd'))}", _p(p) if p is not None else ""]
        table.add_row(*cells)

    row("r interacting pairs", "r_pairs", out["p_value"])
    row("r other pairs", "r_others")
    row("recall", "recall", out["recall_p_value"])
    row("precision", "precision")
    console.print(table)
    console.print(f"r: mean correlation of two conditions' profiles over the clusters; recall and precision: "
                  f"interacting pairs that share their most-enriched cluster ({out['n_hits']} of {out['n_pairs']}; "
                  f"{out['n_predicted']} pairs share one); random: partitions with the same cluster sizes")
    best = sorted(out["pairs"], key=lambda r: -r["r"])[:5]
    if best:
        console.print("most similar interacting pairs: " + escape(", ".join(
            f"{r['a']}-{r['b']} {r['r']:.2f}" + (" *" if r["same"] else "") for r in best)) + " (* same cluster)")


def render_criterion(console, out: dict) -> None:
    """A sweep's external criterion columns (``string_*``), one line per resolution."""
    from rich.markup import escape
    from rich.table import Table

    rows = out["rows"]
    criterion = (out.get("params") or {}).get("criterion")
    if not rows or not criterion or f"{criterion['name']}_r_pairs" not in rows[0]:
        return
    name = criterion["name"]
    table = Table(show_edge=False, pad_edge=False, title_justify="left",
                  title=escape(f"{name}: known interactions among obs {criterion['condition']!r} "
                               f"({criterion['mapped']} conditions, {criterion['pairs']} pairs); not used to choose"))
    for c in ("gamma", "K", "r pairs", "r others", "p", "precision", "recall", "recall p"):
        table.add_column(c, justify="right")
    for r in rows:
        table.add_row(f"{r['gamma']:.3g}", str(r["n_clusters"]), _f(r[f"{name}_r_pairs"]), _f(r[f"{name}_r_others"]),
                      _p(r[f"{name}_p_value"]), _f(r[f"{name}_precision"]), _f(r[f"{name}_recall"]),
                      _p(r[f"{name}_recall_p_value"]), style="bold" if r["gamma"] == out["chosen_gamma"] else None)
    console.print(table)
    console.print("r pairs and r others: mean correlation of the conditions' profiles over the clusters for interacting "
                  "and other pairs; p: share of random partitions with the same sizes scoring as high")
