"""``cellwak doctor``: what is available, and why not when not."""

from __future__ import annotations

from typing import Annotated

import typer

from ._state import emit, state


def doctor(
    no_r: Annotated[bool, typer.Option("--no-r", help="Skip the R checks.")] = False,
    no_julia: Annotated[bool, typer.Option("--no-julia", help="Skip the Julia checks.")] = False,
):
    """Check Python, torch (device, threads), R and rpy2 with the R packages, Julia and juliacall."""
    from ..doctor import collect

    report = collect(state.home, check_r=not no_r, check_julia=not no_julia)
    emit(report, lambda c: _render(c, report))
    return 0 if report["ok"] else 1


def _render(console, rep: dict):
    mark = {"ok": "[green]ok[/]", "partial": "[yellow]partial[/]", "missing": "[yellow]missing[/]",
            "error": "[red]error[/]", "skipped": "[dim]skipped[/]"}
    c = rep["cellwak"]
    console.print(f"cellwak {c['version']}  {mark[c['status']]}  ({c['location']})")
    for k, v in c["resources"].items():
        console.print(f"  {k + '/':8} {v or '[red]missing[/]'}")
    p = rep["python"]
    console.print(f"python  {p['version']}  {mark['ok']}  ({p['executable']}, {p['cpus']} CPUs)")
    t = rep["torch"]
    if t["status"] == "ok":
        gpu = f", GPUs: {', '.join(t['gpus'])}" if t.get("gpus") else ""
        console.print(f"torch   {t['version']}  {mark['ok']}  (device {t['device']}, {t['threads']} threads{gpu})")
    else:
        console.print(f"torch   {mark[t['status']]}  {t['detail']}")
    r = rep["r"]
    line = f"R       {r.get('version', '')}  {mark[r['status']]}"
    console.print(line + (f"  {r['detail']}" if r.get("detail") else ""))
    if r.get("packages"):
        console.print("  packages: " + ", ".join(f"{k} {v or '[red]missing[/]'}" for k, v in r["packages"].items()))
    if "rpy2" in r:
        rp = r["rpy2"]
        console.print(f"  rpy2 {rp.get('version', '')} {mark[rp['status']]}" + (f"  {rp['detail']}" if rp.get("detail") else ""))
    j = rep["julia"]
    console.print(f"julia   {j.get('version', '')}  {mark[j['status']]}" + (f"  {j['detail']}" if j.get("detail") else ""))
    if "juliacall" in j:
        jc = j["juliacall"]
        console.print(f"  juliacall {mark[jc['status']]}" + (f"  {jc['detail']}" if jc.get("detail") else ""))
    w = rep["workspace"]
    console.print(f"workspace {w['home']}  ({w['datasets']} datasets{'' if w['exists'] else ', not created yet'})")
