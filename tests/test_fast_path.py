"""The fast path (pyctr.cli.fast): ps, images, version, inspect and container exists without typer,
printing what the typer commands print (stdout, stderr, exit code), and everything else left to typer."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from pyctr.cli import fast


@pytest.mark.parametrize("argv, expected", [
    (["ps"], ("ps", {}, {}, [])),
    (["--root", "/r", "--runroot=/rr", "ps", "-aq", "--no-trunc"],
     ("ps", {"root": "/r", "runroot": "/rr"}, {"all": True, "quiet": True, "no_trunc": True}, [])),
    (["ps", "--format", "{{.Names}}"], ("ps", {}, {"format": "{{.Names}}"}, [])),
    (["images", "-n", "--format=json"], ("images", {}, {"noheading": True, "format": "json"}, [])),
    (["version", "-f", "{{.Client.Version}}"], ("version", {}, {"format": "{{.Client.Version}}"}, [])),
    (["inspect", "a", "b", "-f", "{{.Id}}"], ("inspect", {}, {"format": "{{.Id}}"}, ["a", "b"])),
    (["container", "exists", "c"], ("container exists", {}, {}, ["c"])),
])
def test_planned(argv, expected):
    assert fast.plan(argv) == expected


@pytest.mark.parametrize("argv", [
    [], ["--help"], ["ps", "--help"], ["ps", "-h"], ["ps", "--filter", "status=running"], ["ps", "-a", "--sort", "names"],
    ["ps", "extra"], ["images", "busybox"], ["inspect"], ["inspect", "--type", "image", "x"], ["inspect", "-l"],
    ["container", "exists"], ["container", "exists", "a", "b"], ["container", "exists", "--external", "a"],
    ["--log-level", "debug", "ps"], ["--syslog", "ps"], ["--root"], ["ps", "--format"], ["inspect", "--", "x"],
    ["run", "img"], ["rm", "-fa"], ["container", "ps"], ["ps", "-ax"], ["--version"],
])
def test_left_to_typer(argv):
    assert fast.plan(argv) is None


def test_does_not_import_typer(pyctr, image):
    pyctr("create", "--name", "fp1", image, "true")
    code = ("import sys\nfrom pyctr.cli import fast\nplanned = fast.plan(sys.argv[1:])\nassert planned\n"
            "code = fast.run(*planned)\nsys.stdout.flush()\n"
            "assert not {'typer', 'click'} & set(sys.modules), sorted(m for m in sys.modules if m.startswith(('typer', 'click')))\n"
            "sys.exit(code)\n")
    for args in (["ps", "-a"], ["images"], ["inspect", "fp1"], ["container", "exists", "fp1"], ["version"]):
        result = pyctr.run([sys.executable, "-c", code, "--root", str(pyctr.store.root),
                            "--runroot", str(pyctr.store.runroot), *args], check=False)
        assert result.returncode == 0, result.stderr


COMMANDS = [
    ["ps"], ["ps", "-a"], ["ps", "-aq"], ["ps", "-a", "--no-trunc"], ["ps", "-a", "--noheading"],
    ["ps", "-a", "--format", "json"], ["ps", "-a", "--format", "{{.Names}} {{.Status}}"],
    ["ps", "-a", "--format", "table {{.ID}} {{.Names}}"], ["ps", "-a", "--format", "{{json .Labels}}"],
    ["ps", "-a", "--format", "{{.Nope}}"],
    ["images"], ["images", "-q"], ["images", "-a", "--no-trunc"], ["images", "--digests"], ["images", "-n"],
    ["images", "--format", "json"], ["images", "--format", "{{.Repository}}:{{.Tag}} {{.Containers}}"],
    ["version"], ["version", "--format", "json"], ["version", "-f", "{{.Client.Version}}"], ["version", "-f", "{{.Version}}"],
    ["version", "-f", "{{.Nope}}"],
    ["inspect", "fp1"], ["inspect", "fp2", "IMAGE"], ["inspect", "-f", "{{.State.Status}} {{.Name}}", "fp1", "fp2"],
    ["inspect", "nope"], ["inspect", "fp1", "nope", "fp2"], ["inspect", "--format={{.Nope}}", "fp1"],
    ["container", "exists", "fp1"], ["container", "exists", "nope"],
]


def steady(text: str) -> str:
    """Without what the second between two runs changes: "3 seconds ago", "Up 2 seconds" (and the
    columns' widths, which follow them)."""
    text = re.sub(r"(Less than a second|About a minute|About an hour|\d+ (second|minute|hour)s?)( ago)?", "T", text)
    return re.sub(r"  +", "  ", text)


def test_same_as_typer(pyctr, image):
    """Each command line, once by the fast path and once by typer (PYCTR_FAST=0): the same bytes, the same exit code."""
    pyctr("create", "--name", "fp1", "--label", "a=b", image, "true")
    pyctr("run", "-d", "--name", "fp2", image, "sleep", "60")
    try:
        for args in COMMANDS:
            args = [image if a == "IMAGE" else a for a in args]
            assert fast.plan(args) is not None, args
            quick = pyctr(*args, check=False)
            typer_path = pyctr(*args, check=False, env={"PYCTR_FAST": "0"})
            assert (quick.returncode, steady(quick.stdout), quick.stderr) == \
                (typer_path.returncode, steady(typer_path.stdout), typer_path.stderr), args
    finally:
        pyctr("rm", "-f", "fp2", check=False)


def test_bad_root_is_one_line(pyctr, tmp_path):
    """An unusable --root: the same one line (and exit code) from both paths."""
    bad = tmp_path / "file"
    bad.write_text("")
    argv = [sys.executable, "-m", "pyctr", "--root", str(bad / "root"), "--runroot", str(tmp_path / "run"), "ps"]
    quick = subprocess.run(argv, capture_output=True, text=True)
    slow = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "PYCTR_FAST": "0"})
    assert (quick.returncode, quick.stdout, quick.stderr) == (slow.returncode, slow.stdout, slow.stderr)
    assert quick.returncode != 0 and quick.stderr.startswith("Error: ")


# -- run ------------------------------------------------------------------------------------

def test_run_defaults_are_typers():
    """RUN_DEFAULTS (what the fast `run` starts from) is what typer parses from `run IMAGE`."""
    import typer

    from pyctr.cli import main
    from pyctr.cli.runspec import RUN_DEFAULTS

    main._register_commands(["run"])
    command = typer.main.get_command(main.app).commands["run"]
    params = command.make_context("run", ["img"]).params
    assert params.pop("image") == "img"
    assert params == RUN_DEFAULTS


@pytest.mark.parametrize("argv, expected", [
    (["run", "img"], ({}, {"image": "img", "command": (), "network": [], "env": []})),
    (["--root", "/r", "run", "--rm", "--network", "none", "img", "true"],
     ({"root": "/r"}, {"rm": True, "image": "img", "command": ("true",), "network": ["none"], "env": []})),
    (["run", "-d", "--name=n", "-e", "A=1", "--env=B", "--net", "host", "img", "sh", "-c", "--rm"],
     ({}, {"detach": True, "name": "n", "image": "img", "command": ("sh", "-c", "--rm"), "network": ["host"],
           "env": ["A=1", "B"]})),
])
def test_run_planned(argv, expected):
    assert fast.plan_run(argv) == expected


@pytest.mark.parametrize("argv", [
    ["run"], ["run", "--rm"], ["run", "--help"], ["run", "-it", "img"], ["run", "-v", "/a:/b", "img"],
    ["run", "--rm=false", "img"], ["run", "--name", "a", "--name", "b", "img"], ["--log-level", "debug", "run", "img"],
    ["container", "run", "img"], ["create", "img"], ["run", "--name"], ["run", "-", "img"],
])
def test_run_left_to_typer(argv):
    assert fast.plan_run(argv) is None


RUNS = [
    ["run", "--rm", "--network", "none", "IMAGE", "sh", "-c", "echo out; echo err >&2; exit 3"],
    ["run", "--rm", "-e", "A=1", "--name", "fr1", "IMAGE", "sh", "-c", "echo $A"],
    ["run", "--rm", "IMAGE", "nosuchcommand"],
    ["run", "--rm", "-q", "localhost:1/none:latest", "true"],
    ["run", "--rm", "--network", "nosuchnetwork", "IMAGE", "true"],
]


def test_run_same_as_typer(pyctr, image):
    """`run` by the fast path and by typer: the same output and exit code, the container gone after
    --rm, and no typer imported."""
    for args in RUNS:
        args = [image if a == "IMAGE" else a for a in args]
        assert fast.plan_run(args) is not None, args
        quick = pyctr(*args, check=False)
        typer_path = pyctr(*args, check=False, env={"PYCTR_FAST": "0"})
        assert (quick.returncode, quick.stdout, quick.stderr) == \
            (typer_path.returncode, typer_path.stdout, typer_path.stderr), args
    assert pyctr("ps", "-aq").stdout == ""
    detached = pyctr("run", "-d", "--name", "fr2", image, "true").stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", detached)
    code = ("import sys\nfrom pyctr.cli import fast\nplanned = fast.plan_run(sys.argv[1:])\nassert planned\n"
            "code = fast.run_container(*planned)\nsys.stdout.flush()\n"
            "assert not {'typer', 'click'} & set(sys.modules), sorted(m for m in sys.modules if m.startswith(('typer', 'click')))\n"
            "sys.exit(code)\n")
    result = pyctr.run([sys.executable, "-c", code, "--root", str(pyctr.store.root), "--runroot", str(pyctr.store.runroot),
                        "run", "--rm", image, "echo", "ok"], check=False)
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")
