"""The user's rootless network namespace, where rootless bridge networks live (podman 4's rootless netns).

An unprivileged user cannot make bridges, veth pairs or firewall rules on the host, so netavark
builds them inside one network namespace per user, owned by the user's user namespace. slirp4netns
gives that namespace its way out, and brings published ports in: a host port goes to the same port
on the namespace's own address, where netavark's rules forward it to the container. It is made with
the first rootless container on a bridge network and removed with the last. Callers hold the
network lock (pyctr.network.bridge).
"""

from __future__ import annotations

from pathlib import Path

from pyctr.network import hostports, ipam, netns, slirp

NAME = "rootless-netns"


def ensure(state: Path) -> str:
    """The namespace's path; made (with its slirp4netns) if it is not there."""
    path = slirp.paths(state, NAME)[0]
    if slirp.running(state, NAME):
        return str(path)
    if netns.exists(path):
        # Only slirp4netns died (killed): the namespace, its bridges, its DNS server and the
        # containers on them live on. A new one, and the published ports again.
        slirp.restart(state, NAME)
        _keep_out_of_unit(state)
        for port in hostports.held(state):
            publish(state, port)
        return str(path)
    slirp.teardown(state, NAME)  # what a killed one left
    slirp.setup(state, NAME, [])
    _keep_out_of_unit(state)
    return str(path)


def _keep_out_of_unit(state: Path) -> None:
    """Every bridge container of the user needs this slirp4netns: it must not die with the systemd
    service that happened to start it (pyctr.systemd.scope; nothing happens outside a service)."""
    from pyctr.config import real_uid
    from pyctr.systemd import scope

    if scope.service_of() is None:
        return
    scope.keep_out_of_unit(int(slirp.paths(state, NAME)[2].read_text().split()[0]), real_uid(), scope.ROOTLESS_NETNS)


def current(state: Path) -> str | None:
    """The namespace's path while it is there (None after a reboot or before the first use)."""
    return str(slirp.paths(state, NAME)[0]) if slirp.running(state, NAME) else None


def release_if_unused(state: Path) -> None:
    """Remove the namespace once no container holds an address on any of its bridges."""
    for table in (state / "ipam").glob("*.json"):
        if ipam.live_owners(table):
            return
    slirp.teardown(state, NAME)


def publish(state: Path, port) -> None:
    """Bring a host port into the namespace (the same port on its address)."""
    from dataclasses import replace

    slirp.forward(state, NAME, replace(port, container_port=port.host_port))


def unpublish(state: Path, protocol: str, host_port: int) -> None:
    slirp.unforward(state, NAME, protocol, host_port)
