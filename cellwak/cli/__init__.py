"""The ``cellwak`` command line.

``run(argv)`` returns the exit status (tests call it directly); ``main()`` is the console script.
Exit status: 0 success, 2 bad input (one line on stderr), 1 a bug (traceback with --debug),
130 interrupted.
"""

from __future__ import annotations

import sys
import traceback

GLOBAL_FLAGS = {"--json": "json", "--debug": "debug", "--quiet": "quiet", "-q": "quiet"}


def hoist_global_options(argv: list[str]) -> tuple[list[str], dict]:
    """Pull ``--json``, ``--debug``, ``--quiet`` and ``--home PATH`` out of any position, so
    ``cellwak cluster --json`` and ``cellwak --json cluster`` mean the same."""
    rest, flags, i = [], {"json": False, "debug": False, "quiet": False, "home": None}, 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg in GLOBAL_FLAGS:
            flags[GLOBAL_FLAGS[arg]] = True
        elif arg == "--home" and i + 1 < len(argv):
            flags["home"] = argv[i + 1]
            i += 1
        elif arg.startswith("--home="):
            flags["home"] = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return rest, flags


def run(argv: list[str] | None = None) -> int:
    import typer

    from ..errors import CellwakError
    from ._state import error_line, state
    from .app import app

    argv = list(sys.argv[1:] if argv is None else argv)
    argv, flags = hoist_global_options(argv)
    state.json, state.debug, state.quiet, state.home = flags["json"], flags["debug"], flags["quiet"], flags["home"]
    try:
        result = app(args=argv, prog_name="cellwak", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except typer.TyperException as exc:  # typer's (vendored click) usage errors
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # rich help prints itself while the error is made
            text = exc.format_message()
            if text.strip():
                sys.stdout.write(text + "\n")
            return 0
        where = ctx.command_path if ctx else "cellwak"
        message = exc.format_message().replace("Value error, ", "")  # Literal choices: pydantic-style wording
        error_line(f"{message} (see `{where} --help`)", 2)
        return 2
    except CellwakError as exc:
        if state.debug:
            traceback.print_exc()
        error_line(str(exc), exc.exit_code)
        return exc.exit_code
    except SystemExit as exc:  # --show-completion and other eager options end this way
        return exc.code if isinstance(exc.code, int) else 0
    except (KeyboardInterrupt, typer.Abort):
        error_line("interrupted; nothing was written for the unfinished step", 130)
        return 130
    except Exception as exc:  # a bug: say so, and show the traceback on request
        if state.debug:
            traceback.print_exc()
        error_line(f"internal error ({type(exc).__name__}: {str(exc)[:200]}); this is a bug, "
                   f"rerun with --debug for the traceback and report it", 1)
        return 1


def main() -> None:
    sys.exit(run())
