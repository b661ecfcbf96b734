"""Keep the rootless pause process out of the systemd unit that happened to create it.

The first rootless command forks the pause process (pyctr.linux.userns), which holds the user's
user and mount namespaces for every later command. Forked inside a unit (a generated
container-*.service, a oneshot that runs `pyctr ps`, ...), it lands in that unit's cgroup, and
systemd kills it when the unit stops: every mount only it held goes with it. So, as podman
does, we ask the user's systemd manager to move it into a transient scope of its own
(`pyctr-pause-N.scope` in user.slice; the rootless network namespace's slirp4netns likewise), through the manager's private socket
($XDG_RUNTIME_DIR/systemd/private, D-Bus peer to peer: there is not always a user bus, and it
is what podman uses too). Only when we run in a service: elsewhere nothing at all happens
(one read of /proc/self/cgroup). Failing to move is one warning, never a failure.

The container's shim is not moved: under `generate systemd --new` units it is the unit's main
process, and its container is meant to stop with the unit.
"""

from __future__ import annotations

import os
import random
import time

SLICE = "user.slice"  # (of the user's manager, as podman's pause scope)
MOVE_TIMEOUT = 5.0  # seconds for the manager to answer and to move the process


def service_of(cgroup_file: str = "/proc/self/cgroup") -> str | None:
    """The systemd service we run in, from our cgroup v2 path ("web.service"), or None.
    The user manager's own cgroup (user@UID.service) is not a service we run in."""
    try:
        with open(cgroup_file) as f:
            text = f.read()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("0::"):
            leaf = line[3:].rstrip("/").rsplit("/", 1)[-1]
            if leaf.endswith(".service") and not leaf.startswith("user@"):
                return leaf
    return None


def private_socket(uid: int, environ=None) -> str:
    """The user's manager's private socket."""
    environ = os.environ if environ is None else environ
    runtime = environ.get("XDG_RUNTIME_DIR") or f"/run/user/{uid}"
    return os.path.join(runtime, "systemd", "private")


SYSTEM_SOCKET = "/run/systemd/private"  # the system manager's, for root's services
PAUSE = ("pyctr-pause", "Failed to add pause process to systemd sandbox cgroup")
ROOTLESS_NETNS = ("pyctr-rootless-netns", "failed to move the rootless netns slirp4netns process to the systemd user.slice")


def keep_out_of_unit(pid: int, uid: int, kind: tuple[str, str] = PAUSE, *, socket: str | None = None,
                     slice_: str = SLICE) -> None:
    """Move `pid`, a process every container of the user shares (`kind`: PAUSE or ROOTLESS_NETNS,
    its scope's name prefix and podman's warning), into a scope of its own if we run in a systemd
    service. `uid`: our uid on the host (we may be uid 0 of the user namespace already);
    `socket`: another manager's private socket than the user's (SYSTEM_SOCKET)."""
    if service_of() is None:
        return
    prefix, failure = kind
    try:
        move_to_scope(pid, uid, prefix, slice_, socket)
    except Exception as exc:  # never fail the command for this: podman warns too
        warn(f"{failure}: {exc}")


def move_to_scope(pid: int, uid: int, prefix: str, slice_: str = SLICE, socket: str | None = None) -> str:
    """Start a transient scope `PREFIX-N.scope` holding `pid`; returns its name once the process is in it."""
    from pyctr.systemd import dbus

    path = socket or private_socket(uid)
    if not os.path.exists(path):
        raise OSError(f"no systemd user manager: {path} does not exist")
    with dbus.Connection(path, uid, timeout=MOVE_TIMEOUT) as conn:
        for _ in range(10):
            name = f"{prefix}-{random.randrange(1 << 32):x}.scope"
            properties = [("PIDs", dbus.Variant("au", [pid])), ("Slice", dbus.Variant("s", slice_)),
                          ("Description", dbus.Variant("s", f"pyctr {prefix[6:].replace('-', ' ')} process"))]
            try:
                conn.call("/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "StartTransientUnit",
                          "ssa(sv)a(sa(sv))", name, "fail", properties, [],
                          destination="org.freedesktop.systemd1")
                break
            except dbus.DBusError as exc:
                if exc.name != "org.freedesktop.systemd1.UnitExists":
                    raise
        else:
            raise OSError("no free scope name")
    # The scope's start job moves the process a moment later; a oneshot unit ending right after
    # us would kill it before, so wait for it.
    deadline = time.monotonic() + MOVE_TIMEOUT
    while not _in_cgroup_named(pid, name):
        if time.monotonic() > deadline:
            raise OSError(f"process {pid} did not move into {name}")
        time.sleep(0.005)
    return name


def _in_cgroup_named(pid: int, leaf: str) -> bool:
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return any(line.startswith("0::") and line.rstrip().endswith("/" + leaf) for line in f)
    except OSError:
        return False


def warn(message: str) -> None:
    """One line on stderr, as podman's warnings look when stderr is not a terminal."""
    import sys

    from pyctr import log

    if not log.enabled("warn"):
        return
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    text = message.replace("\\", "\\\\").replace('"', '\\"')
    try:
        sys.stderr.write(f'time="{stamp}" level=warning msg="{text}"\n')
    except (OSError, ValueError):
        pass
