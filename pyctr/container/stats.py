"""Containers' resource use (`stats`): one sample per container, with podman's arithmetic.

CPU % is CPU time over wall time, 100% being one CPU: since the previous sample, or since the
container started for the first one (then it equals the average, AVG CPU %). The memory limit
is the cgroup's, else the host's memory, as podman shows it. A container that is not running
has a sample of zeros.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pyctr.errors import InvalidArgument
from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.container.store import ContainerRecord, ContainerStore

ROOTLESS_V1 = "stats is not supported in rootless mode without cgroups v2"


@value
class ContainerStats:
    id: str
    name: str
    cpu_percent: float = 0.0  # since the previous sample
    avg_cpu: float = 0.0  # since the start
    cpu_ns: int = 0  # CPU time used (podman's CPU TIME, "UpTime")
    system_ns: int = 0  # when sampled (wall clock, ns)
    mem_usage: int = 0
    mem_limit: int = 0
    mem_percent: float = 0.0
    net_input: int = 0
    net_output: int = 0
    block_input: int = 0
    block_output: int = 0
    pids: int = 0


def check_options(names: list[str] | None, all_containers: bool, latest: bool) -> None:
    if sum((bool(names), all_containers, latest)) > 1:
        raise InvalidArgument("--all, --latest and containers cannot be used together")


def check_supported(rootless: bool) -> None:
    """Rootless containers on cgroup v1 have no cgroup of their own: nothing to read (as podman)."""
    from pyctr.linux import cgroupstats

    if rootless and not cgroupstats.is_v2():
        raise InvalidArgument(ROOTLESS_V1)


def sample(store: "ContainerStore", record: "ContainerRecord", previous: ContainerStats | None = None,
           mounts=None) -> ContainerStats:
    from pyctr.linux import cgroupstats

    empty = ContainerStats(record.id, record.name)
    status = store.status(record.id)
    if status.state not in ("running", "paused", "stopping") or status.pid <= 0:
        return empty
    try:
        counters = cgroupstats.read(status.pid, mounts)
        net_in, net_out = cgroupstats.net_io(status.pid)
    except OSError:  # it ended meanwhile
        return empty
    now = time.time_ns()
    started = int((status.started_at or 0) * 1e9) or now
    physical = cgroupstats.physical_memory()
    limit = min(counters.mem_limit, physical) if counters.mem_limit and physical else (counters.mem_limit or physical)
    avg = _percent(counters.cpu_ns, now - started)
    if previous is not None and previous.system_ns:
        cpu = _percent(counters.cpu_ns - previous.cpu_ns, now - previous.system_ns)
    else:
        cpu = avg
    return ContainerStats(
        record.id, record.name, cpu_percent=cpu, avg_cpu=avg, cpu_ns=counters.cpu_ns, system_ns=now,
        mem_usage=counters.mem_usage, mem_limit=limit, mem_percent=_percent(counters.mem_usage, limit),
        net_input=net_in, net_output=net_out, block_input=counters.block_read, block_output=counters.block_write,
        pids=counters.pids,
    )


def _percent(part: float, whole: float) -> float:
    return part / whole * 100.0 if whole > 0 and part > 0 else 0.0
