"""Helpers shared by the benchmark scripts: fresh-process timing, peak memory, report sections."""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPORT = HERE / "BENCHMARKS.md"


def machine() -> str:
    import os

    import torch

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads "
            f"{torch.get_num_threads()}, Python {platform.python_version()}")


def run_probe(code: str, timeout: float = 1800) -> dict:
    """Run ``code`` in a fresh interpreter; it must print one JSON object as its last line."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"probe failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# Measures the peak resident memory added by a block of work, relative to the process after imports.
PEAK_PREAMBLE = """
import json, resource, time, os
def rss_mb():
    with open('/proc/self/status') as fh:
        for line in fh:
            if line.startswith('VmRSS'):
                return int(line.split()[1]) / 1024
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""


def update_section(name: str, markdown: str) -> None:
    """Replace the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` in BENCHMARKS.md."""
    text = REPORT.read_text() if REPORT.exists() else "# cellwak benchmarks\n"
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{markdown.rstrip()}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    REPORT.write_text(text)


def train_on(adata, model: str, settings: dict, epochs: int, seed: int):
    """Train ``model`` on a dataset exactly as `cellwak train MODEL --epochs N --seed S` builds it
    (in this process, on all torch threads); returns (the trained task, training seconds)."""
    import time

    import torch

    from cellwak.runs.request import build_task
    from cellwak.train import fit
    from cellwak.train.config import make_config

    torch.manual_seed(seed)
    task = build_task(adata, model, settings, None)
    t = time.perf_counter()
    # the model's preferred training settings (e.g. DINO's lr 5e-4, weight decay 0.04) as the CLI applies them
    fit(task, make_config(task, {"epochs": epochs, "seed": seed, "threads": torch.get_num_threads()}))
    return task, time.perf_counter() - t
