"""Small formatting helpers shared by the screens (numbers, durations, bars)."""

from __future__ import annotations


def count(n) -> str:
    return "" if n is None else f"{int(n):,}"


def duration(seconds) -> str:
    """``1h 02m``, ``3m 05s``, ``42s``; empty when unknown."""
    if seconds is None:
        return ""
    s = int(round(float(seconds)))
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s}s"


def number(x, digits: int = 3) -> str:
    if x is None:
        return ""
    try:
        return f"{float(x):.{digits}g}"
    except (TypeError, ValueError):
        return str(x)


def bar(fraction: float, width: int = 12) -> str:
    """A text bar of ``width`` cells (eighth blocks)."""
    fraction = min(1.0, max(0.0, float(fraction)))
    eighths = int(round(fraction * width * 8))
    full, part = divmod(eighths, 8)
    return ("█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")).ljust(width)


def distribution(counts: dict | None, limit: int = 8, width: int = 60) -> list[str]:
    """Lines ``value count share bar`` for the largest ``limit`` values of a ``{value: count}``,
    fitted into ``width`` characters (the bar takes what is left, or is left out)."""
    if not counts:
        return []
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    total = sum(counts.values()) or 1
    top = items[0][1] or 1
    name_width = max(6, min(14, width - 17, max(len(str(k)) for k, _ in items[:limit])))
    bar_width = width - (2 + name_width + 1 + 7 + 1 + 6 + 1)
    lines = []
    for k, v in items[:limit]:
        line = f"  {str(k)[:name_width]:<{name_width}} {v:>7,} {100 * v / total:5.1f}%"
        lines.append(line + (" " + bar(v / top, min(bar_width, 16)) if bar_width >= 4 else ""))
    if len(items) > limit:
        rest = sum(v for _, v in items[limit:])
        lines.append(f"  {'+' + str(len(items) - limit) + ' more':<{name_width}} {rest:>7,}")
    return lines


def cluster_lines(c: dict, source: dict, width: int) -> list[str]:
    """What the Clusters screen says of one cluster of :func:`cellwak.api.show_clustering`: size,
    majority label, unlabelled share, markers (score bars when ``width`` allows) and batches."""
    k = c["cluster"]
    lines = [f"[b]cluster {k}[/]  {c['size']:,} cells ({100 * c['share']:.1f}%)"]
    major = c.get("majority")
    if major:
        lines.append(f"majority {major['label']}: {100 * major['share_of_labelled']:.0f}% of labelled cells, "
                     f"{100 * major['share_of_all']:.0f}% of all")
    if c.get("unlabelled_share") is not None:
        lines.append(f"unlabelled {100 * c['unlabelled_share']:.0f}%")
    markers = c.get("markers") or []
    if markers:
        lines.append(f"markers: score ({source.get('method', '')}, {source.get('source', '')}) and effect "
                     f"({source.get('effect', '')})")
        top = max(abs(m["score"]) for m in markers) or 1
        bar_width = min(12, width - 36)
        name_width = min(16, max(8, width - 20))  # a narrow pane shortens names rather than wrapping lines
        for m in markers:
            shown = bar(abs(m["score"]) / top, bar_width) + " " if bar_width >= 4 else ""
            lines.append(f"  {m['name'][:name_width]:<{name_width}} {m['direction']} {shown}{m['score']:+7.1f} "
                         f"({m['effect']:+.2f})")
    if c.get("batches"):
        lines.append("batches  " + "  ".join(f"{b} {n:,}" for b, n in list(c["batches"].items())[:6]))
    return lines
