"""Record podman's options per command, by walking `podman [words...] --help`.

    python -m tests.harness.podmanopts > tests/golden/podman-4.3.1-options.json

The output maps a command path ("" for podman itself, "run", "container run", ...) to the sorted
list of long and short options its help lists. `machine` (virtual machines) and `help` are left
out. The podman to run and its store come from PODMAN (default "podman") and the usual
CONTAINERS_CONF; --help touches no store, but podman still reads its configuration.
Not a test: the golden file is what the tests use, so that they never need podman.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

SKIPPED_COMMANDS = {"help", "machine"}
# "  -l, --latest   ..." or "      --sig-proxy   ...": an option line of the Options section.
OPTION_LINE = re.compile(r"^\s{2,8}(?:(-\w), )?(--[\w-]+)")
COMMAND_LINE = re.compile(r"^  (\S+)\s")


def help_text(podman: list[str], words: list[str]) -> str:
    result = subprocess.run([*podman, *words, "--help"], capture_output=True, text=True, check=True)
    return result.stdout


def sections(text: str) -> dict[str, list[str]]:
    """The help's sections ("Available Commands", "Options", ...) and their lines."""
    found: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            current = found.setdefault(line[:-1], [])
        elif current is not None and line.strip():
            current.append(line)
    return found


def options(lines: list[str]) -> list[str]:
    names = set()
    for line in lines:
        match = OPTION_LINE.match(line)
        if match:
            names.update(n for n in match.groups() if n)
    return sorted(names)


def subcommands(lines: list[str]) -> list[str]:
    words = [m.group(1) for m in map(COMMAND_LINE.match, lines) if m]
    return [w for w in words if w not in SKIPPED_COMMANDS]


def record(podman: list[str]) -> dict[str, list[str]]:
    recorded: dict[str, list[str]] = {}
    pending: list[list[str]] = [[]]
    while pending:
        words = pending.pop()
        found = sections(help_text(podman, words))
        recorded[" ".join(words)] = options(found.get("Options", []))
        pending.extend([*words, sub] for sub in subcommands(found.get("Available Commands", [])))
    return dict(sorted(recorded.items()))


def main() -> None:
    podman = shlex.split(os.environ.get("PODMAN", "podman"))
    json.dump(record(podman), sys.stdout, indent=1)


if __name__ == "__main__":
    main()
