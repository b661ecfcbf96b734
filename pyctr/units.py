"""Human units as podman prints and reads them: sizes, rough durations, times."""

from __future__ import annotations

import functools
import re
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


def go_duration(ns: int) -> str:
    """Go's time.Duration String(): `0s`, `512ns`, `31.160336ms`, `6m43.907867924s`, `1h0m5s`."""
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_decimal(ns, 1000)}\u00b5s"
    if ns < 1_000_000_000:
        return f"{sign}{_decimal(ns, 1_000_000)}ms"
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    prefix = f"{hours}h{minutes}m" if hours else (f"{minutes}m" if minutes else "")
    return f"{sign}{prefix}{_decimal(rest, 10**9)}s"


def _decimal(value: int, unit: int) -> str:
    """value/unit in decimal, exact, without trailing zeros."""
    whole, part = divmod(value, unit)
    digits = f"{part:0{len(str(unit)) - 1}d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def _seconds_and_nanos(seconds: float, ns: int | None) -> tuple[int, int]:
    if ns is not None:
        return divmod(ns, 1_000_000_000)
    whole = int(seconds // 1)
    return whole, min(round((seconds - whole) * 1e9), 999_999_999)


def _nano_fraction(nanos: int) -> str:
    """Go's .999999999 layout: the nanoseconds without trailing zeros, nothing when they are 0."""
    digits = f"{nanos:09d}".rstrip("0")
    return f".{digits}" if digits else ""


def rfc3339_nano(seconds: float = 0.0, *, ns: int | None = None) -> str:
    """Go's time.RFC3339Nano in UTC (`2025-12-05T11:21:48.53038879Z`): trailing zeros of the
    fraction dropped, as Go (and so podman) writes times in JSON. `ns`: the time in nanoseconds."""
    whole, nanos = _seconds_and_nanos(seconds, ns)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + _nano_fraction(nanos) + "Z"


def go_time(seconds: float = 0.0, *, ns: int | None = None, utc: bool = False) -> str:
    """Go's time.Time String(), as templates print a time: `2026-12-05 11:21:41.716474343 +0000 UTC`;
    local time unless `utc`."""
    whole, nanos = _seconds_and_nanos(seconds, ns)
    moment = time.gmtime(whole) if utc else time.localtime(whole)
    zone = " +0000 UTC" if utc else time.strftime(" %z %Z", moment)
    return time.strftime("%Y-%m-%d %H:%M:%S", moment) + _nano_fraction(nanos) + zone


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


# -- times -------------------------------------------------------------------------------------
# One parser: parse_rfc3339 for times pyctr and images record (log records call it for every
# line, so it has a fast path), parse_time on top of it for what users write.

_PATTERNS = {
    "rfc3339": r"(\d{4})-(\d\d)-(\d\d)(?:[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?)?(?:([Zz])|([+-])(\d\d):(\d\d))?",
    "duration_part": r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)",
    "unix": r"\d+(?:\.\d*)?|\.\d+",
}
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@functools.cache
def _pattern(name: str) -> re.Pattern:
    """_PATTERNS[name], compiled on first use (~0.1 ms each: `ps` and `images` import this module,
    and parse no time, or only those of the fast paths below)."""
    return re.compile(_PATTERNS[name], re.ASCII)


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time: any number of fraction digits, `Z` or
    an offset; without a zone, UTC (as Go's time.Parse); a date alone is its midnight.
    Raises ValueError."""
    # Fast path for the shim's own log format: 2026-11-30T06:16:20.123456789Z
    if len(text) == 30 and text[19] == "." and text[29] == "Z":
        fraction = text[20:29]
        if fraction.isdigit():
            return _whole_seconds(text[:19]) + int(fraction) / 1e9
    if len(text) == 20 and text[19] in "Zz":  # and for images' `created`: 2023-11-14T22:13:20Z
        return float(_whole_seconds(text[:19]))
    m = _pattern("rfc3339").fullmatch(text)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second, fraction, _, sign, off_hours, off_minutes = m.groups()
    clock = f"{hour}:{minute}:{second}" if hour else "00:00:00"
    seconds = float(_whole_seconds(f"{year}-{month}-{day}T{clock}"))
    if fraction:
        seconds += int(fraction) / 10 ** len(fraction)
    if sign:
        offset = int(off_hours) * 3600 + int(off_minutes) * 60
        seconds -= offset if sign == "+" else -offset
    return seconds


@functools.lru_cache(maxsize=1024)
def _whole_seconds(text: str) -> int:
    """`YYYY-MM-DDTHH:MM:SS` in UTC -> epoch seconds; cached, as log records share them."""
    parts = (text[0:4], text[5:7], text[8:10], text[11:13], text[14:16], text[17:19])
    if (len(text) != 19 or text[4] + text[7] + text[13] + text[16] != "--::" or text[10] not in "Tt"
            or not all(part.isascii() and part.isdigit() for part in parts)):
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    fields = tuple(int(part) for part in parts)
    if not (1 <= fields[1] <= 12 and 1 <= fields[2] <= 31 and fields[3] < 24 and fields[4] < 60 and fields[5] < 61):
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = fields
    if year < 1:
        raise ValueError(f"year {year} is out of range")  # (datetime's words, as calendar.timegm said it)
    return ((_days_since_epoch(year, month) + day - 1) * 24 + hour) * 3600 + minute * 60 + second


def _days_since_epoch(year: int, month: int) -> int:
    """Days from 1970-01-01 to the first of `month` in `year`, proleptic Gregorian: calendar.timegm's
    arithmetic, without importing calendar (and datetime, locale: ~2 ms for `images`). The year is
    counted from March, so that February's length matters last."""
    if month <= 2:
        year -= 1
    era, year_of_era = divmod(year, 400)
    day_of_year = (153 * (month + (9 if month <= 2 else -3)) + 2) // 5
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def parse_duration(text: str) -> float:
    """A Go duration (`10m`, `1h30m`, `1.5s`, `300ms`, `-2h`) in seconds. Raises ValueError."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    total, at = 0.0, 0
    while at < len(body):
        m = _pattern("duration_part").match(body, at)
        if not m:
            raise ValueError(f"not a duration: {text!r}")
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        at = m.end()
    if not body:
        raise ValueError(f"not a duration: {text!r}")
    return -total if text.startswith("-") else total


def parse_time(text: str, *, now: float | None = None) -> float:
    """A time as users write it (`--since`, `--until`, filters), as podman reads it -> epoch seconds:
    RFC 3339 with or without fraction and zone (UTC without), a date, UNIX seconds
    (`1700000000.5`), or a Go duration counted back from now (`10m`, `1h30m`, `1.5s`).
    Raises InvalidArgument."""
    text = text.strip()
    try:
        return parse_rfc3339(text)
    except ValueError:
        pass
    if _pattern("unix").fullmatch(text):
        return float(text)
    try:
        ago = parse_duration(text)
    except ValueError:
        from pyctr.errors import InvalidArgument

        raise InvalidArgument(f"invalid time {text!r}: expected RFC 3339, UNIX time or a duration like 10m") from None
    return (time.time() if now is None else now) - ago


def parse_created(text: str | None) -> float | None:
    """A recorded time (an image's `created`), None when missing or malformed."""
    try:
        return parse_rfc3339(text.strip()) if text else None
    except ValueError:
        return None


def since(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return human_duration(time.time() - timestamp) + " ago"
