"""How the command line is parsed: podman's spellings through the parser itself (no argv rewriting),
parsing that stops at the image, and help, debug and the user namespace decided from the parsed
command line (pyctr.cli.parsing, pyctr.cli.main)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import click
import pytest
import typer
import typer.main

from pyctr.cli import main as climain
from pyctr.cli.parsing import PyctrTyper

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def root() -> click.Group:
    climain._register_commands()
    return typer.main.get_command(climain.app)


def parse(root: click.Group, *words: str) -> dict:
    """The parameters of `pyctr WORDS...` as the command would receive them (nothing is run)."""
    return _parsed(root, list(words)).params


def _parsed(group: click.Group, words: list[str], parent: click.Context | None = None) -> click.Context:
    ctx = click.Context(group, info_name=group.name or "pyctr", parent=parent, **group.context_settings)
    command = group.commands[words[0]]
    if isinstance(command, click.Group):
        return _parsed(command, words[1:], ctx)
    ctx = command.make_context(words[0], words[1:], parent=ctx)
    # click gives repeated options and variadic arguments as tuples (typer hands the command lists)
    ctx.params = {name: list(value) if isinstance(value, tuple) else value for name, value in ctx.params.items()}
    return ctx


def parse_error(root: click.Group, *words: str) -> str:
    with pytest.raises(click.UsageError) as error:
        parse(root, *words)
    return error.value.format_message()


# -- boolean flags ------------------------------------------------------------------------------

@pytest.mark.parametrize("words, expected", [
    ([], False),
    (["--rm"], True),
    (["--rm=true"], True),
    (["--rm=TRUE"], True),
    (["--rm=1"], True),
    (["--rm=false"], False),
    (["--rm=False"], False),
    (["--rm=0"], False),
    (["--rm", "--rm=false"], False),  # the last one wins
])
def test_bool_flag_spellings(root, words, expected):
    assert parse(root, "run", *words, "img")["rm"] is expected


def test_flags_that_default_to_true_and_short_names(root):
    assert parse(root, "run", "img")["sig_proxy"] is True
    assert parse(root, "run", "--sig-proxy", "img")["sig_proxy"] is True  # click alone would make it False
    assert parse(root, "run", "--sig-proxy=false", "img")["sig_proxy"] is False
    params = parse(root, "run", "-d=false", "-i=true", "-t", "img")
    assert (params["detach"], params["interactive"], params["tty"]) == (False, True, True)
    params = parse(root, "run", "-it", "-d=false", "img")
    assert (params["detach"], params["interactive"], params["tty"]) == (False, True, True)


@pytest.mark.parametrize("words, message", [
    (["run", "--rm=bogus", "img"], "Invalid value for '--rm': 'bogus' is not a valid boolean."),
    (["ps", "-a=maybe"], "Invalid value for '--all' / '-a': 'maybe' is not a valid boolean."),
    (["pull", "--tls-verify=", "img"], "Invalid value for '--tls-verify': '' is not a valid boolean."),
])
def test_a_bad_bool_value_is_a_clear_error(root, words, message):
    assert parse_error(root, *words) == message


def test_a_bad_bool_value_exits_125_with_one_line(tmp_path):
    result = _pyctr(tmp_path, "pull", "--tls-verify=bogus", "busybox")
    assert result.returncode == 125
    assert result.stderr == "Error: Invalid value for '--tls-verify': 'bogus' is not a valid boolean.\n"


def test_a_bool_flag_never_takes_the_following_word(root):
    """As pflag: `--tls-verify false` is --tls-verify, then the word "false"."""
    assert parse(root, "pull", "--tls-verify", "img")["tls_verify"] is True
    assert parse(root, "pull", "--tls-verify=false", "img")["tls_verify"] is False
    assert parse(root, "pull", "img")["tls_verify"] is None  # not given: the registry decides
    assert parse_error(root, "pull", "--tls-verify", "false", "img") == "Got unexpected extra argument (img)"
    params = parse(root, "run", "--tls-verify", "false", "img")
    assert (params["tls_verify"], params["image"], params["command"]) == (True, "false", ["img"])
    params = parse(root, "rm", "--force", "false")
    assert (params["force"], params["containers"]) == (True, ["false"])


def _bool_flags(command: click.Command, ctx: click.Context):
    for param in command.get_params(ctx):
        if isinstance(param, click.Option) and param.is_bool_flag and not param.is_eager:
            yield param


def _commands(group: click.Group, path: list[str]):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, path + [name])
        else:
            yield path + [name], command


def test_every_bool_flag_of_every_command_takes_true_and_false(root):
    checked = set()
    for path, command in _commands(root, []):
        ctx = click.Context(command, info_name=path[-1])
        required = ["x" for p in command.get_params(ctx) if isinstance(p, click.Argument) and p.required]
        for flag in _bool_flags(command, ctx):
            name = max(flag.opts, key=len)
            for value, expected in (("true", True), ("false", False), (None, True)):
                word = name if value is None else f"{name}={value}"
                assert parse(root, *path, word, *required)[flag.name] == expected, (path, word)
            checked.add(name)
    # every flag podman users write as --flag=false (before the parser took this over, argv was rewritten for them)
    assert {"--sig-proxy", "--rm", "--detach", "--interactive", "--tty", "--read-only", "--privileged", "--init",
            "--replace", "--quiet", "--force", "--all", "--follow", "--timestamps", "--no-trunc", "--tls-verify"} <= checked


# -- where parsing stops ------------------------------------------------------------------------

CONTAINER_WORDS = ["sh", "-c", 'echo "$@"', "x", "--force=false", "--all=true", "--help", "-h", "--", "--rm", "-it"]


@pytest.mark.parametrize("command", [["run"], ["create"], ["container", "run"], ["container", "create"]])
def test_everything_after_the_image_belongs_to_the_container(root, command):
    params = parse(root, *command, "--rm", "-e", "A=1", "img", *CONTAINER_WORDS)
    assert params["image"] == "img" and params["command"] == CONTAINER_WORDS
    assert params["rm"] is True and params["env"] == ["A=1"]


def test_everything_after_the_container_belongs_to_exec(root):
    params = parse(root, "exec", "-i", "ctr", "ls", "--all=false", "-t", "--help")
    assert (params["container"], params["command"]) == ("ctr", ["ls", "--all=false", "-t", "--help"])
    assert params["interactive"] is True and params["tty"] is False


def test_double_dash_ends_the_options(root):
    params = parse(root, "run", "--", "img", "--rm")
    assert (params["image"], params["command"], params["rm"]) == ("img", ["--rm"], False)
    assert parse(root, "rm", "c1", "--", "-f")["containers"] == ["c1", "-f"]


def test_other_commands_take_options_between_arguments(root):
    params = parse(root, "rm", "c1", "-f", "c2", "--volumes=false")
    assert (params["containers"], params["force"], params["volumes"]) == (["c1", "c2"], True, False)


def test_values_of_options(root):
    params = parse(root, "run", "-eA=1", "-e=B=2", "-e", "C=3", "--env=D=4", "--env", "E", "-h", "box",
                   "--name=--rm", "img")
    assert params["env"] == ["A=1", "B=2", "C=3", "D=4", "E"]
    assert params["hostname"] == "box"  # run's -h is --hostname, as podman's
    assert params["name"] == "--rm"  # an option's value may look like an option
    assert parse(root, "ps", "-n", "-1")["last"] == -1


@pytest.mark.parametrize("words, message", [
    (["run", "--bogus", "img"], "No such option: --bogus"),
    (["run", "--rmx", "img"], "No such option: --rmx (Possible options: --rm, --rmi)"),
    (["run", "-x", "img"], "No such option: -x"),
    (["run", "-ix", "img"], "No such option: -x"),
    (["ps", "--filter"], "Option '--filter' requires an argument."),
    (["run", "--rm"], "Missing argument 'IMAGE'."),
    (["rename", "a", "b", "c"], "Got unexpected extra argument (c)"),
    (["ps", "--last", "x"], "Invalid value for '--last' / '-n': 'x' is not a valid integer."),
])
def test_usage_errors(root, words, message):
    assert parse_error(root, *words).startswith(message)


def test_the_parser_on_other_shapes():
    """What commands still to come may declare: --x/--no-x pairs, counters, a variadic argument first."""
    app = PyctrTyper()

    @app.command()
    def cmd(names: List[str] = typer.Argument(...), last: str = typer.Argument(...),
            color: bool = typer.Option(True, "--color/--no-color"),
            verbose: int = typer.Option(0, "--verbose", "-V", count=True),
            size: Optional[int] = typer.Option(None, "--size", "-s")):
        pass

    @app.command()
    def other():
        pass

    group = typer.main.get_command(app)
    assert parse(group, "cmd", "a", "-VV", "b", "--no-color", "-s3", "c") == \
        {"names": ["a", "b"], "last": "c", "color": False, "verbose": 2, "size": 3}
    assert parse(group, "cmd", "--color=false", "a", "b")["color"] is False
    assert parse(group, "cmd", "--color", "a", "b")["color"] is True
    assert parse_error(group, "cmd", "--no-color=true", "a", "b") == "Option '--no-color' does not take a value."
    assert parse_error(group, "cmd", "-V=2", "a", "b") == "Option '-V' does not take a value."
    assert parse_error(group, "cmd", "a").startswith("Missing argument 'NAMES...'")


# -- help, debug and the user namespace: decided from the parsed command line --------------------

@pytest.mark.parametrize("argv, fast", [
    (["run", "img", "true"], True),
    (["--root", "/r", "--log-level=debug", "container", "run", "-h", "box", "-v", "/a:/b", "img"], True),
    (["run", "--help"], False),
    (["run", "img", "ls", "--help"], False),  # the container's --help: the ordinary way (still in the namespace)
    (["--help", "run", "img"], False),
    (["-v", "run", "img"], False),
    (["create", "img"], False),
    (["ps"], False),
    ([], False),
])
def test_what_may_start_a_shim_before_parsing(argv, fast):
    assert climain.runs_a_container(argv) is fast


# A rootless pyctr without a real user namespace: it reports when it would enter one, and when
# it starts a container's shim.
FAKE_ROOTLESS = """
import os, sys
os.geteuid = lambda: 4242
from pyctr.linux import userns
from pyctr.runtime import shimlauncher
userns.enter = lambda runtime_dir: print("entered the user namespace", file=sys.stderr, flush=True)
start_shim = shimlauncher.ShimLauncher.__init__
def reporting(self):
    print("started a shim", file=sys.stderr, flush=True)
    start_shim(self)
shimlauncher.ShimLauncher.__init__ = reporting
from pyctr.cli.main import main
main(sys.argv[1:])
"""


def _pyctr(tmp_path: Path, *args: str, fake_rootless: bool = False) -> subprocess.CompletedProcess:
    entry = ["-c", FAKE_ROOTLESS] if fake_rootless else ["-m", "pyctr"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_RUNTIME_DIR": str(tmp_path / "xdg"),
           "XDG_DATA_HOME": str(tmp_path / "data")}
    argv = [sys.executable, *entry, "--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run"), *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)


@pytest.mark.parametrize("args", [
    ["--help"], ["-v"], ["run", "--help"], ["container", "run", "--help"], ["ps", "--help"], ["ps", "-h"],
    ["--log-level", "debug", "create", "--help"], ["exec", "--help"],
])
def test_help_needs_no_user_namespace(tmp_path, args):
    result = _pyctr(tmp_path, *args, fake_rootless=True)
    assert result.returncode == 0 and result.stdout
    # Nothing but --log-level's own lines (time="..." level=... msg="...").
    assert all(line.startswith("time=") for line in result.stderr.splitlines()), result.stderr


@pytest.mark.parametrize("args", [
    ["run", "--pull=never", "absent", "ls", "--help"],  # the container's --help is not pyctr's
    ["run", "-h", "box", "--pull=never", "absent", "true"],  # run's -h is --hostname
    ["run", "--pull=never", "absent", "true"],
])
def test_a_container_runs_in_the_user_namespace(tmp_path, args):
    result = _pyctr(tmp_path, *args, fake_rootless=True)
    assert result.returncode == 125, result.stderr
    lines = result.stderr.splitlines()
    # The shim is started inside the namespace, whichever way the command line went.
    assert lines[:2] == ["entered the user namespace", "started a shim"], lines
    assert lines[-1].startswith("Error: ") and "absent" in lines[-1]


def test_other_commands_run_in_the_user_namespace(tmp_path):
    result = _pyctr(tmp_path, "ps", "-a", fake_rootless=True)
    assert result.returncode == 0 and result.stderr == "entered the user namespace\n"


@pytest.mark.parametrize("log_level", [["--log-level", "debug"], ["--log-level=debug"]])
def test_debug_comes_from_the_global_option(tmp_path, log_level):
    result = _pyctr(tmp_path, *log_level, "run", "--pull=never", "absent", "true")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_the_containers_arguments_do_not_turn_debug_on(tmp_path):
    result = _pyctr(tmp_path, "run", "--pull=never", "absent", "echo", "--log-level", "debug", "--log-level=debug")
    assert result.returncode == 125
    assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1, result.stderr


def test_root_help_promises_only_what_exists(tmp_path):
    result = _pyctr(tmp_path, "--help")
    # (what it names exists: issue 10's networks, issue 11's pods and generate, issue 12's build)
    assert "Manage containers, pods, images, networks and volumes" in result.stdout
    assert " build " in result.stdout and " generate " in result.stdout
    assert "\\[" not in result.stdout and "[default: warn]" in result.stdout  # plain help, even with rich installed


# -- through the real CLI, runc and a registry ----------------------------------------------------


def test_the_container_gets_its_arguments_untouched(pyctr, image):
    result = pyctr("run", "--rm", image, "sh", "-c", 'echo "$@"', "x", "--force=false", "--all=true", "--help")
    assert result.stdout == "--force=false --all=true --help\n"


def test_podman_bool_spellings_reach_the_engine(pyctr, image):
    assert pyctr("run", "--rm=false", "--sig-proxy=false", "--name", "kept", image, "true").returncode == 0
    assert pyctr("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["kept"]
    pyctr("rm", "--force=true", "kept")
    assert pyctr("run", "--rm=true", "-d=false", "--name", "gone", image, "true").returncode == 0
    assert pyctr("ps", "-a", "-q").stdout == ""
