"""Network namespaces kept as files (a bind mount of the namespace, as `ip netns` keeps them).

The namespace is made before runc runs, so that the network is up from the container's first
instruction; runc joins it by path, and it outlives the container's processes until teardown.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from pyctr.errors import PyctrError


CLONE_NEWNET = 0x40000000


class NetworkError(PyctrError):
    """The container's network could not be set up."""


def path_for(run_dir: Path, container_id: str) -> Path:
    return Path(run_dir) / "netns" / container_id


def create(path: Path) -> Path:
    """A new network namespace, bind-mounted on the file `path`. A thread of ours makes it:
    unshare(2) moves only the calling thread, which then ends (no fork and exec of unshare(1))."""
    import ctypes
    import threading

    from pyctr.linux import mount as mountmod

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    remove(path)  # a leftover of an earlier run
    path.touch(mode=0o600)
    failure: list[str] = []

    def make() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNET) != 0:
            failure.append(os.strerror(ctypes.get_errno()))
            return
        try:
            mountmod.mount("/proc/thread-self/ns/net", str(path), None, mountmod.MS_BIND)
        except PyctrError as error:
            failure.append(str(error))

    thread = threading.Thread(target=make, name="netns")
    thread.start()
    thread.join()
    if failure:
        path.unlink(missing_ok=True)
        raise NetworkError(f"creating a network namespace: {failure[0]}")
    return path


def exists(path: Path) -> bool:
    """Whether a namespace is mounted on `path` (create's), as opposed to a file left without one."""
    from pyctr.linux import mount as mountmod

    return path.exists() and mountmod.is_mountpoint(str(path))


def remove(path: Path) -> None:
    """Unmount and delete; safe to call twice."""
    from pyctr.linux import mount as mountmod

    if path.exists():
        with contextlib.suppress(PyctrError):
            mountmod.unmount(str(path), lazy=True)
    path.unlink(missing_ok=True)
