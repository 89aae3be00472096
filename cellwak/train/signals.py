"""Stop requests from signals: SIGTERM or Ctrl-C set an event that the loop checks after each
step, so the current step finishes and a checkpoint is written before the run stops.

A second Ctrl-C raises KeyboardInterrupt at once (for a user who really wants out).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


@contextmanager
def stop_on_signals(signals=(signal.SIGTERM, signal.SIGINT)):
    """Yield a ``threading.Event`` set by the given signals; previous handlers come back on exit.
    Off the main thread (where Python cannot install handlers) the event is only set by code."""
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handler(signum, frame):
        if event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        event.set()

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield event
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
