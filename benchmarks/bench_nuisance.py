"""How much rotation and polarity ME-VAE and the VAE baseline keep, on synthetic crops whose
nuisance values are known.

    python benchmarks/bench_nuisance.py [--cells 1200] [--epochs 20] [--dim 16] [--seed 0] [--section nuisance-synthetic]

Data: `cellwak.datasets.synthetic.cell_crops` (3 phenotypes, 2 channels, 32 px, random rotation
0-360 degrees, polarity +-1, scale 0.85-1.15, all recorded in obs). Each model trains with the
CLI's defaults except --epochs/--dim. Reported per model: max |Pearson r| over feature dimensions
with the raw angle (the published metric; 0.45 VAE vs 0.02 ME-VAE in extractors.md A.7), with
cos(2 angle) (an elongated cell's axis has period 180 degrees, so this is what a feature can
carry), with polarity, and the cross-validated R^2 of a ridge regression from all features to
cos(2 angle), sin(2 angle) and polarity (does the nuisance survive in any linear combination?).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from _common import machine, update_section


def main(argv=None) -> None:
    import torch
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import cross_val_score

    from cellwak.datasets.synthetic import cell_crops
    from cellwak.metrics import nuisance_correlation
    from cellwak.models import create_task
    from cellwak.train import TrainConfig, fit

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", type=int, default=1200)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--section")
    args = p.parse_args(argv)

    adata = cell_crops(args.cells, 32, seed=args.seed)
    images = np.asarray(adata.obsm["images"], dtype=np.float32)
    angle = np.deg2rad(adata.obs["rotation"].to_numpy(float))
    pol = adata.obs["polarity"].to_numpy(float)
    rows = []
    for name in ("vae", "mevae"):
        torch.manual_seed(args.seed)
        task = create_task(name, images, dim=args.dim)
        t = time.perf_counter()
        fit(task, TrainConfig(epochs=args.epochs, seed=args.seed))
        seconds = time.perf_counter() - t
        F = task.outputs(task.data)[f"obsm/X_{name}"]
        r2 = lambda y: cross_val_score(RidgeCV(), F, y, cv=5, scoring="r2").mean()  # noqa: E731
        rows.append({"model": name, "seconds": seconds,
                     "raw": nuisance_correlation(F, angle)["max_abs_r"],
                     "cos2": nuisance_correlation(F, np.cos(2 * angle))["max_abs_r"],
                     "pol": nuisance_correlation(F, pol)["max_abs_r"],
                     "r2_cos2": r2(np.cos(2 * angle)), "r2_sin2": r2(np.sin(2 * angle)), "r2_pol": r2(pol)})
        print(rows[-1], flush=True)
    lines = ["### Nuisance kept by the features: ME-VAE vs VAE on synthetic crops", "",
             f"`python benchmarks/bench_nuisance.py --cells {args.cells} --epochs {args.epochs} --dim {args.dim} "
             f"--seed {args.seed}` - {machine()}. One seed; a first measurement, not yet on real crops.", "",
             "| model | max abs r: angle (published metric) | cos(2 angle) | polarity | ridge R^2 cos / sin(2 angle) | ridge R^2 polarity | train s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['raw']:.3f} | {r['cos2']:.3f} | {r['pol']:.3f} | {r['r2_cos2']:.3f} / "
                     f"{r['r2_sin2']:.3f} | {r['r2_pol']:.3f} | {r['seconds']:.0f} |")
    text = "\n".join(lines)
    print(text)
    if args.section:
        update_section(args.section, text)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
