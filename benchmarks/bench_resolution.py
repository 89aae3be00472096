"""`--gamma auto` as a user runs it: every real dataset, seeds 0-2, CLI defaults, through the API path
of `cellwak cluster` (and the CLI itself for seed 0), against the oracle resolution and baselines.

    python benchmarks/bench_resolution.py quality [--seeds 0 1 2] [--datasets NAME ...] [--no-cli-check]
    python benchmarks/bench_resolution.py timing --n 100000 [--n 1000000]
    python benchmarks/bench_resolution.py report      # the quality table again from out/resolution_quality.json

quality: each dataset is added to a fresh workspace (`api.add_dataset`, as `cellwak data add`) and
clustered with `api.cluster(ws, name, ClusterConfig(gamma="auto", seed=s))` - the function
`cellwak cluster --gamma auto --seed s` calls - then with gamma = 1.0. The oracle is the best ARI over
the resolutions that auto swept (labels used only for it); KMeans(K) gets the true number of classes,
on the same representation (PCA 50 of the scaled features, or the learned features). With
`--cli-check` (default) seed 0 is also run as a subprocess `cellwak --json cluster --gamma auto` and
its gamma and ARI compared with the API's. Images: blood_pbc28 on raw pixels (reference) and on DINO
features (`cellwak train dino --epochs 20`, cached by benchmarks/resolution_features.py).
timing: a Gaussian mixture (benchmarks/synthetic.py), `cw.tl.cluster(gamma=1.0)` vs
`cw.tl.cluster(gamma="auto")`, each in a fresh process, interleaved, same data.
Thread counts are set explicitly (--threads, default 1: the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
OUT = HERE / "out"

REAL = ["embryo_screen", "pbmc68k_reduced", "jurkat_cellcycle", "flowsom_bal", "mnist_test", "blood_pbc28",
        "blood_pbc28_dino", "digits", "breast_cancer", "wine", "iris"]


def set_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(n)


def dataset_file(name: str) -> tuple[Path, str | None]:
    """An .h5ad of the dataset as `datasets.load` reads it (+ cached DINO features), and its rep."""
    import numpy as np

    from datasets import load

    path = OUT / "h5ad" / f"{name}.h5ad"
    rep = "X_dino" if name.endswith("_dino") else None
    if not path.exists():
        adata = load(name[: -len("_dino")] if rep else name)
        if rep:
            adata.obsm[rep] = np.load(OUT / f"{name[: -len('_dino')]}_X_dino_seed0.npy")
            del adata.obsm["images"]  # the learned features stand for the pixels here
        path.parent.mkdir(parents=True, exist_ok=True)
        adata.write_h5ad(path)
    return path, rep


def kmeans_ari(home: Path, name: str, rep: str | None, seed: int) -> float:
    from sklearn.cluster import KMeans

    from cellwak.api._common import open_workspace
    from cellwak.io import labelled_mask
    from cellwak.metrics import compare
    from cellwak.pp._neighbors import _representation

    adata = open_workspace(home).load(name)
    X, _ = _representation(adata, rep, None if rep else 50, seed)
    true, mask = labelled_mask(adata)
    k = len(set(true[mask]))
    labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(X)
    return compare(true, labels, mask)["ari"]


def earlier_run(path: Path, name: str, seed: int) -> dict | None:
    """The row of (name, seed) in an earlier run's JSON list or log (one JSON row a line), read now."""
    text = Path(path).read_text() if Path(path).exists() else ""
    rows = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return next((r for r in rows if r["dataset"] == name and r["seed"] == seed), None)


def quality(names, seeds, cli_check: bool, jobs: int, cli_from: Path | None = None) -> list[dict]:
    from cellwak import api
    from cellwak.api.config import ClusterConfig

    rows = []
    for name in names:
        path, rep = dataset_file(name)
        with tempfile.TemporaryDirectory() as home:
            api.add_dataset(home, path, name=name.replace("_", "-"))
            ds = name.replace("_", "-")
            for seed in seeds:
                t = time.perf_counter()
                auto = api.cluster(home, ds, ClusterConfig(gamma="auto", seed=seed, rep=rep, jobs=jobs))
                t_auto = time.perf_counter() - t
                t = time.perf_counter()
                one = api.cluster(home, ds, ClusterConfig(gamma=1.0, seed=seed, rep=rep, jobs=jobs))
                t_one = time.perf_counter() - t
                swept = [r for r in auto.sweep if r.get("ari") is not None]
                oracle = max(swept, key=lambda r: r["ari"])
                row = {"dataset": name, "seed": seed, "n": sum(auto.sizes), "gamma": auto.gamma, "k": auto.n_clusters,
                       "ari": auto.metrics["ari"], "oracle_gamma": oracle["gamma"], "oracle_k": int(oracle["n_clusters"]),
                       "oracle_ari": oracle["ari"], "gamma1_ari": one.metrics["ari"], "gamma1_k": one.n_clusters,
                       "kmeans_ari": kmeans_ari(home, ds, rep, seed), "confidence": auto.confidence,
                       "agreement": auto.evidence.get("bootstrap_agreement"),
                       "warnings": len(auto.warnings), "extended": len(auto.evidence.get("extended", [])),
                       "seconds_auto": round(t_auto, 1), "seconds_gamma1": round(t_one, 1)}
                if cli_check and seed == seeds[0]:
                    cmd = [str(Path(sys.executable).parent / "cellwak"), "--home", home, "--json", "cluster", "-d", ds, "--gamma", "auto",
                           "--seed", str(seed)] + (["--jobs", str(jobs)] if jobs else []) + (["--rep", rep] if rep else [])
                    done = subprocess.run(cmd, capture_output=True, text=True)
                    if done.returncode != 0:
                        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()[-2000:]}")
                    out = json.loads(done.stdout)
                    row.update(cli_gamma=out["gamma"], cli_ari=out["metrics"]["ari"],
                               cli_agrees=out["gamma"] == auto.gamma and abs(out["metrics"]["ari"] - auto.metrics["ari"]) < 1e-9)
                earlier = earlier_run(cli_from, name, seed) if cli_from else None
                if earlier and "cli_agrees" in earlier and earlier["gamma"] == auto.gamma and earlier["ari"] == row["ari"]:
                    row.update({k: earlier[k] for k in ("cli_gamma", "cli_ari", "cli_agrees")})  # the same choice, checked then
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def report(rows: list[dict], seeds, threads: int, jobs) -> str:
    import pandas as pd

    from _common import machine

    df = pd.DataFrame(rows)
    df["ratio"] = df["ari"] / df["oracle_ari"]
    lines = [
        "### `--gamma auto` on every real dataset, seeds 0-2, CLI defaults",
        "",
        f"`python benchmarks/bench_resolution.py quality --jobs {jobs or 0} --threads {threads}` - {machine()}; "
        f"{threads} thread(s) per process, Leiden jobs {jobs or 'the CLI default (all cores, here 2)'}.",
        "Each dataset added to a fresh workspace and clustered by `api.cluster(ws, name, ClusterConfig(gamma='auto', seed=s))`,",
        "the call behind `cellwak cluster --gamma auto --seed s` (PCA 50 of the scaled features, exact kNN k=15, union graph,",
        "igraph Leiden while an iteration gains > 0.1% modularity (at most 20); grid 0.05..3, 30 log-spaced, extended at an edge; 5 random 80%",
        "subsamples per resolution). Oracle: best ARI over the resolutions auto swept (labels used only there).",
        "KMeans gets the true number of classes (n_init 10) on the same representation; gamma = 1 runs the same path.",
        "Ratio = auto ARI / oracle ARI; goal >= 0.90 on every dataset and seed. Confidence per seed: the flag auto reported",
        "and its bootstrap agreement (share of 200 resamples of the subsample scores choosing the same cluster count).",
        "Protocol: the rule's tests (stability at 0.875 x a reference, a neighbour passing, the cluster floor 0.6) were",
        "chosen by leave-one-dataset-out over every set below but blood_pbc28 on raw pixels (section `resolution-lodo`,",
        "with the held-out count), on seeds 0-2; its reference, the fifth-best stability instead of the second-best,",
        "by a hypothesis written down before seeds 6-8 were drawn (section `resolution-redraw-rules`). This table is",
        "the shipped rule on all of them, in sample except blood_pbc28 raw, which is the images reference (auto warns",
        "there and points to `train dino`).",
        "",
        "| dataset | cells | auto gamma (clusters), seed 0 | auto ARI per seed | oracle ARI per seed | ratio per seed | "
        "KMeans(K) ARI | gamma = 1 ARI | confidence (agreement) per seed | CLI = API (seed 0) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, g in df.groupby("dataset", sort=False):
        g = g.sort_values("seed")
        first = g.iloc[0]
        ratios = " / ".join(("**%.2f**" if r < 0.9 else "%.2f") % r for r in g["ratio"])
        conf = " / ".join(f"{'**low**' if c == 'low' else 'high'} {a:.2f}" for c, a in zip(g["confidence"], g["agreement"]))
        cli = "-" if "cli_agrees" not in g or pd.isna(first.get("cli_agrees")) else ("yes" if first["cli_agrees"] else "**no**")
        lines.append(f"| {name} | {int(first['n']):,} | {first['gamma']:.3g} ({int(first['k'])}) | "
                     f"{' / '.join(f'{v:.3f}' for v in g['ari'])} | {' / '.join(f'{v:.3f}' for v in g['oracle_ari'])} | "
                     f"{ratios} | {g['kmeans_ari'].mean():.3f} | {g['gamma1_ari'].mean():.3f} | {conf} | {cli} |")
    judged = df[df["dataset"] != "blood_pbc28"]  # raw pixels: the images reference, not a goal
    ok = judged["ratio"] >= 0.9
    lines += ["", f"Dataset x seed pairs at >= 0.9x the oracle, blood_pbc28 raw pixels aside: {int(ok.sum())} / {len(judged)} "
                  f"(minimum ratio {judged['ratio'].min():.2f}, mean {judged['ratio'].mean():.2f}). KMeans and gamma = 1 "
                  "columns: mean over seeds."]
    return "\n".join(lines)


TIMING_PROBE = """
import os, sys, time, json
for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[v] = "{threads}"
sys.path.insert(0, {here!r})
import numpy as np, anndata as ad
from synthetic import gaussian_mixture
from cellwak import tl
X, labels = gaussian_mixture({n}, seed=0)
a = ad.AnnData(X=X)
t = time.perf_counter()
res = tl.cluster(a, gamma={gamma!r}, seed=0, rep="X", n_jobs={jobs})
total = time.perf_counter() - t
import resource
cpu = sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
          for f in ("ru_utime", "ru_stime"))
from sklearn.metrics import adjusted_rand_score
print(json.dumps({{"seconds": total, "cpu": cpu, "gamma": res.gamma, "k": res.n_clusters, "timings": res.timings,
                  "ari": adjusted_rand_score(labels, res.labels), "load": os.getloadavg()[0],
                  "knn": res.params.get("knn"), "knn_recall": res.params.get("knn_recall")}}))
"""


def _parts(run: dict) -> str:
    t = run["timings"]
    parts = ", ".join(f"{k} {t[k]:.1f} s" for k in ("representation", "knn", "graph", "leiden") if k in t)
    if run.get("knn"):  # the search auto chose: it is picked by measured speed, so two runs may differ
        parts += f" (kNN search: {run['knn']}" + (f", recall {run['knn_recall']:.3f})" if run.get("knn_recall") else ")")
    return parts


def timing(sizes, threads: int, jobs) -> str:
    from _common import machine, run_probe

    lines = ["### Time of `--gamma auto` against one `--gamma 1.0` clustering", "",
             f"`python benchmarks/bench_resolution.py timing` - {machine()}; {threads} thread(s), Leiden jobs {jobs}; "
             "Gaussian mixture (14 components, 32 dims), rep X, kNN k=15, each run a fresh process, same data. CPU s: user + "
             "system time of the process and its Leiden workers (less sensitive than wall time to the other work on "
             "the shared cores).", "",
             "| cells | gamma = 1.0 s (CPU s) | auto s (CPU s) | auto / gamma = 1.0, wall | CPU | auto gamma (clusters) | auto ARI | goal <= 3x |",
             "|---|---|---|---|---|---|---|---|"]
    notes = []
    for n in sizes:
        one = run_probe(TIMING_PROBE.format(threads=threads, here=str(HERE), n=n, gamma=1.0, jobs=jobs), timeout=7200)
        auto = run_probe(TIMING_PROBE.format(threads=threads, here=str(HERE), n=n, gamma="auto", jobs=jobs), timeout=7200)
        ratio = auto["seconds"] / one["seconds"]
        print(json.dumps({"n": n, "one": one, "auto": auto}), flush=True)
        cpu = auto["cpu"] / one["cpu"]
        lines.append(f"| {n:,} | {one['seconds']:.1f} ({one['cpu']:.0f}) | {auto['seconds']:.1f} ({auto['cpu']:.0f}) | {ratio:.2f} | "
                     f"{cpu:.2f} | {auto['gamma']:.3g} ({auto['k']}) | {auto['ari']:.3f} | {'met' if max(ratio, cpu) <= 3 else '**not met**'} |")
        notes.append(f"{n:,} cells: gamma = 1.0 {_parts(one)}; auto {_parts(auto)}; load average at the end "
                     f"{one['load']:.1f} / {auto['load']:.1f}.")
    lines += [""] + notes
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["quality", "timing", "report"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--datasets", nargs="+", default=REAL)
    ap.add_argument("--no-cli-check", action="store_true")
    ap.add_argument("--cli-from", help="an earlier run's out/resolution_quality.json or log: its CLI checks of the same "
                                       "choices (same gamma and ARI)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1, help="Leiden processes (0: the CLI default, all cores up to 8)")
    ap.add_argument("--n", type=int, nargs="+", default=[100_000])
    args = ap.parse_args()
    set_threads(args.threads)
    from _common import update_section

    OUT.mkdir(exist_ok=True)
    if args.what == "quality":
        rows = quality(args.datasets, args.seeds, not args.no_cli_check, args.jobs or None,
                       Path(args.cli_from) if args.cli_from else None)
        (OUT / "resolution_quality.json").write_text(json.dumps(rows))
        text = report(rows, args.seeds, args.threads, args.jobs)
        print(text)
        update_section("resolution", text)
    elif args.what == "report":  # the table again from the rows a quality run saved
        rows = json.loads((OUT / "resolution_quality.json").read_text())
        update_section("resolution", report(rows, args.seeds, args.threads, args.jobs))
    elif args.what == "timing":
        text = timing(args.n, args.threads, args.jobs or None)
        print(text)
        update_section(f"resolution-timing-{'-'.join(str(n) for n in args.n)}", text)


if __name__ == "__main__":
    main()
