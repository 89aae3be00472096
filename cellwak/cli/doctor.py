"""``cellwak doctor``: what is available, and why not when not."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import api
from ._state import emit, home


def doctor(
    no_r: Annotated[bool, typer.Option("--no-r", help="Skip the R checks.")] = False,
    no_julia: Annotated[bool, typer.Option("--no-julia", help="Skip the Julia checks.")] = False,
    workspace: Annotated[bool, typer.Option("--workspace", help="Check the workspace instead: catalog integrity, "
                                            "every dataset and clustering file, orphans, leftovers of killed "
                                            "commands, runs whose process died.")] = False,
    repair: Annotated[bool, typer.Option("--repair", help="With --workspace: fix what can be fixed safely (remove "
                                         "leftovers and orphans and rows whose files are gone, mark dead runs "
                                         "failed, rebuild a damaged catalog from the dataset folders).")] = False,
):
    """Check Python, torch (device, threads), R and rpy2 with the R packages, Julia and juliacall,
    and the dashboard; or, with --workspace, the workspace. Exit status 1 when the core (cellwak,
    Python, torch) is not usable, or the workspace has problems left."""
    report = api.doctor(home(), check_r=not no_r, check_julia=not no_julia, workspace=workspace, repair=repair)
    emit(report, lambda c: render(c, report))
    return 0 if report["ok"] else 1


def render_workspace(console, rep: dict) -> None:
    from rich.markup import escape

    if not rep["exists"]:
        console.print(f"workspace {escape(rep['home'])}: not created yet, nothing to check")
        return
    c = rep["checked"]
    console.print(f"workspace {escape(rep['home'])}: {c['datasets']} datasets, {c['clusterings']} clusterings, "
                  f"{c['runs']} runs checked")
    for p in rep["problems"]:
        state = "[green]repaired[/]" if p["repaired"] else "[yellow]found[/]"
        console.print(f"  {state} {p['kind']} {escape(p['what'])}: {escape(p['detail'])}")
    if not rep["problems"]:
        console.print("  [green]no problems[/]")
    elif not rep["ok"]:
        console.print("  fix them with `cellwak doctor --workspace --repair`" if not rep["repair"] else
                      "  some problems are left: see above")


def render(console, rep: dict) -> None:
    from rich.markup import escape

    if "workspace_check" in rep:
        render_workspace(console, rep["workspace_check"])
        return

    mark = {"ok": "[green]ok[/]", "partial": "[yellow]partial[/]", "missing": "[yellow]missing[/]",
            "error": "[red]error[/]", "skipped": "[dim]skipped[/]"}

    def detail(part: dict) -> str:  # install hints hold brackets: pip install 'cellwak[julia]'
        return f"  {escape(part['detail'])}" if part.get("detail") else ""

    c = rep["cellwak"]
    console.print(f"cellwak {c['version']}  {mark[c['status']]}  ({escape(c['location'])})" + detail(c))
    for k, v in c["resources"].items():
        console.print(f"  {k + '/':8} {escape(v) if v else '[red]missing[/]'}")
    p = rep["python"]
    console.print(f"python  {p['version']}  {mark['ok']}  ({escape(p['executable'])}, {p['cpus']} CPUs)")
    t = rep["torch"]
    if t["status"] == "ok":
        gpu = f", GPUs: {', '.join(t['gpus'])}" if t.get("gpus") else ""
        console.print(f"torch   {t['version']}  {mark['ok']}  (device {t['device']}, {t['threads']} threads{escape(gpu)})")
    else:
        console.print(f"torch   {mark[t['status']]}" + detail(t))
    r = rep["r"]
    console.print(f"R       {escape(r.get('version', ''))}  {mark[r['status']]}" + detail(r))
    if r.get("packages"):
        console.print("  packages: " + ", ".join(f"{k} {escape(v) if v else '[red]missing[/]'}"
                                                 for k, v in r["packages"].items()))
    if "rpy2" in r:
        rp = r["rpy2"]
        console.print(f"  rpy2 {escape(rp.get('version', ''))} {mark[rp['status']]}" + detail(rp))
    j = rep["julia"]
    console.print(f"julia   {escape(j.get('version', ''))}  {mark[j['status']]}" + detail(j))
    if "juliacall" in j:
        jc = j["juliacall"]
        console.print(f"  juliacall {mark[jc['status']]}" + detail(jc))
    tui = rep["tui"]
    console.print(f"tui     {mark[tui['status']]}" + detail(tui))
    term = rep["terminal"]
    console.print(f"terminal {escape(term['protocol'])}, {escape(term['colors'])} colours  {mark[term['status']]}"
                  + detail(term))
    w = rep["workspace"]
    console.print(f"workspace {escape(w['home'])}  ({w['datasets']} datasets{'' if w['exists'] else ', not created yet'})")
