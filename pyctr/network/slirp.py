"""A container's network namespace, wired to the host by slirp4netns.

The namespace is made by us (a file bind-mounted under the runroot, as `ip
netns` does) before runc runs, so that the network is up from the
container's first instruction; runc joins it by path. slirp4netns runs
detached (its own session: it outlives `run -d`; stderr to a file beside
the namespace, not to a pipe to a caller that may be gone), its pid kept
beside the namespace, until teardown stops it.

Stopping is a signal through a pidfd. slirp4netns takes tens of milliseconds
to exit (the kernel unregisters its tap device), which nobody needs to wait
for unless it publishes ports: then we wait (on the pidfd: it reports the
exit as soon as it happens, also while the process is a zombie nobody has
reaped yet), so that the host ports are free once teardown returns. The
children this process started are reaped here.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
from pathlib import Path

from pyctr.errors import PyctrError
from pyctr.linux import mount as mountmod
from pyctr.network.netns import NetworkError, create as create_netns, exists as netns_exists

GUEST_ADDRESS = "10.0.2.100"
DNS_ADDRESS = "10.0.2.3"
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 2.0  # per signal when we wait: SIGTERM, then SIGKILL

# slirp4netns processes this process started, by pid: reaped once they have exited (by our
# teardown or anyone's), so that a long-lived caller (the engine API) does not collect zombies.
_children: dict[int, subprocess.Popen] = {}


def paths(run_dir: Path, container_id: str) -> tuple[Path, Path, Path, Path]:
    """The namespace file, the API socket, slirp4netns' pid file ("PID PORTS") and its log (stderr)."""
    # The API socket's name is short: socket paths stop at 108 bytes, so slirp4netns binds
    # it relative to its working directory and we reach it through a directory fd.
    base = run_dir / "netns"
    return (base / container_id, base / f"{container_id[:12]}.sock", base / f"{container_id}.slirp.pid",
            base / f"{container_id}.slirp.log")


def setup(run_dir: Path, container_id: str, ports: list) -> Path:
    """Create the namespace, start slirp4netns in it, publish the ports; returns the namespace path."""
    netns, api_socket, pid_file, log = paths(run_dir, container_id)
    if not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        raise NetworkError(
            "slirp4netns needs read and write access to /dev/net/tun",
            hint="as root: chmod 0666 /dev/net/tun (or give the user a group that may use it)",
        )
    netns.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    teardown(run_dir, container_id)  # leftovers of an earlier run
    create_netns(netns)
    try:
        pid = _start_slirp(netns, api_socket, log)
        pid_file.write_text(f"{pid} {len(ports)}\n")  # before publishing: a failure waits for the ports
        for port in ports:
            _add_forward(api_socket, port)
    except BaseException:
        teardown(run_dir, container_id)
        raise
    return netns


def restart(run_dir: Path, name: str) -> None:
    """A new slirp4netns for the namespace `name` whose slirp4netns died (the namespace, and what
    is in it, lives on); its forwards are gone with the old one."""
    netns, api_socket, pid_file, log = paths(run_dir, name)
    with contextlib.suppress(OSError, ValueError):
        _stop(int(pid_file.read_text().split()[0]), netns, wait=True)
    api_socket.unlink(missing_ok=True)
    pid_file.write_text(f"{_start_slirp(netns, api_socket, log)} 0\n")


def teardown(run_dir: Path, container_id: str) -> None:
    """Stop slirp4netns and remove the namespace; safe to call twice, and after slirp4netns died."""
    netns, api_socket, pid_file, log = paths(run_dir, container_id)
    with contextlib.suppress(OSError, ValueError):
        pid, *published = pid_file.read_text().split()
        _stop(int(pid), netns, wait=published not in ([], ["0"]))  # host ports to free before we return
    _reap_children()
    if netns.exists():
        with contextlib.suppress(PyctrError):
            mountmod.unmount(str(netns), lazy=True)
    for path in (netns, api_socket, pid_file, log):
        path.unlink(missing_ok=True)


# -- starting ----------------------------------------------------------------------------------

def _start_slirp(netns: Path, api_socket: Path, log: Path) -> int:
    _reap_children()
    ready_r, ready_w = os.pipe()
    argv = ["slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
            "--netns-type=path", f"--ready-fd={ready_w}", f"--api-socket={api_socket.name}", str(netns), "tap0"]
    try:
        # stderr to a file, not a pipe to us: we may be long gone (run -d) when it has
        # something to say, and the file keeps what it said for as long as it runs.
        with open(log, "wb") as stderr:
            proc = subprocess.Popen(argv, pass_fds=(ready_w,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=stderr, start_new_session=True, close_fds=True, cwd=api_socket.parent)
    except BaseException as error:
        os.close(ready_r)
        if isinstance(error, FileNotFoundError):
            raise NetworkError("slirp4netns not found", hint="install the Debian package slirp4netns") from None
        raise
    finally:
        os.close(ready_w)
    _children[proc.pid] = proc
    try:
        ready = _read_with_timeout(ready_r, READY_TIMEOUT)
    finally:
        os.close(ready_r)
    if ready != b"1":
        proc.kill()
        proc.wait()
        _children.pop(proc.pid, None)
        err = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
        # The cause comes before the closing "child failed(1)" (e.g. the tun device's error).
        causes = [line for line in err if not line.startswith("child failed")] or err
        message = causes[-1] if causes else "did not become ready"
        hint = "the user needs read and write access to /dev/net/tun" if "tun" in message.lower() else None
        raise NetworkError(f"slirp4netns: {message}", hint=hint)
    return proc.pid


def _read_with_timeout(fd: int, timeout: float) -> bytes:
    import select

    ready, _, _ = select.select([fd], [], [], timeout)
    return os.read(fd, 1) if ready else b""


def _add_forward(api_socket: Path, port) -> int:
    """`port`: a pyctr.container.spec.PortMapping; -> slirp4netns' ID of the forward."""
    reply = _api(api_socket, {"execute": "add_hostfwd", "arguments": {
        "proto": port.protocol, "host_addr": port.host_ip or "0.0.0.0",
        "host_port": port.host_port, "guest_addr": GUEST_ADDRESS, "guest_port": port.container_port}})
    if "error" in reply:
        desc = reply["error"].get("desc", reply["error"]) if isinstance(reply["error"], dict) else reply["error"]
        raise NetworkError(f"publishing port {port.host_port}: {desc}")
    return int((reply.get("return") or {}).get("id", -1))


def forward(run_dir: Path, name: str, port) -> int:
    """Publish one more host port into the namespace `name` made by setup() (its guest port is
    port.container_port); -> the forward's ID, for unforward()."""
    return _add_forward(paths(run_dir, name)[1], port)


def unforward(run_dir: Path, name: str, protocol: str, host_port: int) -> None:
    """Stop publishing a host port (one of forward()'s) into the namespace `name`."""
    api_socket = paths(run_dir, name)[1]
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        for entry in _api(api_socket, {"execute": "list_hostfwd"})["return"]["entries"]:
            if entry.get("proto") == protocol and entry.get("host_port") == host_port:
                _api(api_socket, {"execute": "remove_hostfwd", "arguments": {"id": entry["id"]}})


def running(run_dir: Path, name: str) -> bool:
    """Whether the namespace `name` and its slirp4netns are there."""
    netns, _, pid_file, _ = paths(run_dir, name)
    try:
        pid = int(pid_file.read_text().split()[0])
        argv = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return False
    return argv.split(b"\0")[0].endswith(b"slirp4netns") and netns_exists(netns)


def _api(api_socket: Path, request: dict) -> dict:
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
    return json.loads(answer or b"{}")


# -- stopping ----------------------------------------------------------------------------------

def _stop(pid: int, netns: Path, *, wait: bool) -> None:
    """SIGTERM to this namespace's slirp4netns; with `wait`, until it has exited (SIGKILL after STOP_TIMEOUT)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # gone (killed, reaped) already
    try:
        # Only this namespace's slirp4netns: a pid reused since the pid file was written is
        # left alone (an exited one has no command line left). The pidfd then makes sure the
        # signals reach the process checked, even if the pid were reused meanwhile.
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if not (argv[0].endswith(b"slirp4netns") and any(arg.endswith(b"/" + netns.name.encode()) for arg in argv)):
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(pidfd, sig)
            if not wait or _exited(pidfd, STOP_TIMEOUT):
                return
    finally:
        os.close(pidfd)


def _exited(pidfd: int, timeout: float) -> bool:
    """Whether the process exits within `timeout` seconds (a pidfd reads as ready once it has)."""
    import select

    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(int(timeout * 1000)))


def _reap_children() -> None:
    for pid, proc in list(_children.items()):
        if proc.poll() is not None:
            del _children[pid]
