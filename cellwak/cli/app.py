"""The Typer application: global options and command groups."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .._version import __version__

app = typer.Typer(
    name="cellwak",
    help="Find phenotypes in unlabelled single-cell data.\n\n"
         "Global options may appear anywhere on the line: --home PATH (workspace; default "
         "$CELLWAK_HOME or the platform data folder), --json (one strict JSON object on stdout), "
         "--quiet (no progress on stderr), --debug (tracebacks for errors).",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool):
    if value:
        from ._state import emit

        emit({"version": __version__}, lambda c: c.print(f"cellwak {__version__}"))
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print the version and exit.")] = None,
    home: Annotated[Optional[str], typer.Option("--home", help="Workspace folder (default: $CELLWAK_HOME or the platform data folder).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one strict JSON object on stdout and nothing else.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
):
    """Global options are read before parsing (see cellwak.cli.run); these declarations document them."""


def _register():
    from . import (classify, cluster, clusters, cnn, data, deepwak, dewak, dino, doctor, embed, mevae, runs, score, sweep,
                   train, vime)

    app.add_typer(data.app, name="data")
    app.command("cluster")(cluster.cluster)
    app.command("sweep")(sweep.sweep)
    app.command("score")(score.score)
    app.command("classify")(classify.classify)
    from . import markers  # noqa: PLC0415 (issue 11: marker features per cluster)

    app.command("markers")(markers.markers)
    from . import enrich, string  # noqa: PLC0415 (issue 11: enrichment and known interactions)

    app.command("enrich")(enrich.enrich)
    app.command("string")(string.string)
    from . import plot  # noqa: PLC0415 (issue 13: figures drawn by R)

    app.command("plot")(plot.plot)
    app.add_typer(embed.app, name="embed")
    app.add_typer(clusters.app, name="clusters")
    app.command("dewak")(dewak.dewak)
    app.command("doctor")(doctor.doctor)
    from . import tui  # noqa: PLC0415 (issue 12: the dashboard)

    app.command("tui")(tui.tui)
    train.app.command("deepwak")(deepwak.deepwak)
    train.app.command("vime")(vime.vime)
    train.app.command("mevae")(mevae.mevae)
    train.app.command("vae")(mevae.vae)
    train.app.command("dino")(dino.dino)
    train.app.command("cnn")(cnn.cnn)
    app.add_typer(train.app, name="train")
    app.add_typer(runs.app, name="runs")


_register()
