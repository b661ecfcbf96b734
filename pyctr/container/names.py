"""Generated container names (adjective_noun), as docker and podman give them."""

from __future__ import annotations

import random

ADJECTIVES = (
    "agile", "amber", "bold", "brave", "bright", "calm", "clever", "cosy", "crisp", "curious", "daring",
    "eager", "earnest", "fancy", "fearless", "gentle", "glad", "happy", "hardy", "honest", "jolly", "keen",
    "kind", "lively", "loyal", "lucid", "merry", "modest", "nimble", "noble", "patient", "placid", "proud",
    "quick", "quiet", "rapid", "serene", "sharp", "sleepy", "smart", "sober", "steady", "sunny", "swift",
    "tender", "tidy", "upbeat", "vivid", "warm", "wise", "witty", "zealous",
)
NOUNS = (
    "albatross", "badger", "beaver", "bison", "condor", "crane", "dolphin", "eagle", "falcon", "ferret",
    "finch", "fox", "gazelle", "gecko", "heron", "ibex", "jackal", "jaguar", "kestrel", "koala", "lemur",
    "lynx", "marmot", "marten", "moose", "narwhal", "newt", "ocelot", "orca", "osprey", "otter", "owl",
    "panda", "pelican", "puffin", "quail", "raven", "robin", "salmon", "seal", "sparrow", "stork", "swan",
    "tapir", "tern", "walrus", "weasel", "wolf", "wombat", "wren", "yak", "zebra",
)


def generate() -> str:
    return f"{random.choice(ADJECTIVES)}_{random.choice(NOUNS)}"
