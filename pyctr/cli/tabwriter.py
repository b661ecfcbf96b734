"""Tables as podman prints them (Go's text/tabwriter with minwidth 12, padding 2): every column but
the last is at least 12 wide, and 2 wider than its longest cell; the last is not padded."""

from __future__ import annotations

import sys


def render(rows: list[list[str]], *, minwidth: int = 12, padding: int = 2) -> str:
    widths: list[int] = []
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            need = max(minwidth, len(cell) + padding)
            if i >= len(widths):
                widths.append(need)
            else:
                widths[i] = max(widths[i], need)
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + row[-1:]
        lines.append("".join(cells) + "\n")
    return "".join(lines)


def write(headers: list[str] | None, rows: list[list[str]], out=None) -> None:
    (out or sys.stdout).write(render(([headers] if headers else []) + rows))
