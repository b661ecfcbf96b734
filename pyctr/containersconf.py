"""containers.conf: the defaults pyctr takes from podman's configuration files, read in podman's order.

Only what pyctr honours is read (today `[containers] pids_limit` and `log_size_max`); every other key is ignored.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pyctr.config import is_rootless
from pyctr.values import value

DEFAULT_PIDS_LIMIT = 2048  # podman's
# A line that could set a key pyctr reads (bare, quoted or dotted); a file without one is not parsed.
_MENTIONS_A_KEY = re.compile(rb"""(?m)^[ \t]*(containers[ \t]*\.[ \t]*)?["']?(pids_limit|log_size_max)["']?[ \t]*=""")


def containers_conf_paths() -> list[Path]:
    """$CONTAINERS_CONF alone when set; else the distribution's file, /etc's, its .d directory, then
    (rootless) the user's file and its .d directory. A later file overrides an earlier one, key by key."""
    env = os.environ.get("CONTAINERS_CONF")
    if env:
        return [Path(env)]
    etc = Path("/etc/containers/containers.conf")
    paths = [Path("/usr/share/containers/containers.conf"), etc, *_drop_ins(etc)]
    if is_rootless():
        home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        user = Path(home) / "containers" / "containers.conf"
        paths += [user, *_drop_ins(user)]
    return paths


def _drop_ins(path: Path) -> list[Path]:
    return sorted(Path(f"{path}.d").glob("*.conf"))


@value
class ContainersConf:
    pids_limit: int = DEFAULT_PIDS_LIMIT  # [containers] pids_limit; 0 or -1: none
    log_size_max: int = -1  # [containers] log_size_max: bytes a container's log may hold; -1: no limit

    @classmethod
    def load(cls, paths: list[Path] | None = None) -> "ContainersConf":
        from pyctr.errors import ConfigError

        conf = cls()
        explicit = paths is None and bool(os.environ.get("CONTAINERS_CONF"))
        for path in paths if paths is not None else containers_conf_paths():
            try:
                with open(path, "rb") as f:
                    raw = f.read()
            except FileNotFoundError:
                if explicit:  # as podman: a file named on purpose must exist
                    raise ConfigError(f"CONTAINERS_CONF file {path}: no such file or directory") from None
                continue
            except OSError as exc:
                raise ConfigError(f"reading {path}: {exc.strerror}") from exc
            if not _MENTIONS_A_KEY.search(raw):
                continue  # podman's own file is all comments: no TOML parser to load (5 ms a `run`)
            import tomllib

            try:
                data = tomllib.loads(raw.decode())
            except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"parsing {path}: {exc}") from exc
            containers = data.get("containers") or {}
            if "pids_limit" in containers:
                limit = containers["pids_limit"]
                if type(limit) is not int or limit < -1:
                    raise ConfigError(f"{path}: [containers] pids_limit must be a number of processes, or -1 or 0 for none")
                conf.pids_limit = limit
            if "log_size_max" in containers:
                size = containers["log_size_max"]
                if type(size) is not int or size < -1:
                    raise ConfigError(f"{path}: [containers] log_size_max must be a size in bytes, or -1 for none")
                conf.log_size_max = size
        return conf


def default_pids_limit(rootless: bool, conf: ContainersConf | None = None) -> int:
    """The pids limit of a container that asks for none: podman's 2048 or the configured one (from
    `conf`, else the files); rootless, none (without cgroups there is nothing to set, as podman on
    cgroup v1, so no file is read for it)."""
    if rootless:
        return 0
    return (conf or ContainersConf.load()).pids_limit
