"""The command palette (ctrl+p): every action of the dashboard by name."""

from __future__ import annotations

from textual.app import SystemCommand

# (title, help, screen mode or None, action on that screen)
ACTIONS = [
    ("Datasets", "show the workspace's datasets", "datasets", None),
    ("Add a dataset", "read a data file into the workspace", "datasets", "add"),
    ("Export the dataset", "write the selected dataset to .h5ad or .csv", "datasets", "export"),
    ("Remove the dataset", "remove the selected dataset (asks first)", "datasets", "remove"),
    ("Training runs", "show every training run", "runs", None),
    ("Start a training run", "train a model on a dataset, detached", "runs", "new_run"),
    ("Cancel the run", "stop the selected run after a checkpoint", "runs", "cancel_run"),
    ("Resume the run", "continue the selected run from its checkpoint", "runs", "resume_run"),
    ("Clusters", "inspect the clusterings of a dataset", "clusters", None),
    ("Re-cluster at auto", "choose the resolution without labels", "clusters", "auto"),
    ("Compute a UMAP", "a 2-D layout on the dataset's graph", "clusters", "layout"),
    ("Write the figure of this view", "R figure: marker heatmap, sweep panel or embedding", "clusters", "figure"),
]


def system_commands(app):
    for title, help_text, mode, action in ACTIONS:
        yield SystemCommand(title, help_text, lambda m=mode, a=action: app.go(m, a))
    yield SystemCommand("Help", "key bindings of every screen", app.action_help)
