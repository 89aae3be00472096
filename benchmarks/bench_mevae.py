"""ME-VAE on real crops (issue 16): does its latent stay open, cluster, and drop rotation?

    python benchmarks/bench_mevae.py [--datasets blood_pbc28 jurkat_cellcycle] [--seeds 0 1]
        [--models vae mevae mevae-published] [--cells 600] [--threads 1] [--section mevae-real]
    python benchmarks/bench_mevae.py --report [--seeds 0 1] [--section mevae-real]   # table from saved rows

Per dataset, seed and model: train from scratch as `cellwak train MODEL --epochs N --seed S` builds it
(CLI defaults; ``-crop`` = the defaults with ``--normalise crop``; ``mevae-bce`` = ``--likelihood bce
--normalise crop``; ``mevae-published`` = ME-VAE with ``--free-bits 0 --warmup 0 --background zero
--likelihood bce --normalise crop``, the behaviour before issue 16), epochs as bench_extractors.py
(blood 20, jurkat 40). Reported:

- active latent dimensions: exported feature std > 0.01 *and* KL > 0.1 nats, the KL of each
  dimension being that of the Gaussian the model actually samples (log-variance read as log sigma^2,
  whatever ``--loss``), averaged over cells (and over ME-VAE's encoders, each on its export input);
- ``cellwak cluster --rep X_<model>`` ARI at gamma 1 and ``--gamma auto``, and the oracle (best ARI
  of the auto sweep);
- nuisance: ``--cells`` random crops in 8 exact copies (0/90/180/270 degree turns x top-bottom
  flip); the share of the standardised feature variance that lies between copies of one cell
  (bench_nuisance.py --real's measure; 0 = invariant).

Rows are saved per seed to benchmarks/out/mevae_seed<S><TAG>.json (features to features_*.npy), so
seeds and models can run in separate processes (``--tag``) and ``--report`` writes the table of all.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, train_on, update_section  # noqa: E402
from bench_extractors import EPOCHS, evaluate  # noqa: E402
from bench_nuisance import _features, copies_of, within_share  # noqa: E402
from datasets import load  # noqa: E402

OUT = Path(__file__).parent / "out"
MODELS = {"vae": ("vae", {}), "vae-crop": ("vae", {"normalise": "crop"}), "mevae": ("mevae", {}),
          "mevae-crop": ("mevae", {"normalise": "crop"}),
          "mevae-bce": ("mevae", {"likelihood": "bce", "normalise": "crop"}),
          "mevae-published": ("mevae", {"free_bits": 0.0, "warmup": 0.0, "background": "zero", "likelihood": "bce",
                                        "normalise": "crop"})}


def latent_stats(task, model: str, F: np.ndarray) -> dict:
    import torch

    m = task.model.eval()
    with torch.no_grad():
        if model == "mevae":
            pairs = zip(m.encoders, m.export_inputs(task.crops))
        else:
            pairs = [(m.encoder, task.crops)]
        kls = []
        for enc, x in pairs:
            mu, l = zip(*[enc(c) for c in x.split(1024)])
            mu, l = torch.cat(mu), torch.cat(l)
            kls.append((-0.5 * (1 + l - mu ** 2 - l.exp())).mean(0).numpy())
    kl = np.mean(kls, axis=0)
    std = F.std(0)
    return {"active": int(((std > 0.01) & (kl > 0.1)).sum()), "dims": int(F.shape[1]),
            "std_over_0.01": int((std > 0.01).sum()), "kl_over_0.1": int((kl > 0.1).sum()),
            "kl_nats": [round(float(k.sum()), 2) for k in kls]}


def nuisance(task, cells: int, seed: int) -> float:
    import torch

    pick = np.random.default_rng(seed).choice(len(task.crops), cells, replace=False)
    F = _features(task, copies_of(task.crops[torch.as_tensor(pick)]))
    return within_share(F, cells)


def run(names, models, seed, cells, epochs_override: int = 0, limit: int = 0, tag: str = "") -> list[dict]:
    rows = []
    for name in names:
        adata = load(name)
        if limit:
            adata = adata[:limit].copy()
        for label in models:
            model, settings = MODELS[label]
            epochs = epochs_override or EPOCHS[name][model]
            task, seconds = train_on(adata, model, settings, epochs, seed)
            F = task.outputs(task.data)[f"obsm/X_{model}"]
            adata.obsm[f"X_{model}"] = F
            row = {"dataset": name, "model": label, "settings": settings, "seed": seed, "epochs": epochs,
                   "train_seconds": round(seconds, 1), **latent_stats(task, model, F),
                   "within": nuisance(task, cells, seed), **evaluate(adata, f"X_{model}", seed)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            np.save(OUT / f"features_{name}_{label}_seed{seed}.npy", F)
            (OUT / f"mevae_seed{seed}{tag}.json").write_text(json.dumps(rows, indent=1))  # after every row
    return rows


def report(rows: list[dict], cells: int) -> str:
    seeds = sorted({r["seed"] for r in rows})
    lines = [
        "### ME-VAE on real crops: open latent, clustering, rotation removed (issue 16)",
        "",
        f"`python benchmarks/bench_mevae.py --seeds {' '.join(map(str, seeds))} --threads 1` - {machine()}, CPU only.",
        "Models trained from scratch with the CLI defaults (`cellwak train MODEL --epochs N --seed S`; since issue 16's",
        "second round the reconstruction is the sigma-VAE's Gaussian term, `--likelihood gaussian`, on pixels scaled by each",
        "channel's dataset maximum, `--normalise dataset`); `-crop` = the defaults with `--normalise crop` (each crop by its",
        "own maximum, as published); `mevae-bce` = `--likelihood bce --normalise crop`; `mevae-published` = `--free-bits 0",
        "--warmup 0 --background zero --likelihood bce --normalise crop` (before issue 16). Active dims: feature std > 0.01 and",
        "KL > 0.1 nats (of 32). Clustering: `cellwak cluster --rep X_<model>`, oracle = best ARI of the auto sweep.",
        f"Within-cell variance: {cells} crops x 8 exact copies (quarter turns x flip), share of the standardised",
        "feature variance between copies of one cell (0 = invariant; bench_nuisance.py --real's measure).",
        "",
        "| dataset | features | seed | epochs | train min | active dims | KL nats (enc 1 / 2) | gamma=1 ARI | auto gamma (k) | auto ARI | oracle ARI | within-cell variance |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = {m: i for i, m in enumerate(MODELS)}
    for r in sorted(rows, key=lambda r: (r["dataset"], order.get(r["model"], 9), r["epochs"], r["seed"])):
        lines.append(f"| {r['dataset']} | {r['model']} | {r['seed']} | {r['epochs']} | {r['train_seconds'] / 60:.1f} | "
                     f"{r['active']} | {' / '.join(f'{k:.1f}' for k in r['kl_nats'])} | {r['gamma1_ari']:.3f} | "
                     f"{r['auto_gamma']:.2f} ({r['auto_k']}) | {r['auto_ari']:.3f} | {r['oracle_ari']:.3f} | "
                     f"{r['within']:.3f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["blood_pbc28", "jurkat_cellcycle"])
    ap.add_argument("--models", nargs="+", default=["vae", "mevae"], choices=list(MODELS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--cells", type=int, default=600)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--report", action="store_true", help="only write the table from the saved rows")
    ap.add_argument("--epochs", type=int, default=0, help="override the epochs (0: bench_extractors' table)")
    ap.add_argument("--limit", type=int, default=0, help="first N cells only (a smoke test; 0: all)")
    ap.add_argument("--tag", default="", help="suffix of this process's rows file (several processes per seed)")
    ap.add_argument("--section", default="mevae-real")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    OUT.mkdir(exist_ok=True)
    if not args.report:
        for seed in args.seeds:
            run(args.datasets, args.models, seed, args.cells, args.epochs, args.limit, args.tag)
    rows = [r for s in args.seeds for path in sorted(OUT.glob(f"mevae_seed{s}*.json"))
            for r in json.loads(path.read_text())]
    text = report(rows, args.cells)
    print(text)
    if args.section:
        update_section(args.section, text)


if __name__ == "__main__":
    main()
