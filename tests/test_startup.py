"""What the commands that only read state do not load (issue 14: their start-up), and that each
shortcut taken for it gives what the long way gives: the default table formats without the
template parser, the spec's decoding without typing, `--version` without typer."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pyctr.cli import gotemplate
from pyctr.cli.gotemplate import Struct, TemplateError

NOT_LOADED = ["typer", "click", "typing", "inspect", "ast", "dis", "calendar", "pyctr.cli.gotemplate.parser",
              "pyctr.cli.gotemplate.evaluator"]


def test_loads_only_what_it_uses(pyctr, image):
    """The fast path's commands (as the console script runs them: deferred imports first) load
    neither typer, nor typing and inspect (ast, dis), nor the template parser for default tables."""
    pyctr("create", "--name", "st1", image, "true")
    code = ("import sys\nfrom pyctr.cli import fast\nfast.defer_imports()\nplanned = fast.plan(sys.argv[1:])\n"
            "code = fast.run(*planned)\nsys.stdout.flush()\n"
            f"loaded = [m for m in {NOT_LOADED!r} if m in sys.modules and not isinstance(sys.modules[m], fast._Deferred)]\n"
            "assert not loaded, loaded\nsys.exit(code)\n")
    for args in (["ps", "-a"], ["images"], ["inspect", "st1"], ["inspect", image], ["container", "exists", "st1"],
                 ["version"]):
        result = pyctr.run([sys.executable, "-c", code, "--root", str(pyctr.store.root),
                            "--runroot", str(pyctr.store.runroot), *args], check=False)
        assert result.returncode == 0, (args, result.stderr)


def test_deferred_module_loads_on_first_use():
    script = ("import sys\nfrom pyctr.cli import fast\nfast.defer_imports({'colorsys': ()})\nimport colorsys\n"
              "assert isinstance(sys.modules['colorsys'], fast._Deferred)\nfrom colorsys import rgb_to_hsv\n"
              "assert colorsys.rgb_to_hsv(1, 0, 0) == (0.0, 1.0, 1) and rgb_to_hsv is sys.modules['colorsys'].rgb_to_hsv\n"
              "assert not isinstance(sys.modules['colorsys'], fast._Deferred)\n")
    subprocess.run([sys.executable, "-c", script], check=True)


def test_deferred_submodule_and_its_functions():
    """urllib.parse stands in for itself (pathlib takes quote_from_bytes from it at its import): the
    function taken calls the real one, and `import urllib.parse` then sees the real module."""
    script = ("import sys\nfrom pyctr.cli import fast\nfast.defer_imports({'urllib.parse': ('quote_from_bytes',)})\n"
              "from urllib.parse import quote_from_bytes\nimport urllib.parse\n"
              "assert isinstance(sys.modules['urllib.parse'], fast._Deferred)\n"
              "assert quote_from_bytes(b'a b') == 'a%20b'\n"
              "assert not isinstance(sys.modules['urllib.parse'], fast._Deferred)\n"
              "import urllib.parse as again\nassert again is sys.modules['urllib.parse'] and again.quote('a b') == 'a%20b'\n"
              "assert urllib.parse.urlsplit('http://h/p').path == '/p'\n"
              "import pathlib\nassert pathlib.Path('/a b').as_uri() == 'file:///a%20b'\n")
    subprocess.run([sys.executable, "-c", script], check=True)
    script = ("import sys\nfrom pyctr.cli import fast\nfast.defer_imports()\nimport pathlib, urllib.parse\n"
              "assert urllib.parse.urlsplit('http://h/p').path == '/p'\n"  # (through the package's attribute first)
              "assert pathlib.Path('/a b').as_uri() == 'file:///a%20b'\n"
              "import inspect, copy\nassert inspect.signature(len) and copy.copy([1]) == [1]\n")
    subprocess.run([sys.executable, "-c", script], check=True)


@pytest.mark.parametrize("argv", [["--version"], ["-v"], ["--root", "/r", "--runroot=/rr", "--version"]])
def test_version_without_typer(argv):
    script = ("import sys\nfrom pyctr.cli import fast\nfast.main(sys.argv[1:])\n")
    mine = subprocess.run([sys.executable, "-X", "importtime", "-c", script, *argv], capture_output=True, text=True)
    theirs = subprocess.run([sys.executable, "-m", "pyctr", *argv], capture_output=True, text=True,
                            env={"PYCTR_FAST": "0", "PATH": "/usr/bin:/bin"})
    assert (mine.returncode, mine.stdout) == (theirs.returncode, theirs.stdout) == (0, theirs.stdout)
    assert theirs.stdout.startswith("pyctr version ")
    assert " typer" not in mine.stderr and "pyctr.engine" not in mine.stderr


# -- the default table formats, read without the parser -------------------------------------------

def long_way(name, fmt, rows, headers, **how):
    """gotemplate.report as it runs every other template: parsed and executed."""
    original = gotemplate._plain
    gotemplate._plain = lambda *args: None
    try:
        return gotemplate.report(name, fmt, rows, headers, **how)
    finally:
        gotemplate._plain = original


ROWS = [Struct({"ID": "abc", "Names": "web", "Size": 1234, "On": True, "Labels": {"a": "b"}, "None": None}, "t"),
        Struct({"ID": "defghijklmnopq", "Names": "db", "Size": 0, "On": False, "Labels": {}, "None": None}, "t")]
HEADERS = {"ID": "CONTAINER ID", "Names": "NAMES", "Size": "SIZE"}


@pytest.mark.parametrize("fmt", [
    "table {{.ID}}\\t{{.Names}}\\t{{.Size}}", "table {{.ID}} {{.Names}}", "{{.ID}} {{.On}} {{.Labels}}",
    "{{.ID}}\\t{{.None}}", "table {{.On}}\\t{{.Labels}}", "x{{.ID}}y", "table ID {{.ID}}", "{{.ID}}\\n",
])
@pytest.mark.parametrize("heading", [True, False])
def test_plain_as_parsed(fmt, heading):
    assert gotemplate._plain(gotemplate.podman_text(fmt)[0], ROWS, HEADERS) is not None
    for rows in (ROWS, ROWS[:1], []):
        assert gotemplate.report("ps", fmt, rows, HEADERS, heading=heading) == long_way("ps", fmt, rows, HEADERS, heading=heading)
    assert gotemplate.report("ps", fmt, ROWS, None) == long_way("ps", fmt, ROWS, None)
    plain_rows = [dict(row) for row in ROWS]  # maps: a missing key is <no value>
    assert gotemplate.report("ps", fmt + " {{.Nope}}", plain_rows, HEADERS) == long_way("ps", fmt + " {{.Nope}}", plain_rows, HEADERS)


@pytest.mark.parametrize("fmt", ["{{.ID | upper}}", "{{ .ID }}", "{{.Labels.a}}", "{{range .}}{{.ID}}{{end}}",
                                 "{{if .On}}on{{end}}", "{{json .}}", "{{.ID}} }}", "{{- .ID}}"])
def test_other_templates_are_parsed(fmt):
    assert gotemplate._plain(gotemplate.podman_text(fmt)[0], ROWS, HEADERS) is None


def test_unknown_field_is_the_evaluator_error():
    with pytest.raises(TemplateError) as plain:
        gotemplate.report("ps", "{{.ID}} {{.Nope}}", ROWS, HEADERS)
    with pytest.raises(TemplateError) as parsed:
        long_way("ps", "{{.ID}} {{.Nope}}", ROWS, HEADERS)
    assert str(plain.value) == str(parsed.value) and "can't evaluate field Nope in type t" in str(plain.value)


# -- the spec's decoding plan, without typing.get_type_hints --------------------------------------

def test_spec_decoding_plan_as_type_hints():
    import typing
    from dataclasses import fields, is_dataclass

    from pyctr.container import spec

    checked = 0
    for cls in vars(spec).values():
        if not (isinstance(cls, type) and is_dataclass(cls) and cls.__module__ == spec.__name__):
            continue
        hints = typing.get_type_hints(cls)
        for (name, convert), f in zip(spec._decoding_plan(cls), fields(cls)):
            hint = hints[f.name]
            if is_dataclass(hint):
                assert convert.func is spec._from_json and convert.args == (hint,), (cls, name)
            elif getattr(hint, "__origin__", None) is list and is_dataclass(hint.__args__[0]):
                assert convert.func is spec._list_from_json and convert.args == (hint.__args__[0],), (cls, name)
            else:
                assert convert is None, (cls, name)
            checked += convert is not None
    assert checked >= 10


def test_version_names_python_as_platform_does(tmp_path):
    import platform

    from pyctr.engine import Engine

    info = Engine(tmp_path / "root", tmp_path / "run").system.version()
    assert info.python_version == platform.python_version()


def test_run_loads_only_what_it_uses(pyctr, image):
    """`run --rm` (the fast path's run, as the console script takes it) loads neither typer nor
    typing, inspect or ipaddress: each is milliseconds of every script's every run."""
    unused = ["typer", "click", "typing", "inspect", "ipaddress", "calendar"]
    code = ("import sys\nfrom pyctr.cli import fast\nfast.defer_imports()\nplanned = fast.plan_run(sys.argv[1:])\n"
            "code = fast.run_container(*planned)\nsys.stdout.flush()\n"
            f"loaded = [m for m in {unused!r} if m in sys.modules and not isinstance(sys.modules[m], fast._Deferred)]\n"
            "assert not loaded, loaded\nsys.exit(code)\n")
    result = pyctr.run([sys.executable, "-c", code, "--root", str(pyctr.store.root), "--runroot", str(pyctr.store.runroot),
                        "run", "--rm", "--network", "none", image, "echo", "ran"], check=False)
    assert (result.returncode, result.stdout) == (0, "ran\n"), result.stderr
