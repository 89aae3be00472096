"""The six shared real datasets, read exactly as README shows (for benchmarks)."""

from __future__ import annotations

import os
from pathlib import Path

# ../shared/data beside the checkout; CELLWAK_SHARED_DATA points elsewhere (a lent GPU machine gets a
# copy, since the folder beside the checkout does not travel there).
SHARED = Path(os.environ.get("CELLWAK_SHARED_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")

# name: (path, ReadOptions kwargs, the README baselines: KMeans(K) ARI, Leiden gamma=1 ARI, oracle ARI, oracle gamma)
DATASETS = {
    "embryo_screen": ("embryo_screen/z_dat.csv", dict(id="Row.names", obs_file="embryo_screen/groups.csv",
                                                      label="Phenotype", batch="Date"), (0.166, 0.125, 0.376, 0.3)),
    "pbmc68k_reduced": ("pbmc68k_reduced/10x_pbmc68k_reduced.h5ad", dict(label="bulk_labels", batch="phase"),
                        (0.419, 0.436, 0.526, 0.2)),
    "jurkat_cellcycle": ("jurkat_cellcycle/jurkat_ifc_exp1.npz", {}, (0.362, 0.213, 0.387, 0.3)),
    "flowsom_bal": ("flowsom_bal/ff.fcs", dict(labels_file="flowsom_bal/gating_result.csv", unlabeled=["Unlabeled"]),
                    (0.579, 0.289, 0.967, 0.3)),
    "mnist_test": ("mnist_test/t10k-images-idx3-ubyte.gz", {}, (0.383, 0.828, 0.828, 1.0)),
    "blood_pbc28": ("blood_pbc28/pbc_28.npz", {}, (0.340, 0.383, 0.387, 0.7)),
}


# Real labelled sets bundled with scikit-learn (no download): written once to benchmarks/out/extra/ as
# CSV and read the way a user adds a table (`cellwak data add FILE.csv --label label`).
#   digits         1,797 handwritten digits, 8x8 grey pixels as 64 features (UCI optdigits test set), 10 classes
#   breast_cancer  569 fine-needle-aspirate images of breast masses, 30 cell-nucleus morphology features, 2 classes
#   wine           178 wines, 13 chemical measurements, 3 cultivars
#   iris           150 flowers, 4 measurements, 3 species
EXTRA = ("digits", "breast_cancer", "wine", "iris")
EXTRA_DIR = Path(__file__).resolve().parent / "out" / "extra"


def _extra_csv(name: str) -> Path:
    import pandas as pd
    from sklearn import datasets as skd

    path = EXTRA_DIR / f"{name}.csv"
    if not path.exists():
        bunch = getattr(skd, f"load_{name}")()
        cols = [f"f{i}" for i in range(bunch.data.shape[1])]
        table = pd.DataFrame(bunch.data, columns=cols)
        table["label"] = [str(bunch.target_names[t]) if hasattr(bunch, "target_names") else str(t)
                          for t in bunch.target]
        EXTRA_DIR.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False)
    return path


def load(name: str):
    from cellwak.io import ReadOptions, read

    if name in EXTRA:
        return read(_extra_csv(name), ReadOptions(label="label"))
    path, opts, _ = DATASETS[name]
    opts = {k: (SHARED / v if k in ("obs_file", "labels_file") else v) for k, v in opts.items()}
    return read(SHARED / path, ReadOptions(**opts))


def available() -> bool:
    return SHARED.is_dir()
