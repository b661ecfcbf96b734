"""A container's network namespace, wired to the host by slirp4netns.

The namespace is made by us (a file bind-mounted under the runroot, as `ip
netns` does) before runc runs, so that the network is up from the
container's first instruction; runc joins it by path. slirp4netns runs
detached, its pid kept beside the namespace, until cleanup stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from pyctr.linux import mount as mountmod
from pyctr.errors import PyctrError

GUEST_ADDRESS = "10.0.2.100"
DNS_ADDRESS = "10.0.2.3"
READY_TIMEOUT = 10.0


class NetworkError(PyctrError):
    """The container's network could not be set up."""


def paths(run_dir: Path, container_id: str) -> tuple[Path, Path, Path]:
    # The API socket's name is short: socket paths stop at 108 bytes, so slirp4netns binds
    # it relative to its working directory and we reach it through a directory fd.
    base = run_dir / "netns"
    return base / container_id, base / f"{container_id[:12]}.sock", base / f"{container_id}.slirp.pid"


def setup(run_dir: Path, container_id: str, ports: list) -> Path:
    """Create the namespace, start slirp4netns in it, publish the ports; returns the namespace path."""
    netns, api_socket, pid_file = paths(run_dir, container_id)
    if not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        raise NetworkError(
            "slirp4netns needs read and write access to /dev/net/tun",
            hint="as root: chmod 0666 /dev/net/tun (or give the user a group that may use it)",
        )
    netns.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    teardown(run_dir, container_id)  # leftovers of an earlier run
    _create_netns(netns)
    try:
        pid = _start_slirp(netns, api_socket)
        pid_file.write_text(f"{pid}\n")
        for port in ports:
            _add_forward(api_socket, port)
    except BaseException:
        teardown(run_dir, container_id)
        raise
    return netns


def _create_netns(netns: Path) -> None:
    netns.touch(mode=0o600)
    # util-linux unshare makes the namespace and bind-mounts it on the file for us.
    result = subprocess.run(["unshare", f"--net={netns}", "true"], capture_output=True, text=True, close_fds=True)
    if result.returncode != 0:
        netns.unlink(missing_ok=True)
        raise NetworkError(f"creating a network namespace: {result.stderr.strip() or result.returncode}")


def _start_slirp(netns: Path, api_socket: Path) -> int:
    ready_r, ready_w = os.pipe()
    argv = ["slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
            "--netns-type=path", f"--ready-fd={ready_w}", f"--api-socket={api_socket.name}", str(netns), "tap0"]
    try:
        proc = subprocess.Popen(argv, pass_fds=(ready_w,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True, close_fds=True, cwd=api_socket.parent)
    except FileNotFoundError:
        raise NetworkError("slirp4netns not found", hint="install the Debian package slirp4netns") from None
    finally:
        os.close(ready_w)
    try:
        ready = _read_with_timeout(ready_r, READY_TIMEOUT)
    finally:
        os.close(ready_r)
    if ready != b"1":
        proc.kill()
        err = proc.stderr.read().decode(errors="replace").strip().splitlines() if proc.stderr else []
        message = err[-1] if err else "did not become ready"
        hint = "the user needs read and write access to /dev/net/tun" if "tun" in message.lower() else None
        raise NetworkError(f"slirp4netns: {message}", hint=hint)
    proc.stderr.close()
    return proc.pid


def _read_with_timeout(fd: int, timeout: float) -> bytes:
    import select

    ready, _, _ = select.select([fd], [], [], timeout)
    return os.read(fd, 1) if ready else b""


def _add_forward(api_socket: Path, port) -> None:
    """`port`: a pyctr.container.spec.PortMapping."""
    request = {"execute": "add_hostfwd", "arguments": {
        "proto": port.protocol, "host_addr": port.host_ip or "0.0.0.0",
        "host_port": port.host_port, "guest_addr": GUEST_ADDRESS, "guest_port": port.container_port}}
    dir_fd = os.open(api_socket.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        try:
            sock.connect(f"/proc/self/fd/{dir_fd}/{api_socket.name}")
        finally:
            os.close(dir_fd)
        sock.sendall(json.dumps(request).encode())
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    reply = json.loads(answer or b"{}")
    if "error" in reply:
        desc = reply["error"].get("desc", reply["error"]) if isinstance(reply["error"], dict) else reply["error"]
        raise NetworkError(f"publishing port {port.host_port}: {desc}")


def teardown(run_dir: Path, container_id: str) -> None:
    """Stop slirp4netns and remove the namespace; safe to call twice."""
    netns, api_socket, pid_file = paths(run_dir, container_id)
    with contextlib.suppress(OSError, ValueError):
        pid = int(pid_file.read_text())
        if "slirp4netns" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.01)
    if netns.exists():
        with contextlib.suppress(PyctrError):
            mountmod.unmount(str(netns), lazy=True)
    for path in (netns, api_socket, pid_file):
        path.unlink(missing_ok=True)
