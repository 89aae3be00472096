"""What the reliability tests share: the check of a refusal and a CLI run in a fresh process (the
`populated` fixture is in tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
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


def cellwak_subprocess(args, home: Path, timeout: float = 60, env=None):
    """``cellwak ARGS`` in a fresh interpreter (real stderr; an unfixed reader that hangs fails the
    test instead of hanging the suite); the result has ``code``, ``out``, ``err``."""
    code = "import sys; from cellwak.cli import run; sys.exit(run(sys.argv[1:]))"
    cmd = [sys.executable, "-c", code, *[str(a) for a in args], "--home", str(home)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              env={**os.environ, **(env or {})}, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"cellwak {' '.join(map(str, args))} did not finish in {timeout} s")

    class R:
        code, out, err = done.returncode, done.stdout, done.stderr

    return R
