"""Label-free choice of the Leiden resolution on the six shared real datasets.

    python benchmarks/bench_gamma.py [--seeds 0 1 2] [--datasets NAME ...]

For each dataset and seed: a 30-resolution sweep (0.05..3, log-spaced) exactly as `cellwak sweep`
runs it (PCA 50 of the scaled features, exact kNN k=15, union graph, igraph Leiden, 5 subsamples);
then every label-free rule of cellwak.tl._select picks a resolution. The oracle is the best ARI in
the same sweep (labels used only for it). Baselines from ../shared/data/README.md. Tables are
saved to benchmarks/out/ and the report section `gamma` of BENCHMARKS.md is rewritten.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, update_section  # noqa: E402
from datasets import DATASETS, available, load  # noqa: E402

OUT = Path(__file__).parent / "out"


def run(names, seeds):
    from cellwak.pp._neighbors import compute, write
    from cellwak.tl._select import RULES, choose_gamma
    from cellwak.tl.sweep import parse_gammas, run_sweep

    rows = []
    for name in names:
        adata = load(name)
        for seed in seeds:
            t = time.perf_counter()
            a = adata.copy()
            ctx = compute(a, n_neighbors=15, n_pcs=50, random_state=seed)
            write(a, ctx)
            result = run_sweep(a, ctx, parse_gammas("0.05:3:30"), seeds=1, subsamples=5, seed=seed, rule="auto")
            seconds = time.perf_counter() - t
            table = result.table
            table.to_csv(OUT / f"gamma_{name}_seed{seed}.csv", index=False)
            oracle = table.loc[table["ari"].idxmax()]
            for rule in [r for r in RULES if r != "auto"]:
                g, _ = choose_gamma(table, rule)
                row = table[table["gamma"] == g].iloc[0]
                rows.append({"dataset": name, "seed": seed, "rule": rule, "gamma": g, "n_clusters": int(row["n_clusters"]),
                             "ari": row["ari"], "nmi": row["nmi"], "oracle_gamma": oracle["gamma"],
                             "oracle_ari": oracle["ari"], "oracle_k": int(oracle["n_clusters"]), "seconds": seconds})
            print(f"{name} seed {seed}: {seconds:.0f} s", flush=True)
    return pd.DataFrame(rows)


def report(df: pd.DataFrame, seeds) -> str:
    df = df.assign(ratio=df["ari"] / df["oracle_ari"])
    auto = df[df["rule"] == "reproducible"]
    first = auto[auto["seed"] == seeds[0]].set_index("dataset")
    lines = [
        "### Label-free resolution (`--gamma auto`) on the shared datasets",
        "",
        f"`python benchmarks/bench_gamma.py` - {machine()}. Sweep 0.05..3 (30 log-spaced resolutions), PCA 50, exact",
        "kNN k=15, union graph, igraph Leiden, stability across 5 random 80% subsamples. Rule `reproducible`: the",
        "largest resolution whose subsample stability is at least 0.9x the second-best. Oracle: best ARI in the same",
        f"sweep. Seed {seeds[0]} in the main columns; ratio for every seed in the last column.",
        "",
        "| dataset | auto gamma (clusters) | ARI / NMI | oracle gamma (clusters) | oracle ARI | ratio | KMeans(K) ARI | Leiden gamma=1 ARI | beats both baselines | ratio per seed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in first.index:
        r = first.loc[name]
        kmeans, leiden1, _, _ = DATASETS[name][2]
        per_seed = " / ".join(f"{q:.2f}" for q in auto[auto["dataset"] == name].sort_values("seed")["ratio"])
        beats = "yes" if r["ari"] >= kmeans and r["ari"] >= leiden1 else "**no**"
        lines.append(f"| {name} | {r['gamma']:.2f} ({r['n_clusters']}) | {r['ari']:.3f} / {r['nmi']:.3f} | "
                     f"{r['oracle_gamma']:.2f} ({r['oracle_k']}) | {r['oracle_ari']:.3f} | {r['ratio']:.2f} | "
                     f"{kmeans:.3f} | {leiden1:.3f} | {beats} | {per_seed} |")
    lines += ["", "Every rule tried (ratio to the oracle over all datasets and seeds):", "",
              "| rule | min ratio | mean ratio | datasets x seeds with ratio >= 0.9 |", "|---|---|---|---|"]
    for rule, g in df.groupby("rule", sort=False):
        lines.append(f"| {rule} | {g['ratio'].min():.2f} | {g['ratio'].mean():.2f} | {(g['ratio'] >= 0.9).sum()} / {len(g)} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    args = ap.parse_args()
    if not available():
        sys.exit("../shared/data is not here: this benchmark needs the shared real datasets")
    OUT.mkdir(exist_ok=True)
    df = run(args.datasets, args.seeds)
    df.to_csv(OUT / "gamma_rules.csv", index=False)
    text = report(df, args.seeds)
    print(text)
    update_section("gamma", text)


if __name__ == "__main__":
    main()
