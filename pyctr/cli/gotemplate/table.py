"""Podman's "table" formats: the header line a template implies, and tabwriter's column alignment."""

import re

_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+|[^A-Za-z\d]+")


def camel_title(name):
    """A column title as podman's report.Headers makes it: `CreatedAt` -> `CREATED AT`."""
    return " ".join(_CAMEL.findall(name)).upper()


def _first_field(pipe):
    for cmd in pipe[2]:
        for op in cmd:
            if op.kind == "field" or (op.kind == "var" and op.value == "$" and op.fields):
                return op.fields
            if op.kind == "pipe" and (found := _first_field(op.value)):
                return found
    return None


def header(nodes, headers):
    """The header line for the actions of `nodes`: headers[field], else the field name split at capitals."""
    folded = {k.lower(): v for k, v in headers.items()}
    parts = []
    for node in nodes:
        if node[0] == "text":
            parts.append(node[1])
        elif node[0] in ("action", "if", "with", "range") and not (node[0] == "action" and node[1][0]):
            names = _first_field(node[1])
            if names:
                for key in (".".join(names), names[-1]):
                    if key in headers or key.lower() in folded:
                        parts.append(headers[key] if key in headers else folded[key.lower()])
                        break
                else:
                    parts.append(camel_title(names[-1]))
    return "".join(parts)


def align(text, minwidth, padding=2):
    """Go's text/tabwriter with ' ' padding: tab-terminated cells aligned in column blocks."""
    lines = [line.split("\t") for line in text.split("\n")]
    if len(lines[-1]) > 1 and lines[-1][-1] == "":  # an unfinished last line: its empty cell is not one yet
        lines[-1].pop()
    out = []

    def write(lo, hi, widths):
        for cells in lines[lo:hi]:
            out.append("".join(c.ljust(widths[j]) if j < len(widths) else c for j, c in enumerate(cells)))

    def fmt(lo, hi, widths):
        column, this = len(widths), lo
        while this < hi:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write(lo, this, widths)
            lo, width = this, minwidth
            while this < hi and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            fmt(lo, this, widths + [width])
            lo = this
        write(lo, hi, widths)

    fmt(0, len(lines), [])
    return "\n".join(out)
