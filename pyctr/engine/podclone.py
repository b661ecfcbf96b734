"""`pod clone` (podman 4.3.1's): a new pod made from another's spec with some options changed, and a
copy of each of its containers; the copies' names are podman's (`NAME-clone`, then `NAME-clone1`, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyctr.errors import PyctrError

if TYPE_CHECKING:
    from pyctr.engine.pods import Pods
    from pyctr.pod.store import PodRecord

# the PodSpec fields `pod clone` may change (the others are the original's)
CHANGEABLE = ("hostname", "infra_command", "infra_conmon_pidfile", "infra_name", "cgroup_parent", "cpus", "memory",
              "memory_swap", "cpu_shares", "cpuset_cpus", "cpuset_mems", "device_read_bps", "device_write_bps",
              "shm_size", "pid", "uts", "not_built", "create_command")
ADDED = ("volumes", "volumes_from", "sysctls", "devices", "security_opt")  # the original's, and these


def clone(pods: "Pods", name: str, *, new_name: str | None = None, labels: dict | None = None,
          changes: dict | None = None, destroy: bool = False, start: bool = False) -> "PodRecord":
    """The new pod (created; started with `start`); `destroy` removes the original first (its
    containers too, stopped if they run). `changes`: PodSpec fields (CHANGEABLE) to set."""
    from pyctr.errors import InvalidArgument
    from pyctr.pod.store import PodSpec

    original = pods.get(name)
    spec = PodSpec(**{k: v for k, v in original.spec.items() if k in PodSpec.__dataclass_fields__})
    for key, value in (changes or {}).items():
        if key not in CHANGEABLE + ADDED:
            raise InvalidArgument(f"pod clone cannot change {key}")
        if key in ADDED:
            old = getattr(spec, key)
            setattr(spec, key, {**old, **value} if isinstance(old, dict) else [*old, *value])
        elif value not in (None, {}, []):
            setattr(spec, key, value)
    spec.labels = {**spec.labels, **(labels or {})}
    records = pods._s.containers
    infra = next((r for r in records.all() if r.id == original.infra_id), None)
    names = {r.name for r in records.all()}
    taken = names.__contains__
    spec.name = new_name or _free(f"{original.name}-clone", lambda n: pods.exists(n))
    if infra is not None and not (changes or {}).get("infra_name"):
        spec.infra_name = _free(f"{infra.name}-clone", taken)
        names.add(spec.infra_name)
    members = [r for r in pods._ordered(original) if r.id != original.infra_id]
    specs = [r.spec for r in members]  # (read before --destroy removes them)
    if destroy:
        for report in pods.remove([original.id], force=True):
            if report.error is not None:
                raise report.error
    pod = pods.create(spec)
    try:
        for record, member in zip(members, specs):
            _as_member_of_new_pod(member, original.infra_id)
            member.lifecycle.name = _free(f"{record.name}-clone", taken)
            names.add(member.lifecycle.name)
            member.lifecycle.pod = pod.id
            pods._containers._create(member, replace=False, progress=None)
    except PyctrError:
        pods.remove([pod.id], force=True)
        raise
    if start:
        for report in pods.start([pod.id]):
            if report.error is not None:
                raise report.error
    return pod


def _as_member_of_new_pod(spec, old_infra_id: str) -> None:
    """Undo what joining the old pod set (its infra container's namespaces): joining the new one
    sets them again."""
    joined = f"container:{old_infra_id}"
    if spec.network.mode == joined:
        spec.network.mode = None
    for field in ("ipc", "uts", "pid", "cgroupns"):
        if getattr(spec.namespaces, field, None) == joined:
            setattr(spec.namespaces, field, "")
    spec.storage.volumes_from = [v for v in spec.storage.volumes_from if v.split(":")[0] != old_infra_id]


def _free(base: str, taken) -> str:
    """podman's clone names: BASE, else BASE1, BASE2, ... the first one not taken."""
    if not taken(base):
        return base
    number = 1
    while taken(f"{base}{number}"):
        number += 1
    return f"{base}{number}"
