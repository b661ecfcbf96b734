"""The parts of `inspect` that show run/create's finer options, with podman 4.3.1's keys and zero values."""

from __future__ import annotations


def config_extras(spec) -> dict:
    """Config's keys for the process options."""
    process = spec.process
    return {"Umask": process.umask or "0022", "Timeout": process.timeout, "Timezone": process.tz or "",
            "Passwd": spec.storage.passwd, "sdNotifyMode": spec.lifecycle.sdnotify,
            **({"ChrootDirs": list(spec.storage.chrootdirs)} if spec.storage.chrootdirs else {})}


def host_config_extras(spec) -> dict:
    """HostConfig's keys for namespaces and cgroup tuning."""
    r, ns = spec.resources, spec.namespaces

    def mode(value: str, default: str) -> str:
        return value or default

    return {
        "CpuShares": r.cpu_shares or 0, "CpuPeriod": r.cpu_period or 0, "CpuQuota": r.cpu_quota or 0,
        "CpuRealtimePeriod": r.cpu_rt_period or 0, "CpuRealtimeRuntime": r.cpu_rt_runtime or 0,
        "CpusetCpus": r.cpuset_cpus or "", "CpusetMems": r.cpuset_mems or "",
        "MemoryReservation": r.memory_reservation or 0, "MemorySwap": r.memory_swap or 0,
        "MemorySwappiness": -1 if r.memory_swappiness is None else r.memory_swappiness,
        "OomKillDisable": r.oom_kill_disable, "OomScoreAdj": spec.process.oom_score_adj or 0,
        "BlkioWeight": r.blkio_weight or 0, "CgroupParent": r.cgroup_parent or "",
        "Cgroups": "default" if r.cgroups == "enabled" else r.cgroups, "CgroupMode": mode(ns.cgroupns, "host"),
        "PidMode": mode(ns.pid, "private"), "IpcMode": mode(ns.ipc, "shareable"), "UTSMode": mode(ns.uts, "private"),
        "UsernsMode": ns.userns, "PublishAllPorts": spec.network.publish_all,
        "VolumesFrom": list(spec.storage.volumes_from) or None,
        **({"Sysctls": dict(ns.sysctls)} if ns.sysctls else {}),
    }


def top_extras(spec) -> dict:
    """Top-level keys: pid files and the containers this one depends on."""
    from pyctr.container.ocimap import dependencies

    return {"ConmonPidFile": spec.lifecycle.conmon_pidfile or "", "PidFile": spec.lifecycle.pidfile or "",
            "Dependencies": dependencies(spec)}
