"""`pyctr quadlet --install / --uninstall`: put pyctr's generator where systemd looks for generators.

Each generator is a four-line Python script, not a symlink to the `pyctr` command: the command
line imports typer at start-up (~100 ms, on every boot and daemon-reload), the script imports
only pyctr.quadlet; and it says outright which mode it is (system or user) and which pyctr the
units must run (this one, by absolute path: a generator's PATH is not the user's), instead of
guessing both from its own name.
"""

from __future__ import annotations

import os
import sys

from pyctr.errors import Conflict, InvalidArgument

SYSTEM_GENERATORS = "/etc/systemd/system-generators"
USER_GENERATORS = "/etc/systemd/user-generators"
SYSTEM_NAME, USER_NAME = "pyctr-system-generator", "pyctr-user-generator"
MARKER = "# pyctr quadlet generator: written by `pyctr quadlet --install`"


def script(user: bool, pyctr: list[str]) -> str:
    from pyctr import dist

    if dist.archive:  # the one-file build: its bootstrap makes pyctr importable from it
        flags = dist.PYTHON_FLAGS
        path = (f"sys.path.insert(0, {dist.archive!r})\n"
                f"import pyctrboot\npyctrboot.setup({dist.archive!r})\n")
    else:
        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        flags, path = "-s", f"sys.path.insert(0, {package_parent!r})\n"
    return (f"#!{sys.executable} {flags}\n{MARKER}\n"
            "import sys\n"
            f"{path}"
            "from pyctr.quadlet.generator import main\n"
            f"sys.exit(main(sys.argv[1:], user={user}, pyctr={pyctr!r}))\n")


def targets(system_dir: str = SYSTEM_GENERATORS, user_dir: str = USER_GENERATORS) -> list[tuple[str, bool]]:
    return [(os.path.join(system_dir, SYSTEM_NAME), False), (os.path.join(user_dir, USER_NAME), True)]


def _ours(path: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return MARKER in f.read(4096)
    except OSError:
        return False


def _check_root(what: str) -> None:
    if os.geteuid() != 0:
        raise InvalidArgument(f"quadlet {what}: only root can change /etc/systemd (the generators are for every user)")


def install(pyctr: list[str], system_dir: str = SYSTEM_GENERATORS, user_dir: str = USER_GENERATORS,
            check_root: bool = True) -> list[str]:
    """Write both generators (replacing ours from before); the paths written."""
    if check_root:
        _check_root("--install")
    written = []
    for path, user in targets(system_dir, user_dir):
        if os.path.lexists(path) and not _ours(path):
            raise Conflict(f"{path} exists and is not pyctr's generator: remove it first")
    for path, user in targets(system_dir, user_dir):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.tmp{os.getpid()}"
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(script(user, pyctr))
        os.chmod(temporary, 0o755)
        os.replace(temporary, path)
        written.append(path)
    return written


def uninstall(system_dir: str = SYSTEM_GENERATORS, user_dir: str = USER_GENERATORS, check_root: bool = True) -> list[str]:
    """Remove our generators (never a file that is not ours); the paths removed."""
    if check_root:
        _check_root("--uninstall")
    removed = []
    for path, _ in targets(system_dir, user_dir):
        if _ours(path):
            os.unlink(path)
            removed.append(path)
            try:
                os.rmdir(os.path.dirname(path))  # the directory too, when nothing else is in it
            except OSError:
                pass
    return removed
