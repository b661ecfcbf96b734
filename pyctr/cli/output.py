"""Tables, --format templates and JSON, and the human units podman prints."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime


def human_size(size: int | float) -> str:
    """Decimal units with three significant digits, as podman prints sizes (e.g. 1.23 MB)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    value = float(size)
    unit = 0
    while value >= 1000 and unit < len(units) - 1:
        value /= 1000
        unit += 1
    text = f"{value:.3g}"
    if "e" in text:
        text = f"{value:.0f}"
    return f"{text} {units[unit]}"


def human_duration(seconds: float) -> str:
    """docker's rough durations: 'About a minute', '3 hours', '2 weeks'."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(s / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def parse_time(text: str) -> float | None:
    """An RFC 3339 time (as in image configs) as a UNIX timestamp."""
    if not text:
        return None
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Python wants at most 6 fractional digits.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        tz = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{tz}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def since(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return human_duration(time.time() - timestamp) + " ago"


def print_table(headers: list[str], rows: list[list[str]], out=None) -> None:
    out = out or sys.stdout
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    for row in [headers, *rows]:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        out.write("  ".join(cells).rstrip() + "\n")


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=4, ensure_ascii=False) + "\n")


def print_formatted(fmt: str, rows: list[dict], headers: dict[str, str] | None = None) -> None:
    """--format: 'json' prints the rows as a JSON list; anything else is a Go template."""
    from pyctr.cli import gotemplate

    if fmt.strip() == "json":
        print_json(rows)
        return
    try:
        sys.stdout.write(gotemplate.render_rows(fmt, rows, headers))
    except gotemplate.TemplateError as exc:
        from pyctr.errors import InvalidArgument

        raise InvalidArgument(f"template: {exc}") from exc


def print_each(fmt: str, items: list[dict]) -> None:
    """inspect --format: one rendering per item (each followed by a newline)."""
    from pyctr.cli import gotemplate

    for item in items:
        try:
            text = gotemplate.render(fmt, item)
        except gotemplate.TemplateError as exc:
            from pyctr.errors import InvalidArgument

            raise InvalidArgument(f"template: {exc}") from exc
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
