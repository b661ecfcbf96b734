"""Log drivers as podman 4.3.1 offers them: k8s-file (the default; json-file is the same file,
as in podman 4), none (nothing is kept), passthrough and journald (named as missing here), and
`--log-opt` (path, max-size, tag)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyctr.errors import InvalidArgument

if TYPE_CHECKING:
    from pyctr.container.spec import LifecycleSpec

DRIVERS = ("k8s-file", "json-file", "none", "passthrough", "journald")
FILE_DRIVERS = ("k8s-file", "json-file")


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
    if driver == "passthrough":
        raise InvalidArgument("log driver passthrough: pyctr's shim cannot hand the caller's stdio to the container "
                              "yet; use k8s-file (the default) or none")
    if lifecycle.log_tag and driver in FILE_DRIVERS:
        raise InvalidArgument(f"log driver {driver} does not support --log-opt tag (journald only)")
    if lifecycle.log_path is not None and not lifecycle.log_path.startswith("/"):
        raise InvalidArgument(f"--log-opt path={lifecycle.log_path}: the log path must be absolute")


def keeps_log(lifecycle: "LifecycleSpec") -> bool:
    return lifecycle.log_driver in FILE_DRIVERS


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
