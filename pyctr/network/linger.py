"""The default network's bridge lingers a few seconds after its last container.

netavark deletes a bridge with its last container, and the kernel takes about 150 ms to unregister
it: a script running `run --rm` on the default network in a loop would wait for that every time.
So while the default network is in use, one end of a veth pair (the keeper) is a port of its
bridge, and netavark never finds it empty. When the last container leaves, a short-lived janitor
process removes the keeper, the bridge and its firewall rules LINGER seconds later, unless a
container joined meanwhile; it exits once done (no daemon). podman's default network uses the
same subnet, so the bridge must not stay for good.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from pyctr.linux.fsutil import atomic_write_json, locked, makedirs, read_json
from pyctr.network.config import Network

LINGER = 3.0  # seconds
_janitors: list[subprocess.Popen] = []  # this process's, reaped on the next idle()


def keeper(bridge: str) -> str:
    return f"{bridge}k"  # (interface names stop at 15 bytes: "pyctr0k", its peer "pyctr0kp")


def keep(bridge: str) -> None:
    """Make the keeper a port of `bridge` (it exists: netavark has just set it up). Caller holds the network lock."""
    name = keeper(bridge)
    if os.path.exists(f"/sys/class/net/{bridge}/brif/{name}"):
        return
    for argv in (["del", name], ["add", name, "type", "veth", "peer", "name", name + "p"], ["set", name, "master", bridge]):
        subprocess.run(["ip", "link", *argv], capture_output=True, close_fds=True)


def _file(state: Path, network: Network) -> Path:
    return state / "linger" / f"{network.interface}.json"


def idle(state: Path, network: Network) -> None:
    """The network's last container has left: its bridge goes in LINGER seconds unless one comes
    back. Caller holds the network lock."""
    for janitor in list(_janitors):
        if janitor.poll() is not None:
            _janitors.remove(janitor)
    if not os.path.exists(f"/sys/class/net/{keeper(network.interface)}"):
        return
    path = _file(state, network)
    makedirs(path.parent, 0o755)
    previous = read_json(path) or {}
    pid = previous.get("pid", 0)
    record = {"deadline": time.time() + LINGER, "network": network.to_json(), "pid": pid}
    if not _is_janitor(pid):
        record["pid"] = None  # (the new janitor may read the file before its pid is in it)
        atomic_write_json(path, record)
        from pyctr import dist

        janitor = subprocess.Popen([*dist.module_argv("pyctr.network.linger"), str(state), network.interface],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   close_fds=True, start_new_session=True)
        _janitors.append(janitor)
        record["pid"] = janitor.pid
    atomic_write_json(path, record)


def sweep(state: Path) -> None:
    """Release the bridges whose time is up and whose janitor is gone (killed: nobody else would).
    Caller holds the network lock."""
    from pyctr.network import ipam

    directory = state / "linger"
    for path in directory.glob("*.json") if directory.is_dir() else ():
        record = read_json(path)
        if not record or record["deadline"] > time.time() or _is_janitor(record.get("pid") or 0):
            continue
        network = Network.from_json(record["network"])
        if not ipam.owners(state, network, live=True):
            release(state, network)
        path.unlink(missing_ok=True)


def _is_janitor(pid: int) -> bool:
    try:
        return b"pyctr.network.linger" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False


def release(state: Path, network: Network) -> None:
    """Remove the keeper, then the bridge and its rules: a stand-in container set up and torn down
    is the last to leave. Caller holds the network lock and has checked that no container uses it."""
    from pyctr.network import bridge, netavark, netns

    if not os.path.exists(f"/sys/class/net/{keeper(network.interface)}"):
        return
    subprocess.run(["ip", "link", "del", keeper(network.interface)], capture_output=True, close_fds=True)
    # (netavark needs an address for it: any will do, nothing else is on the bridge)
    addresses = [str(s.network.broadcast_address - 1) for s in network.subnets]
    opts = bridge.options("0" * 64, "", {network.name: {"interface_name": "eth0"}}, {network.name: network},
                          {network.name: addresses}, [])
    try:
        with bridge.stand_in(opts, state, state, False, None) as path:
            netavark.run("teardown", path, opts, config_dir=state, rootless=False)
    except netns.NetworkError:
        pass  # the bridge was gone already


def main(argv: list[str]) -> int:
    """The janitor: `python -m pyctr.network.linger STATE_DIR BRIDGE`."""
    from pyctr.network import ipam

    state, interface = Path(argv[0]), argv[1]
    path = state / "linger" / f"{interface}.json"
    while True:
        record = read_json(path)
        if not record or record.get("pid") not in (None, os.getpid()):
            return 0  # another janitor took over
        if record["deadline"] > time.time():
            time.sleep(record["deadline"] - time.time())
            continue
        with locked(state / "lock"):
            record = read_json(path)
            if not record or record["deadline"] > time.time():
                continue
            network = Network.from_json(record["network"])
            if not ipam.owners(state, network, live=True):
                release(state, network)
            path.unlink(missing_ok=True)
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
