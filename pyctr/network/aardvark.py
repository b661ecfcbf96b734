"""aardvark-dns, the one DNS server of every network with DNS (the host's, or the user's), kept serving.

netavark adds a container's names to aardvark-dns' config directory and sends it SIGHUP, and starts
it when the pid in aardvark.pid is not there; the teardown that removes the last name stops it (it
is gone, and its pid file too, when netavark returns: a setup under the network lock right after
it always starts a fresh one). Where names stopped resolving (`wget: bad address 'web'`):
- netavark starts it through `systemd-run --scope` whenever /run/systemd/system exists, and that
  fails silently where systemd is not PID 1 (a user manager only): nothing is started. A zombie
  aardvark-dns (killed, not reaped yet) takes SIGHUP like a live one, and again nothing is started:
  no names for anyone until a later setup (a pid reused meanwhile gets the SIGHUP). So before a
  setup a pid file naming no running aardvark-dns goes, and after it we check that it serves, and
  start it ourselves if not (as netavark would).
- it listens on a network new to it a moment after the SIGHUP: the container's first question may
  come before. So the setup waits (at most LISTEN_WAIT) until it listens on the network's address.
- started from a systemd service (a unit running `pyctr run`), it is in the unit's cgroup and dies
  with the unit, and every container's names with it: as the rootless pause process, it moves
  into a scope of its own.
Not fixed here: aardvark-dns 1.4 closes and reopens every network's socket on each SIGHUP (each
setup and teardown of a container with DNS on the host), for about a millisecond; a question that
comes then is refused, and the resolver asks the host's server next (podman 4.3.1 has the same).
Every function here runs under the network lock (pyctr.network.bridge).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

DNS_PORT = "53"  # (netavark's default; pyctr sets no other)
LISTEN_WAIT = 3.0  # seconds at most for aardvark-dns to listen on a network's address
RELOAD_AGAIN = 0.1  # seconds between SIGHUPs while aardvark-dns has not taken a setup in
SCOPE = ("pyctr-aardvark-dns", "failed to move aardvark-dns into a systemd scope of its own")


def _directory(config_dir: Path) -> Path:
    return config_dir / "aardvark-dns"


def uses_dns(options: dict) -> bool:
    """Whether netavark's input has a network with DNS (aardvark-dns serves only those)."""
    return any(info.get("dns_enabled") for info in options.get("network_info", {}).values())


def has_names(config_dir: Path) -> bool:
    """Whether any network's names are in the config directory (one file per network)."""
    try:
        return any(entry.name != "aardvark.pid" for entry in os.scandir(_directory(config_dir)))
    except OSError:
        return False


def serving(config_dir: Path) -> int | None:
    """The pid of the aardvark-dns of `config_dir` if it runs (a zombie does not)."""
    directory = _directory(config_dir)
    try:
        pid = int((directory / "aardvark.pid").read_text())
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError, IndexError):
        return None
    if state in (b"Z", b"X") or not argv[0].endswith(b"aardvark-dns") or str(directory).encode() not in argv:
        return None
    return pid


def before_setup(config_dir: Path) -> None:
    """A pid file naming no running aardvark-dns (killed: a zombie, or its pid reused by another
    process) goes: netavark would signal that process and start none."""
    path = _directory(config_dir) / "aardvark.pid"
    if path.exists() and serving(config_dir) is None:
        path.unlink(missing_ok=True)


def after_setup(config_dir: Path, options: dict, *, rootless: bool, inside: str | None) -> None:
    """A setup with DNS has added names: make sure aardvark-dns serves them, outside any unit."""
    if not has_names(config_dir):
        return
    pid = serving(config_dir) or _start(config_dir, inside)
    gateways = [subnet["gateway"] for info in options["network_info"].values() if info.get("dns_enabled")
                for subnet in info.get("subnets") or [] if subnet.get("gateway")]
    deadline = time.monotonic() + LISTEN_WAIT
    _wait_listening(pid, gateways, deadline)
    if inside is None:  # root: the host reaches the gateways, and asks for the new name itself
        _wait_answering(pid, [g for g in gateways if ":" not in g], options.get("container_name") or "", deadline)
    _keep_out_of_unit(pid, rootless)


def _wait_listening(pid: int, addresses: list[str], deadline: float) -> None:
    """Until aardvark-dns listens on port 53 of these addresses: a network new to it gets its
    socket a moment after the SIGHUP, and a container asking before is refused ("bad address").
    Under load aardvark-dns 1.4 can miss a reload (a SIGHUP that comes while it is reloading):
    it is asked again every RELOAD_AGAIN seconds."""
    wanted = {_proc_net_address(address) for address in addresses}
    again = time.monotonic() + RELOAD_AGAIN
    while not wanted <= _udp_listening(pid) and time.monotonic() < deadline:
        if time.monotonic() >= again:
            _reload(pid)
            again = time.monotonic() + RELOAD_AGAIN
        time.sleep(0.005)


def _wait_answering(pid: int, gateways: list[str], name: str, deadline: float) -> None:
    """Until aardvark-dns answers `name` (the container just set up) on each gateway: a reload it
    missed leaves the name unknown until the next setup or teardown, and the container's own
    lookups fail meanwhile. Asked with a short timeout; a reload again between tries."""
    if not name:
        return
    for gateway in gateways:
        while not _answers(gateway, name) and time.monotonic() < deadline:
            _reload(pid)
            time.sleep(RELOAD_AGAIN)


def _reload(pid: int) -> None:
    import signal

    try:
        os.kill(pid, signal.SIGHUP)
    except OSError:
        pass


def _answers(server: str, name: str, timeout: float = 0.1) -> bool:
    """Whether the DNS server at server:53 answers an A query for `name` with an address."""
    import random
    import socket
    import struct

    query_id = random.randrange(1 << 16)
    labels = b"".join(bytes([len(part)]) + part for part in name.encode().split(b".") if part)
    packet = struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(packet, (server, int(DNS_PORT)))
            reply = sock.recv(512)
        except OSError:  # a timeout, or refused: not (yet) serving it
            return False
    if len(reply) < 12:
        return False
    reply_id, flags, _, answers = struct.unpack(">HHHH", reply[:8])
    return reply_id == query_id and flags & 0xF == 0 and answers > 0


def _proc_net_address(address: str) -> str:
    """How /proc/net/udp[6] writes ADDRESS:53 (each 32-bit word in the host's byte order)."""
    import ipaddress
    import sys

    packed = ipaddress.ip_address(address).packed
    words = [packed[i:i + 4] for i in range(0, len(packed), 4)]
    return "".join((w[::-1] if sys.byteorder == "little" else w).hex().upper() for w in words) + f":{int(DNS_PORT):04X}"


def _udp_listening(pid: int) -> set[str]:
    """The local addresses of the UDP sockets in `pid`'s network namespace."""
    found = set()
    for name in ("udp", "udp6"):
        try:
            with open(f"/proc/{pid}/net/{name}") as f:
                found.update(line.split()[1] for line in list(f)[1:])
        except (OSError, IndexError):
            pass
    return found


def _start(config_dir: Path, inside: str | None) -> int:
    """Start aardvark-dns as netavark does (it returns once the server is ready); its pid. A setup
    whose names no server would answer fails, in one line."""
    from pyctr import log
    from pyctr.network import netavark, netns

    log.debug(f"aardvark-dns of {config_dir} is not running after netavark's setup: starting it")
    argv = [netavark.helper("aardvark-dns"), "--config", str(_directory(config_dir)), "-p", DNS_PORT, "run"]
    if inside:
        argv = ["nsenter", f"--net={inside}", *argv]
    env = dict(os.environ, RUST_LOG=os.environ.get("PYCTR_NETAVARK_LOG", "warn"))
    # (stderr to a file: the server keeps what it inherits, a pipe would never end)
    with tempfile.TemporaryFile() as errors:
        try:
            result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
                                    close_fds=True, env=env, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise netns.NetworkError(f"starting aardvark-dns: {exc}") from None
        errors.seek(0)
        text = errors.read().decode(errors="replace").strip()
    pid = serving(config_dir)
    if pid is None:
        lines = text.splitlines()
        raise netns.NetworkError(f"aardvark-dns did not start (exit status {result.returncode})"
                                 + (f": {lines[-1]}" if lines else ""))
    return pid


def _keep_out_of_unit(pid: int, rootless: bool) -> None:
    """In a systemd service, and aardvark-dns is in its cgroup (it started it): a scope of its own,
    with the manager the service belongs to (root's system manager, else the user's)."""
    from pyctr.systemd import scope

    if scope.service_of() is None or _cgroup(pid) != _cgroup("self"):
        return
    from pyctr.config import real_uid

    uid = real_uid() if rootless else os.geteuid()
    if not rootless and "/user@" not in (_cgroup("self") or "") and os.path.exists(scope.SYSTEM_SOCKET):
        scope.keep_out_of_unit(pid, uid, SCOPE, socket=scope.SYSTEM_SOCKET, slice_="system.slice")
    else:
        scope.keep_out_of_unit(pid, uid, SCOPE)


def _cgroup(pid) -> str | None:
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return next((line[3:].strip() for line in f if line.startswith("0::")), None)
    except OSError:
        return None
