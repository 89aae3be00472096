"""The check of a refusal the reliability tests share (the `populated` fixture is in tests/conftest.py)."""

from __future__ import annotations

from conftest import snapshot


def refused(r, home, before, *words):
    """One clean error line holding ``words``, exit 2, the workspace as it was."""
    lines = r.err.strip().splitlines()
    assert r.code == 2, (r.code, r.err)
    assert len(lines) == 1 and lines[0].startswith("cellwak: error: "), r.err
    assert "Traceback" not in r.err and "internal error" not in r.err
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])
    assert snapshot(home) == before
    return lines[0]
