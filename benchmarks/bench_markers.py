"""Speed of marker features per cluster (`cw.tl.markers`), beside scanpy's rank_genes_groups.

    python benchmarks/bench_markers.py [--sizes 100000,1000000] [--repeats 3] [--no-write]

Data: the Gaussian mixture of benchmarks/synthetic.py with 50 dimensions and 20 components (the
components are the groups). Each measurement runs in a fresh interpreter after the data are made
(generation is not timed); the figure is the median over ``--repeats`` processes, with the
process's peak RSS. The peer, scanpy's ``rank_genes_groups(use_raw=False, tie_correct=True)`` on
the same AnnData, is measured at 100,000 cells after a warm-up call on a small AnnData in the same
process (its numba kernels are compiled there, not in the timed call); cellwak gets the same
warm-up (its first call imports torch for the provenance record). Rewrites the section
`markers` of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import machine, update_section  # noqa: E402

DIM, GROUPS = 50, 20

PRELUDE = f"""
import json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, {str(HERE)!r})
import numpy as np, pandas as pd, anndata as ad
from synthetic import gaussian_mixture
def peak_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
def make(n):
    X, labels = gaussian_mixture(n, dim={DIM}, components={GROUPS}, seed=0)
    obs = pd.DataFrame({{"g": pd.Categorical(labels.astype(str))}}, index=np.arange(n).astype(str))
    return ad.AnnData(X=X, obs=obs)
"""


def cellwak_code(n: int, method: str) -> str:
    return f"""
import cellwak as cw
cw.tl.markers(make(2000), "g", method={method!r})  # warm-up: imports (torch, for the provenance record)
a = make({n})
t = time.perf_counter()
cw.tl.markers(a, "g", method={method!r})
seconds = time.perf_counter() - t
print(json.dumps({{"seconds": seconds, "peak_gb": peak_gb(), "groups": int(a.obs["g"].nunique())}}))
"""


def scanpy_code(n: int, method: str, tie_correct: bool = True) -> str:
    return f"""
import scanpy as sc
small = make(2000)
sc.tl.rank_genes_groups(small, "g", method={method!r}, use_raw=False, tie_correct={tie_correct})  # compiles numba
a = make({n})
t = time.perf_counter()
sc.tl.rank_genes_groups(a, "g", method={method!r}, use_raw=False, tie_correct={tie_correct})
seconds = time.perf_counter() - t
print(json.dumps({{"seconds": seconds, "peak_gb": peak_gb(), "groups": int(a.obs["g"].nunique())}}))
"""


def probe(code: str, timeout: int = 3600) -> dict:
    out = subprocess.run([sys.executable, "-c", PRELUDE + code], capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(code: str, repeats: int) -> dict:
    runs = [probe(code) for _ in range(repeats)]
    return {"seconds": statistics.median(r["seconds"] for r in runs), "all": [r["seconds"] for r in runs],
            "peak_gb": max(r["peak_gb"] for r in runs), "groups": runs[0]["groups"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-at", type=int, default=100_000, help="cells at which scanpy is measured")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows, untied = [], None
    for n in sizes:
        for method in ("wilcoxon", "t-test"):
            ours = measure(cellwak_code(n, method), args.repeats)
            peer = measure(scanpy_code(n, method), args.repeats) if n == args.peer_at else None
            rows.append((n, method, ours, peer))
            if peer and method == "wilcoxon":
                untied = (n, measure(scanpy_code(n, method, tie_correct=False), args.repeats))
            print(n, method, ours, peer, file=sys.stderr, flush=True)
    lines = [f"### Marker features per cluster: {DIM} features, {GROUPS} groups, each group vs the rest", "",
             f"`python benchmarks/bench_markers.py --repeats {args.repeats}` - {machine()}; median of "
             f"{args.repeats} fresh processes per row (data generation not timed). Peer: scanpy's "
             "`rank_genes_groups(use_raw=False, tie_correct=True)` on the same AnnData; both get a warm-up "
             "call on 2,000 cells first (scanpy compiles its numba kernels, cellwak imports torch). Target: 1,000,000 cells in under a minute.", "",
             "| cells | method | cellwak s | peak GB | scanpy s | scanpy peak GB | scanpy / cellwak |",
             "|---|---|---|---|---|---|---|"]
    for n, method, ours, peer in rows:
        theirs = (f"{peer['seconds']:.2f} | {peer['peak_gb']:.2f} | {peer['seconds'] / ours['seconds']:.1f}x"
                  if peer else "- | - | -")
        lines.append(f"| {n:,} | {method} | {ours['seconds']:.2f} | {ours['peak_gb']:.2f} | {theirs} |")
    if untied:
        lines += ["", f"scanpy's default Wilcoxon (`tie_correct=False`, a different test on tied data) at {untied[0]:,} "
                      f"cells: {untied[1]['seconds']:.1f} s."]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        update_section("markers", text)


if __name__ == "__main__":
    main()
