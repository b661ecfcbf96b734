"""Why pyproject.toml pins typer (<0.21) and click (<8.3): each reason as a test, so that an upgrade
can be judged by running this file (and `make bench`, whose `ps -a, typer path` row shows what the
typer front end costs a command against the fast path, pyctr.cli.fast)."""

from __future__ import annotations

import subprocess
import sys


def test_typer_builds_the_command_tree_without_pydantic():
    """typer 0.21+ coerces every parameter through pydantic: ~70 ms more on every command that
    takes the typer path. Building the whole tree (every command module) must not import it."""
    code = ("import sys\nimport typer.main\nfrom pyctr.cli import main\nmain._register_commands(None)\n"
            "typer.main.get_command(main.app)\nsys.exit('pydantic' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, "typer imported pydantic: see the pin in pyproject.toml\n" + result.stderr


def test_argument_help_is_shown():
    """click 8.3+ gives Parameter its own `help`, which hides typer 0.20's argument help; the plain
    help (pyctr.cli.parsing) needs click 8.2's Argument.make_metavar(ctx)."""
    result = subprocess.run([sys.executable, "-m", "pyctr", "inspect", "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Arguments:\n  [NAME]  Containers (or images) to inspect.\n" in result.stdout
