"""A container joining a pod: the pod's shared namespaces become container:<infra ID> in its spec,
with podman 4.3.1's checks (what must be defined when the pod is created)."""

from __future__ import annotations

from pyctr.errors import InvalidArgument

# --share kind -> the member's namespace field it sets (net is the network mode)
SHARED_FIELDS = {"ipc": "ipc", "uts": "uts", "pid": "pid", "cgroup": "cgroupns"}


def join(spec, pod) -> None:
    """Make `spec` (a ContainerSpec, changed in place) a member of `pod` (a PodRecord): its lifecycle.pod
    becomes the pod's ID; each namespace the pod shares and the member leaves to its default joins
    the infra container's (an explicit --network, --ipc, ... wins, as in podman)."""
    spec.lifecycle.pod = pod.id
    if pod.spec.get("devices"):  # the pod's devices, unless the member maps the same path itself
        from pyctr.container import flags

        own = {d.destination or d.source for d in spec.storage.devices}
        for device in map(flags.device, pod.spec["devices"]):
            if (device.destination or device.source) not in own:
                spec.storage.devices.append(device)
    shared = pod.spec.get("share_parent", True)  # --share-parent=false: the members keep out of the pod's cgroup
    parent = (pod.cgroup if shared else "") or pod.spec.get("cgroup_parent")
    if parent and not spec.resources.cgroup_parent:  # the pod's (its own cgroup if it has one), unless its own
        spec.resources.cgroup_parent = parent
    if not pod.infra_id:
        return
    if (pod.spec.get("volumes") or pod.spec.get("volumes_from")) and pod.infra_id not in spec.storage.volumes_from:
        spec.storage.volumes_from.append(pod.infra_id)  # the pod's volumes, through its infra container (podman's)
    share, network = pod.share, spec.network
    if "net" in share:
        if network.ports:
            raise InvalidArgument("invalid config provided: published or exposed ports must be defined when the pod is "
                                  "created: network cannot be configured when it is shared with a pod")
        if network.mode is None and not network.networks:
            network.mode = f"container:{pod.infra_id}"
    if "uts" in share and not spec.namespaces.uts:
        if network.hostname:
            raise InvalidArgument("invalid config provided: cannot set hostname when joining the pod UTS namespace: "
                                  "invalid configuration")
    for kind, name in SHARED_FIELDS.items():
        if kind in share and not getattr(spec.namespaces, name):
            setattr(spec.namespaces, name, f"container:{pod.infra_id}")


def members(records, pod_id: str) -> list:
    """The container records (as given, creation order) that belong to the pod."""
    return [r for r in records if (r.spec_data.get("lifecycle") or {}).get("pod") == pod_id]


def pod_of(record) -> str:
    """The ID of the pod a container record belongs to ("" for none); no spec decoding (ps asks each)."""
    return (record.spec_data.get("lifecycle") or {}).get("pod") or ""


def pod_spec_for(spec, name: str):
    """--pod new:NAME: the pod to make, taking the member's network options (as podman moves them to
    the infra container); the member's spec loses them."""
    from pyctr.pod.store import PodSpec

    network = spec.network
    pod = PodSpec(name=name, create_command=list(spec.lifecycle.create_command))
    if not (network.mode or "").startswith(("container:", "ns:")) and network.mode not in ("host",):
        pod.ports, pod.networks, pod.network_mode = list(network.ports), list(network.networks), network.mode
        pod.add_hosts, pod.dns = list(network.add_hosts), list(network.dns)
        pod.dns_search, pod.dns_options = list(network.dns_search), list(network.dns_options)
        network.ports, network.networks, network.mode = [], [], None
        network.add_hosts, network.dns, network.dns_search, network.dns_options = [], [], [], []
    return pod


def add_to_hosts(path, name: str) -> None:
    """A container joining another's network namespace (a pod's member) gets a line `127.0.0.1 NAME`
    in the shared /etc/hosts while it runs, so that the members know each other's names (podman's)."""
    _edit_hosts(path, lambda lines: lines if f"127.0.0.1\t{name}" in lines else [*lines, f"127.0.0.1\t{name}"])


def remove_from_hosts(path, name: str) -> None:
    """Its line goes when it stops (podman's)."""
    _edit_hosts(path, lambda lines: [line for line in lines if line != f"127.0.0.1\t{name}"])


def _edit_hosts(path, change) -> None:
    """In place (the file is bind-mounted into running containers), under a lock on the file: the
    members of a pod start and stop concurrently."""
    import fcntl

    try:
        f = open(path, "r+b")
    except FileNotFoundError:  # (--no-hosts, or the other container is gone)
        return
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        lines = f.read().decode(errors="surrogateescape").splitlines()
        changed = change(lines)
        if changed != lines:
            f.seek(0)
            f.write(("\n".join(changed) + "\n").encode(errors="surrogateescape"))
            f.truncate()
