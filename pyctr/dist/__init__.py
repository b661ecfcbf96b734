"""How pyctr starts fresh interpreters of its own, from a virtualenv or from the one-file build.

The shim, the cleanup helper, the network janitor, a health check's on-failure action and the
units systemd runs are all pyctr again. From a virtualenv they are `python -m MODULE`; from the
one-file build (`make dist` -> dist/pyctr, see pyctr.dist.build) no installed package exists for
-m to find, so they are that same file with an internal entry: `FILE __module MODULE ARGS...`.

    argv = dist.module_argv("pyctr.shim") + ["--config-fd", "5"]
    argv = dist.command_argv() + ["--root", root, "stop", id]
"""

from __future__ import annotations

import sys

# The first argument that makes the one-file build run a module of its own instead of the CLI.
MODULE_ENTRY = "__module"
# The interpreter's options in the file's #! line (isolated, no site): nothing from the user's
# environment, the current directory or the system's dist-packages shadows what the file carries.
PYTHON_FLAGS = "-IS"

# The one file we run from (an absolute path), set by its bootstrap (pyctr/dist/boot.py); None
# when pyctr runs from a virtualenv or any other installed copy.
archive: str | None = None


def module_argv(module: str) -> list[str]:
    """The argv that runs `module` as __main__ in a fresh interpreter of this pyctr."""
    if archive:
        return [sys.executable, PYTHON_FLAGS, archive, MODULE_ENTRY, module]
    # -P: never a `pyctr` from whatever directory the process happens to be in.
    return [sys.executable, "-P", "-m", module]


def command_argv() -> list[str]:
    """The argv of the pyctr command itself, for a process of ours to run (global options and
    the command follow)."""
    if archive:
        return [sys.executable, PYTHON_FLAGS, archive]
    return [sys.executable, "-P", "-m", "pyctr"]


def file_argv() -> list[str] | None:
    """How another program (a systemd unit, the Quadlet generator) runs the one-file build: the file
    itself when it is executable, else through the interpreter; None when this is not the build."""
    if not archive:
        return None
    import os

    return [archive] if os.access(archive, os.X_OK) else command_argv()
