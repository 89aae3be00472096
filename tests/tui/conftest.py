"""Fixtures of the dashboard tests: a workspace holding the built-in 'blood' dataset with one
clustering (built once per session, copied per test), and a helper that waits for the app."""

from __future__ import annotations

import asyncio
import functools
import shutil
import time
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def blood_template(tmp_path_factory) -> Path:
    from cellwak import api

    home = tmp_path_factory.mktemp("tui-template") / "home"
    api.cluster(home, "blood", api.ClusterConfig(gamma=1.0))
    return home


@pytest.fixture
def blood_home(blood_template, tmp_path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(blood_template, home)
    return home


async def until(pilot, predicate, timeout: float = 30.0, what: str = "the condition"):
    """Let the app run until ``predicate()`` holds (workers finish, timers tick)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.1)
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - a widget not mounted yet
            pass
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


async def settle(pilot, quiet: float = 0.6, timeout: float = 30.0) -> None:
    """Let the app run until its screen stops changing for ``quiet`` seconds.

    A snapshot taken the moment a worker finishes can catch the frame before a deferred layout
    (a DataTable re-measuring its columns after new rows, a scroll view after late content): on a
    loaded machine that frame lasts long enough to be caught. Waiting for a still screen makes the
    snapshot the screen a user would see. A screen that never settles (an animation) fails here,
    by name, rather than as a random snapshot mismatch."""
    deadline = time.monotonic() + timeout
    last, still_since = None, time.monotonic()
    while time.monotonic() < deadline:
        await pilot.pause(0.1)
        shot = pilot.app.export_screenshot()
        if shot != last:
            last, still_since = shot, time.monotonic()
        elif time.monotonic() - still_since >= quiet:
            return
    raise AssertionError(f"the screen kept changing for {timeout:g} s (an animation or a refresh loop?)")


def text_of(app, selector: str) -> str:
    """The plain text a Static shows."""
    widget = app.screen.query_one(selector)
    content = widget.render()
    return str(getattr(content, "plain", content))


def rows(app, selector: str) -> list[list[str]]:
    table = app.screen.query_one(selector)
    return [[str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)]


def pilot(fn):
    """An ``async def`` test run to completion in its own event loop (no pytest plugin needed)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper
