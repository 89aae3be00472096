"""Datasets shipped inside the package, registered in a workspace on first use."""

from __future__ import annotations

from pathlib import Path

_DATA = Path(__file__).with_name("_data")

BLOOD_ATTRIBUTION = (
    "PBC peripheral blood cell images: Acevedo A, Merino A, Alferez S, Molina A, Boldu L, Rodellar J. "
    "A dataset of microscopic peripheral blood cell images for development of automatic recognition "
    "systems. Data in Brief 30:105474 (2020), doi:10.1016/j.dib.2020.105474. Licence CC BY 4.0. "
    "Subset: 300 cells per class, centre-cropped and resized to 28x28 RGB (BloodMNIST recipe)."
)

BUILTIN = {
    "blood": {
        "file": "blood.npz",
        "description": "2,400 peripheral blood cell crops (28x28 RGB), 8 classes x 300, PBC dataset",
        "license": "CC BY 4.0",
        "attribution": BLOOD_ATTRIBUTION,
    },
}


def load_builtin(name: str):
    """The built-in dataset ``name`` as a validated AnnData."""
    from ..io import ReadOptions, read

    spec = BUILTIN[name]
    adata = read(_DATA / spec["file"], ReadOptions())
    info = adata.uns["cellwak"]["dataset"]
    info.update({"format": "builtin", "source": f"cellwak built-in '{name}'",
                 "license": spec["license"], "attribution": spec["attribution"],
                 "description": spec["description"]})
    return adata
