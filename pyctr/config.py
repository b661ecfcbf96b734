"""Where pyctr keeps its state (root and runtime directories), and whether it runs rootless."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


# Set (to the user's real uid) in a process that joined pyctr's user namespace.
USERNS_ENV = "_PYCTR_USERNS"


def in_user_namespace() -> bool:
    """True unless we are in the initial user namespace (whose map is the identity)."""
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def real_uid() -> int:
    """The user's uid on the host, also inside pyctr's user namespace (where we are 0)."""
    value = os.environ.get(USERNS_ENV, "")
    return int(value) if value.isdigit() and in_user_namespace() else os.geteuid()


def is_rootless() -> bool:
    return real_uid() != 0


def default_root() -> Path:
    if not is_rootless():
        return Path("/var/lib/pyctr")
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data) / "pyctr"


def runtime_dir() -> Path:
    """$XDG_RUNTIME_DIR, or a private fallback under /tmp when it is unset."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg)
    if not is_rootless():
        return Path("/run")
    return Path(f"/tmp/pyctr-run-{real_uid()}")


def default_runroot() -> Path:
    return Path("/run/pyctr") if not is_rootless() else runtime_dir() / "pyctr"


def network_config_dir() -> Path:
    """Where network definitions live: host-wide as root (a bridge, its name and its subnet are the
    host's, whatever --root a command uses: podman's /etc/containers/networks), per user rootless."""
    if not is_rootless():
        return Path("/etc/pyctr/networks")
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config_home) / "pyctr" / "networks"


@dataclass
class Config:
    """Where the store is, and what the global options chose for it."""

    root: Path
    runroot: Path
    rootless: bool
    # What the global options chose (pyctr.engine.options): runc's path (None: found on PATH) and
    # its global flags, the events backend (file or none), overlay's mount program (rootless:
    # fuse-overlayfs at that path), the directory of temporary files.
    runtime: str | None = None
    runtime_flags: tuple[str, ...] = ()
    events_backend: str = "file"
    mount_program: str | None = None
    tmpdir: str | None = None
    network_config_dir: str | None = None  # --network-config-dir; None: network_config_dir()

    @classmethod
    def create(cls, root: str | os.PathLike | None = None, runroot: str | os.PathLike | None = None) -> "Config":
        return cls(
            root=Path(root).absolute() if root else default_root(),
            runroot=Path(runroot).absolute() if runroot else default_runroot(),
            rootless=is_rootless(),
        )

    @property
    def networks_dir(self) -> Path:
        return Path(self.network_config_dir) if self.network_config_dir else network_config_dir()
