"""The cellwak Textual dashboard (``cellwak tui``): datasets, runs and clusterings of a workspace."""
