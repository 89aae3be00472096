"""``python -m cellwak``: the command line (same as the ``cellwak`` script)."""

from .cli import main

main()
