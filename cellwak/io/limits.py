"""What a data file may make cellwak do: read regular files only, inflate compressed data only so
far, and allocate no more than the file can hold.

A damaged or hostile file ends in one :class:`~cellwak.errors.InputError`, never in a hang, an
exhausted memory or a read of some other file. The numbers live here, once, with their reasons:

* ``BOMB_RATIO`` / ``BOMB_FLOOR``: compressed data (``.gz`` tables and idx files, deflated
  ``.npz`` members, compressed HDF5 datasets) that inflates more than ``BOMB_RATIO`` times once
  past ``BOMB_FLOOR`` bytes is refused as a probable decompression bomb, as soon as that is known
  (a ``.gz`` stream is measured while it inflates, so a bomb is stopped after ``BOMB_FLOOR``
  bytes, not inflated whole). Real tables and images compress 2-100 times; deflate cannot exceed
  about 1030, and bombs sit near that ceiling. A genuine file refused this way can be added
  decompressed.
* ``MAX_LINE``: the longest table row (the CSV parser needs a whole row in memory).
* Pillow's ``Image.MAX_IMAGE_PIXELS``: the most pixels one image may have (TIFF files too).
"""

from __future__ import annotations

import io
import os
import stat
import zlib
from pathlib import Path

from ..errors import InputError

BOMB_RATIO = 500
BOMB_FLOOR = 100 << 20
MAX_LINE = 256 << 20
_CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"


def _mb(n: int) -> str:
    return f"{n / 2**20:,.1f} MB" if n < 2**30 else f"{n / 2**30:,.1f} GB"


def require_regular_file(path: Path, what: str = "data file") -> None:
    """A device, FIFO or socket (also behind a symlink) is refused before anything opens it:
    reading ``/dev/zero`` never ends and opening a FIFO blocks."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise InputError(f"cannot open {what} {path} ({exc.strerror or exc})", "check the path and its permissions") from None
    if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
        return
    kind = ("a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode)
            else "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file")
    raise InputError(f"{what} {path} is {kind}, not a regular file",
                     "cellwak reads only regular files; copy the data into a file first")


def bomb_error(path, inflated: int, compressed: int, what: str = "it") -> InputError:
    return InputError(f"{path}: {what} inflates to over {_mb(inflated)} from {_mb(compressed)} "
                      f"(more than {BOMB_RATIO} times): a probable decompression bomb",
                      "if the file is genuine, decompress it yourself and add the uncompressed file")


def check_inflation(path, inflated: int, compressed: int, what: str = "it") -> None:
    """Refuse ``inflated`` bytes coming from ``compressed`` bytes past the bomb limits."""
    if inflated > BOMB_FLOOR and inflated > BOMB_RATIO * max(compressed, 1):
        raise bomb_error(path, inflated, compressed, what)


def corrupt_gzip(path, why: str) -> InputError:
    return InputError(f"cannot read {path} ({why})", "the file is corrupt or truncated; compress or download it again")


class GuardedGzip(io.RawIOBase):
    """A gzip file (one or more members) read as its inflated bytes, measured as it inflates:
    past the bomb limits it raises InputError, as it does for damaged or truncated data."""

    def __init__(self, path):
        self.path = Path(path)
        self._raw = open(self.path, "rb")  # noqa: SIM115  closed by close()
        self._d = zlib.decompressobj(wbits=31)
        self._input = b""
        self._out = memoryview(b"")
        self.consumed = 0
        self.inflated = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()

    def readinto(self, b) -> int:
        while not self._out and not self._done:
            self._step()
        k = min(len(b), len(self._out))
        b[:k] = self._out[:k]
        self._out = self._out[k:]
        return k

    def _step(self) -> None:
        if not self._input:
            self._input = self._raw.read(_CHUNK)
            self.consumed += len(self._input)
            if not self._input:
                if self._d.eof:
                    self._done = True
                    return
                raise corrupt_gzip(self.path, "it ends in the middle of the compressed data")
        if self._d.eof:  # between members: another member, or zero padding up to the end
            if self._input[:2] == GZIP_MAGIC:
                self._d = zlib.decompressobj(wbits=31)
            elif not self._input.strip(b"\0"):
                self._input = b""
                return
            else:
                raise corrupt_gzip(self.path, "unexpected bytes after the compressed data")
        try:
            out = self._d.decompress(self._input, _CHUNK)
        except zlib.error as exc:
            raise corrupt_gzip(self.path, str(exc)) from None
        self._input = self._d.unused_data if self._d.eof else self._d.unconsumed_tail
        self.inflated += len(out)
        check_inflation(self.path, self.inflated, self.consumed - len(self._input))
        self._out = memoryview(out)


def open_binary(path: Path):
    """The file's bytes, inflated and guarded when its name ends in ``.gz``."""
    if Path(path).name.lower().endswith(".gz"):
        return io.BufferedReader(GuardedGzip(path), buffer_size=_CHUNK)
    return open(path, "rb")


def too_large(path) -> InputError:
    return InputError(f"{path} is too large to read into this machine's memory (or damaged, declaring more "
                      "data than it holds)", "use a machine with more memory or split the data into smaller files; "
                      "if the file is damaged, export it again")
