"""The parts of a container's `inspect` that show run/create's options (HostConfig, caps, mounts,
ports, the process's environment), with podman 4.3.1's keys, order, types and zero values."""

from __future__ import annotations

TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)

if TYPE_CHECKING:
    from pyctr.container.store import ContainerRecord
    from pyctr.engine.containertypes import ContainerInfo

_PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave", "runbindable", "unbindable")
_LABEL_MODES = ("z", "Z")


def config_extras(spec) -> dict:
    """Config's keys after CreateCommand (Secrets go after Umask: views._add_secrets)."""
    process = spec.process
    return {**({"Timezone": process.tz} if process.tz else {}),
            "Umask": process.umask or "0022", "Timeout": process.timeout}


def config_tail(spec) -> dict:
    """Config's last keys, after StopTimeout."""
    return {"Passwd": spec.storage.passwd, **({"ChrootDirs": list(spec.storage.chrootdirs)} if spec.storage.chrootdirs else {}),
            "sdNotifyMode": spec.lifecycle.sdnotify}


def entrypoint_and_cmd(record: "ContainerRecord") -> tuple[str, list[str]]:
    """Config.Entrypoint (podman 4.3: one string, the words joined) and Config.Cmd (the rest)."""
    entrypoint = record.spec.process.entrypoint
    if entrypoint is None:
        entrypoint = list(record.image_config.get("Entrypoint") or [])
    args = list(record.args)
    if args[:len(entrypoint)] != entrypoint:
        entrypoint = []
    return " ".join(entrypoint), args[len(entrypoint):]


def process_env(record: "ContainerRecord") -> list[str]:
    """The environment the process gets (the defaults pyctr adds, as the OCI mapping does; HOME comes
    from the user's passwd entry at start, so it shows only when set)."""
    from pyctr.runtime.spec import SpecOptions, with_env

    spec = record.spec
    oci: dict = {"process": {}}
    with_env(oci, SpecOptions(rootfs="/", args=[], env=list(record.env), hostname=record.hostname,
                              terminal=spec.process.tty, unset_env=list(spec.process.unsetenv),
                              unset_all_env=spec.process.unsetenv_all))
    return oci["process"]["env"]


def annotations(record: "ContainerRecord") -> dict:
    """Config.Annotations: those the OCI mapping gives the runtime (pyctr's own, then the user's)."""
    from pyctr.runtime.spec import SpecOptions, with_annotations

    oci: dict = {}
    with_annotations(oci, SpecOptions(rootfs="/", args=[], stop_signal=record.stop_signal,
                                      annotations=dict(record.spec.lifecycle.annotations)))
    return oci["annotations"]


def stop_signal_number(name: str) -> int:
    """Config.StopSignal: podman shows the number (RTMIN+3 too: 37)."""
    from pyctr.errors import PyctrError
    from pyctr.signals import parse_signal

    try:
        return parse_signal(name)
    except PyctrError:
        return 15  # a record from before the spec checked its signal


def capabilities(record: "ContainerRecord") -> tuple[list[str], list[str]]:
    """(EffectiveCaps, BoundingCaps) as the OCI mapping gives them: root holds the whole set, another
    user only what --cap-add named."""
    from pyctr.errors import PyctrError
    from pyctr.runtime.spec import capability_set

    security = record.spec.security
    try:
        caps, explicit = capability_set(list(security.cap_add), list(security.cap_drop), security.privileged)
    except PyctrError:
        return [], []
    user = (record.user or "").partition(":")[0]
    return (list(caps) if user in ("", "0", "root") else list(explicit)), list(caps)


def _split_options(options: list[str]) -> tuple[bool, str, str, list[str]]:
    """(read-write, propagation, label mode, the other options) of an OCI mount's options."""
    rw = "ro" not in options
    propagation = next((o for o in options if o in _PROPAGATIONS), "")
    mode = next((o for o in options if o in _LABEL_MODES), "")
    rest = [o for o in options if o not in ("ro", "rw") and o not in _PROPAGATIONS and o not in _LABEL_MODES]
    return rw, propagation, mode, rest


def mounts(record: "ContainerRecord") -> list[dict]:
    """Mounts: binds and volumes (tmpfs ones are HostConfig.Tmpfs), podman's InspectMount."""
    shown = []
    for m in record.mounts:
        if m.get("type") == "tmpfs":
            continue
        rw, propagation, mode, rest = _split_options(list(m.get("options") or []))
        volume = m.get("volume_name")
        shown.append({"Type": "volume" if volume else m.get("type", "bind"), **({"Name": volume} if volume else {}),
                      "Source": m.get("source", ""), "Destination": m.get("destination", ""),
                      "Driver": "local" if volume else "", "Mode": mode, "Options": rest, "RW": rw,
                      "Propagation": propagation})
    return shown


def _binds(record: "ContainerRecord") -> list[str]:
    """HostConfig.Binds: SOURCE:DEST:MODE,rw|ro,PROPAGATION,OPTIONS (a volume by its name)."""
    binds = []
    for m in record.mounts:
        if m.get("type") == "tmpfs":
            continue
        rw, propagation, mode, rest = _split_options(list(m.get("options") or []))
        flags = [*([mode] if mode else []), "rw" if rw else "ro", *([propagation] if propagation else []), *rest]
        binds.append(f"{m.get('volume_name') or m.get('source', '')}:{m.get('destination', '')}:{','.join(flags)}")
    return binds


def _tmpfs(record: "ContainerRecord") -> dict:
    """HostConfig.Tmpfs: DEST -> options, with --read-only's own tmpfs mounts."""
    from pyctr.runtime.spec import READ_ONLY_TMPFS

    spec = record.spec
    shown = {}
    if spec.storage.read_only and spec.storage.read_only_tmpfs:
        shown = {d: "rw,rprivate,nosuid,nodev,tmpcopyup" for d in READ_ONLY_TMPFS}
    for m in record.mounts:
        if m.get("type") == "tmpfs":
            options = list(m.get("options") or [])
            shown[m.get("destination", "")] = ",".join(options if "rw" in options or "ro" in options else ["rw", *options])
    return dict(sorted(shown.items()))


def port_bindings(record: "ContainerRecord") -> dict:
    """HostConfig.PortBindings and NetworkSettings.Ports: "PORT/PROTO" -> [{HostIp, HostPort}]."""
    bindings: dict[str, list] = {}
    for p in record.ports:
        bindings.setdefault(f"{p.container_port}/{p.protocol}", []).append(
            {"HostIp": p.host_ip, "HostPort": str(p.host_port)})
    return bindings


def _ulimits(spec) -> list[dict]:
    """HostConfig.Ulimits: the rlimits the OCI mapping sets when --ulimit asks for any."""
    from pyctr.errors import PyctrError
    from pyctr.runtime.spec import SpecOptions, parse_ulimit, with_rlimits

    if not spec.resources.ulimits:
        return []
    oci: dict = {"process": {}}
    try:
        with_rlimits(oci, SpecOptions(rootfs="/", args=[], ulimits=list(spec.resources.ulimits)))
        limits = [(r["type"], r["soft"], r["hard"]) for r in oci["process"]["rlimits"]]
    except PyctrError:  # above this host's hard limit: refused at start; shown as asked
        limits = [parse_ulimit(text) for text in spec.resources.ulimits if text != "host"]
    return [{"Name": name, "Soft": soft, "Hard": hard} for name, soft, hard in limits]


def _security_opt(spec) -> list[str]:
    security = spec.security
    return [*(["no-new-privileges"] if security.no_new_privileges else []),
            *(["label=" + ",label=".join(security.labels)] if security.labels else []),  # podman's one joined entry
            *([f"seccomp={security.seccomp}"] if security.seccomp != "default" else []),
            *([f"apparmor={security.apparmor}"] if security.apparmor else [])]


def _throttle(items: list[str], key: str) -> list[dict] | None:
    """BlkioWeightDevice / BlkioDevice*: DEVICE:VALUE entries as podman's {Path, Weight|Rate}."""
    if not items:
        return None
    shown = []
    for item in items:
        path, _, amount = item.rpartition(":")
        shown.append({"Path": path, key: int(amount) if amount.isdigit() else amount})
    return shown


def host_config(info: "ContainerInfo", log_config: dict) -> dict:
    """HostConfig, in podman's order."""
    from pyctr.container.ocimap import DEFAULT_SHM_SIZE
    from pyctr.runtime.spec import CPU_PERIOD, parse_cap

    record = info.record
    spec = record.spec
    r, ns, net = spec.resources, spec.namespaces, spec.network
    cpu_period = r.cpu_period or (CPU_PERIOD if r.cpus else 0)
    cpu_quota = r.cpu_quota or (int(r.cpus * CPU_PERIOD) if r.cpus else 0)

    def caps(names: list[str]) -> list[str]:
        return [parse_cap(name) for name in names]

    return {
        "Binds": _binds(record), "CgroupManager": "cgroupfs", "CgroupMode": ns.cgroupns or "host",
        "ContainerIDFile": "", "LogConfig": log_config, "NetworkMode": record.network,
        "PortBindings": port_bindings(record),
        "RestartPolicy": {"Name": "" if spec.lifecycle.restart.name == "no" else spec.lifecycle.restart.name,
                          "MaximumRetryCount": spec.lifecycle.restart.max_retries},
        "AutoRemove": record.remove, "VolumeDriver": "", "VolumesFrom": list(spec.storage.volumes_from) or None,
        "CapAdd": caps(spec.security.cap_add), "CapDrop": caps(spec.security.cap_drop),
        "Dns": list(net.dns), "DnsOptions": list(net.dns_options), "DnsSearch": list(net.dns_search),
        "ExtraHosts": list(net.add_hosts), "GroupAdd": list(spec.security.groups),
        "IpcMode": ns.ipc or "shareable", "Cgroup": "", "Cgroups": "default" if r.cgroups == "enabled" else r.cgroups,
        "Links": None, "OomScoreAdj": spec.process.oom_score_adj or 0, "PidMode": ns.pid or "private",
        "Privileged": spec.security.privileged, "PublishAllPorts": net.publish_all,
        "ReadonlyRootfs": spec.storage.read_only, "SecurityOpt": _security_opt(spec), "Tmpfs": _tmpfs(record),
        "UTSMode": ns.uts or "private", "UsernsMode": ns.userns, "ShmSize": spec.storage.shm_size or DEFAULT_SHM_SIZE,
        "Runtime": "oci", "ConsoleSize": [0, 0], "Isolation": "", "CpuShares": r.cpu_shares or 0,
        "Memory": r.memory or 0, "NanoCpus": int(round(r.cpus * 1e9)) if r.cpus else 0,
        "CgroupParent": r.cgroup_parent or "", "BlkioWeight": r.blkio_weight or 0,
        "BlkioWeightDevice": _throttle(r.blkio_weight_devices, "Weight"),
        "BlkioDeviceReadBps": _throttle(r.device_read_bps, "Rate"),
        "BlkioDeviceWriteBps": _throttle(r.device_write_bps, "Rate"),
        "BlkioDeviceReadIOps": _throttle(r.device_read_iops, "Rate"),
        "BlkioDeviceWriteIOps": _throttle(r.device_write_iops, "Rate"),
        "CpuPeriod": cpu_period, "CpuQuota": cpu_quota,
        "CpuRealtimePeriod": r.cpu_rt_period or 0, "CpuRealtimeRuntime": r.cpu_rt_runtime or 0,
        "CpusetCpus": r.cpuset_cpus or "", "CpusetMems": r.cpuset_mems or "",
        "Devices": [{"PathOnHost": d.source, "PathInContainer": d.destination or d.source,
                     "CgroupPermissions": d.permissions} for d in spec.storage.devices],
        "DiskQuota": 0, "KernelMemory": 0, "MemoryReservation": r.memory_reservation or 0,
        "MemorySwap": r.memory_swap or 0,
        "MemorySwappiness": -1 if r.memory_swappiness is None else r.memory_swappiness,
        "OomKillDisable": r.oom_kill_disable, **({"Init": True} if spec.process.init else {}),
        "PidsLimit": record.pids_limit, "Ulimits": _ulimits(spec), "CpuCount": 0, "CpuPercent": 0,
        "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "CgroupConf": dict(r.cgroup_conf) or None,
    }


def network_settings(record: "ContainerRecord", info: "ContainerInfo") -> dict:
    """NetworkSettings: the published ports, and per bridge network its address (while it runs);
    the top-level address fields are the default network's, as podman's."""
    networks = {name: {**_endpoint(info.network_status.get(name) or {}), "NetworkID": name, "DriverOpts": None,
                       "IPAMConfig": None, "Links": None,
                       "Aliases": [*attachment.get("aliases", []), record.id[:12]]}
                for name, attachment in sorted(record.networks.items())}
    top = _endpoint({})
    if info.network_status:  # running on a bridge (network.config, with hashlib, only then)
        from pyctr.network.config import DEFAULT_NAME

        # podman fills them only when the default network is the container's one network
        top = _endpoint(info.network_status.get(DEFAULT_NAME) or {} if list(record.networks) == [DEFAULT_NAME] else {})
    return {"EndpointID": "", **top, "Bridge": "", "SandboxID": "",
            "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "Ports": port_bindings(record), "SandboxKey": info.netns_path, "Networks": networks}


def _endpoint(answer: dict) -> dict:
    """Gateway, IPAddress, IPPrefixLen, the IPv6 ones and MacAddress from netavark's answer for one network."""
    result = {"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
              "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": ""}
    for interface in (answer.get("interfaces") or {}).values():
        result["MacAddress"] = result["MacAddress"] or interface.get("mac_address", "")
        for subnet in interface.get("subnets") or []:
            address, _, prefix = subnet.get("ipnet", "").partition("/")
            v6 = ":" in address
            if address and not result["GlobalIPv6Address" if v6 else "IPAddress"]:
                result.update({"GlobalIPv6Address": address, "GlobalIPv6PrefixLen": int(prefix or 0),
                               "IPv6Gateway": subnet.get("gateway", "")} if v6 else
                              {"IPAddress": address, "IPPrefixLen": int(prefix or 0), "Gateway": subnet.get("gateway", "")})
    return result


def graph_driver(info: "ContainerInfo") -> dict:
    """GraphDriver: the overlay's directories (MergedDir while it is mounted)."""
    return {"Name": "overlay", "Data": dict(info.graph_driver)}


def pid_files(spec) -> dict:
    """ConmonPidFile and PidFile (the shim's and the container's pid files, when asked for)."""
    return {"ConmonPidFile": spec.lifecycle.conmon_pidfile or "", "PidFile": spec.lifecycle.pidfile or ""}


def dependencies(spec) -> list[str]:
    """The containers this one depends on (--requires, shared namespaces, --volumes-from)."""
    from pyctr.container.ocimap import dependencies as of_spec

    return of_spec(spec)
