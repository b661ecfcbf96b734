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
