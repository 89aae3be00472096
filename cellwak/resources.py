"""Where the non-Python parts of cellwak live: ``julia/`` and ``r/``.

A wheel carries them inside the package (``cellwak/_resources/<name>``); a source checkout has
them at the repository root. The TUI is its own importable package, ``cellwak_tui``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path | None:
    """The folder holding the ``julia`` or ``r`` sources, or None when it is missing."""
    if name not in ("julia", "r"):
        raise ValueError(f"unknown resource {name!r}")
    for candidate in (_PACKAGE / "_resources" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    return None


def r_script(filename: str) -> Path:
    base = resource_dir("r")
    path = base / filename if base else None
    if path is None or not path.is_file():
        raise FileNotFoundError(f"R script {filename} is not installed with cellwak")
    return path


def tui_package() -> Path | None:
    try:
        import cellwak_tui
    except ImportError:
        return None
    paths = list(getattr(cellwak_tui, "__path__", []))
    return Path(paths[0]).resolve() if paths else None
