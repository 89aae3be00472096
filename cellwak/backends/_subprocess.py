"""Run a helper program with a time limit and report the outcome as data, never raising."""

from __future__ import annotations

import subprocess


def run_quiet(cmd: list[str], timeout: float = 60, env=None) -> tuple[int | None, str, str]:
    """(exit status or None when it could not run/finish, stdout, stderr)."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, "", f"{type(exc).__name__}: {exc}"
    return proc.returncode, proc.stdout, proc.stderr


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
