"""Known interactions as an external criterion: STRING's flat files and pair tables
(cellwak.io.string_db), the interaction graph and the clustering score with its permutation null
(cellwak.tl._string), `cellwak string`, and `cellwak sweep --criterion string`.

The STRING files under tests/data/string/ are a fixture composed for these tests
(tests/data/string/make_fixture.py), not a download."""

from __future__ import annotations

import gzip
import io
import shutil
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import cellwak as cw
from cellwak import api
from cellwak.errors import InputError, NotFoundError
from cellwak.io.string_db import read_aliases, read_info, read_links, read_pairs
from cellwak.tl._string import (InteractionNetwork, _graph, interaction_network, random_partitions,
                                score_interactions, string_network)

from conftest import snapshot

FIXTURE = Path(__file__).resolve().parent / "data" / "string"
LINKS = FIXTURE / "9606.protein.links.v12.0.txt"
DETAILED = FIXTURE / "9606.protein.links.detailed.v12.0.txt"
INFO = FIXTURE / "9606.protein.info.v12.0.txt"
ALIASES = FIXTURE / "9606.protein.aliases.v12.0.txt"
FLAT = ["--links", LINKS, "--info", INFO, "--aliases", ALIASES]

# three groups of conditions whose genes interact (in the fixture), each its own blob of cells
GROUPS = [["Rock", "Rho", "Daam", "ADF/Cofilin", "Arhgef8"], ["Rab5", "Rabep", "NDE", "Dync2h"],
          ["Fgfr", "Ets", "Foxf", "Gata"]]


# -- readers ---------------------------------------------------------------------------------------

def test_links_plain_detailed_and_gz_read_the_same(tmp_path):
    plain = read_links(LINKS)
    assert list(plain.columns) == ["protein1", "protein2", "combined_score"] and len(plain) == 340
    assert plain["combined_score"].dtype == np.int64 and plain["combined_score"].between(150, 999).all()
    pd.testing.assert_frame_equal(read_links(DETAILED), plain)
    gz = tmp_path / "9606.protein.links.v12.0.txt.gz"
    with open(LINKS, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    pd.testing.assert_frame_equal(read_links(gz), plain)
    strong = read_links(LINKS, min_score=700)
    assert len(strong) == (plain["combined_score"] >= 700).sum()
    some = set(plain["protein1"].iloc[:5])
    kept = read_links(LINKS, proteins=some)
    assert len(kept) and kept["protein1"].isin(some).all() and kept["protein2"].isin(some).all()


def test_info_and_aliases_in_both_header_styles(tmp_path):
    info = read_info(INFO)
    assert len(info) == 40 and {"string_protein_id", "preferred_name", "annotation"} <= set(info.columns)
    aliases = read_aliases(ALIASES)
    assert {"string_protein_id", "alias", "source"} <= set(aliases.columns)
    assert set(read_aliases(ALIASES, names=["paxillin"])["alias"]) == {"Paxillin"}  # only what is asked for
    v11 = tmp_path / "9606.protein.aliases.v11.0.txt"  # STRING v11: '## string_protein_id ## alias ## source ##'
    v11.write_text("## string_protein_id ## alias ## source ##\n" + ALIASES.read_text().split("\n", 1)[1])
    pd.testing.assert_frame_equal(read_aliases(v11), aliases)


def test_pair_tables(tmp_path, shared_data):
    table = read_pairs(shared_data / "embryo_screen" / "interactions.csv")
    assert table.columns == ("name.x", "name.y") and len(table.pairs) == 79
    assert tuple(table.pairs.iloc[0]) == ("Fgfr", "Gata")
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("gene1\tgene2\tscore\nRock\tRho\t0.9\n")
    assert tuple(read_pairs(tsv).pairs.iloc[0]) == ("Rock", "Rho")
    two = tmp_path / "two.csv"
    two.write_text("left,right\nRock,Rho\nRab5,Rabep\n")
    assert read_pairs(two).columns == ("left", "right") and len(read_pairs(two).pairs) == 2


@pytest.mark.parametrize("reader,content,words", [
    (read_links, "#string_protein_id\tpreferred_name\tprotein_size\tannotation\n9606.A\tA\t10\tx\n",
     "line 1 has the columns string_protein_id, preferred_name, protein_size, annotation, not protein1"),
    (read_links, "protein1 protein2 combined_score\n9606.A 9606.B 500\n9606.A 9606.C high\n",
     "line 3: combined_score 'high' is not a whole number"),
    (read_links, "protein1 protein2 combined_score\n9606.A 9606.B 500\n9606.A 9606.C 400 7\n",
     "line 3 does not have the 3 columns"),
    (read_links, "protein1 protein2 combined_score\n9606.A 9606.B 1500\n", "line 2: combined_score '1500'"),
    (read_info, "protein1 protein2 combined_score\n9606.A 9606.B 500\n", "not string_protein_id, preferred_name"),
    (read_info, "#string_protein_id preferred_name protein_size annotation\n9606.A A 10 x\n",
     "line 1 is not tab-separated"),
    (read_info, "#string_protein_id\tpreferred_name\n9606.A\tA\n9606.B\t\n", "line 3 has no preferred_name"),
    (read_aliases, "#string_protein_id\tpreferred_name\n9606.A\tA\n", "not alias"),
    (read_pairs, "a_gene,b_gene,c_gene\nx,y,z\n", "no two gene columns among a_gene, b_gene, c_gene"),
    (read_pairs, "gene1,gene2\nRock,\n", "line 2 has no gene in column 'gene2'"),
])
def test_wrong_formats_are_refused_saying_where(tmp_path, reader, content, words):
    path = tmp_path / "file.txt"
    path.write_text(content)
    with pytest.raises(InputError) as exc:
        reader(path)
    assert words in str(exc.value) and "\n" not in str(exc.value)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(NotFoundError, match="no such STRING links file"):
        read_links(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(InputError, match="is empty"):
        read_info(tmp_path / "empty.txt")
    bad = tmp_path / "bad.txt.gz"
    bad.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(InputError):
        read_links(bad)


# -- mapping and the graph -------------------------------------------------------------------------

def test_conditions_map_by_name_alias_and_loosely():
    conditions = ["col9a1", "Paxillin", "Ddr", "EPB4-1", "Farp", "Unknown1", "Unknown2"]
    net = string_network(conditions, LINKS, INFO, ALIASES)
    assert net.how == {"col9a1": "name", "Paxillin": "alias", "Ddr": "alias", "EPB4-1": "name (loose)",
                       "Farp": "alias"}
    assert net.unmapped == ["Unknown1", "Unknown2"]
    edges = {frozenset(p[:2]): p[2] for p in net.pairs()}
    assert edges == {frozenset({"Paxillin", "Ddr"}): 470.0, frozenset({"Paxillin", "Farp"}): 420.0,
                     frozenset({"col9a1", "Ddr"}): 880.0}  # Farp-Col9a1 (310) is below 400
    assert net.graph.vcount() == 5 and net.graph.ecount() == 3 and net.source["min_score"] == 400
    low = string_network(conditions, DETAILED, INFO, ALIASES, min_score=300)
    assert frozenset({"Farp", "col9a1"}) in {frozenset(p[:2]) for p in low.pairs()}
    without_aliases = interaction_network(["COL9A1", "PXN", "ddr1"], links=LINKS, info=INFO)
    assert without_aliases.how == {"COL9A1": "name", "PXN": "name", "ddr1": "name"}


def test_pair_network_of_the_embryo_screen(shared_data):
    groups = pd.read_csv(shared_data / "embryo_screen" / "groups.csv", usecols=["Condition"])
    net = interaction_network(groups["Condition"].unique(), pairs=str(shared_data / "embryo_screen" / "interactions.csv"))
    assert sorted(net.unmapped) == ["5HTR", "BMP", "Eph", "Ets", "Tol"]
    assert net.how["Gna12/13"] == "pair table (loose)" and net.how["Fgfr"] == "pair table"  # Gna12.13 in the table
    assert net.graph.vcount() == 22 and net.graph.ecount() == 46  # 79 rows: both orders, self pairs, duplicates


@pytest.mark.parametrize("conditions,kwargs,words", [
    (["Foo", "Bar", "Baz", "Qux", "Quux", "Corge"], dict(links=LINKS, info=INFO, aliases=ALIASES),
     "none of the 6 conditions maps to a protein of the STRING info or aliases file (unmapped: Foo, Bar, Baz, Qux (and 2 more))"),
    (["Rock", "Tyrosinase"], dict(links=LINKS, info=INFO, aliases=ALIASES), "no two of the 2 mapped conditions interact"),
    (["Rock"], dict(links=LINKS, info=INFO, aliases=ALIASES), "only 1 of 1 conditions maps"),
    (["Rock", "Rho"], dict(links=LINKS), "--links needs --info"),
    (["Rock", "Rho"], dict(), "no interactions given"),
])
def test_network_refusals(conditions, kwargs, words):
    with pytest.raises(InputError) as exc:
        interaction_network(conditions, **kwargs)
    assert words in str(exc.value)


# -- the score -------------------------------------------------------------------------------------

def _network(conditions, pairs) -> InteractionNetwork:
    edges = {tuple(p): 1.0 for p in pairs}
    return InteractionNetwork(graph=_graph(conditions, edges), mapping={c: [c] for c in conditions},
                              how={c: "name" for c in conditions}, unmapped=[])


def test_score_by_hand():
    # 4 clusters; A and B share cluster 0, C and D cluster 1; E spreads; F sits in cluster 3
    cells = {"A": [0] * 8 + [2] * 2, "B": [0] * 7 + [3] * 3, "C": [1] * 9 + [2], "D": [1] * 10,
             "E": [0, 1, 2, 3] * 3, "F": [3] * 6 + [2] * 4}
    values = np.array([c for c, labs in cells.items() for _ in labs] + [None] * 5, dtype=object)
    labels = np.array([l for labs in cells.values() for l in labs] + [2] * 5)
    net = _network(list(cells), [("A", "B"), ("C", "D"), ("A", "F")])
    res = score_interactions(values, labels, net, permutations=300, seed=1)

    conds = list(cells)
    counts = np.array([[labs.count(k) for k in range(4)] for labs in cells.values()], dtype=float)
    share = counts / counts.sum(1, keepdims=True)
    resid = share - counts.sum(0) / counts.sum()
    corr = np.corrcoef(resid)
    idx = {c: i for i, c in enumerate(conds)}
    inter = [(idx[a], idx[b]) for a, b in [("A", "B"), ("C", "D"), ("A", "F")]]
    others = [(i, j) for i in range(6) for j in range(i + 1, 6) if (i, j) not in inter]
    assert res.r_pairs == pytest.approx(np.mean([corr[i, j] for i, j in inter]))
    assert res.r_others == pytest.approx(np.mean([corr[i, j] for i, j in others]))
    assert res.n_pairs == 3 and res.n_others == 12 and res.n_cells == 62  # the 5 cells without a condition left out

    expected = counts.sum(1, keepdims=True) * counts.sum(0) / counts.sum()
    top = ((counts - expected) / np.sqrt(expected)).argmax(1)
    assert [r["cluster"] for r in res.per_condition] == [str(t) for t in top]
    same = [(i, j) for i in range(6) for j in range(i + 1, 6) if top[i] == top[j]]
    hits = [p for p in same if p in inter]
    assert (res.n_predicted, res.n_hits) == (len(same), len(hits))
    assert res.recall == pytest.approx(len(hits) / 3) and res.precision == pytest.approx(len(hits) / len(same))
    assert res.p_value < 0.05 and res.null["r_pairs"]["mean"] < res.r_pairs
    assert res.per_condition[0]["profile"] == pytest.approx(share[0].round(6).tolist())


def test_permutation_null_keeps_cluster_sizes_and_is_seeded():
    labels = np.repeat([0, 1, 2, 3], [50, 30, 15, 5])
    parts = random_partitions(labels, 200, seed=3)
    assert parts.shape == (200, 100)
    assert (np.stack([np.bincount(p, minlength=4) for p in parts]) == [50, 30, 15, 5]).all()
    assert not (parts == labels).all(axis=1).any()
    np.testing.assert_array_equal(parts, random_partitions(labels, 200, seed=3))
    assert not np.array_equal(parts, random_partitions(labels, 200, seed=4))


def test_score_is_reproducible_and_the_null_fast():
    rng = np.random.default_rng(0)
    conds = [f"g{i}" for i in range(27)]
    values = rng.choice(conds, 1831)
    labels = rng.integers(0, 10, 1831)
    net = _network(conds, [(conds[i], conds[i + 1]) for i in range(0, 26, 2)])
    t = time.perf_counter()
    a = score_interactions(values, labels, net, permutations=1000, seed=5)
    assert time.perf_counter() - t < 5.0  # the embryo screen's size: vectorised, well under a second
    b = score_interactions(values, labels, net, permutations=1000, seed=5)
    assert a.p_value == b.p_value and a.null == b.null and 0.0 < a.p_value <= 1.0
    assert score_interactions(values, labels, net, permutations=0).p_value is None


def test_in_memory_tool_writes_uns():
    conds = ["Rock", "Rho", "Rab5", "Rabep"]
    a = ad.AnnData(np.zeros((40, 2), dtype=np.float32))
    a.obs["gene"] = np.repeat(conds, 10)
    a.obs["cellwak_leiden"] = pd.Categorical(np.repeat(["0", "0", "1", "1"], 10))
    net = cw.tl.interaction_network(conds, links=LINKS, info=INFO, aliases=ALIASES)
    out = cw.tl.interactions(a, "gene", net, permutations=50, copy=True)
    assert "cellwak_interactions" not in a.uns
    stored = out.uns["cellwak_interactions"]
    assert stored["summary"]["recall"] == 1.0 and list(stored["conditions"]) == conds
    assert stored["params"]["condition"] == "gene" and stored["profiles"].shape == (4, 2)
    with pytest.raises(InputError, match="no obs column 'nope'"):
        cw.tl.interactions(a, "nope", net)


# -- the workspace operation and the command line --------------------------------------------------

@pytest.fixture
def screen(cli, tmp_path):
    """A small 'screen': conditions in three blobs by interacting group, plus unmapped 'Eph'."""
    rng = np.random.default_rng(0)
    rows = [(c, rng.normal(g * 8.0, 1.0, 5)) for g, conds in enumerate(GROUPS) for c in conds for _ in range(20)]
    rows += [("Eph", rng.normal(rng.integers(3) * 8.0, 1.0, 5)) for _ in range(20)]
    path = tmp_path / "screen.csv"
    with open(path, "w") as fh:
        fh.write("cell,gene,plate," + ",".join(f"m{j}" for j in range(5)) + "\n")
        for i, (c, x) in enumerate(rows):
            fh.write(f"c{i},{c},p{i % 2}," + ",".join(f"{v:.4f}" for v in x) + "\n")
    assert cli("data", "add", path, "--name", "screen", "--id", "cell").code == 0
    r = cli("cluster", "-d", "screen", "--json")
    assert r.code == 0 and r.json()["n_clusters"] == 3, r.err
    return r.json()["clustering_id"]


def test_cli_scores_a_clustering_from_string_files(cli, home, screen, tmp_path):
    r = cli("string", "-d", "screen", "--condition", "gene", *FLAT, "--permutations", "200", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["clustering_id"] == screen and out["n_mapped"] == 13 and out["unmapped"] == ["Eph"]
    assert out["n_pairs"] == 11 and out["recall"] == 1.0 and out["r_pairs"] > 0.99 and out["p_value"] < 0.01
    assert out["mapped"]["ADF/Cofilin"] == "alias" and out["source"]["kind"] == "string"
    stored = cw.Workspace(home).load("screen").uns["cellwak_interactions"]
    assert stored["summary"]["n_pairs"] == 11 and stored["params"]["clustering_id"] == screen

    gz = tmp_path / "links.txt.gz"
    gz.write_bytes(gzip.compress(LINKS.read_bytes()))
    strict = cli("string", "-d", "screen", "--condition", "gene", "--links", gz, "--info", INFO, "--aliases", ALIASES,
                 "--min-score", "700", "--permutations", "0", "--json").json()
    assert strict["n_pairs"] == 6 and strict["p_value"] is None  # 700+: Rock-Rho, -Cfl1, Rho-Daam, -Net1, Rab5-Rabep, Nde1-Dync2h1

    text = cli("string", "-d", "screen", "--condition", "gene", *FLAT, "--permutations", "100")
    assert text.code == 0 and "13 of 14 conditions map" in text.out and "unmapped: Eph" in text.out
    assert max(len(line) for line in text.out.splitlines()) <= 80


def test_render_fits_80_columns():
    from rich.console import Console

    from cellwak.cli.string import render

    pairs = [{"a": f"Condition-{i}", "b": f"Another-{i}", "weight": 900.0, "r": 0.9 - i / 10, "cluster_a": "0",
              "cluster_b": "0", "same": True} for i in range(8)]
    out = {"dataset": "a_long_dataset_name", "clustering_id": 1234, "n_clusters": 12, "condition": "Condition",
           "n_mapped": 22, "n_conditions": 27, "source": {"kind": "pairs", "pairs": "/some/where/interactions.csv"},
           "n_cells": 1460, "n_pairs": 46, "n_others": 185, "unmapped": [f"Gene{i}" for i in range(10)],
           "null": {k: {"mean": -0.04, "sd": 0.04} for k in ("r_pairs", "r_others", "recall", "precision")},
           "r_pairs": 0.023, "r_others": -0.005, "recall": 0.13, "precision": 0.22, "p_value": 0.0007,
           "recall_p_value": 0.18, "permutations": 1000, "n_hits": 6, "n_predicted": 27, "pairs": pairs}
    buf = io.StringIO()
    render(Console(file=buf, width=80), out)
    assert max(len(line) for line in buf.getvalue().splitlines()) <= 80 and "(and 4 more)" in buf.getvalue()


def test_cli_pair_path_on_the_embryo_screen(cli, shared_data):
    data = shared_data / "embryo_screen"
    assert cli("data", "add", data / "z_dat.csv", "--name", "embryo", "--id", "Row.names", "--obs", data / "groups.csv",
               "--label", "Phenotype", "--batch", "Date").code == 0
    assert cli("cluster", "-d", "embryo", "--gamma", "1").code == 0
    r = cli("string", "-d", "embryo", "--condition", "Condition", "--pairs", data / "interactions.csv", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["n_mapped"] == 22 and out["n_conditions"] == 27 and out["n_pairs"] == 46 and out["n_others"] == 185
    assert out["permutations"] == 1000 and 0 < out["p_value"] <= 1 and out["n_cells"] == 1460
    assert out["source"]["columns"] == ["name.x", "name.y"]
    assert out["null"]["r_pairs"]["sd"] > 0


BAD_STRING = [
    (["--condition", "gene", "--links", INFO, "--info", INFO], "STRING links file"),
    (["--condition", "gene", "--pairs", INFO], "no two gene columns among #string_protein_id, preferred_name"),
    (["--condition", "plate", "--pairs", FIXTURE / "pairs.csv"], "none of the 2 conditions maps to a gene of the pair table"),
    (["--condition", "gene", "--links", LINKS, "--info", LINKS], "STRING info file"),
    (["--condition", "gene", "--links", LINKS, "--info", INFO, "--aliases", LINKS], "STRING aliases file"),
    (["--condition", "plate", *FLAT], "none of the 2 conditions maps to a protein of the STRING info or aliases file"),
    (["--condition", "nope", *FLAT], "no obs column 'nope'"),
    (["--condition", "gene", "--pairs", LINKS, "--links", LINKS, "--info", INFO], "both --pairs and --links given"),
    (["--condition", "gene"], "no interactions given"),
    (["--condition", "gene", "--links", LINKS], "--links needs --info"),
    (["--condition", "gene", *FLAT, "--min-score", "1001"], "--min-score must be from 0 to 1000"),
    (["--condition", "gene", *FLAT, "--clustering", "99"], "no clustering #99"),
    (["--condition", "gene", "--links", "/no/such/file.txt", "--info", INFO], "no such STRING links file"),
]


def test_bad_input_is_one_line_and_changes_nothing(cli, home, screen):
    before = snapshot(home)
    for args, words in BAD_STRING:
        r = cli("string", "-d", "screen", *args)
        assert r.code == 2 and words in r.err and len(r.err.strip().splitlines()) == 1, (args, r.err)
    assert snapshot(home) == before


def test_wrong_format_names_the_line_and_column(cli, home, screen, tmp_path):
    bad = tmp_path / "links.txt"
    bad.write_text(LINKS.read_text().replace(" 999\n", " 9x9\n", 1))
    before = snapshot(home)
    r = cli("string", "-d", "screen", "--condition", "gene", "--links", bad, "--info", INFO, "--aliases", ALIASES)
    line = LINKS.read_text().split(" 999\n", 1)[0].count("\n") + 1
    assert r.code == 2 and f"line {line}: combined_score '9x9' is not a whole number" in r.err
    assert snapshot(home) == before


# -- the sweep's external criterion ----------------------------------------------------------------

def test_sweep_reports_the_criterion_beside_the_evidence(cli, home, screen):
    from cellwak.api.interactions import SweepCriterion

    criterion = SweepCriterion(condition="gene", links=str(LINKS), info=str(INFO), aliases=str(ALIASES), permutations=100)
    plain = api.sweep(home, "screen", api.SweepConfig(gammas="0.05,0.3,1,3", subsamples=2, jobs=1))
    scored = api.sweep(home, "screen", api.SweepConfig(gammas="0.05,0.3,1,3", subsamples=2, jobs=1, criterion=criterion))
    assert scored.chosen_gamma == plain.chosen_gamma  # never used to choose
    cols = {"string_r_pairs", "string_r_others", "string_precision", "string_recall", "string_f1", "string_p_value",
            "string_recall_p_value"}
    assert cols <= set(scored.rows[0]) and not cols & set(plain.rows[0])
    by_gamma = {r["gamma"]: r for r in scored.rows}
    assert by_gamma[1.0]["string_recall"] == 1.0 and by_gamma[1.0]["string_p_value"] < 0.05
    rows = cw.Workspace(home).clusterings("screen")[-4:]
    assert all("string_r_pairs" in r["params"]["evidence"] for r in rows)
    stored = cw.Workspace(home).load("screen").uns["cellwak_leiden_sweep"]["table"]
    assert "string_recall" in stored

    r = cli("sweep", "-d", "screen", "--gamma", "0.3,1", "--subsamples", "1", "--jobs", "1", "--criterion", "string",
            "--condition", "gene", *FLAT)
    assert r.code == 0, r.err
    assert "string: known interactions among obs 'gene' (13 conditions, 11 pairs)" in r.out


BAD_SWEEP = [
    (["--pairs", LINKS], "describe an external criterion; add --criterion string"),
    (["--min-score", "300"], "describe an external criterion; add --criterion string"),
    (["--criterion", "string", "--pairs", LINKS], "no condition column given"),
    (["--criterion", "string", "--condition", "gene"], "no interactions given"),
    (["--criterion", "string", "--condition", "nope", *FLAT], "no obs column 'nope'"),
    (["--criterion", "string", "--condition", "gene", "--links", INFO, "--info", INFO], "STRING links file"),
]


def test_sweep_criterion_refusals_change_nothing(cli, home, screen):
    before = snapshot(home)
    for args, words in BAD_SWEEP:
        r = cli("sweep", "-d", "screen", "--gamma", "0.3,1", *args)
        assert r.code == 2 and words in r.err and len(r.err.strip().splitlines()) == 1, (args, r.err)
    assert snapshot(home) == before
