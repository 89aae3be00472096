"""The clusters screen: pick a dataset, a representation and a clustering; re-cluster at a new
resolution or ``auto`` in a worker (the interface never waits); the sweep chart; the cluster
table; a cluster's markers, crops, enrichment and agreement with the labels; the layout."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Header,
    Input,
    ProgressBar,
    Select,
    Static,
    TabbedContent,
    TabPane,
)

from cellwak import api

from ..base import ApiScreen, chosen
from ..text import cluster_lines, duration, number
from ..widgets.charts import EmbeddingPlot, SweepPlot
from ..widgets.crops import CropGrid
from ..widgets.table import Table
from ..widgets.text_input import TextInput

DEFAULT_REP = "(default)"
MAX_TABLE_ROWS = 500  # a clustering with more clusters shows its largest ones
# From this many cells on, clustering, layouts, summaries and enrichment run in a child process
# (cellwak_tui.process): in a thread, code holding Python's lock froze the screen for seconds on
# a million cells; below it, a child's start (a few seconds) would cost more than it saves.
CHILD_PROCESS_CELLS = 100_000


def _clustering_label(c: dict) -> str:
    gamma = f"gamma {number(c['gamma'])}" if c.get("gamma") is not None else ""
    chosen = " chosen" if c.get("chosen") else ""
    ari = f" ARI {c['metrics']['ari']:.3f}" if (c.get("metrics") or {}).get("ari") is not None else ""
    return f"#{c['id']} {c['method']} {gamma}{chosen}: {c['n_clusters']} clusters{ari}"


class ClustersScreen(ApiScreen):
    TITLE = "Clusters"
    AUTO_FOCUS = "#cluster-table"  # letters reach the screen's keys (a Select would take them for searching)
    BINDINGS = [("g", "focus_gamma", "Gamma"), ("a", "auto", "Auto"), ("u", "layout", "UMAP"),
                ("k", "show_tab('tab-clusters')", "Table"), ("s", "show_tab('tab-sweep')", "Sweep"),
                ("m", "show_tab('tab-embedding')", "Map"), ("p", "figure", "Figure"), ("f5", "reload", "Reload")]
    FIGURE_OF_TAB = {"tab-clusters": "heatmap", "tab-sweep": "sweep", "tab-embedding": "embedding"}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="cl-controls"):
            yield Select([], prompt="dataset", id="cl-dataset", allow_blank=True)
            yield Select([(DEFAULT_REP, DEFAULT_REP)], value=DEFAULT_REP, id="cl-rep", allow_blank=False)
            yield Select([], prompt="clustering", id="cl-clustering", allow_blank=True)
            yield TextInput(placeholder="gamma", id="cl-gamma", value="1.0")
            yield Button("Cluster", id="cl-run", variant="primary")
            yield Button("Auto", id="cl-auto")
            yield Button("Figure", id="cl-figure")
        with Horizontal(id="cl-statusbar"):
            yield Static("", id="cl-status")
            yield ProgressBar(id="cl-progress", show_eta=True)
        with TabbedContent(id="cl-tabs", initial="tab-clusters"):
            with TabPane("Clusters", id="tab-clusters"):
                with Horizontal(id="cl-main"):
                    yield Table("Cluster", "Cells", "Unlab.", "Majority label", "Share", "Top markers",
                                id="cluster-table", cursor_type="row", zebra_stripes=True)
                    with VerticalScroll(id="cluster-detail"):
                        yield Static("", id="cluster-info")
                        yield CropGrid(max_columns=6, cell_width=10, id="cluster-crops")
                        with Horizontal(id="enrich-row"):
                            yield Static("enrichment of", id="enrich-label")
                            yield Select([], prompt="obs column", id="enrich-by", allow_blank=True)
                        yield Table("Value", "Cells", "Expected", "Fold", "log2 OR", "FDR",
                                    id="enrich-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Sweep", id="tab-sweep"), Vertical():
                yield SweepPlot(id="sweep-plot")
                with VerticalScroll(classes="chart-info"):
                    yield Static("", id="sweep-info")
            with TabPane("Embedding", id="tab-embedding"), Vertical():
                yield EmbeddingPlot(id="embedding-plot")
                with VerticalScroll(classes="chart-info"):
                    yield Static("", id="embedding-info")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#cl-progress", ProgressBar).display = False
        self.summary = None           # the shown clustering's summary (api.show_clustering)
        self._images = False          # the dataset has crops
        self._large = False           # heavy work in a child process (CHILD_PROCESS_CELLS)
        self.enrichment = {}          # (clustering id, column) -> api.enrich outcome
        self.action_reload()

    def on_screen_resume(self) -> None:
        if self.app.dataset and self.app.dataset != self._value("#cl-dataset"):
            self.action_reload()

    # -- the selectors --------------------------------------------------------------------
    def _value(self, selector: str):
        return chosen(self.query_one(selector, Select).value)

    def action_reload(self) -> None:
        self.call_api(api.list_datasets, self.home, done=self._datasets, group="cl-datasets")

    def _datasets(self, listing) -> None:
        names = [d.name for d in listing.datasets]
        select = self.query_one("#cl-dataset", Select)
        select.set_options([(n, n) for n in names])
        if not names:
            self._status("No datasets yet: add one on the Datasets screen (press 1).")
            return
        want = self.app.dataset if self.app.dataset in names else names[0]
        if select.value == want:
            self._load_dataset(want)
        select.value = want

    def on_select_changed(self, event: Select.Changed) -> None:
        value = chosen(event.value)
        if event.select.id == "cl-dataset" and value:
            self._load_dataset(value)
        elif event.select.id == "cl-clustering" and value is not None:
            self._load_clustering(int(value))
        elif event.select.id == "enrich-by" and value:
            self._enrich(value)

    def _load_dataset(self, name: str, select_id: int | None = None) -> None:
        self.app.dataset = name
        self.call_api(lambda home: (api.show_dataset(home, name, add_builtin=False), api.list_clusterings(home, name)),
                      self.home,
                      done=lambda got: self._dataset_loaded(got, select_id), group="cl-dataset")

    def _dataset_loaded(self, got, select_id: int | None) -> None:
        d, listing = got
        self._images = bool(d.image_shape)
        self._large = d.n_obs >= CHILD_PROCESS_CELLS
        reps = [(DEFAULT_REP, DEFAULT_REP), ("X (features)", "X")] + [(r, r) for r in d.representations or []
                                                                       if not r.startswith(("X_cellwak_umap", "X_umap"))]
        rep = self.query_one("#cl-rep", Select)
        keep = rep.value
        rep.set_options(reps)
        rep.value = keep if keep in [v for _, v in reps] else DEFAULT_REP
        self.query_one("#enrich-by", Select).set_options([(c, c) for c in d.obs_columns or []
                                                          if not c.startswith("cellwak_")])
        rows = listing.clusterings
        select = self.query_one("#cl-clustering", Select)
        select.set_options([(_clustering_label(c), c["id"]) for c in reversed(rows)])
        if not rows:
            self._clear_clustering(f"{d.name}: {d.n_obs:,} cells, no clustering yet. Type a gamma and press "
                                   "Cluster, or press Auto (a) for a label-free resolution.")
            return
        plain = [c["id"] for c in rows if c["method"] != "leiden-sweep"]
        want = select_id if select_id is not None else (plain[-1] if plain else rows[-1]["id"])
        if select.value == want:
            self._load_clustering(want)
        select.value = want

    def _clear_clustering(self, message: str) -> None:
        self.summary = None
        self.query_one("#cluster-table", Table).fill([])
        self.query_one("#cluster-info", Static).update("")
        self.query_one(CropGrid).clear()
        self.query_one("#enrich-table", Table).fill([])
        self._status(message)

    # -- one clustering -------------------------------------------------------------------
    def _load_clustering(self, clustering_id: int) -> None:
        dataset = self._value("#cl-dataset")
        self._status(f"loading clustering #{clustering_id} ...")
        self.call_api(api.show_clustering, self.home, clustering_id, done=self._summary, group="cl-summary",
                      process=self._large)
        self.call_api(api.sweep_profile, self.home, dataset, clustering_id, done=self._sweep, group="cl-sweep")
        self.call_api(api.embedding_sample, self.home, dataset, clustering_id=clustering_id, done=self._embedding,
                      group="cl-embedding")

    def _summary(self, s: dict) -> None:
        self.summary = s
        p = s.get("params") or {}
        metrics = s.get("metrics") or {}
        parts = [f"#{s['id']} {s['method']}", f"gamma {number(p.get('gamma'))}" if p.get("gamma") is not None else "",
                 f"({p['gamma_rule']})" if p.get("gamma_rule") else "", f"{s['n_clusters']} clusters",
                 f"k {p.get('k')}", _knn_text(p), f"rep {p.get('rep') or 'X'}"]
        evidence = p.get("evidence") or {}
        if evidence.get("confidence"):
            confidence = evidence["confidence"]
            parts.append(f"confidence {'[yellow]low[/]' if confidence == 'low' else confidence}")
        if metrics.get("ari") is not None:
            parts.append(f"vs {s.get('label_column') or 'labels'}: ARI {metrics['ari']:.3f} NMI {metrics.get('nmi', 0):.3f}")
        self._status("  ".join(x for x in parts if x))
        table = self.query_one("#cluster-table", Table)
        clusters = s.get("clusters") or []
        if s.get("summary_unavailable"):
            self.query_one("#cluster-info", Static).update(f"[red]{s['summary_unavailable']}[/]")
        shown = sorted(clusters, key=lambda c: -c["size"])[:MAX_TABLE_ROWS]
        table.fill([_cluster_row(c) for c in shown], keys=[str(c["cluster"]) for c in shown])
        if clusters:
            table.move_cursor(row=0)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "cluster-table" or self.summary is None or event.row_key is None:
            return
        self._show_cluster(int(event.row_key.value))

    def _show_cluster(self, k: int) -> None:
        s = self.summary
        c = next(c for c in s["clusters"] if c["cluster"] == k)
        width = self.app.size.width // 2 - 6  # the detail pane: half the screen (app.tcss), less its scrollbar room
        lines = cluster_lines(c, s.get("markers") or {}, width)
        self.query_one("#cluster-info", Static).update("\n".join(lines))
        self.query_one(CropGrid).clear()
        dataset = s["dataset"]
        if self._images:
            self.call_api(api.crops, self.home, dataset, n=12, clustering_id=s["id"], cluster=k, add_builtin=False,
                          done=lambda crops: self.query_one(CropGrid).show(
                              crops, f"{len(crops.indices)} of {crops.n_cells:,} crops of cluster {k}"),
                          group="cl-crops")
        by = self._value("#enrich-by")
        if by:
            self._enrich(by)

    # -- enrichment -----------------------------------------------------------------------
    def _enrich(self, by: str) -> None:
        if self.summary is None:
            return
        key = (self.summary["id"], by)
        if key in self.enrichment:
            self._show_enrichment(self.enrichment[key])
            return
        config = api.EnrichConfig(by=by, clustering=self.summary["id"])
        self.call_api(api.enrich, self.home, self.summary["dataset"], config, process=self._large,
                      done=lambda out: (self.enrichment.__setitem__(key, out), self._show_enrichment(out)),
                      group="cl-enrich")

    def _show_enrichment(self, out) -> None:
        table = self.query_one("#enrich-table", Table)
        current = self.query_one("#cluster-table", Table)
        if not current.row_count:
            table.fill([])
            return
        k = int(current.coordinate_to_cell_key(current.cursor_coordinate).row_key.value)
        rows = sorted((r for r in out.table if int(r["cluster"]) == k), key=lambda r: (r["fdr"], -r["fold"]))
        table.fill([(str(r["value"]), f"{r['count']:,}", number(r["expected"]), number(r["fold"]),
                     number(r["log2_odds_ratio"]), f"{r['fdr']:.2g}") for r in rows[:20]])

    # -- re-clustering --------------------------------------------------------------------
    def action_focus_gamma(self) -> None:
        self.query_one("#cl-gamma", Input).focus()

    def action_auto(self) -> None:
        self._cluster("auto")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cl-run":
            self._cluster(self.query_one("#cl-gamma", Input).value.strip())
        elif event.button.id == "cl-auto":
            self._cluster("auto")
        elif event.button.id == "cl-figure":
            self.action_figure()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "cl-gamma":
            self._cluster(event.value.strip())
            self.query_one("#cluster-table", DataTable).focus()  # the screen's keys work again

    def _cluster(self, gamma_text: str) -> None:
        dataset = self._value("#cl-dataset")
        if not dataset:
            self._status("choose a dataset first")
            return
        if gamma_text != "auto":
            try:
                gamma = float(gamma_text)
            except ValueError:
                self._status(f"[red]gamma must be a number or auto, got {gamma_text!r}[/]")
                return
        else:
            gamma = "auto"
        rep = self._value("#cl-rep")
        config = api.ClusterConfig(gamma=gamma, rep=None if rep in (None, DEFAULT_REP) else rep)
        self._status(f"clustering {dataset} at gamma {gamma} ...")
        bar_ = self.query_one("#cl-progress", ProgressBar)
        bar_.display = True
        bar_.update(total=None, progress=0)
        self.call_api(api.cluster, self.home, dataset, config, progress=self._progress, process=self._large,
                      done=self._clustered, failed=self._cluster_failed, group="cl-recluster")

    def _progress(self, description: str, done: int, total, seconds: float) -> None:
        bar_ = self.query_one("#cl-progress", ProgressBar)
        bar_.update(total=total, progress=done)
        self._status(f"{description}: {done}/{total or '?'} after {duration(seconds)}")

    def _clustered(self, out) -> None:
        self.query_one("#cl-progress", ProgressBar).display = False
        rule = f" ({out.gamma_rule})" if out.gamma_rule else ""
        self.notify(f"{out.dataset}: gamma {out.gamma:.3g}{rule}, {out.n_clusters} clusters "
                    f"in {duration(out.timings.get('total'))}", title="clustered")
        for warning in out.warnings or []:  # e.g. a low kNN recall, images clustered on raw pixels
            self.notify(warning, title="warning", severity="warning", timeout=20)
        self._load_dataset(out.dataset, select_id=out.clustering_id)

    def _cluster_failed(self, message: str) -> None:
        self.query_one("#cl-progress", ProgressBar).display = False
        self._status(f"[red]{message}[/]")

    def _status(self, text: str) -> None:
        self.query_one("#cl-status", Static).update(text)

    # -- sweep and layout -----------------------------------------------------------------
    def _sweep(self, profile: dict) -> None:
        self.query_one(SweepPlot).show(profile)
        rows = profile["rows"]
        info = "no sweep recorded for this clustering"
        if rows:
            chosen = next((r for r in rows if r["chosen"]), None)
            info = f"{len(rows)} resolutions from {rows[0]['gamma']:.3g} to {rows[-1]['gamma']:.3g}"
            if chosen:
                stab = f", stability {chosen['stability']:.3f}" if chosen["stability"] is not None else ""
                if chosen.get("cluster_jaccard") is not None:
                    stab += f", least reproducible cluster {chosen['cluster_jaccard']:.3f}"
                info += f"; chosen gamma {chosen['gamma']:.3g}: {chosen['n_clusters']} clusters{stab}"
            marks = ["x: fails the stability test"] if any(r.get("passed") is False for r in rows) else []
            if profile.get("threshold") is not None:
                marks.append(f"level dotted line: its threshold {profile['threshold']:.3f}")
            if marks:
                info += "\n" + "; ".join(marks)
        evidence = profile.get("evidence") or {}
        full = (evidence.get("chosen") or {}).get("full_graph")
        if rows and full:
            verdict = "confirmed" if full["passed"] else "[red]not confirmed[/]"
            info += (f"\nthe points above are a subset graph's (ARI: the full graph's partitions); on the full graph "
                     f"({evidence['full_graph_cells']:,} cells) gamma {full['gamma']:.3g} has stability "
                     f"{full['stability']:.3f}, least reproducible cluster {full['cluster_jaccard']:.3f}: {verdict}")
        if rows and evidence.get("reason"):
            info += f"\nwhy: {evidence['reason']}"
        if rows and evidence.get("also"):
            info += f"\nalso reproducible: {evidence['also']}"
        for warning in evidence.get("warnings") or []:
            info += f"\n[yellow]warning:[/] {warning}"
        self.query_one("#sweep-info", Static).update(info)

    def _embedding(self, sample) -> None:
        self.query_one(EmbeddingPlot).show(sample)
        info = sample.hint or f"{sample.basis}, coloured by the clusters of #{sample.clustering_id}; " \
                              f"layouts stored: {', '.join(sample.available)}"
        self.query_one("#embedding-info", Static).update(info + "   (u: compute a UMAP on the graph)")

    def action_layout(self) -> None:
        dataset = self._value("#cl-dataset")
        if not dataset:
            return
        self._status(f"computing a UMAP of {dataset} ...")
        self.call_api(api.embed, self.home, dataset, progress=self._progress, process=self._large,
                      done=lambda out: (self._status(f"UMAP written to {out.key} in {duration(out.seconds)}"),
                                        self._refresh_embedding()), group="cl-layout")

    def _refresh_embedding(self) -> None:
        clustering = self._value("#cl-clustering")
        self.call_api(api.embedding_sample, self.home, self._value("#cl-dataset"),
                      clustering_id=None if clustering is None else int(clustering), done=self._embedding,
                      group="cl-embedding")

    # -- figures ----------------------------------------------------------------------------
    def action_figure(self) -> None:
        """The R figure of the view shown (cluster table: marker heatmap; sweep: the sweep panel;
        map: the embedding, by cluster), written under ./cellwak-figures/ (PNG)."""
        from pathlib import Path

        dataset, clustering = self._value("#cl-dataset"), self._value("#cl-clustering")
        if not dataset or clustering is None:
            self._status("choose a dataset and a clustering first")
            return
        kind = self.FIGURE_OF_TAB[self.query_one(TabbedContent).active]
        out = Path.cwd() / "cellwak-figures" / f"{dataset}-{kind}-{clustering}.png"
        out.parent.mkdir(exist_ok=True)
        self._status(f"drawing the {kind} figure with R ...")
        config = api.PlotConfig(out=str(out), clustering=int(clustering))
        self.call_api(api.plot, self.home, dataset, kind, config, done=self._figure_written,
                      failed=lambda message: self._status(f"[red]{message}[/]"), group="cl-figure")

    def _figure_written(self, out) -> None:
        self._status(f"figure written: {out.path} ({out.bytes:,} bytes, R {out.r_seconds:.1f} s)")
        self.notify(out.path, title=f"{out.kind} figure written", timeout=10)

    def action_show_tab(self, tab: str) -> None:
        """Show a tab; focus goes with it (a focused widget in a hidden tab would switch back)."""
        from textual.widgets import Tabs

        tabbed = self.query_one(TabbedContent)
        tabbed.active = tab
        if tab == "tab-clusters":
            self.query_one("#cluster-table", DataTable).focus()
        else:
            tabbed.query_one(Tabs).focus()


def _knn_text(params: dict) -> str:
    """Which kNN search built the clustering's graph, with its measured recall when it was approximate."""
    method = params.get("knn")
    if not method:
        return ""
    recall = params.get("knn_recall")
    measured = isinstance(recall, (int, float)) and method != "exact"  # an exact search's recall is 1 by definition
    return f"kNN {method}" + (f" (recall {recall:.3f})" if measured else "")


def _cluster_row(c: dict) -> tuple:
    major = c.get("majority") or {}
    unl = c.get("unlabelled_share")
    return (str(c["cluster"]), f"{c['size']:,}", "" if unl is None else f"{100 * unl:.0f}%", major.get("label", ""),
            f"{100 * major['share_of_labelled']:.0f}%" if major else "", c.get("markers_text", ""))
