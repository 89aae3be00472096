"""The dashboard in a real terminal: `cellwak tui` inside tmux, keys sent as a user types them,
the pane read back as a user sees it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CELLWAK = Path(sys.executable).parent / "cellwak"


def _tmux(*args, check=True) -> str:
    return subprocess.run(["tmux", *args], check=check, capture_output=True, text=True, timeout=30).stdout


def _wait_for(session: str, *texts: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    pane = ""
    while time.monotonic() < deadline:
        pane = _tmux("capture-pane", "-p", "-t", session)
        if all(t in pane for t in texts):
            return pane
        time.sleep(0.3)
    raise AssertionError(f"the terminal never showed {texts!r}; it shows:\n{pane}")


@pytest.fixture
def tmux_session():
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux; `make test` installs it when it can)")
    name = f"cellwak-test-{time.monotonic_ns()}"
    yield name
    _tmux("kill-session", "-t", name, check=False)


def test_the_dashboard_in_tmux_shows_datasets_and_reclusters(blood_home, tmux_session):
    # COLUMNS and LINES (set by test runners) would override the pane's real size
    command = f"unset COLUMNS LINES; {CELLWAK} --home {blood_home} tui; echo cellwak-exited-$?; sleep 30"
    _tmux("new-session", "-d", "-s", tmux_session, "-x", "160", "-y", "48", command)
    _tmux("resize-window", "-t", tmux_session, "-x", "160", "-y", "48", check=False)  # a server's default-size
    pane = _wait_for(tmux_session, "Datasets", "Representations", "blood", "label (8 values)")
    assert "2,400" in pane and "label (8 values)" in pane
    _tmux("send-keys", "-t", tmux_session, "3")
    pane = _wait_for(tmux_session, "Majority label", "monocyte")
    _tmux("send-keys", "-t", tmux_session, "g")
    time.sleep(0.5)
    _tmux("send-keys", "-t", tmux_session, "C-u")
    _tmux("send-keys", "-t", tmux_session, "0.3")
    time.sleep(0.3)
    _tmux("send-keys", "-t", tmux_session, "Enter")
    pane = _wait_for(tmux_session, "leiden  gamma 0.3 ", "Majority label")
    from cellwak import api

    latest = api.list_clusterings(blood_home, "blood").clusterings[-1]
    assert latest["gamma"] == 0.3 and f"{latest['n_clusters']} clusters" in pane
    table = pane[pane.index("Majority label"):]
    assert sum(1 for line in table.splitlines()[1:] if line.split()[:1] and line.split()[0].isdigit()) \
        == latest["n_clusters"]  # one table row per cluster
    _tmux("send-keys", "-t", tmux_session, "q")
    _wait_for(tmux_session, "cellwak-exited-0", timeout=20)
