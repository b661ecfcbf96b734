"""`update`: new resource limits for a container, applied to its cgroup at once when it runs
(`runc update`) and kept in its spec, so that the next start has them too."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from typing import TYPE_CHECKING

from pyctr.container.store import LIVE
from pyctr.errors import InvalidArgument, RuntimeFailure

if TYPE_CHECKING:
    from pyctr.container.spec import ResourceSpec
    from pyctr.container.store import ContainerRecord
    from pyctr.container.tasks import TaskService

# The fields of the spec's resources that `update` may change (podman 4.3.1's options).
UPDATABLE = ("blkio_weight", "blkio_weight_devices", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime",
             "cpu_shares", "cpus", "cpuset_cpus", "cpuset_mems", "device_read_bps", "device_read_iops",
             "device_write_bps", "device_write_iops", "memory", "memory_reservation", "memory_swap",
             "memory_swappiness")
CPU_PERIOD = 100_000


def merged(resources: "ResourceSpec", changes: dict) -> "ResourceSpec":
    """The resources with the changes given (None: unchanged; lists replace per device)."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise InvalidArgument(f"cannot update {', '.join(sorted(unknown))}")
    new = {}
    for key, val in changes.items():
        if val is None or val == []:
            continue
        if isinstance(val, list):
            devices = {item.rpartition(":")[0]: item for item in getattr(resources, key)}
            devices.update({item.rpartition(":")[0]: item for item in val})
            val = list(devices.values())
        new[key] = val
    if "cpus" in new:  # --cpus stands for a quota: the two never both hold
        new.setdefault("cpu_quota", None)
        new.setdefault("cpu_period", None)
    elif "cpu_quota" in new or "cpu_period" in new:
        new["cpus"] = None
    return dataclasses.replace(resources, **new)


def linux_resources(r: "ResourceSpec") -> dict:
    """The OCI LinuxResources document of the limits (what `runc update --resources` reads): the
    container spec's own mapping, with the memory limit and --cpus that the runtime spec adds."""
    from pyctr.container.ocimap import resources

    out = resources(r)
    out.pop("devices", None)  # device rules are fixed at creation
    out.pop("unified", None)
    if r.memory is not None:
        out.setdefault("memory", {})["limit"] = r.memory
    if r.cpus is not None:
        out.setdefault("cpu", {}).update(quota=int(r.cpus * CPU_PERIOD), period=CPU_PERIOD)
    return out


def update(tasks: "TaskService", record: "ContainerRecord", changes: dict) -> "ContainerRecord":
    """Apply and record; -> the record as saved. A running container's cgroup changes first, so
    that a limit the kernel refuses is never recorded."""
    store = tasks.store
    with store.lock(record.id):
        record = store.load(record.id) or record
        spec = record.spec
        resources = merged(spec.resources, changes)
        new_spec = dataclasses.replace(spec, resources=resources)
        new_spec.validate()  # the rules of run/create hold for the new limits too
        if store.status(record.id).state in LIVE:  # runc updates a created (`init`ed) container too
            if tasks.config.rootless:
                # As podman on cgroup v1: a rootless container has no cgroup of its own to change.
                raise InvalidArgument("rootless containers have no cgroup of their own here (cgroup v1): "
                                      "their resource limits cannot be updated")
            _runc_update(tasks, record.id, linux_resources(resources))
        data = new_spec.to_json()
        updated = dataclasses.replace(record, spec_data=data)
        store.save(updated)
    return updated


def _runc_update(tasks: "TaskService", container_id: str, resources: dict) -> None:
    from pyctr.runtime.runc import error_message

    argv = tasks.runc.argv("update", "--resources", "-", container_id)
    try:
        result = subprocess.run(argv, input=json.dumps(resources), capture_output=True, text=True, timeout=60,
                                close_fds=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeFailure(f"runc update: {exc}") from exc
    if result.returncode != 0:
        raise RuntimeFailure(f"updating the resources of {container_id[:12]}: {error_message(result.stderr)}")
