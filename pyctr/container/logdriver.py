"""Log drivers as podman 4.3.1 offers them: k8s-file (the default; json-file is the same file,
as in podman 4), none (nothing is kept), passthrough (the container gets the caller's own
stdio, as conmon hands it to the runtime: nothing to log, nothing to attach to), journald
(named as missing here), and `--log-opt` (path, max-size, tag)."""

from __future__ import annotations

TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)

from pyctr.errors import InvalidArgument

if TYPE_CHECKING:
    from pyctr.container.spec import LifecycleSpec

DRIVERS = ("k8s-file", "json-file", "none", "passthrough", "journald")
FILE_DRIVERS = ("k8s-file", "json-file")
PASSTHROUGH = "passthrough"
# podman's words: a terminal handed to a container could be fed keystrokes (TIOCSTI); the
# shim checks again at each start (pyctr.shim.runc), as conmon does.
ON_A_TTY = "the '--log-driver passthrough' option cannot be used on a TTY"


def log_options(options: list[str]) -> dict[str, str]:
    """`--log-opt NAME=VALUE` as a dict; as podman, names it does not use are accepted."""
    parsed = {}
    for option in options:
        name, sep, text = option.partition("=")
        if not sep:
            raise InvalidArgument(f'invalid log option "{option}"')
        parsed[name.strip()] = text
    return parsed


def validate_log_options(lifecycle: "LifecycleSpec", tty: bool) -> None:
    driver = lifecycle.log_driver
    if driver not in DRIVERS:
        raise InvalidArgument("running container create option: invalid log driver: invalid argument")
    if driver == "journald":
        raise InvalidArgument("log driver journald: pyctr does not write to the journal; use k8s-file (the default) "
                              "or none")
    if driver == PASSTHROUGH and tty:
        # podman accepts it and the container's terminal then reaches no one: refused instead.
        raise InvalidArgument("the '--log-driver passthrough' option cannot be used with --tty: the container's "
                              "terminal would reach no one")
    if lifecycle.log_tag and driver in FILE_DRIVERS:
        raise InvalidArgument(f"log driver {driver} does not support --log-opt tag (journald only)")
    if lifecycle.log_path is not None and not lifecycle.log_path.startswith("/"):
        raise InvalidArgument(f"--log-opt path={lifecycle.log_path}: the log path must be absolute")


def keeps_log(lifecycle: "LifecycleSpec") -> bool:
    return lifecycle.log_driver in FILE_DRIVERS


def passes_stdio(lifecycle: "LifecycleSpec") -> bool:
    """The container writes to (and reads from) the stdio of the command that starts it."""
    return lifecycle.log_driver == PASSTHROUGH


def refuse_terminal_stdio() -> None:
    """podman's check at create and run: none of our fds 0-2 may be a terminal."""
    import os

    if any(os.isatty(fd) for fd in (0, 1, 2)):
        raise InvalidArgument(ON_A_TTY)


def caller_stdio() -> tuple[list[int], list[int]]:
    """Our fds 0, 1 and 2 to hand to the container's shim (/dev/null for a closed one);
    -> (fds, those opened here, for the caller to close once sent)."""
    import os
    import sys

    fds, opened = [], []
    # Closed when Python started (its sys.__stdin__ is None then): the number may be one of
    # our own pipes by now, never the caller's.
    for fd, stream in ((0, sys.__stdin__), (1, sys.__stdout__), (2, sys.__stderr__)):
        try:
            if stream is None:
                raise OSError
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            opened.append(os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC))
            fds.append(opened[-1])
    return fds, opened


def log_file(lifecycle: "LifecycleSpec", default: str) -> str:
    """Where the shim writes the container's output: --log-opt path, the container's own file,
    or nowhere (/dev/null) for the none driver."""
    if not keeps_log(lifecycle):
        return "/dev/null"
    return lifecycle.log_path or default


def not_logging(driver: str) -> InvalidArgument:
    """`logs` of a container that keeps no log (podman's words)."""
    return InvalidArgument(f"this container is using the '{driver}' log driver, cannot read logs: "
                           "this container is not logging output")


def not_attachable(container_id: str) -> InvalidArgument:
    """`attach` to a passthrough container: its stdio is its starter's (podman's words)."""
    return InvalidArgument(f"attaching to container {container_id}: this container is using the 'passthrough' "
                           "log driver, cannot attach: this container is not logging output")
