"""Every shared real dataset can be added with its labels, and `data show` gives the counts
listed in ../shared/data/README.md. Skips when ../shared/data is absent."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.real_data

CASES = {
    "pbc": (["blood_pbc28/pbc_28.npz"], 17092, 2352, 8, [3, 28, 28]),
    "jurkat": (["jurkat_cellcycle/jurkat_ifc_exp1.npz"], 3418, 4800, 7, [3, 40, 40]),
    "bal": (["flowsom_bal/ff.fcs", "--labels", "flowsom_bal/gating_result.csv", "--unlabeled", "Unlabeled"],
            19225, 10, 7, None),  # the 10 stained channels; Time, scatter and the unstained one are metadata
    "mnist": (["mnist_test/t10k-images-idx3-ubyte.gz"], 10000, 784, 10, [1, 28, 28]),
    "pbmc": (["pbmc68k_reduced/10x_pbmc68k_reduced.h5ad", "--label", "bulk_labels", "--batch", "phase"],
             700, 765, 10, None),
    "embryo": (["embryo_screen/z_dat.csv", "--id", "Row.names", "--obs", "embryo_screen/groups.csv",
                "--label", "Phenotype", "--batch", "Date"], 1831, 116, 8, None),
}


def _args(shared, parts):
    return [str(shared / p) if "/" in p else p for p in parts]


@pytest.mark.parametrize("name", list(CASES))
def test_shared_dataset_counts(cli, shared_data, name):
    parts, cells, features, n_labels, image = CASES[name]
    r = cli("data", "add", *_args(shared_data, parts), "--name", name, "--json")
    assert r.code == 0, r.err
    s = cli("data", "show", name, "--json").json()
    assert (s["cells"], s["features"]) == (cells, features)
    assert len(s["label_counts"]) == n_labels and sum(s["label_counts"].values()) == cells
    assert s["image_shape"] == image


def test_specific_counts_from_the_readme(cli, shared_data):
    bal = cli("data", "add", *_args(shared_data, CASES["bal"][0]), "--name", "bal", "--json").json()
    assert bal["label_counts"]["Unlabeled"] == 5554 and bal["unlabeled_values"] == ["Unlabeled"]
    assert len(bal["label_counts"]) - 1 == 6  # 6 gated types + Unlabeled
    pbc = cli("data", "add", *_args(shared_data, CASES["pbc"][0]), "--name", "pbc", "--json").json()
    assert set(pbc["label_counts"]) == {"basophil", "eosinophil", "erythroblast", "ig", "lymphocyte",
                                         "monocyte", "neutrophil", "platelet"}
    emb = cli("data", "add", str(shared_data / "embryo_screen/z_dat.csv"), "--id", "Row.names",
              "--obs", str(shared_data / "embryo_screen/groups.csv"), "--label", "Condition", "--batch", "Date",
              "--name", "embryo_cond", "--json").json()
    assert len(emb["label_counts"]) == 27 and emb["label_counts"]["Tyrosinase"] == 160
    assert emb["batch_counts"]["1"] == 7 and len(emb["batch_counts"]) == 11  # 10 dates + 7 rows of "1"
    pbmc = cli("data", "add", *_args(shared_data, CASES["pbmc"][0]), "--name", "pbmc", "--json").json()
    assert pbmc["label_counts"]["Dendritic"] == 240


def test_gated_metrics_leave_unlabeled_events_out(cli, shared_data):
    cli("data", "add", *_args(shared_data, CASES["bal"][0]), "--name", "bal")
    out = cli("cluster", "-d", "bal", "--json").json()
    assert out["metrics"]["n_labelled"] == 19225 - 5554


def test_options_a_real_file_cannot_use_are_refused(cli, home, shared_data):
    from conftest import snapshot

    before = snapshot(home)
    r = cli("data", "add", str(shared_data / "flowsom_bal/ff.fcs"), "--channels-last")
    assert r.code == 2 and r.err.strip().startswith("cellwak: error: --channels-last does not apply to FCS files")
    assert snapshot(home) == before


def test_fcs_marker_channels_are_the_features_and_the_rest_metadata(cli, shared_data):
    r = cli("data", "add", str(shared_data / "flowsom_bal/ff.fcs"), "--name", "bal", "--json")
    channels = r.json()["notes"]["channels"]
    assert channels["features"] == ["GFP", "CD8", "l/d", "TCRyd", "CD45", "TCRb", "NK1/1", "CD4", "CD19", "CD3"]
    assert channels["metadata"] == {"Time": "time", "FSC-A": "scatter", "FSC-H": "scatter", "FSC-W": "scatter",
                                    "SSC-A": "scatter", "SSC-H": "scatter", "SSC-W": "scatter", "Qdot 605-A": "unstained"}
    shown = cli("data", "show", "bal", "--json").json()
    assert shown["n_vars"] == 10 and {"Time", "FSC-A", "Qdot 605-A"} <= set(shown["obs_columns"])
    both = cli("data", "add", str(shared_data / "flowsom_bal/ff.fcs"), "--name", "bal2", "--feature", "FSC-A,SSC-A",
               "--exclude", "GFP", "--json").json()
    assert both["n_vars"] == 11 and "GFP" in both["notes"]["channels"]["metadata"]
    bad = cli("data", "add", str(shared_data / "flowsom_bal/ff.fcs"), "--name", "bal3", "--feature", "CD99")
    assert bad.code == 2 and "no channel named 'CD99'" in bad.err


def test_real_h5ad_clusters_from_the_cli_with_the_label_key_alias(cli, shared_data):
    r = cli("data", "add", str(shared_data / "pbmc68k_reduced/10x_pbmc68k_reduced.h5ad"), "--name", "pbmc",
            "--label-key", "bulk_labels", "--json")
    assert r.code == 0 and r.json()["label_column"] == "bulk_labels"
    out = cli("cluster", "-d", "pbmc", "--json").json()
    assert out["metrics"]["n_labelled"] == 700 and out["metrics"]["ari"] > 0.3
    shown = cli("data", "show", "pbmc", "--json").json()
    assert {"X_pca", "X_umap", "X_cellwak_pca"} <= set(shown["representations"])  # the file's own keys stay
