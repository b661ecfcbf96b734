"""The one time parser (pyctr.units): RFC 3339 as recorded, and times as users write them."""

import pytest

from pyctr import units
from pyctr.errors import InvalidArgument
from pyctr.runtime import logs

T = 1_700_000_000  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize("text, expected", [
    ("2023-11-14T22:13:20Z", T),
    ("2023-11-14T22:13:20.123456789Z", T + 0.123456789),
    ("2023-11-14T22:13:20.5z", T + 0.5),
    ("2023-11-14t22:13:20.000001Z", T + 0.000001),
    ("2023-11-14T23:13:20+01:00", T),
    ("2023-11-14T20:43:20.25-01:30", T + 0.25),
    ("2023-11-14T22:13:20", T),  # no zone: UTC, as Go's time.Parse
    ("2023-11-14T22:13:20.75", T + 0.75),
    ("2023-11-14", T - (22 * 3600 + 13 * 60 + 20)),
    ("2023-11-14Z", T - (22 * 3600 + 13 * 60 + 20)),
])
def test_rfc3339(text, expected):
    assert units.parse_rfc3339(text) == pytest.approx(expected, abs=1e-9)
    assert units.parse_time(text) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("text", ["yesterday", "2023-11-14T22:13", "2023-13-01T00:00:00Z", "2023-11-14T24:00:00Z",
                                  "2023-11-14T22:13:20Zjunk", "2023-11-14T22:13:20Z\n", "２023-11-14T22:13:20Z",
                                  "2023-11-14T22:13:20.Z", ""])
def test_rfc3339_rejects(text):
    with pytest.raises(ValueError):
        units.parse_rfc3339(text)


def test_whole_seconds_as_calendar_timegm():
    """The epoch arithmetic (without the calendar module) against calendar.timegm, leap years and
    the day rolling over as timegm does (February 31st) included."""
    import calendar

    for year in (1, 4, 100, 1600, 1899, 1900, 1969, 1970, 1972, 2000, 2023, 2024, 2100, 9999):
        for month in range(1, 13):
            for day in (1, 28, 29, 31):
                text = f"{year:04d}-{month:02d}-{day:02d}T23:59:60"
                assert units._whole_seconds(text) == calendar.timegm((year, month, day, 23, 59, 60, 0, 0, 0)), text
    with pytest.raises(ValueError):
        units.parse_rfc3339("0000-01-01T00:00:00Z")


def test_log_records_use_the_same_parser():
    assert logs.parse_timestamp is units.parse_rfc3339


@pytest.mark.parametrize("text, ago", [
    ("10m", 600), ("1h30m", 5400), ("1.5s", 1.5), ("300ms", 0.3), ("2h45m10.5s", 9910.5), ("1us", 1e-6),
    ("1µs", 1e-6), ("5ns", 5e-9), ("0", 0), (".5h", 1800), ("-1m", -60), ("+1m", 60),
])
def test_durations_count_back_from_now(text, ago):
    assert units.parse_duration(text) == pytest.approx(ago)
    if text != "0":  # a bare number is UNIX seconds, as podman reads it
        assert units.parse_time(text, now=10_000.0) == pytest.approx(10_000.0 - ago)


def test_duration_from_the_clock(monkeypatch):
    monkeypatch.setattr(units.time, "time", lambda: 5000.0)
    assert units.parse_time("10s") == 4990.0


@pytest.mark.parametrize("text, expected", [("1700000000", T), ("1700000000.25", T + 0.25), (" 17 ", 17.0), ("0", 0.0)])
def test_unix_seconds(text, expected):
    assert units.parse_time(text) == expected


@pytest.mark.parametrize("text", ["", "garbage", "1h30", "m", "10 m", "1d", "-", "1e3", "0x10"])
def test_parse_time_rejects_with_a_hint_of_the_forms(text):
    with pytest.raises(InvalidArgument, match="RFC 3339, UNIX time or a duration"):
        units.parse_time(text)


def test_parse_created_is_lenient():
    assert units.parse_created("2023-11-14T22:13:20Z") == T
    assert units.parse_created("") is None and units.parse_created(None) is None
    assert units.parse_created("garbage") is None


def test_go_formats_of_durations_and_times():
    from pyctr.container import health
    from pyctr.units import go_duration, go_time, rfc3339_nano

    # Go's time.Duration String() (podman's top ELAPSED/TIME, stats CPU time)
    assert [go_duration(n) for n in (0, 512, 1500, 31_160_336, 2_731_968_104, 62_500_000_000, 3_600 * 10**9, -1500)] == \
        ["0s", "512ns", "1.5\u00b5s", "31.160336ms", "2.731968104s", "1m2.5s", "1h0m0s", "-1.5\u00b5s"]
    # RFC3339Nano as Go writes JSON (inspect, events, health logs): trailing zeros of the fraction dropped
    assert rfc3339_nano(ns=1_764_933_708_530_388_790) == "2025-12-05T11:21:48.53038879Z"
    assert rfc3339_nano(1_764_933_708.5) == "2025-12-05T11:21:48.5Z" and rfc3339_nano(1_764_933_708) == "2025-12-05T11:21:48Z"
    # podman 4.3.1 health log entries: "Start":"2026-12-05T12:29:49.03854892Z" (8 digits: no padding zero)
    assert health.rfc3339(1_764_933_708.25) == "2025-12-05T11:21:48.25Z"
    assert go_time(1_700_000_000, utc=True) == "2023-11-14 22:13:20 +0000 UTC"
    assert go_time(ns=1_700_000_000_500_000_000, utc=True) == "2023-11-14 22:13:20.5 +0000 UTC"
