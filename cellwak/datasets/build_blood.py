"""How the bundled ``blood`` dataset was made (maintainers only; needs the full PBC file).

    python -m cellwak.datasets.build_blood ../shared/data/blood_pbc28/pbc_28.npz

Takes ``PER_CLASS`` cells of each of the 8 classes (seeded, without replacement) from the
28x28 RGB PBC crops and writes ``cellwak/datasets/_data/blood.npz`` (compressed).
Source: Acevedo et al. 2020, "A dataset of microscopic peripheral blood cell images for
development of automatic recognition systems", Data in Brief 30:105474, CC BY 4.0.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

PER_CLASS = 300
SEED = 0
OUT = Path(__file__).with_name("_data") / "blood.npz"


def build(source: Path, out: Path = OUT, per_class: int = PER_CLASS, seed: int = SEED) -> Path:
    with np.load(source, allow_pickle=False) as z:
        images, labels, names, files = z["images"], z["labels"], z["class_names"], z["filenames"]
    rng = np.random.default_rng(seed)
    picks = np.concatenate([np.sort(rng.choice(np.flatnonzero(labels == c), per_class, replace=False))
                            for c in range(len(names))])
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, images=images[picks], labels=labels[picks], class_names=names,
                        filenames=files[picks])
    return out


if __name__ == "__main__":
    path = build(Path(sys.argv[1]))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
