"""The dashboard screenshots of README (SVG, exported by Textual) from a real workspace.

    .venv/bin/python docs/make_dashboard_screenshots.py

Builds a workspace in /tmp/cellwak-screenshots (the built-in blood cells: a clustering at
gamma 1, one at auto with its sweep, a UMAP, a short autoencoder run) and writes
docs/dashboard/{datasets,runs,clusters,sweep,map}.svg at 140x40."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HOME = Path("/tmp/cellwak-screenshots/home")
OUT = ROOT / "docs" / "dashboard"
SIZE = (140, 40)


def prepare() -> None:
    from cellwak import api

    shutil.rmtree(HOME, ignore_errors=True)
    api.cluster(HOME, "blood", api.ClusterConfig(gamma=1.0))
    api.embed(HOME, "blood")
    api.start_run(HOME, "ae", "blood", model_config={"latent": 8},
                  settings=api.TrainSettings(epochs=30, threads=1), handle_signals=False)
    api.cluster(HOME, "blood", api.ClusterConfig(gamma="auto", rep="X_ae"))


async def shoot() -> None:
    from cellwak_tui.app import CellwakApp

    from tests.tui.conftest import text_of, until

    async def settle(pilot, ready):
        await until(pilot, ready, timeout=120)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.5)

    app = CellwakApp(str(HOME))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.screen.query(".crop-image"))
        app.save_screenshot(str(OUT / "datasets.svg"))
        await pilot.press("2")
        await settle(pilot, lambda: "run 1" in text_of(app, "#run-summary"))
        app.save_screenshot(str(OUT / "runs.svg"))
        await pilot.press("3")
        await settle(pilot, lambda: app.screen.query("#cluster-crops .crop-image")
                     and text_of(app, "#sweep-info") and text_of(app, "#embedding-info"))
        await pilot.press("down")
        await settle(pilot, lambda: app.screen.query("#cluster-crops .crop-image"))
        app.save_screenshot(str(OUT / "clusters.svg"))
        await pilot.press("s")
        await pilot.pause(0.5)
        app.save_screenshot(str(OUT / "sweep.svg"))
        await pilot.press("m")
        await pilot.pause(0.5)
        app.save_screenshot(str(OUT / "map.svg"))


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    prepare()
    asyncio.run(shoot())
    for f in sorted(OUT.glob("*.svg")):
        print(f.relative_to(ROOT), f"{f.stat().st_size // 1024} kB")
