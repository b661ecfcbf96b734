"""engine.system: pyctr's version, how it runs on this host (info), and commands run in its user namespace (unshare)."""

from __future__ import annotations

import os
from dataclasses import field
from typing import TYPE_CHECKING

from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.engine.services import Services


@value
class IDMap:
    """One line of /proc/self/{uid,gid}_map."""

    container_id: int
    host_id: int
    size: int


@value
class OciRuntimeInfo:
    name: str
    path: str
    version: str  # the first line of `runc --version`; empty when it cannot be read


@value
class Info:
    """What `pyctr info` shows: the host, the runtime, the store."""

    version: str  # pyctr's
    rootless: bool
    kernel: str
    arch: str
    oci_runtime: OciRuntimeInfo
    network_backend: str
    graph_root: str
    run_root: str
    graph_driver: str
    graph_options: dict[str, str]
    image_count: int
    container_count: int
    uid_map: list[IDMap] = field(default_factory=list)  # rootless only: the user namespace's mappings
    gid_map: list[IDMap] = field(default_factory=list)


@value
class VersionInfo:
    """What `pyctr version` shows."""

    version: str  # pyctr's
    api_version: str  # of the (future) service's API: pyctr's own, as podman's is podman's
    python_version: str
    os: str
    arch: str  # as OCI names it (amd64, arm64, ...)


class System:
    def __init__(self, services: "Services"):
        self._s = services

    def version(self) -> VersionInfo:
        import platform

        from pyctr import __version__
        from pyctr.image import oci

        arch = oci.Platform.host().architecture
        return VersionInfo(__version__, __version__, platform.python_version(), "linux", arch)

    def info(self) -> Info:
        from pyctr import __version__

        config = self._s.config
        runc = self._s.tasks.runc
        uname = os.uname()
        uid_map, gid_map = _id_mappings() if config.rootless else ([], [])
        return Info(
            version=__version__,
            rootless=config.rootless,
            kernel=uname.release,
            arch=uname.machine,
            oci_runtime=OciRuntimeInfo("runc", runc.binary, runc.version()),
            network_backend="none (own network namespace with loopback)",
            graph_root=str(config.root),
            run_root=str(config.runroot),
            graph_driver="overlay",
            # Rootless overlay keeps its whiteouts in user.* xattrs (trusted.* needs real root).
            graph_options={"overlay.userxattr": "true"} if config.rootless else {},
            image_count=len(self._s.images.list()),
            container_count=len(self._s.containers.ids()),
            uid_map=uid_map,
            gid_map=gid_map,
        )

    def unshare(self, argv: list[str] | None = None) -> int:
        """Run `argv` (default: $SHELL) with the caller's stdio, inside pyctr's user and mount
        namespace (the engine joined it when it was built); -> its exit status, 128+N when
        killed by signal N. CommandNotFound (127) / CommandNotInvokable (126) when it cannot run."""
        import signal
        import subprocess
        import threading

        from pyctr.errors import CommandNotFound, CommandNotInvokable

        argv = list(argv or [os.environ.get("SHELL", "/bin/sh")])
        try:
            child = subprocess.Popen(argv, close_fds=True)
        except OSError as exc:
            cls = CommandNotFound if isinstance(exc, FileNotFoundError) else CommandNotInvokable
            raise cls(f"{argv[0]}: {exc.strerror}") from exc
        # As system(3): the terminal's ^C and ^\ reach the command (same process group) and
        # are its to handle; a TERM or HUP sent to us is passed on, as if we were the command.
        forward = lambda signum, _frame: child.send_signal(signum)  # noqa: E731
        handlers = ((signal.SIGINT, signal.SIG_IGN), (signal.SIGQUIT, signal.SIG_IGN),
                    (signal.SIGTERM, forward), (signal.SIGHUP, forward))
        # (Only the main thread may set handlers; from another one, the caller's stay.)
        in_main = threading.current_thread() is threading.main_thread()
        saved = {sig: signal.signal(sig, handler) for sig, handler in handlers} if in_main else {}
        try:
            status = child.wait()
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)
        return 128 - status if status < 0 else status


def _id_mappings() -> tuple[list[IDMap], list[IDMap]]:
    from pyctr.linux import userns

    maps = userns.mappings()
    return [IDMap(**m) for m in maps["uid"]], [IDMap(**m) for m in maps["gid"]]
