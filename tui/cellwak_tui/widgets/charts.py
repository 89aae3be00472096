"""Terminal charts drawn with textual-plotext: loss curves, the resolution sweep, a layout."""

from __future__ import annotations

from textual_plotext import PlotextPlot

PALETTE = ["red", "green", "blue", "orange", "cyan", "magenta", "yellow", "white",
           "red+", "green+", "blue+", "cyan+", "magenta+", "yellow+"]


class LossPlot(PlotextPlot):
    """Train and held-out loss per epoch of each stage of a run."""

    def show(self, curves: dict, title: str) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        plt.xlabel("epoch")
        drawn = 0
        for s, (stage, metrics) in enumerate(curves.items()):
            for name in ("train/loss", "test/loss"):
                values = metrics.get(name)
                if values:
                    plt.plot(list(range(1, len(values) + 1)), values, marker="braille",
                             label=f"{stage} {name.split('/')[0]}", color=PALETTE[(2 * s + (name == 'test/loss')) % len(PALETTE)])
                    drawn += 1
        if not drawn:
            plt.title(f"{title}: no epoch finished yet" if curves or "run" in title else title)
        self.refresh()


class SweepPlot(PlotextPlot):
    """Clusters, stability and the least reproducible cluster's Jaccard against the resolution, the
    chosen gamma marked; the resolutions that fail the stability rule's test as crosses, its
    threshold as a level dotted line. Those two have no legend entry (the clusters screen's text
    under the chart names them): plotext draws its legend over the top-left corner, where five
    entries hid the most stable, coarse resolutions."""

    def show(self, profile: dict) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        rows = profile.get("rows") or []
        if not rows:
            plt.title("no sweep yet: press a (auto) to sweep the resolutions")
            self.refresh()
            return
        gammas = [r["gamma"] for r in rows]
        plt.xscale("log")
        plt.plot(gammas, [r["n_clusters"] for r in rows], marker="braille", label="clusters", color="cyan")
        stab = [(g, r["stability"]) for g, r in zip(gammas, rows) if r["stability"] is not None]
        ari = [(g, r["ari"]) for g, r in zip(gammas, rows) if r["ari"] is not None]
        if stab:
            plt.plot([g for g, _ in stab], [v for _, v in stab], marker="braille", label="stability",
                     color="green", yside="right")
            failing = [(g, r["stability"]) for g, r in zip(gammas, rows)
                       if r["stability"] is not None and r.get("passed") is False]
            if failing:
                plt.scatter([g for g, _ in failing], [v for _, v in failing], marker="x", color="yellow",
                            yside="right")
        if profile.get("threshold") is not None and stab:  # a series, not plt.hline: its yside="right" draws elsewhere
            plt.plot([gammas[0], gammas[-1]], [profile["threshold"]] * 2, marker="braille", color="white",
                     yside="right")
        jac = [(g, r["cluster_jaccard"]) for g, r in zip(gammas, rows) if r.get("cluster_jaccard") is not None]
        if jac:
            plt.plot([g for g, _ in jac], [v for _, v in jac], marker="braille", label="least cluster J",
                     color="orange", yside="right")  # blue looked like the failing crosses in the screenshots
        if ari:
            plt.plot([g for g, _ in ari], [v for _, v in ari], marker="braille", label="ARI (labels)",
                     color="magenta", yside="right")
        chosen = profile.get("chosen_gamma")
        if chosen is not None:
            plt.vline(chosen, "red")
            plt.title(f"resolution sweep: gamma {chosen:.3g} chosen")
        else:
            plt.title("resolution sweep")
        plt.xlabel("gamma (log)")
        self.refresh()


class EmbeddingPlot(PlotextPlot):
    """A sample of a 2-D layout, one colour per cluster."""

    def show(self, sample) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if sample.basis is None:
            plt.title(sample.hint or "no layout")
            self.refresh()
            return
        if sample.clusters:
            groups = {}
            for x, y, c in zip(sample.x, sample.y, sample.clusters):
                groups.setdefault(c, ([], []))
                groups[c][0].append(x)
                groups[c][1].append(y)
            for c in sorted(groups):
                xs, ys = groups[c]
                plt.scatter(xs, ys, marker="dot", color=PALETTE[c % len(PALETTE)], label=str(c) if c < 14 else None)
        else:
            plt.scatter(sample.x, sample.y, marker="dot")
        plt.title(f"{sample.basis}: {sample.n_shown:,} of {sample.n_total:,} cells")
        self.refresh()
