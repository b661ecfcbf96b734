"""pyctr.filters: podman's --filter reading (pure logic)."""

import pytest

from pyctr import filters
from pyctr.errors import InvalidArgument


def test_values_of_one_key_are_gathered_in_order():
    parsed = filters.parse(["name=web", "label=a=1", "name=db"], ("name", "label"))
    assert parsed == {"name": ["web", "db"], "label": ["a=1"]}


@pytest.mark.parametrize("item", ["colour=red", "name"])
def test_unknown_keys_and_missing_values_are_errors(item):
    with pytest.raises(InvalidArgument):
        filters.parse([item], ("name",))


def test_label_matches_presence_or_value():
    labels = {"app": "web", "tier": ""}
    assert filters.label_matches(labels, "app")
    assert filters.label_matches(labels, "app=web")
    assert not filters.label_matches(labels, "app=db")
    assert filters.label_matches(labels, "tier=")
    assert not filters.label_matches(labels, "owner")
