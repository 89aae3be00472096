"""VIME on flowsom_bal with 1% and 10% of the labels, beside a raw-feature gradient-boosting reference.

    python benchmarks/bench_vime.py [--fractions 0.01 0.1] [--seeds 0 1 2] [--section vime-flowsom]

flowsom_bal (../shared/data/flowsom_bal/ff.fcs, 19,225 events; 13,671 gated into populations by
gating_result.csv, "Unlabeled" events carry no label), fluorescence channels arcsinh(x/5). For
each seed: 20% of the gated events are the test set; of the other gated events a fraction is
visible. Both methods see exactly those labels: scikit-learn's HistGradientBoostingClassifier
(defaults, random_state = seed) on the standardised raw features, and VIME (cellwak defaults:
self 10 epochs on every event, semi 20 epochs; test_size 0 so no labelled event is held back).
Accuracy on the test events; VIME's training time on this CPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from _common import machine, update_section

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "flowsom_bal"


def load():
    from cellwak.io import ReadOptions, labelled_mask, read
    from cellwak.pp.representation import scaled_features

    adata = read(SHARED / "ff.fcs", ReadOptions(labels_file=SHARED / "gating_result.csv", unlabeled=["Unlabeled"],
                                                arcsinh=5.0))
    labels, mask = labelled_mask(adata)
    return scaled_features(adata), labels, mask


def one(X, labels, mask, fraction: float, seed: int) -> dict:
    import torch
    from sklearn.ensemble import HistGradientBoostingClassifier

    from cellwak.models import create_task
    from cellwak.provenance import seed_everything
    from cellwak.train import TrainConfig, fit

    rng = np.random.default_rng(seed)
    gated = np.flatnonzero(mask)
    rng.shuffle(gated)
    n_test = len(gated) // 5
    test, rest = gated[:n_test], gated[n_test:]
    visible = rest[:max(1, int(round(fraction * len(rest))))]

    t = time.perf_counter()
    gbm = HistGradientBoostingClassifier(random_state=seed).fit(X[visible], labels[visible])
    gbm_s = time.perf_counter() - t
    gbm_acc = float((gbm.predict(X[test]) == labels[test]).mean())

    shown = np.full(len(X), None, dtype=object)
    shown[visible] = labels[visible]
    seed_everything(seed)
    task = create_task("vime", X, labels=shown, label_fraction=1.0)
    t = time.perf_counter()
    fit(task, TrainConfig(seed=seed, test_size=0, threads=None))
    vime_s = time.perf_counter() - t
    pred = task.outputs(task.data)["obs/vime_prediction"]
    vime_acc = float((pred[test] == labels[test]).mean())
    return {"fraction": fraction, "seed": seed, "visible": int(len(visible)), "test": int(len(test)),
            "gbm": gbm_acc, "gbm_s": gbm_s, "vime": vime_acc, "vime_s": vime_s, "threads": torch.get_num_threads()}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.1])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--section")
    args = p.parse_args(argv)
    X, labels, mask = load()
    rows = []
    for fraction in args.fractions:
        for seed in args.seeds:
            rows.append(one(X, labels, mask, fraction, seed))
            print(json.dumps(rows[-1]), flush=True)
    lines = ["### VIME on flowsom_bal vs a raw-feature gradient-boosting reference", "",
             f"`python benchmarks/bench_vime.py` - {machine()}. Accuracy on 20% held-out gated events; "
             "mean (min-max) over seeds " + ", ".join(map(str, args.seeds)) + ".", "",
             "| labels visible | cells | HistGradientBoosting (raw) | VIME (self + semi) | VIME / GBM | VIME train s |",
             "|---|---|---|---|---|---|"]
    for fraction in args.fractions:
        rs = [r for r in rows if r["fraction"] == fraction]
        g, v = [r["gbm"] for r in rs], [r["vime"] for r in rs]
        lines.append(f"| {fraction:.0%} | {rs[0]['visible']:,} | {statistics.fmean(g):.3f} ({min(g):.3f}-{max(g):.3f}) | "
                     f"{statistics.fmean(v):.3f} ({min(v):.3f}-{max(v):.3f}) | {statistics.fmean(v) / statistics.fmean(g):.3f} | "
                     f"{statistics.fmean(r['vime_s'] for r in rs):.1f} |")
    text = "\n".join(lines)
    print(text)
    if args.section:
        update_section(args.section, text)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
