"""The JSON config the engine writes for each shim (DESIGN.md, "The shim contract").

Kept as a plain class: dataclasses would pull in `inspect`, which costs the
shim more memory than everything else it imports.
"""

from __future__ import annotations

import json
import os


class ConfigError(Exception):
    """The config file is missing, unreadable or has a field of the wrong kind."""


# name -> (type, required); paths must be absolute because the shim runs in "/".
_FIELDS = {
    "id": (str, True),
    "bundle": (str, True),
    "state_dir": (str, True),
    "runc": (str, True),
    "runc_root": (str, True),
    "log_path": (str, True),
    # Bytes the log may hold before it starts again empty; -1 (or 0): no limit.
    "log_size_max": (int, False),
    "exit_file": (str, True),
    "terminal": (bool, False),
    "stdin": (bool, False),
    "cleanup_argv": (list, False),
    "sync_fd": (int, False),
    # A socket already connected to an attach client (the engine's end of a socketpair),
    # served from the first byte of output; -1 for none.
    "client_fd": (int, False),
    # true: `runc run --detach` (create and start at once) instead of `runc create`.
    "start": (bool, False),
    # Global runc options, placed before the subcommand (--systemd-cgroup, --debug, ...).
    "runc_extra_args": (list, False),
    # Options of `runc create` only, placed before the container ID (--no-pivot, ...).
    "runc_create_args": (list, False),
    # An exec session (`runc exec --detach --process FILE`) in the running container `id`
    # instead of the container itself; "" for the container.
    "exec_process": (str, False),
    # exec: fds 3..3+N-1 of the engine reach the process (sent over client_fd first).
    "preserve_fds": (int, False),
    # --log-driver passthrough: the engine's fds 0-2 (sent over client_fd first, before the
    # preserved ones) become the container's stdio; nothing is pumped or logged.
    "passthrough": (bool, False),
    # Published ports' host sockets (sent over client_fd last), held until the container exits,
    # as conmon holds them: no host process can take a port that is forwarded to the container.
    "held_fds": (int, False),
    # The container's health check, run on schedule (pyctr.shim.health); {} for none.
    "health": (dict, False),
    # Seconds after which the container is killed (conmon's --timeout; exit code 255); 0: never.
    "timeout": (int, False),
    # The engine's state.json of the container: the shim records the start there (pids, time),
    # so that a killed `pyctr run` loses nothing; "" for none (exec sessions).
    "state_file": (str, False),
    # --pidfile and --conmon-pidfile (absolute), written once the container is created; "": none.
    "pidfile": (str, False),
    "conmon_pidfile": (str, False),
    # What the container's events carry (pyctr.events.record: runroot, id, name, image,
    # attributes): the shim records its init and start; {}: no events.
    "events": (dict, False),
    # --sdnotify: "conmon" (MAINPID and READY=1 from the shim once the container runs), "container"
    # (MAINPID from the shim, the rest from the container through notify_proxy) or "" (nothing);
    # notify_socket: the unit's NOTIFY_SOCKET (a path or an @abstract name).
    "sdnotify": (str, False),
    "notify_socket": (str, False),
    "notify_proxy": (str, False),
}
FIELDS = tuple(_FIELDS)  # every field's name (pyctr.shim.handoff passes them all on)
_ABSOLUTE = ("bundle", "state_dir", "runc_root", "log_path", "exit_file")
_DEFAULTS = {"log_size_max": -1, "terminal": False, "stdin": False, "cleanup_argv": [], "sync_fd": 3, "client_fd": -1, "start": False,
             "runc_extra_args": [], "runc_create_args": [], "exec_process": "", "preserve_fds": 0, "passthrough": False, "held_fds": 0,
             "health": {}, "timeout": 0, "state_file": "", "pidfile": "", "conmon_pidfile": "", "events": {},
             "sdnotify": "", "notify_socket": "", "notify_proxy": ""}


class ShimConfig:
    id: str
    bundle: str
    state_dir: str
    runc: str
    runc_root: str
    log_path: str
    log_size_max: int
    exit_file: str
    terminal: bool
    stdin: bool
    cleanup_argv: list[str]
    sync_fd: int
    client_fd: int
    start: bool
    runc_extra_args: list[str]
    runc_create_args: list[str]
    exec_process: str
    preserve_fds: int
    passthrough: bool
    held_fds: int
    health: dict
    timeout: int
    state_file: str
    pidfile: str
    conmon_pidfile: str
    events: dict
    sdnotify: str
    notify_socket: str
    notify_proxy: str

    def __init__(self, **fields) -> None:
        for name, (kind, required) in _FIELDS.items():
            if name not in fields or fields[name] is None:
                if required:
                    raise ConfigError(f"missing field {name!r}")
                value = _DEFAULTS[name]
                value = type(value)(value) if isinstance(value, (list, dict)) else value
            else:
                value = fields[name]
            if not isinstance(value, kind):
                raise ConfigError(f"field {name!r} must be a {kind.__name__}")
            if kind is list and not all(isinstance(item, str) for item in value):
                raise ConfigError(f"field {name!r} must be a list of strings")
            setattr(self, name, value)
        for name in _ABSOLUTE:
            if not os.path.isabs(getattr(self, name)):
                raise ConfigError(f"field {name!r} must be an absolute path")
        for name in ("exec_process", "state_file", "pidfile", "conmon_pidfile", "notify_proxy"):
            if getattr(self, name) and not os.path.isabs(getattr(self, name)):
                raise ConfigError(f"field {name!r} must be an absolute path")
        if not 0 <= self.preserve_fds <= 1024:
            raise ConfigError("field 'preserve_fds' must be between 0 and 1024")
        if not 0 <= self.held_fds <= 65536:
            raise ConfigError("field 'held_fds' must be between 0 and 65536")
        if self.sdnotify not in ("", "conmon", "container"):
            raise ConfigError("field 'sdnotify' must be conmon, container or empty")
        if not self.id or "/" in self.id:
            raise ConfigError("field 'id' must be a non-empty name without '/'")

    @classmethod
    def load(cls, path: str) -> "ShimConfig":
        return cls.from_raw(read_raw(path), path)

    @classmethod
    def from_raw(cls, raw, where: str) -> "ShimConfig":
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: not a JSON object")
        return cls(**{k: v for k, v in raw.items() if k in _FIELDS})


def read_raw(path: str):
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"reading {path}: {exc}") from exc


def sync_fd_hint(path: str) -> int | None:
    """The sync fd of a config that may be invalid otherwise, to report the error on it."""
    try:
        value = read_raw(path).get("sync_fd", 3)
    except (ConfigError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
