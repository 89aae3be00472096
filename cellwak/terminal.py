"""What the terminal can draw: a graphics protocol for images (Sixel, or the Terminal Graphics
Protocol of kitty) or coloured half-block characters, and how many colours.

When standard output is a terminal, textual-image asks the terminal itself (an escape-sequence
query answered by the terminal, the only reliable way); otherwise the answer comes from the
environment and says so."""

from __future__ import annotations

import os
import sys


def _colors(env) -> str:
    if env.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return "truecolor"
    term = env.get("TERM", "")
    if "256" in term or term in ("xterm-kitty", "wezterm", "alacritty", "foot"):
        return "256" if "256" in term else "truecolor"
    if term in ("", "dumb"):
        return "none"
    return "16"


def _from_environment(env) -> str:
    term, program = env.get("TERM", ""), env.get("TERM_PROGRAM", "")
    if env.get("TMUX"):
        return "half-block"  # tmux passes neither protocol through by default
    if term == "xterm-kitty" or env.get("KITTY_WINDOW_ID"):
        return "tgp"
    if program in ("WezTerm", "iTerm.app") or term in ("foot", "mlterm", "yaft-256color") or "sixel" in term:
        return "sixel"
    return "half-block"


def graphics_support(env=None, *, query: bool | None = None) -> dict:
    """``{"status", "protocol": sixel | tgp | half-block | none, "colors", "tty", "method", "detail"}``.
    ``query``: ask the terminal (default: when stdout is a terminal and ``env`` is the process's)."""
    real_env = env is None
    env = os.environ if env is None else env
    stream = sys.__stdout__
    tty = bool(stream is not None and stream.isatty()) if real_env else False
    colors = _colors(env)
    if query is None:
        query = tty
    protocol, method = None, "environment"
    if query:
        try:
            from textual_image.renderable import (
                Image,  # importing it queries the terminal (once)
            )

            protocol = {"SixelImage": "sixel", "TGPImage": "tgp", "HalfcellImage": "half-block"}.get(
                Image.__name__, "none")
            method = "queried"
        except Exception:  # textual-image missing or the query failed: fall back to the environment
            protocol = None
    if protocol is None:
        protocol = _from_environment(env) if colors != "none" else "none"
    detail = {"sixel": "crops drawn as Sixel images", "tgp": "crops drawn with the kitty graphics protocol",
              "half-block": "crops drawn with coloured half-block characters (no graphics protocol)",
              "none": "no colour: crops cannot be drawn"}[protocol]
    if not tty and real_env:
        detail += "; not a terminal now, so guessed from TERM/COLORTERM"
    return {"status": "ok" if protocol != "none" else "partial", "protocol": protocol, "colors": colors,
            "tty": tty, "method": method, "term": env.get("TERM", ""), "detail": detail}


__all__ = ["graphics_support"]
