"""pyctr's command line held against podman 4.3.1's, recorded per command in
tests/golden/podman-4.3.1-options.json (by tests/harness/podmanopts.py; podman is not needed here).

Each failure lists one line per command: what is missing (or extra), so the gap reads at a glance.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
import typer

GOLDEN = Path(__file__).parent / "golden" / "podman-4.3.1-options.json"

# Options podman lists that pyctr deliberately does not take, per command ("*": every command),
# each with why. None today: the golden file is podman's own (not podman-remote's) option list;
# what depends on parts not built yet (pods, networks, checkpoint) is accepted and fails with a
# line naming what is missing; and docker's no-ops that podman takes (--disable-content-trust)
# are no-ops in podman too, so taking them changes nothing a script sees.
EXCEPTIONS: dict[str, dict[str, str]] = {}

# Commands that other issues bring (10: networks, 11: pods/systemd/kube/auto-update, 12: build,
# push, save/load, import, commit, manifest, 13: the service and its connections), and podman
# commands pyctr leaves out on purpose.
LATER_COMMANDS = {
    # issue 11: pods (their first part is built), generate, kube, auto-update
    "generate spec",
    # issue 12: images both ways
    "search", "image search",
    # issue 13: the service, and connections to it
    "system connection",
    # not planned: checkpoint/restore (CRIU), image signing and trust, scp, runlabel, image tree,
    # libpod's database maintenance (migrate, renumber), cloning containers
    "container checkpoint", "container restore", "image sign", "image trust", "image scp",
    "container runlabel", "image tree", "system migrate", "system renumber", "container clone",
    # an internal command of conmon's exit path; pyctr's shim runs `python -m pyctr.cleanup`
    "container cleanup",
    # volume plugins: pyctr has the local driver only, whose volumes need no reload
    "volume reload",
}

# Options pyctr has that podman 4.3.1 lacks, per command, and why each is one.
PYCTR_EXTRAS: dict[str, dict[str, str]] = {
    "": {"-h": "click's short help; podman takes -h too (cobra), it just does not list it"},
    **dict.fromkeys(("run", "create", "container run", "container create"),
                    {"--net": "podman's hidden alias of --network (podman 4.3.1 takes it, docker users write it)"}),
    "volume create": {"--ignore": "podman 4.4's: do nothing if the volume exists (scripts for newer podman use it)"},
    "network create": {"--ignore": "podman 4.4's: do nothing if the network exists (Quadlet's .network units use it)"},
    "events": {"--stream": "podman 4.3.1 takes it (its man page has it, its --help hides it): --stream=false"},
    **dict.fromkeys(("mount", "container mount"), {"--notruncate": "podman 4.3.1's hidden alias of --no-trunc"}),
    **dict.fromkeys(("kube play", "play kube"), {
        "--down": "podman 4.4's (issue 11 asks for it): kube down of the same file",
        "--publish": "podman 4.5's: more published ports for every pod"}),
    "generate systemd": {"--time": "podman 4.3.1's hidden, deprecated spelling of --stop-timeout", "-t": "--time"},
    **dict.fromkeys(("kube generate", "generate kube"), {
        "--type": "podman 4.4's (issue 11 asks for it): pod or deployment", "-t": "--type",
        "--replicas": "podman 4.4's: a deployment's replicas", "-r": "--replicas"}),
}


def podman_options() -> dict[str, list[str]]:
    return json.loads(GOLDEN.read_text())


def pyctr_commands() -> dict[str, click.Command]:
    """Every pyctr command by its path ("" for pyctr itself, "run", "container run", ...)."""
    from pyctr.cli import main

    main._register_commands(None)
    found: dict[str, click.Command] = {}

    def walk(command: click.Command, words: list[str]) -> None:
        found[" ".join(words)] = command
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*words, name])

    walk(typer.main.get_command(main.app), [])
    return found


def accepted(command: click.Command) -> set[str]:
    names = set()
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts + param.secondary_opts)
    with click.Context(command) as ctx:
        names.update(command.get_help_option_names(ctx))
    return names


def under_later(path: str) -> bool:
    words = path.split()
    return any(" ".join(words[:n]) in LATER_COMMANDS for n in range(1, len(words) + 1))


def _under(path: str, table: dict[str, dict[str, str]]) -> set[str]:
    return set(table.get(path, {})) | set(table.get("*", {}))


def _report(title: str, gaps: dict[str, list[str]]) -> str:
    count = sum(map(len, gaps.values()))
    lines = [f"{title}: {count} in {len(gaps)} commands"]
    lines += [f"  {path or '(global)'}: {' '.join(names)}" for path, names in sorted(gaps.items())]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def commands():
    return pyctr_commands()


def test_every_podman_option_is_accepted(commands):
    golden = podman_options()
    missing = {}
    for path, command in commands.items():
        if path not in golden:
            continue  # pyctr's own aliases (container ls, image ls, ...) are checked under podman's name
        absent = set(golden[path]) - accepted(command) - _under(path, EXCEPTIONS)
        if absent:
            missing[path] = sorted(absent)
    assert not missing, _report("podman 4.3.1 options pyctr does not accept", missing)


def test_no_option_podman_lacks(commands):
    golden = podman_options()
    extra = {}
    for path, command in commands.items():
        if path not in golden:
            continue
        more = accepted(command) - set(golden[path]) - {"--help"} - _under(path, PYCTR_EXTRAS)
        if more:
            extra[path] = sorted(more)
    assert not extra, _report("pyctr options podman 4.3.1 does not have (list them in PYCTR_EXTRAS with why)", extra)


def test_every_podman_command_exists(commands):
    missing = sorted(path for path in podman_options() if path and not under_later(path) and path not in commands)
    assert not missing, f"podman 4.3.1 commands pyctr lacks ({len(missing)}):\n  " + "\n  ".join(missing)


def test_exceptions_name_real_podman_options():
    """A stale exception hides nothing: each one names a command and an option podman has."""
    golden = podman_options()
    for table, name in ((EXCEPTIONS, "EXCEPTIONS"),):
        for path, options in table.items():
            if path == "*":
                continue
            assert path in golden, f"{name}: podman has no command {path!r}"
            assert set(options) <= set(golden[path]), f"{name}[{path!r}]: not podman options: {set(options) - set(golden[path])}"
    for path in LATER_COMMANDS:
        assert path in golden, f"LATER_COMMANDS: podman has no command {path!r}"


def test_the_recorder_reads_podman_help():
    """tests/harness/podmanopts.py on a recorded piece of `podman attach --help`."""
    from tests.harness import podmanopts

    text = (
        "Attach to a running container\n\nUsage:\n  podman attach [options] CONTAINER\n\n"
        "Available Commands:\n  help        Help about any command\n  ls          List\n\n"
        "Options:\n"
        "      --detach-keys [a-Z]   Select the key sequence (default \"ctrl-p,ctrl-q\")\n"
        "  -l, --latest              Act on the latest container podman is aware of\n"
        "                            Not supported with the \"--remote\" flag\n"
        "      --no-stdin            Do not attach STDIN. The default is false\n"
    )
    found = podmanopts.sections(text)
    assert podmanopts.options(found["Options"]) == ["--detach-keys", "--latest", "--no-stdin", "-l"]
    assert podmanopts.subcommands(found["Available Commands"]) == ["ls"]
