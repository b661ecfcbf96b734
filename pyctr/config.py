"""Where pyctr keeps its state, and the registries.conf settings it honours."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pyctr.image import reference


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


def registries_conf_paths() -> list[Path]:
    env = os.environ.get("CONTAINERS_REGISTRIES_CONF")
    if env:
        return [Path(env)]
    home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    paths = [Path("/etc/containers/registries.conf")]
    if is_rootless():
        paths.append(Path(home) / "containers" / "registries.conf")
    return paths


@dataclass
class RegistriesConf:
    """The part of registries.conf pyctr uses: which registries may be spoken to over plain HTTP."""

    insecure: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, paths: list[Path] | None = None) -> "RegistriesConf":
        import tomllib  # only paid for when a registry is contacted

        conf = cls()
        for path in paths if paths is not None else registries_conf_paths():
            try:
                with open(path, "rb") as f:
                    data = tomllib.load(f)
            except FileNotFoundError:
                continue
            except (OSError, tomllib.TOMLDecodeError) as exc:
                from pyctr.errors import ConfigError

                raise ConfigError(f"parsing {path}: {exc}") from exc
            for entry in data.get("registry") or []:
                location = entry.get("location") or entry.get("prefix")
                if location and entry.get("insecure"):
                    conf.insecure.add(location)
        return conf

    def allows_http(self, registry: str) -> bool:
        return reference.is_loopback_registry(registry) or registry in self.insecure


@dataclass
class Config:
    root: Path
    runroot: Path
    rootless: bool

    @classmethod
    def create(cls, root: str | os.PathLike | None = None, runroot: str | os.PathLike | None = None) -> "Config":
        return cls(
            root=Path(root).absolute() if root else default_root(),
            runroot=Path(runroot).absolute() if runroot else default_runroot(),
            rootless=is_rootless(),
        )
