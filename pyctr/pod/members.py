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
    if not pod.infra_id:
        return
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
