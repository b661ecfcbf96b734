"""Pure helpers of the command line: human units. (How flags parse: tests/test_cli_parsing.py.)"""

import pytest

from pyctr import units


@pytest.mark.parametrize("size, text", [(0, "0 B"), (999, "999 B"), (1000, "1 kB"), (1_980_000, "1.98 MB"), (123_456_789, "123 MB"), (5e12, "5 TB")])
def test_human_size(size, text):
    assert units.human_size(size) == text


@pytest.mark.parametrize("seconds, text", [(0.5, "Less than a second"), (30, "30 seconds"), (90, "About a minute"), (3600, "About an hour"), (5 * 3600, "5 hours"), (3 * 86400, "3 days"), (40 * 86400, "5 weeks"), (800 * 86400, "2 years")])
def test_human_duration(seconds, text):
    assert units.human_duration(seconds) == text


def test_parse_time_takes_nanoseconds_and_zulu():
    assert units.parse_time("2023-11-14T22:13:20Z") == 1_700_000_000
    assert units.parse_time("2023-11-14T22:13:20.123456789Z") == pytest.approx(1_700_000_000.123456)
    assert units.parse_created("garbage") is None
