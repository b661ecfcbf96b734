"""Human units as podman prints them: sizes, rough durations, RFC 3339 times."""

from __future__ import annotations

import time


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
    from datetime import datetime

    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def since(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return human_duration(time.time() - timestamp) + " ago"
