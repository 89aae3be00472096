"""Several processes opening one fresh workspace at the same moment: the schema must be created
once, and every opener must get a working catalog (the race CI once caught as 'table datasets
already exists' from the loser of two simultaneous `cellwak data add`)."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

OPENERS = 6


def _open(path: str, barrier, out):
    from cellwak.store.catalog import Catalog

    barrier.wait()
    try:
        Catalog(Path(path)).close()
        out.put("ok")
    except Exception as exc:  # noqa: BLE001 - the failure is the report
        out.put(f"{type(exc).__name__}: {exc}")


def test_simultaneous_first_opens_all_get_one_schema(tmp_path):
    ctx = mp.get_context("spawn")
    for trial in range(4):
        path = tmp_path / f"catalog{trial}.sqlite"
        barrier, out = ctx.Barrier(OPENERS), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(str(path), barrier, out)) for _ in range(OPENERS)]
        for p in procs:
            p.start()
        results = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        assert results == ["ok"] * OPENERS, results

        from cellwak.store.catalog import MIGRATIONS, Catalog

        cat = Catalog(path)
        try:
            assert cat._conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        finally:
            cat.close()
