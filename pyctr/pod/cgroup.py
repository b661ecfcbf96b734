"""A pod's own cgroup, for `pod create --cpus/--memory/...` (podman's pod cgroup): a directory named
after the pod under its cgroup parent (default /pyctr_parent, as podman's /libpod_parent), holding
the limits; the pod's containers get it as their cgroup parent, so the limits bind them together.
Made when the pod is created, removed with the pod. Root only: rootless pyctr has no cgroup of its
own to divide (on cgroup v1 none at all)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pyctr.errors import InvalidArgument

if TYPE_CHECKING:
    from pyctr.pod.store import PodSpec

DEFAULT_PARENT = "/pyctr_parent"
CPU_PERIOD = 100000  # microseconds (podman's)
LIMITS = ("cpus", "memory", "memory_swap", "cpu_shares", "cpuset_cpus", "cpuset_mems", "device_read_bps",
          "device_write_bps")


def wanted(spec: "PodSpec") -> bool:
    """Whether the pod asks for limits (and so for a cgroup of its own)."""
    return any(getattr(spec, name) not in (None, []) for name in LIMITS)


def path_for(pod_id: str, parent: str | None) -> str:
    return f"{(parent or DEFAULT_PARENT).rstrip('/')}/{pod_id}"


def create(path: str, spec: "PodSpec", *, rootless: bool) -> None:
    """The cgroup at `path` with the spec's limits, in each hierarchy (v1) or the unified one (v2)."""
    if rootless:
        raise InvalidArgument("pod resource limits (--cpus, --memory, ...) need a pod cgroup, which rootless pods have "
                              "not: set them on the pod's containers")
    v1, v2 = _mounts()
    try:
        if v1:
            for controller, files in _v1_files(spec).items():
                if controller not in v1:
                    raise InvalidArgument(f"pod resource limits: the {controller} cgroup controller is not mounted")
                directory = _in(v1[controller], path)
                if controller == "cpuset":
                    _inherit_cpuset(v1[controller][0], directory)
                _write(directory, files)
        elif v2 is not None:
            directory = _in(v2, path)
            _enable_controllers(v2[0], directory)
            _write(directory, _v2_files(spec))
        else:
            raise InvalidArgument("pod resource limits need cgroups, and none are mounted")
    except OSError as exc:
        remove(path)
        raise InvalidArgument(f"creating the pod cgroup {path}: {exc.strerror or exc}") from None


def remove(path: str) -> None:
    """The pod's cgroup directories, in every hierarchy (runc made it in those where we did not):
    its containers' are gone, runc removed them."""
    with open("/proc/self/mountinfo") as f:
        mounts = {(line.split()[4], line.split()[3]) for line in f if line.partition(" - ")[2].split()[:1] in (["cgroup"], ["cgroup2"])}
    for mount in mounts:
        try:
            os.rmdir(_in(mount, path))
        except OSError:
            pass


def _devices(items: list[str], option: str) -> list[str]:
    """DEVICE:BYTES -> "MAJOR:MINOR BYTES"."""
    from pyctr.container.specrules import throttle_device

    return [f"{major}:{minor} {value}" for major, minor, value in (throttle_device(option, i) for i in items)]


def _v1_files(spec: "PodSpec") -> dict[str, dict[str, str]]:
    """{controller: {file: value}} in the order they must be written."""
    files: dict[str, dict[str, str]] = {}
    if spec.cpus or spec.cpu_shares:
        cpu = files.setdefault("cpu", {})
        if spec.cpus:
            cpu.update({"cpu.cfs_period_us": str(CPU_PERIOD), "cpu.cfs_quota_us": str(int(spec.cpus * CPU_PERIOD))})
        if spec.cpu_shares:
            cpu["cpu.shares"] = str(spec.cpu_shares)
    if spec.cpuset_cpus or spec.cpuset_mems:
        files["cpuset"] = {k: v for k, v in (("cpuset.cpus", spec.cpuset_cpus), ("cpuset.mems", spec.cpuset_mems)) if v}
    if spec.memory or spec.memory_swap:
        memory = files.setdefault("memory", {})
        if spec.memory:
            memory["memory.limit_in_bytes"] = str(spec.memory)
        if spec.memory_swap:
            memory["memory.memsw.limit_in_bytes"] = str(spec.memory_swap)
    rates = [("blkio.throttle.read_bps_device", line) for line in _devices(spec.device_read_bps, "--device-read-bps")]
    rates += [("blkio.throttle.write_bps_device", line) for line in _devices(spec.device_write_bps, "--device-write-bps")]
    if rates:
        files["blkio"] = {}
        for name, line in rates:  # (one line a write: the kernel takes one device at a time)
            files["blkio"].setdefault(name, [])
            files["blkio"][name].append(line)
    return files


def _v2_files(spec: "PodSpec") -> dict[str, str]:
    files: dict[str, str] = {}
    if spec.cpus:
        files["cpu.max"] = f"{int(spec.cpus * CPU_PERIOD)} {CPU_PERIOD}"
    if spec.cpu_shares:  # (runc's conversion of shares to a weight)
        files["cpu.weight"] = str(1 + ((spec.cpu_shares - 2) * 9999) // 262142)
    if spec.cpuset_cpus:
        files["cpuset.cpus"] = spec.cpuset_cpus
    if spec.cpuset_mems:
        files["cpuset.mems"] = spec.cpuset_mems
    if spec.memory:
        files["memory.max"] = str(spec.memory)
    if spec.memory_swap:
        files["memory.swap.max"] = "max" if spec.memory_swap == -1 else str(spec.memory_swap - (spec.memory or 0))
    io = {}
    for key, lines in (("rbps", _devices(spec.device_read_bps, "--device-read-bps")),
                       ("wbps", _devices(spec.device_write_bps, "--device-write-bps"))):
        for line in lines:
            device, value = line.split()
            io.setdefault(device, []).append(f"{key}={value}")
    if io:
        files["io.max"] = [f"{device} {' '.join(values)}" for device, values in io.items()]
    return files


def _mounts():
    """cgroupstats.cgroup_mounts(), with the v1 cpuset hierarchy too (which stats do not read)."""
    from pyctr.linux import cgroupstats

    v1, v2 = cgroupstats.cgroup_mounts()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            before, _, after = line.partition(" - ")
            fields, tail = before.split(), after.split()
            if len(tail) >= 3 and tail[0] == "cgroup" and "cpuset" in tail[2].split(","):
                v1.setdefault("cpuset", (fields[4], fields[3]))
    return v1, v2


def _in(mount: tuple[str, str], path: str) -> str:
    return os.path.join(mount[0], path.lstrip("/"))


def _write(directory: str, files: dict) -> None:
    os.makedirs(directory, exist_ok=True)
    for name, text in files.items():
        for line in text if isinstance(text, list) else [text]:
            with open(os.path.join(directory, name), "w") as f:
                f.write(line)


def _inherit_cpuset(root: str, directory: str) -> None:
    """cgroup v1's cpuset: a new directory has no CPUs nor memory nodes; each level takes its parent's."""
    parts = os.path.relpath(directory, root).split(os.sep)
    parent = root
    for part in parts:
        current = os.path.join(parent, part)
        os.makedirs(current, exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            with open(os.path.join(current, name)) as f:
                empty = not f.read().strip()
            if empty:
                with open(os.path.join(parent, name)) as f:
                    value = f.read().strip()
                with open(os.path.join(current, name), "w") as f:
                    f.write(value)
        parent = current


def _enable_controllers(root: str, directory: str) -> None:
    """cgroup v2: cpu, cpuset, memory and io delegated down to `directory` (each ancestor's subtree_control)."""
    os.makedirs(directory, exist_ok=True)
    ancestors, parent = [], os.path.dirname(directory)
    while parent.startswith(root):
        ancestors.append(parent)
        if parent == root:
            break
        parent = os.path.dirname(parent)
    for ancestor in reversed(ancestors):
        for controller in ("+cpu", "+cpuset", "+memory", "+io"):
            try:
                with open(os.path.join(ancestor, "cgroup.subtree_control"), "w") as f:
                    f.write(controller)
            except OSError:
                pass  # (already enabled, or not available: the limit's write says so)
