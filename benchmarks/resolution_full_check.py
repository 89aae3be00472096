"""`--gamma auto` above 20,000 cells: the subset graph's choice against the choice confirmed on the full graph.

    python benchmarks/resolution_full_check.py [--n 100000] [--data mixture32 flow8 flow18] [--seeds 0 1 2]

Above ``stability_cells`` (20,000) cells the resolution is chosen on the kNN graph of a random
20,000-cell subset and then checked on the full graph (cellwak.tl._full_check). One
``cw.tl.sweep`` per (data, seed) - the API path ``cellwak sweep`` and ``cluster --gamma auto``
share - partitions the full graph at every resolution, so the same run gives: the subset graph's
choice (the first resolution checked), the checked choice, and the oracle (the resolution with the
best ARI against the labels, never used to choose). Data: the 14-component Gaussian mixture in 32
dims (benchmarks/synthetic.py, the `--gamma auto` timing probe's data) and flowsom_bal's real
events resampled with jitter at 8 and 18 dims (synthetic.flow_resampled; ungated events are left
out of the ARI). Writes section ``resolution-full-check`` of BENCHMARKS.md and
benchmarks/out/full_check.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
OUT = HERE / "out"

DATA = {
    "mixture32": "Gaussian mixture, 14 components, 32 dims",
    "flow8": "flowsom_bal resampled, 8 lineage markers",
    "flow18": "flowsom_bal resampled, 18 channels",
}


def load(name: str, n: int):
    import anndata as ad
    import pandas as pd

    from synthetic import flow_resampled, gaussian_mixture

    X, y = gaussian_mixture(n, seed=0) if name == "mixture32" else flow_resampled(n, 8 if name == "flow8" else 18)
    a = ad.AnnData(X=np.asarray(X, dtype=np.float32))
    a.obs["label"] = pd.Categorical(np.asarray(y).astype(str))
    a.uns["cellwak"] = {"dataset": {"label_key": "label", "unlabeled": ["-1"]}}
    return a


def one(name: str, n: int, seed: int, jobs) -> dict:
    import cellwak as cw
    from cellwak.tl.sweep import sweep_table

    a = load(name, n)
    t = time.perf_counter()
    cw.pp.neighbors(a, use_rep="X", random_state=seed)
    knn = time.perf_counter() - t
    t = time.perf_counter()
    cw.tl.sweep(a, random_state=seed, n_jobs=jobs)
    swept = time.perf_counter() - t
    table = sweep_table(a)
    ev = json.loads(a.uns["cellwak_leiden_sweep"]["evidence_json"])
    by_gamma = table.set_index("gamma")

    def row(g):
        r = by_gamma.loc[g]
        return {"gamma": float(g), "k": int(r["n_clusters"]), "ari": float(r["ari"])}

    best = table.loc[table["ari"].idxmax(), "gamma"]
    checks = ev["full_graph_checks"]
    return {"data": name, "n": n, "seed": seed, "subset": row(checks[0]["gamma"]),
            "checked": row(a.uns["cellwak_leiden_sweep"]["chosen_gamma"]), "oracle": row(best),
            "checks": checks, "check_seconds": ev["full_graph_seconds"], "sweep_seconds": swept, "knn_seconds": knn,
            "confirmed": bool(ev["chosen"]["full_graph"]["passed"]), "confidence": ev["confidence"]}


def report(rows: list[dict]) -> str:
    from _common import machine

    def cell(r):
        return f"{r['gamma']:.3g} ({r['k']}) {r['ari']:.3f}"

    def ratio(x, o):
        v = x["ari"] / o["ari"] if o["ari"] > 0 else float("nan")
        return f"{v:.2f}" if v >= 0.9 else f"**{v:.2f}**"

    n = rows[0]["n"]
    lines = ["### `--gamma auto` above 20,000 cells: the subset graph's choice, checked on the full graph", "",
             f"`python benchmarks/resolution_full_check.py --n {n}` - {machine()}; one `cw.tl.sweep` per row (the path "
             "of `cellwak sweep` and `cluster --gamma auto`: stability on a 20,000-cell subset graph, then the check), "
             "kNN k = 15 on the features, the full graph partitioned at every resolution for the oracle column (the best "
             "ARI, never used to choose). Cells: gamma (clusters) ARI.", "",
             "| data | seed | subset graph's choice | checked on the full graph | checks | oracle | subset / oracle | checked / oracle | check s | sweep s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {DATA[r['data']]} | {r['seed']} | {cell(r['subset'])} | {cell(r['checked'])}"
                     f"{'' if r['confirmed'] else ' (none confirmed)'} | {len(r['checks'])} | {cell(r['oracle'])} | "
                     f"{ratio(r['subset'], r['oracle'])} | {ratio(r['checked'], r['oracle'])} | {r['check_seconds']:.1f} | "
                     f"{r['sweep_seconds']:.1f} |")
    good = [sum(r[w]["ari"] >= 0.9 * r["oracle"]["ari"] for r in rows) for w in ("subset", "checked")]
    lines += ["", f"Pairs at >= 0.9x the oracle: subset graph's choice {good[0]} / {len(rows)}, checked {good[1]} / {len(rows)}."]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--data", nargs="+", default=list(DATA), choices=list(DATA))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=0, help="Leiden processes (0: the CLI default)")
    ap.add_argument("--report", action="store_true", help="the table again from benchmarks/out/full_check.json")
    args = ap.parse_args()
    from _common import update_section

    path = OUT / "full_check.json"
    if args.report:
        rows = json.loads(path.read_text())
    else:
        rows = []
        for name in args.data:
            for seed in args.seeds:
                rows.append(one(name, args.n, seed, args.jobs or None))
                print(json.dumps(rows[-1]), flush=True)
        OUT.mkdir(exist_ok=True)
        path.write_text(json.dumps(rows))
    text = report(rows)
    print(text)
    update_section("resolution-full-check", text)


if __name__ == "__main__":
    main()
