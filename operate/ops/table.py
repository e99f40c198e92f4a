"""Aligned plain-text tables: operators read these in terminals and paste them in tickets."""

from __future__ import annotations

from collections.abc import Sequence

Cell = str | int | None


def _text(cell: Cell) -> str:
    return "-" if cell is None else str(cell)


def render(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """``headers`` and ``rows`` as columns; integers right-aligned so magnitudes line up."""
    texts = [[_text(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in texts:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    numeric = [bool(rows) and all(isinstance(r[i], int) or r[i] is None for r in rows)
               for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if num else c.ljust(w)
                 for c, w, num in zip(cells, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line([h.upper() for h in headers])]
    out.extend(line(row) for row in texts)
    return "\n".join(out)


def duration_ms(ms: int | None) -> str:
    """Retention as an operator says it (``7d``, ``36h``), ``forever`` for -1."""
    if ms is None:
        return "-"
    if ms < 0:
        return "forever"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
