"""Every ``--json`` answer of every command is one strict JSON object (RFC 8259: no NaN, no
Infinity), success or refusal, and nothing else reaches stdout."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cellwak.jsonable import dumps, jsonable
from cellwak.tl._resolution import AUTO_RULE


def _refuse(constant):
    raise ValueError(f"non-standard JSON constant {constant}")


def strict(text: str):
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print exactly one line, got {len(lines)}: {text[:300]}"
    return json.loads(lines[0], parse_constant=_refuse)


def test_strict_parser_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        strict('{"x": NaN}')


def test_encoder_turns_nan_and_numpy_into_plain_json():
    import pandas as pd

    value = {"a": float("nan"), "b": np.float32(1.5), "c": np.arange(3), "d": [math.inf, np.nan], "e": pd.NA,
             "f": {np.int64(2): np.bool_(True)}}
    assert strict(dumps(value)) == {"a": None, "b": 1.5, "c": [0, 1, 2], "d": [None, None], "e": None,
                                    "f": {"2": True}}
    assert jsonable(np.float64("nan")) is None


def _commands() -> set[str]:
    from cellwak.cli.app import app

    def walk(typer_app, prefix):
        for info in typer_app.registered_commands:
            yield f"{prefix} {info.name or info.callback.__name__}".strip()
        for group in typer_app.registered_groups:
            yield from walk(group.typer_instance, f"{prefix} {group.name}".strip())

    return set(walk(app, ""))


@pytest.fixture
def workspace(cli, tmp_path):
    """A table dataset 'cells' (3 groups, with labels), a small image dataset 'crops'."""
    import cellwak as cw

    rng = np.random.default_rng(0)
    groups = rng.integers(0, 3, 600)
    X = (rng.normal(0, 4, (3, 12))[groups] + rng.normal(0, 1, (600, 12))).astype(np.float32)
    with open(tmp_path / "cells.csv", "w") as fh:
        fh.write("cell,type," + ",".join(f"m{j}" for j in range(12)) + "\n")
        for i in range(600):
            fh.write(f"c{i},t{groups[i]}," + ",".join(f"{v:.4f}" for v in X[i]) + "\n")
    assert cli("data", "add", tmp_path / "cells.csv", "--id", "cell", "--label", "type").code == 0
    crops = cw.datasets.cell_crops(96, size=16, seed=0)
    np.savez(tmp_path / "crops.npz", images=np.asarray(crops.obsm["images"]))
    assert cli("data", "add", tmp_path / "crops.npz").code == 0
    return tmp_path


def _pairs(tmp):
    (tmp / "pairs.csv").write_text("gene1,gene2\nt0,t1\n")
    return tmp / "pairs.csv"


@pytest.mark.slow  # every command once, training runs included: 15-30 s, the default set's largest test
def test_every_json_answer_of_every_command_is_strict(cli, workspace):
    tmp = workspace
    calls = [
        ("", ["--version"]),
        ("data list", ["data", "list"]),
        ("data show", ["data", "show", "cells"]),
        ("data export", ["data", "export", "cells", "--out", tmp / "out.csv"]),
        ("data simulate-batches", ["data", "simulate-batches", "crops", "--into", "crops4", "--composition", "uniform"]),
        ("cluster", ["cluster", "-d", "cells", "--gamma", "auto", "--subsamples", "2", "--jobs", "1"]),  # NaN before
        ("sweep", ["sweep", "-d", "cells", "--gamma", "0.1,1", "--subsamples", "0", "--rule", "silhouette"]),
        ("dewak", ["dewak", "-d", "cells", "--k-max", "20"]),
        ("score", ["score", "-d", "cells"]),
        ("enrich", ["enrich", "-d", "cells", "--by", "type"]),
        ("string", ["string", "-d", "cells", "--condition", "type", "--pairs", _pairs(tmp), "--permutations", "20"]),
        ("classify", ["classify", "-d", "cells", "--label", "type", "--trees", "10"]),
        ("markers", ["markers", "-d", "cells", "--top", "3"]),
        ("plot", ["plot", "heatmap", "-d", "cells", "--out", tmp / "heatmap.svg"]),  # without R: refused, as JSON
        ("clusters list", ["clusters", "list"]),
        ("clusters show", ["clusters", "show", "1"]),
        ("clusters prune", ["clusters", "prune", "-d", "cells"]),
        ("clusters rm", ["clusters", "rm", "1"]),
        ("doctor", ["doctor", "--no-r", "--no-julia"]),
        ("tui", ["tui", "-d", "cells"]),  # --json: what the dashboard would open
        ("train ae", ["train", "ae", "-d", "cells", "--epochs", "2", "--threads", "1"]),
        ("train deepwak", ["train", "deepwak", "-d", "cells", "--epochs", "1", "--heads", "1", "--threads", "1"]),
        ("train vime", ["train", "vime", "-d", "cells", "--epochs", "1", "--threads", "1"]),
        ("train vae", ["train", "vae", "-d", "crops", "--epochs", "1", "--threads", "1", "--dim", "4"]),
        ("train mevae", ["train", "mevae", "-d", "crops", "--epochs", "1", "--threads", "1", "--dim", "4"]),
        ("train dino", ["train", "dino", "-d", "crops", "--epochs", "1", "--threads", "1", "--width", "8",
                        "--prototypes", "32", "--batch-size", "32"]),
        ("train cnn", ["train", "cnn", "-d", "cells", "--epochs", "1", "--threads", "1", "--width", "4"]),
        ("runs list", ["runs", "list"]),
        ("runs show", ["runs", "show", "1"]),
        ("runs logs", ["runs", "logs", "1"]),
        ("runs export", ["runs", "export", "1", "--csv", tmp / "metrics.csv"]),
        ("runs cancel", ["runs", "cancel", "1"]),      # done: refused, as JSON
        ("runs resume", ["runs", "resume", "1"]),      # done: refused, as JSON
        ("embed run", ["embed", "run", "1"]),
        ("embed umap", ["embed", "umap", "-d", "cells", "--method", "pca"]),  # the UMAP layout's own tests are slow
        ("data rm", ["data", "rm", "crops4"]),
        ("data add", ["data", "add", tmp / "missing.csv"]),  # refused, as JSON
    ]
    seen, answers = set(), {}
    for path, args in calls:
        r = cli(*args, "--json")
        assert r.code in (0, 2), f"{path}: exit {r.code}: {r.err[-500:]}"
        answer = strict(r.out)
        assert isinstance(answer, dict), path
        if r.code == 2:
            assert set(answer) == {"error", "exit_code"} and answer["exit_code"] == 2, path
        answers[path] = answer
        seen.add(path)
    assert seen - {""} == _commands(), f"commands without a JSON check: {sorted(_commands() - seen)}"
    assert answers["cluster"]["gamma_rule"] == AUTO_RULE.name and answers["cluster"]["sweep"]
    assert answers["cluster"]["confidence"] in ("high", "low") and answers["cluster"]["evidence"]["chosen"]
    assert any(v is None for row in answers["sweep"]["rows"] for v in row.values())  # NaN stability -> null
    assert answers["data show"]["n_obs"] == 600 and answers["data show"]["n_vars"] == 12
    assert answers["runs show"]["progress"]["fraction"] == 1.0 and answers["runs export"]["rows"] > 0
    assert "error" in answers["runs cancel"] and "error" in answers["data add"]
