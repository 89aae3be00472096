"""``cellwak embed``: a trained run's outputs (embedding, predictions) written into a dataset."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .. import api
from ._state import emit, home


def embed(
    run: Annotated[int, typer.Option("--run", help="A done run (see `cellwak runs list`).", show_default=False)],
    dataset: Annotated[Optional[str], typer.Option("--dataset", "-d", help="Dataset to embed (default: the run's own).",
                                                   show_default=False)] = None,
):
    """Write a done run's outputs (e.g. obsm X_vime, X_mevae) into a dataset: its own (from the
    copy kept with the run) or another one with the same features, through the run's final
    weights."""
    out = api.embed_run(home(), run, dataset)
    emit(out, lambda c: c.print(f"run {out['run']} ({out['model']}) wrote {', '.join(out['outputs'])} "
                                f"into dataset '{out['dataset']}'", markup=False))
