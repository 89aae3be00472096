"""Writes the small STRING-format fixture of tests/test_string.py (run it from anywhere; the
files land beside this script). Composed by hand for the tests, not downloaded: 40 human-like
proteins (ids 9606.ENSP000001xxxxx, not real Ensembl ids) named after orthologs of the embryo
screen's perturbed genes plus common signalling genes, links with made-up scores, in STRING
v12's three flat-file layouts:

    9606.protein.links.v12.0.txt            protein1 protein2 combined_score (space-separated)
    9606.protein.links.detailed.v12.0.txt   the same links with STRING's sub-scores
    9606.protein.info.v12.0.txt             #string_protein_id preferred_name protein_size annotation (tabs)
    9606.protein.aliases.v12.0.txt          #string_protein_id alias source (tabs)

Every link is written in both directions, as STRING does.
"""

from __future__ import annotations

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

GENES = [  # preferred name, aliases, annotation
    ("FGFR1", ["FLG", "Fgfr"], "Fibroblast growth factor receptor 1"),
    ("GATA4", ["Gata"], "Transcription factor GATA-4"),
    ("ROCK1", ["Rock"], "Rho-associated protein kinase 1"),
    ("RHOA", ["ARHA", "Rho"], "Transforming protein RhoA"),
    ("PXN", ["Paxillin"], "Paxillin"),
    ("RAB5A", ["RAB5", "Rab5"], "Ras-related protein Rab-5A"),
    ("RABEP1", ["RABEP", "Rabaptin-5"], "Rab GTPase-binding effector protein 1"),
    ("CFL1", ["CFL", "Cofilin", "ADF/Cofilin"], "Cofilin-1"),
    ("DAAM1", ["Daam"], "Disheveled-associated activator of morphogenesis 1"),
    ("FZD4", ["Fzd", "FZD"], "Frizzled-4"),
    ("DDR1", ["Ddr", "CAK"], "Epithelial discoidin domain-containing receptor 1"),
    ("FOXF1", ["Foxf", "FKHL5"], "Forkhead box protein F1"),
    ("GNA12", ["Gna12/13"], "Guanine nucleotide-binding protein subunit alpha-12"),
    ("NET1", ["ARHGEF8", "Arhgef8"], "Neuroepithelial cell-transforming gene 1 protein"),
    ("FARP1", ["Farp", "CDEP"], "FERM, ARHGEF and pleckstrin domain-containing protein 1"),
    ("COL9A1", ["Col9a1"], "Collagen alpha-1(IX) chain"),
    ("DYNC2H1", ["Dync2h", "DHC1B"], "Cytoplasmic dynein 2 heavy chain 1"),
    ("EPB41", ["EPB4.1", "4.1R"], "Protein 4.1"),
    ("NDE1", ["NDE", "NudE"], "Nuclear distribution protein nudE homolog 1"),
    ("TYR", ["Tyrosinase", "OCA1"], "Tyrosinase"),
    ("ETS1", ["Ets", "EWSR2"], "Protein C-ets-1"),
    ("DEPDC1B", ["Depdc", "XTP1"], "DEP domain-containing protein 1B"),
]
FILLER = ["ACTB", "GAPDH", "MAPK1", "MAPK3", "AKT1", "SRC", "PTK2", "VCL", "TLN1", "ITGB1", "CDC42", "RAC1",
          "PAK1", "LIMK1", "WNT5A", "DVL2", "CTNNB1", "GSK3B"]

# links among the screen's genes (score), chosen to make three groups of interacting conditions
CORE = [("ROCK1", "RHOA", 999), ("ROCK1", "CFL1", 720), ("RHOA", "DAAM1", 912), ("RHOA", "NET1", 940),
        ("RHOA", "GNA12", 810), ("DAAM1", "FZD4", 640), ("CFL1", "DAAM1", 455), ("GNA12", "NET1", 530),
        ("PXN", "DDR1", 470), ("PXN", "FARP1", 420), ("DDR1", "COL9A1", 880), ("FARP1", "COL9A1", 310),
        ("RAB5A", "RABEP1", 999), ("RAB5A", "NDE1", 460), ("RABEP1", "EPB41", 350), ("NDE1", "DYNC2H1", 780),
        ("FGFR1", "ETS1", 690), ("FGFR1", "GATA4", 380), ("GATA4", "FOXF1", 560), ("ETS1", "FOXF1", 410),
        ("TYR", "DEPDC1B", 160)]
SUBSCORES = ["neighborhood", "fusion", "cooccurence", "coexpression", "experimental", "database", "textmining"]


def main() -> None:
    rng = random.Random(11)
    names = [g[0] for g in GENES] + FILLER
    ids = {name: f"9606.ENSP00000{100001 + i * 37:06d}" for i, name in enumerate(names)}
    links = {tuple(sorted((a, b))): s for a, b, s in CORE}
    core_genes = [g[0] for g in GENES]
    while len(links) < 170:  # the rest: signalling genes linked among themselves and to the screen's genes
        a = rng.choice(FILLER)
        b = rng.choice(FILLER + core_genes)
        if a != b and tuple(sorted((a, b))) not in links:
            links[tuple(sorted((a, b)))] = rng.choice([rng.randint(150, 399), rng.randint(400, 999)])
    rows = []
    for (a, b), s in links.items():
        rows += [(ids[a], ids[b], s), (ids[b], ids[a], s)]
    rows.sort()
    with open(HERE / "9606.protein.links.v12.0.txt", "w") as fh:
        fh.write("protein1 protein2 combined_score\n")
        fh.writelines(f"{p1} {p2} {s}\n" for p1, p2, s in rows)
    with open(HERE / "9606.protein.links.detailed.v12.0.txt", "w") as fh:
        fh.write("protein1 protein2 " + " ".join(SUBSCORES) + " combined_score\n")
        for p1, p2, s in rows:
            r = random.Random(f"{min(p1, p2)}{max(p1, p2)}")
            subs = [0, 0, 0, r.randint(0, s), r.randint(0, s), r.choice([0, s]), r.randint(0, s)]
            fh.write(f"{p1} {p2} " + " ".join(map(str, subs)) + f" {s}\n")
    annotation = {g[0]: g[2] for g in GENES}
    with open(HERE / "9606.protein.info.v12.0.txt", "w") as fh:
        fh.write("#string_protein_id\tpreferred_name\tprotein_size\tannotation\n")
        for name in names:
            fh.write(f"{ids[name]}\t{name}\t{rng.randint(150, 2500)}\t{annotation.get(name, name + ' protein')}\n")
    aliases = {g[0]: g[1] for g in GENES}
    with open(HERE / "9606.protein.aliases.v12.0.txt", "w") as fh:
        fh.write("#string_protein_id\talias\tsource\n")
        for name in names:
            pid = ids[name]
            fh.write(f"{pid}\t{name}\tEnsembl_HGNC_symbol\n")
            fh.write(f"{pid}\t{pid.split('.')[1].replace('ENSP', 'ENSG')}\tEnsembl_gene\n")
            for alias in aliases.get(name, []):
                fh.write(f"{pid}\t{alias}\tBioMart_HUGO\n")


if __name__ == "__main__":
    main()
