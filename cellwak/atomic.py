"""Files that appear complete or not at all.

Every artifact (datasets, clustering labels, checkpoints, weights, exports) is written to a
temporary file beside its final path, flushed to disk and renamed into place (``os.replace`` is
atomic on POSIX within a file system). A process killed mid-write leaves only a temporary file
named ``.<name>.tmp-<pid>-<random>``; :func:`sweep_temporaries` removes those whose process is
gone.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

TMP_MARK = ".tmp-"


def temporary_path(final: Path) -> Path:
    """A temporary name beside ``final`` that names this process (for the sweep)."""
    final = Path(final)
    return final.with_name(f".{final.name}{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")


@contextmanager
def atomic_path(final, *, fsync: bool = True):
    """Yield a temporary path to write ``final`` to; on success it is renamed into place, on
    any error (or interruption) it is removed and ``final`` is untouched::

        with atomic_path(out) as tmp:
            frame.to_csv(tmp)
    """
    final = Path(final)
    tmp = temporary_path(final)
    try:
        yield tmp
        if fsync and tmp.is_file():
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()




def owner_pid(name: str) -> int | None:
    """The process that wrote a temporary file (from its name), or None for other files."""
    if TMP_MARK not in name:
        return None
    tail = name.rsplit(TMP_MARK, 1)[1]
    pid = tail.split("-", 1)[0]
    return int(pid) if pid.isdigit() else None


def sweep_temporaries(folder, *, recursive: bool = False) -> list[Path]:
    """Remove the temporary files of processes that no longer exist; returns what was removed."""
    import psutil

    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in (folder.rglob if recursive else folder.glob)(f".*{TMP_MARK}*"):
        pid = owner_pid(p.name)
        if pid is None or psutil.pid_exists(pid):  # not ours, or its writer still runs
            continue
        if p.is_dir():
            import shutil

            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed
