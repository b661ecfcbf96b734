"""The generated man pages and shell completions: current, complete, well-formed, working.

Regenerate with `make docs` (python -m tests.harness.mkdocs) after changing a command.
"""

from __future__ import annotations

import enum
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import pytest
import typer.main

REPO = Path(__file__).resolve().parents[1]
MAN = REPO / "man"
BASH = REPO / "completions" / "bash" / "pyctr"
ZSH = REPO / "completions" / "zsh" / "_pyctr"
FISH = REPO / "completions" / "fish" / "pyctr.fish"
PAGES = sorted(MAN.glob("pyctr*.1"))


def mkdocs(*args: str, seed: str = "0") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.run([sys.executable, "-m", "tests.harness.mkdocs", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def command_paths() -> list[list[str]]:
    """Every visible command of the typer app, walked independently of the generator."""
    from pyctr.cli import main

    main._register_commands()
    found = []

    def visit(cmd, path):
        found.append(path)
        for name, sub in getattr(cmd, "commands", {}).items():
            if not sub.hidden:
                visit(sub, path + [name])

    visit(typer.main.get_command(main.app), ["pyctr"])
    return found


# -- freshness ----------------------------------------------------------------------------------

def test_generated_docs_are_current():
    result = mkdocs("--check")
    assert result.returncode == 0, result.stderr


def test_check_names_stale_and_orphaned_files(tmp_path):
    shutil.copytree(MAN, tmp_path / "man")
    shutil.copytree(REPO / "completions", tmp_path / "completions")
    (tmp_path / "man" / "pyctr-pull.1").write_text(".TH OLD 1\n")
    (tmp_path / "man" / "pyctr-gone.1").write_text(".TH GONE 1\n")
    result = mkdocs("--check", "--dir", str(tmp_path))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "man/pyctr-pull.1" in result.stderr and "man/pyctr-gone.1" in result.stderr
    assert "completions" not in result.stderr


def test_output_does_not_depend_on_hash_seed_or_run(tmp_path):
    for seed in ("1", "2"):
        assert mkdocs("--dir", str(tmp_path / seed), seed=seed).returncode == 0
    first = {p.relative_to(tmp_path / "1"): p.read_bytes() for p in (tmp_path / "1").rglob("*") if p.is_file()}
    second = {p.relative_to(tmp_path / "2"): p.read_bytes() for p in (tmp_path / "2").rglob("*") if p.is_file()}
    assert first == second


# -- man pages ----------------------------------------------------------------------------------

def test_every_command_has_a_man_page():
    missing = ["-".join(path) + ".1" for path in command_paths() if not (MAN / ("-".join(path) + ".1")).is_file()]
    assert not missing, f"no man page for {missing}; run `make docs`"


def test_podman_style_page_names():
    names = {p.name for p in PAGES}
    assert {"pyctr.1", "pyctr-pull.1", "pyctr-images.1", "pyctr-image.1", "pyctr-image-inspect.1",
            "pyctr-image-mount.1", "pyctr-login.1"} <= names


def render_problems(page: Path) -> str:
    """What groff (or mandoc) says about a page; "" when neither is installed."""
    if shutil.which("groff"):
        argv = ["groff", "-man", "-Tutf8", "-wall", "-z", str(page)]
    elif shutil.which("mandoc"):
        argv = ["mandoc", "-T", "lint", "-W", "warning", str(page)]
    else:
        return ""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return (result.stderr + result.stdout).strip() or ("" if result.returncode == 0 else f"exit {result.returncode}")


def check_structure(page: Path) -> None:
    text = page.read_text()
    lines = [line for line in text.splitlines() if not line.startswith('.\\"')]
    assert lines[0].startswith(".TH ") and "pyctr" in lines[0] and not re.search(r"\d{4}-\d\d-\d\d", lines[0])
    sections = [line[4:] for line in lines if line.startswith(".SH ")]
    assert sections[:3] == ["NAME", "SYNOPSIS", "DESCRIPTION"]
    name = lines[lines.index(".SH NAME") + 1]
    assert name.startswith(page.stem.replace("-", "\\-") + " \\- "), name
    for before, line in zip([""] + lines, lines):
        if before in (".TP", ".SH SYNOPSIS"):  # flags, metavars and command names: typed hyphens
            assert not re.search(r"(?<!\\)-", line), f"unescaped hyphen: {line}"
        if line.startswith((".", "'")):  # a request: only the few macros the generator uses
            assert re.match(r"\.(TH|SH|PP|TP|nh|ad)( |$)", line), line
        assert len(re.findall(r"\\f[BI]", line)) == len(re.findall(r"\\fR", line)), f"unbalanced fonts: {line}"
    if page.name != "pyctr.1":
        assert "SEE ALSO" in sections and "\\fBpyctr\\fR(1)" in text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_man_page_renders_without_warnings(page):
    if not (shutil.which("groff") or shutil.which("mandoc")):
        pytest.skip("neither groff nor mandoc is installed (the structure test still runs)")
    assert render_problems(page) == ""


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_man_page_structure(page):
    check_structure(page)


def test_man_page_documents_each_option():
    page = (MAN / "pyctr-pull.1").read_text()
    for flag in ("\\-\\-platform", "\\-q", "\\-\\-quiet", "\\-\\-tls\\-verify", "\\-\\-authfile"):
        assert f"\\fB{flag}\\fR" in page
    assert "REGISTRY_AUTH_FILE" in page  # environment variables are mentioned
    assert "(default: \\fBwarn\\fR)" in (MAN / "pyctr.1").read_text()  # and meaningful defaults


# -- completions --------------------------------------------------------------------------------

COMPLETE = r'''source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_pyctr pyctr "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}"'''


@pytest.fixture
def fake_pyctr(tmp_path):
    """A `pyctr` on PATH that lists three images and logs its arguments, for image-name completion."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pyctr"
    script.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/calls\n'
                      "printf 'busybox:latest\\nalpine:3.19\\n<none>:<none>\\nlocalhost:5000/app:1.0\\n'\n")
    script.chmod(0o755)
    return tmp_path


def bash_complete(*words: str, home: Path | None = None, script: Path = BASH) -> list[str]:
    """What `_pyctr` offers when the command line is `words` (the last one being completed)."""
    system = "/usr/bin:/bin"  # not the virtualenv's: no real pyctr runs
    env = {**os.environ, "PATH": f"{home / 'bin'}:{system}" if home else system}
    argv = [shutil.which("bash"), "--norc", "--noprofile", "-c", COMPLETE, "bash", str(script), *words]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0 and not result.stderr, result.stderr
    return result.stdout.split()


def test_bash_script_syntax():
    result = subprocess.run(["bash", "-n", str(BASH)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_bash_script_registers_itself():
    result = subprocess.run(["bash", "--norc", "-c", f'source "{BASH}" && complete -p pyctr'],
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "complete -F _pyctr pyctr"


@pytest.mark.parametrize("words, expected", [
    (["pyctr", "ima"], ["image", "images"]),
    (["pyctr", "--root", "/tmp", "ima"], ["image", "images"]),  # global options and their values skipped
    (["pyctr", "image", "u"], ["unmount", "untag"]),  # the hidden alias umount is not offered
    (["pyctr", "pull", "--tls-verify", "=", "f"], ["false"]),  # bash splits --tls-verify=f at "="
    (["pyctr", "run", "--rm", "=", ""], ["true", "false"]),  # every boolean flag takes an attached value
    (["pyctr", "image", "umount", "--a"], ["--all"]),  # hidden commands still complete their options
    (["pyctr", "login", "localhost"], []),  # no image names where a registry is expected
])
def test_bash_completes(words, expected):
    assert bash_complete(*words) == expected


@pytest.mark.parametrize("words, expected", [
    (["pyctr", "pull", "--"], {"--platform", "--quiet", "--tls-verify", "--authfile", "--help"}),
    (["pyctr", "pull", "-"], {"-q", "--quiet", "-h", "--help"}),
    (["pyctr", "--"], {"--root", "--runroot", "--log-level", "--version", "--help"}),
])
def test_bash_completes_options(words, expected):
    offered = bash_complete(*words)
    assert expected <= set(offered) and all(o.startswith(words[-1]) for o in offered)


def test_bash_completes_subcommands_of_a_group():
    offered = bash_complete("pyctr", "image", "")
    assert {"inspect", "mount", "unmount", "prune", "rm", "tag"} <= set(offered)
    assert offered == sorted(offered) and "umount" not in offered


def test_bash_completes_image_names_by_running_pyctr(fake_pyctr):
    assert bash_complete("pyctr", "pull", "", home=fake_pyctr) == \
        ["busybox:latest", "alpine:3.19", "localhost:5000/app:1.0"]
    assert bash_complete("pyctr", "image", "inspect", "busybox:latest", "a", home=fake_pyctr) == ["alpine:3.19"]
    # bash splits "alpine:3" at ":" and replaces only what follows it
    assert bash_complete("pyctr", "rmi", "alpine", ":", "3", home=fake_pyctr) == ["3.19"]
    assert bash_complete("pyctr", "tag", "busybox", "", home=fake_pyctr) == []  # the new name is free text
    # a boolean flag takes no separate value (podman's --tls-verify false is --tls-verify, then "false")
    assert bash_complete("pyctr", "pull", "--tls-verify", "", home=fake_pyctr) == \
        ["busybox:latest", "alpine:3.19", "localhost:5000/app:1.0"]
    # pyctr's global options are passed on, so the images listed are those of that storage
    bash_complete("pyctr", "--root", "/srv/store", "image", "mount", "", home=fake_pyctr)
    assert (fake_pyctr / "calls").read_text().splitlines()[-1].startswith("--root /srv/store images --format")


def test_bash_image_completion_is_quiet_without_pyctr():
    assert bash_complete("pyctr", "pull", "b") == []  # PATH has no pyctr: nothing offered, nothing printed


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh is not installed")
def test_zsh_script_syntax():
    result = subprocess.run(["zsh", "-n", str(ZSH)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not shutil.which("fish"), reason="fish is not installed")
def test_fish_script_syntax():
    result = subprocess.run(["fish", "--no-execute", str(FISH)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_zsh_and_fish_scripts_cover_every_command():
    zsh, fish = ZSH.read_text(), FISH.read_text()
    assert zsh.startswith("#compdef pyctr\n")
    for path in command_paths()[1:]:
        assert f"_{'_'.join(path).replace('-', '_')}() {{" in zsh, path
        assert f"__pyctr_is \"{' '.join(path[:-1])}\"' -a {path[-1]} " in fish, path


# -- commands still to come ---------------------------------------------------------------------

class Policy(str, enum.Enum):
    always, missing, never = "always", "missing", "never"


def sample_app() -> typer.Typer:
    """Choices, paths, repeated and paired flags, hyphenated names, a new group: what new commands may bring."""
    app = typer.Typer(name="pyctr", help="Top.", context_settings={"help_option_names": ["-h", "--help"]})
    containers = typer.Typer(
        help="Manage containers.\n\nA `code` span, --flag-like words\n.and a line starting with a dot.")
    app.add_typer(containers, name="container")

    @containers.command("run")
    def run(image: str = typer.Argument(..., metavar="IMAGE", help="Image."),
            command: List[str] = typer.Argument(None, help="Command and arguments."),
            pull: Policy = typer.Option(Policy.missing, "--pull", help="When to pull."),
            env: List[str] = typer.Option(None, "--env", "-e", help="Set [KEY=VALUE]: repeatable."),
            env_file: Optional[Path] = typer.Option(None, "--env-file", help="Read a file \\ of variables."),
            workdir: Optional[Path] = typer.Option(None, "--workdir", "-w", file_okay=False, help="'Quoted."),
            tty: bool = typer.Option(False, "--tty/--no-tty", "-t", help="Allocate a TTY."),
            secret: str = typer.Option("", "--secret", hidden=True)):
        """Run a command in a new container."""

    @containers.command("list-all")
    def list_all():
        pass

    return app


def test_generator_handles_other_command_shapes(tmp_path):
    from tests.harness import mkdocs

    files = mkdocs.render(mkdocs.load(sample_app()))
    mkdocs.write(files, tmp_path)
    assert {"man/pyctr-container.1", "man/pyctr-container-run.1", "man/pyctr-container-list-all.1"} <= set(files)
    for page in (tmp_path / "man").glob("*.1"):
        check_structure(page)
        assert render_problems(page) == "", page.name
    run_page = files["man/pyctr-container-run.1"]
    assert "\\fB\\-t\\fR, \\fB\\-\\-tty\\fR, \\fB\\-\\-no\\-tty\\fR" in run_page
    assert "\\-\\-pull\\fR=\\fIalways|missing|never\\fR" in run_page and "(default: \\fBmissing\\fR)" in run_page
    assert "secret" not in run_page and "secret" not in files["completions/bash/pyctr"]
    assert "\\&.and a line" in files["man/pyctr-container.1"]

    bash = tmp_path / "completions" / "bash" / "pyctr"
    assert subprocess.run(["bash", "-n", str(bash)]).returncode == 0
    assert bash_complete("pyctr", "container", "", script=bash) == ["list-all", "run"]
    assert bash_complete("pyctr", "container", "run", "--pull=m", script=bash) == ["missing"]
    assert bash_complete("pyctr", "container", "run", "-e", "A=1", "--no", script=bash) == ["--no-tty"]
    assert bash_complete("pyctr", "container", "run", "--workdir", str(tmp_path / "ma"), script=bash) == \
        [str(tmp_path / "man")]
    assert bash_complete("pyctr", "container", "run", "busybox", "", script=bash) == []  # COMMAND: free text
