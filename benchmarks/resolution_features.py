"""Learned features for the image datasets of bench_resolution.py (cached in benchmarks/out/).

    python benchmarks/resolution_features.py [--epochs 20] [--seed 0]

Trains DINO on blood_pbc28 exactly as `cellwak train dino --epochs 20 --seed 0` does (the recipe of
bench_extractors.py, which reported auto ARI 0.69) and saves obsm['X_dino'] to
benchmarks/out/blood_pbc28_X_dino_seed{seed}.npy, so the resolution benchmark can cluster learned
features without retraining.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import train_on  # noqa: E402
from datasets import load  # noqa: E402

OUT = Path(__file__).parent / "out"


def cache_path(name: str, model: str, seed: int) -> Path:
    return OUT / f"{name}_X_{model}_seed{seed}.npy"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    adata = load("blood_pbc28")
    t = time.perf_counter()
    task, seconds = train_on(adata, "dino", {}, args.epochs, args.seed)
    X = task.outputs(task.data)["obsm/X_dino"]
    np.save(cache_path("blood_pbc28", "dino", args.seed), np.asarray(X, dtype=np.float32))
    print(f"dino on blood_pbc28: trained in {seconds:.0f} s, total {time.perf_counter() - t:.0f} s, shape {X.shape}")


if __name__ == "__main__":
    main()
