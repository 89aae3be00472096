"""The layer rule of DESIGN.md, read from the source: every import of every module (including
imports inside functions), and the shape of every command of the CLI."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cellwak"

# DESIGN.md's layers, lowest first; a module may import its own layer and the ones below.
LAYERS = {
    0: {"_version", "errors", "progress", "provenance", "device", "resources", "choices", "jsonable", "atomic", "terminal"},
    1: {"backends"},
    2: {"io"},
    3: {"datasets"},
    4: {"store"},
    5: {"train"},
    6: {"graph", "models", "metrics"},
    7: {"pp", "tl", "runs", "pl"},
    8: {"api"},
    9: {"cli", "__main__"},
}
RANK = {name: rank for rank, names in LAYERS.items() for name in names}
# what a face may import: the operations and the plain base modules, nothing that computes or stores
FACE_ALLOWED = {"api", "errors", "_version", "choices", "jsonable", "progress"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = name if parts[-1] == "__init__" else name.rsplit(".", 1)[0]
        yield path, name, package


def _imports(path: Path, package: str) -> list[tuple[str, int]]:
    """(absolute cellwak module, line) for every import in the file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            else:
                names = [node.module] if node.module and node.module.split(".")[0] == "cellwak" else []
                if node.module == "cellwak":
                    names = [f"cellwak.{a.name}" for a in node.names]
            out += [(n, node.lineno) for n in names]
        elif isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "cellwak"]
    return out


def _top(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_package_has_a_layer():
    tops = {_top(name) for _, name, _ in _modules() if _top(name)}
    assert tops <= set(RANK), f"modules without a layer in this test and DESIGN.md: {sorted(tops - set(RANK))}"


def test_no_layer_imports_a_higher_one():
    bad = []
    for path, name, package in _modules():
        mine = _top(name)
        if mine is None:  # cellwak/__init__.py: the lazy namespace of everything
            continue
        for target, line in _imports(path, package):
            theirs = _top(target)
            if theirs is not None and RANK[theirs] > RANK[mine]:
                bad.append(f"{path.relative_to(ROOT)}:{line} ({mine}, layer {RANK[mine]}) imports {target} "
                           f"(layer {RANK[theirs]})")
    assert not bad, "upward imports:\n" + "\n".join(bad)


def _face_modules():
    """The CLI's modules and the dashboard's (tui/cellwak_tui, a package of its own)."""
    for path, name, package in _modules():
        if _top(name) == "cli":
            yield path, package, FACE_ALLOWED | {"cli"}
    for path in sorted((ROOT / "tui").rglob("*.py")):  # the dashboard never calls the CLI
        parts = path.relative_to(ROOT / "tui").with_suffix("").parts
        yield path, ".".join(parts[:-1] if parts[-1] == "__init__" else parts[:-1]), FACE_ALLOWED


def test_faces_import_only_the_api():
    bad = []
    for path, package, allowed in _face_modules():
        for target, line in _imports(path, package):
            if target.startswith("cellwak.") and _top(target) not in allowed:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not bad, "the CLI must go through cellwak.api:\n" + "\n".join(bad)


def test_the_layer_test_sees_an_upward_import(tmp_path):
    """The walker itself: a relative import from graph/ to tl/ is found and ranked upward."""
    source = tmp_path / "knn.py"
    source.write_text("def f():\n    from ..tl.sweep import sweep\n")
    found = _imports(source, "cellwak.graph")
    assert found == [("cellwak.tl.sweep", 2)] and RANK[_top(found[0][0])] > RANK["graph"]


def _commands():
    """(command path, callback) of every command registered in the Typer app."""
    from cellwak.cli.app import app

    def walk(typer_app, prefix):
        for info in typer_app.registered_commands:
            yield f"{prefix} {info.name or info.callback.__name__}".strip(), info.callback
        for group in typer_app.registered_groups:
            yield from walk(group.typer_instance, f"{prefix} {group.name}".strip())

    return list(walk(app, ""))


def _api_calls(fn) -> list[str]:
    """Calls of operations (``api.lowercase(...)``) in the body of ``fn``."""
    tree = ast.parse(_dedent(inspect.getsource(fn)))
    calls = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "api" and node.func.attr[:1].islower()):
            calls.append(node.func.attr)
    return calls


def _dedent(source: str) -> str:
    import textwrap

    return textwrap.dedent(source)


def test_every_command_body_is_one_api_call():
    commands = _commands()
    assert len(commands) >= 25, [c for c, _ in commands]
    bad = {path: _api_calls(fn) for path, fn in commands if len(_api_calls(fn)) != 1}
    assert not bad, f"commands whose body is not exactly one API operation: {bad}"


@pytest.mark.parametrize("source,count", [("def f():\n    x = api.cluster(h, d)\n    api.sweep(h, d)\n", 2),
                                          ("def f():\n    c = api.ClusterConfig()\n    return api.cluster(h, d, c)\n", 1)])
def test_the_one_call_rule_counts_operations_not_configs(source, count):
    namespace = {}
    exec(compile(source, "<test>", "exec"), namespace)  # noqa: S102 - a fixed snippet
    import linecache

    linecache.cache["<test>"] = (len(source), None, source.splitlines(True), "<test>")
    assert len(_api_calls(namespace["f"])) == count
