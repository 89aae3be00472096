"""Adding a 1,000,000 x 32 CSV: `cellwak data add` vs `pandas.read_csv` of the same file.

    python benchmarks/bench_read_csv.py [--rows 1000000] [--cols 32] [--repeats 3]

Each measurement runs in a fresh interpreter. Time: wall time of the work after imports.
Memory: peak resident memory added by the work (peak RSS minus RSS after imports). Data size:
the float32 matrix cellwak stores (rows x cols x 4 bytes). Targets (issue 2): cellwak at most 2x
pandas' read time, peak memory at most 3x the data size. Updates benchmarks/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from _common import PEAK_PREAMBLE, machine, run_probe, update_section


def make_csv(path: Path, rows: int, cols: int, seed: int = 0) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    table = pa.table({f"f{j}": rng.normal(size=rows).astype(np.float32) for j in range(cols)})
    pacsv.write_csv(table, str(path))


def pandas_probe(path: Path) -> dict:
    return run_probe(PEAK_PREAMBLE + f"""
import pandas as pd
base = rss_mb(); t = time.perf_counter()
df = pd.read_csv({str(path)!r})
secs = time.perf_counter() - t
print(json.dumps({{"seconds": secs, "peak_mb": peak_mb() - base, "shape": list(df.shape)}}))
""")


def cellwak_probe(path: Path, home: Path, name: str) -> dict:
    return run_probe(PEAK_PREAMBLE + f"""
import cellwak.io, cellwak.store, cellwak.cli, anndata, pyarrow.csv
from cellwak.cli import run
base = rss_mb(); t = time.perf_counter()
code = run(["data", "add", {str(path)!r}, "--name", {name!r}, "--home", {str(home)!r}, "--json"])
secs = time.perf_counter() - t
assert code == 0
print(json.dumps({{"seconds": secs, "peak_mb": peak_mb() - base}}))
""")


def read_only_probe(path: Path) -> dict:
    return run_probe(PEAK_PREAMBLE + f"""
from cellwak.io import read
import anndata, pyarrow.csv
base = rss_mb(); t = time.perf_counter()
a = read({str(path)!r})
secs = time.perf_counter() - t
print(json.dumps({{"seconds": secs, "peak_mb": peak_mb() - base, "shape": list(a.shape)}}))
""")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--cols", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv = tmp / "big.csv"
        make_csv(csv, args.rows, args.cols)
        size_mb = csv.stat().st_size / 2**20
        data_mb = args.rows * args.cols * 4 / 2**20
        results = {"pandas.read_csv": [], "cellwak read()": [], "cellwak data add": []}
        for i in range(args.repeats):  # interleaved, so machine noise hits all alike
            results["pandas.read_csv"].append(pandas_probe(csv))
            results["cellwak read()"].append(read_only_probe(csv))
            results["cellwak data add"].append(cellwak_probe(csv, tmp / "home", f"big{i}"))
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("seconds", "peak_mb")} for k, v in results.items()}
    base = med["pandas.read_csv"]["seconds"]
    lines = [
        f"### Adding a {args.rows:,} x {args.cols} CSV ({size_mb:.0f} MB of text; float32 data {data_mb:.0f} MB)",
        "",
        f"`python benchmarks/bench_read_csv.py` - {machine()}; median of {args.repeats} fresh processes, interleaved.",
        "",
        "| step | seconds | x pandas.read_csv | peak added memory (MB) | x data size |",
        "|---|---|---|---|---|",
    ]
    for k, v in med.items():
        lines.append(f"| {k} | {v['seconds']:.2f} | {v['seconds'] / base:.2f} | {v['peak_mb']:.0f} | "
                     f"{v['peak_mb'] / data_mb:.2f} |")
    add = med["cellwak data add"]
    lines += ["", f"Targets: time <= 2x pandas ({'met' if add['seconds'] <= 2 * base else 'NOT met'}: "
              f"{add['seconds'] / base:.2f}x for the whole `data add`, including validation and writing the .h5ad); "
              f"peak memory <= 3x data size ({'met' if add['peak_mb'] <= 3 * data_mb else 'NOT met'}: "
              f"{add['peak_mb'] / data_mb:.2f}x)."]
    text = "\n".join(lines)
    print(text)
    update_section("read_csv", text)


if __name__ == "__main__":
    main()
