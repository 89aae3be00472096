"""The cellwak Textual dashboard (``cellwak tui``): datasets, runs and clusterings of a workspace.

Start it with ``cellwak tui`` or :func:`cellwak_tui.app.run`; it calls :mod:`cellwak.api` only."""
