"""Workspace operations: what the command line, the dashboard and scripts all call.

Each operation takes the workspace (a :class:`cellwak.store.Workspace`, a folder, or None for the
default), a name and a typed configuration (:mod:`cellwak.api.config`), and returns a result with
``to_dict()``. Validation, device resolution, defaults, locking and catalog writes happen here,
once; the in-memory, scanpy-shaped tools they call are :mod:`cellwak.pp` and :mod:`cellwak.tl`::

    from cellwak import api
    api.add_dataset(None, "cells.csv", name="screen", options=ReadOptions(label="compound"))
    out = api.cluster(None, "screen", api.ClusterConfig(gamma="auto"))
    print(out.n_clusters, out.metrics)

Submodules load on first use, so importing this package stays cheap for the faces.
"""

from __future__ import annotations

import importlib

from .config import (ClassifyConfig, ClusterConfig, DewakConfig, GraphConfig, ScoreConfig, SimulateConfig,
                     SweepConfig, TrainSettings)

_OPERATIONS = {
    "open_workspace": "_common",
    "list_datasets": "datasets", "add_dataset": "datasets", "show_dataset": "datasets", "export_dataset": "datasets",
    "remove_dataset": "datasets", "simulate_batches": "datasets",
    "cluster": "clustering", "sweep": "clustering", "dewak": "clustering",
    "score": "labels", "classify": "labels",
    "list_clusterings": "clusterings", "show_clustering": "clusterings", "remove_clusterings": "clusterings",
    "prune_clusterings": "clusterings",
    "start_run": "runs", "resume_run": "runs", "list_runs": "runs", "show_run": "runs", "run_log": "runs",
    "cancel_run": "runs", "export_run_metrics": "runs", "embed_run": "runs",
    "model_defaults": "runs", "model_choices": "runs", "models": "runs",
    "doctor": "installation",
    "enrich": "enrichment", "EnrichConfig": "enrichment",  # configs of these modules load with them
    "score_interactions": "interactions", "InteractionsConfig": "interactions", "SweepCriterion": "interactions",
    "embed": "embedding", "EmbedConfig": "embedding",
    "markers": "cluster_markers", "MarkersConfig": "cluster_markers",  # api.markers: a module of that name would shadow it
    "plot": "plots", "PlotConfig": "plots",  # R figures (issue 13); module named plots, not plot
    "crops": "views", "embedding_sample": "views", "run_curves": "views", "sweep_profile": "views",
    "dashboard_target": "views", "terminal_graphics": "installation", "devices": "installation",
}


def __getattr__(name):
    if name == "ReadOptions":  # how a file becomes a dataset: cellwak.io's typed options
        from ..io import ReadOptions

        return ReadOptions
    module = _OPERATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'cellwak.api' has no attribute {name!r}")
    mod = importlib.import_module(f".{module}", __name__)
    return getattr(mod, "collect" if name == "doctor" else name)


__all__ = ["ReadOptions", "ClassifyConfig", "ClusterConfig", "DewakConfig", "GraphConfig", "ScoreConfig", "SimulateConfig",
           "SweepConfig", "TrainSettings", *sorted(_OPERATIONS)]
