"""Running a long workspace operation in a child process, for the dashboard.

A thread worker keeps the screen live only while the work releases Python's lock; some steps of a
clustering do not (graph code that holds it for seconds at a time: a 50 ms timer fired up to 30 s
late while a million cells re-clustered in a thread, benchmarks/BENCHMARKS.md section `tui`). So
the heavy operations run in a spawned child process that calls the same :mod:`cellwak.api`
function; the thread worker only waits on a queue and hands progress and the result back.
A child that is killed or dies leaves the workspace as a killed command does: results are
recorded completely or not at all."""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import time

class ThrottledProgress:
    """A :mod:`cellwak.progress` reporter that calls ``send(description, done, total, seconds)``
    at most every ``interval`` seconds per task (and at each task's start and end): the child
    sends it down its pipe, the dashboard's threads to the screen (:class:`cellwak_tui.base.WorkerProgress`)."""

    def __init__(self, send, interval: float = 0.25):
        self.send, self.interval = send, interval

    def task(self, description: str, total: int | None = None):
        return _ThrottledTask(self, description, total)


class _ThrottledTask:
    def __init__(self, owner: ThrottledProgress, description: str, total):
        self.owner, self.description, self.total = owner, description, total
        self.done, self.start, self.last = 0, time.monotonic(), 0.0

    def _send(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= self.owner.interval:
            self.last = now
            self.owner.send(self.description, self.done, self.total, now - self.start)

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._send()

    def __enter__(self):
        self._send(force=True)
        return self

    def __exit__(self, *exc):
        self._send(force=True)
        return False


class _Channel:
    """Length-prefixed pickles on a pipe (the child's end)."""

    def __init__(self, fd: int):
        self.fd = fd

    def put(self, message) -> None:
        data = pickle.dumps(message)
        os.write(self.fd, struct.pack("!I", len(data)) + data)


def _child(fd: int) -> None:
    """The child process: read (fn, args, kwargs, with_progress) on stdin, answer on ``fd``."""
    from cellwak.errors import CellwakError

    channel = _Channel(fd)
    fn, args, kwargs, with_progress = pickle.load(sys.stdin.buffer)
    try:
        if with_progress:
            kwargs = {**kwargs, "progress": ThrottledProgress(lambda *p: channel.put(("progress", p)))}
        channel.put(("result", fn(*args, **kwargs)))
    except CellwakError as exc:
        channel.put(("refused", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported as a bug by the dashboard
        channel.put(("bug", f"{type(exc).__name__}: {exc}"))


class ChildFailed(Exception):
    """The operation was refused (``refused``) or failed (a bug, or the process died)."""

    def __init__(self, message: str, refused: bool):
        super().__init__(message)
        self.refused = refused


def _read_exactly(fd: int, n: int) -> bytes:
    chunks = b""
    while len(chunks) < n:
        part = os.read(fd, n - len(chunks))
        if not part:
            raise EOFError
        chunks += part
    return chunks


def run_in_child(fn, args: tuple, kwargs: dict, *, on_progress=None, cancelled=lambda: False):
    """Call ``fn(*args, **kwargs)`` in a new Python process and return its result; ``on_progress``
    receives the child's progress (in this thread). ``cancelled()`` true: the child is stopped.
    (A plain subprocess and a pipe: multiprocessing's helpers need the real stderr, which a
    running Textual app has replaced.)"""
    read_fd, write_fd = os.pipe()
    try:
        child = subprocess.Popen([sys.executable, "-m", "cellwak_tui.process", str(write_fd)], pass_fds=(write_fd,),
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        os.close(write_fd)
    try:
        child.stdin.write(pickle.dumps((fn, args, kwargs, on_progress is not None)))
        child.stdin.close()
        while True:
            ready, _, _ = select.select([read_fd], [], [], 0.2)
            if not ready:
                if cancelled():
                    raise ChildFailed("cancelled", refused=False)
                continue
            try:
                size = struct.unpack("!I", _read_exactly(read_fd, 4))[0]
                kind, payload = pickle.loads(_read_exactly(read_fd, size))
            except EOFError:
                code = child.wait(timeout=30)
                raise ChildFailed(f"the worker process ended without an answer (exit code {code})",
                                  refused=False) from None
            if kind == "progress":
                if on_progress is not None:
                    on_progress(*payload)
            elif kind == "result":
                return payload
            else:
                raise ChildFailed(payload, refused=kind == "refused")
    finally:
        os.close(read_fd)
        if child.poll() is None and cancelled():
            child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()


if __name__ == "__main__":
    _child(int(sys.argv[1]))
