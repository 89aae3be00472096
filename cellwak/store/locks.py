"""Advisory locks between processes sharing a workspace (flock: released when the process dies,
so a killed command never leaves a lock behind)."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def folder_lock(folder: Path):
    """An exclusive lock on a folder (taken on the folder itself: no lock file is created)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
