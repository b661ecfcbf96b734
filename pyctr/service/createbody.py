"""The Docker API's container create body (Config + HostConfig + NetworkingConfig) -> the engine's
ContainerSpec. What a client sets that pyctr does not do is refused with one clear message."""

from __future__ import annotations

from pyctr.errors import InvalidArgument

# HostConfig fields pyctr does not do yet: refused when set to anything but their zero value.
_NOT_BUILT = ("VolumeDriver", "Isolation", "Runtime", "CpuCount", "CpuPercent", "IOMaximumIOps",
              "IOMaximumBandwidth", "KernelMemory", "KernelMemoryTCP", "Links")


def spec_from_body(body: dict, name: str | None):
    """`name`: the `name` query parameter (None: a generated name)."""
    from pyctr.container import flags, mountopts
    from pyctr.container.spec import ContainerSpec, ImageSpec, PortMapping

    if not isinstance(body, dict) or not body.get("Image"):
        raise InvalidArgument("Config cannot be empty in order to create a container: an image is required")
    host = body.get("HostConfig") or {}
    for key in _NOT_BUILT:
        if host.get(key):
            raise InvalidArgument(f"HostConfig.{key} is not supported by pyctr")
    # The Docker API never pulls at create: a missing image is a 404 and the client pulls it.
    spec = ContainerSpec(ImageSpec(body["Image"], pull="never"))
    process = spec.process
    if body.get("Cmd"):
        process.command = _strings(body["Cmd"])
    entrypoint = body.get("Entrypoint")
    if entrypoint is not None:
        entrypoint = _strings(entrypoint)
        process.entrypoint = [] if entrypoint in ([], [""]) else entrypoint
    process.env = _env(body.get("Env") or [])
    process.workdir = body.get("WorkingDir") or None
    process.user = body.get("User") or None
    process.tty, process.stdin = bool(body.get("Tty")), bool(body.get("OpenStdin"))
    process.init = bool(host.get("Init"))
    process.stop_signal = body.get("StopSignal") or None
    if body.get("StopTimeout") is not None:
        process.stop_timeout = int(body["StopTimeout"])
    storage = spec.storage
    storage.mounts = [mountopts.parse_volume(b) for b in host.get("Binds") or []]
    storage.mounts += [_mount(m) for m in host.get("Mounts") or []]
    storage.mounts += [mountopts.parse_tmpfs(f"{path}:{opts}" if opts else path)
                       for path, opts in (host.get("Tmpfs") or {}).items()]
    storage.read_only = bool(host.get("ReadonlyRootfs"))
    storage.shm_size = host.get("ShmSize") or None
    storage.volumes_from = list(host.get("VolumesFrom") or [])
    storage.devices = [flags.device(":".join(filter(None, (d.get("PathOnHost"), d.get("PathInContainer"),
                                                           d.get("CgroupPermissions")))))
                       for d in host.get("Devices") or []]
    security = spec.security
    security.privileged = bool(host.get("Privileged"))
    security.cap_add, security.cap_drop = list(host.get("CapAdd") or []), list(host.get("CapDrop") or [])
    flags.security_options(list(host.get("SecurityOpt") or []), security)
    security.groups = flags.supplementary_groups(list(host.get("GroupAdd") or []))
    resources = spec.resources
    resources.memory = host.get("Memory") or None
    resources.memory_reservation = host.get("MemoryReservation") or None
    resources.memory_swap = host.get("MemorySwap") or None
    if host.get("NanoCpus"):
        resources.cpus = host["NanoCpus"] / 1e9
    resources.cpu_shares = host.get("CpuShares") or None
    resources.cpu_period, resources.cpu_quota = host.get("CpuPeriod") or None, host.get("CpuQuota") or None
    resources.cpuset_cpus, resources.cpuset_mems = host.get("CpusetCpus") or None, host.get("CpusetMems") or None
    resources.pids_limit = host.get("PidsLimit") or None
    resources.ulimits = [f"{u['Name']}={u['Soft']}:{u['Hard']}" for u in host.get("Ulimits") or []]
    resources.oom_kill_disable = bool(host.get("OomKillDisable"))
    network = spec.network
    network.hostname = body.get("Hostname") or None
    network.mode, network.networks = _network(host.get("NetworkMode") or "", body.get("NetworkingConfig") or {})
    network.ports = [PortMapping(int(binding.get("HostPort") or 0), int(port.split("/")[0]),
                                 port.partition("/")[2] or "tcp", binding.get("HostIp") or "")
                     for port, bindings in (host.get("PortBindings") or {}).items() for binding in bindings or [{}]]
    # (an empty HostPort is Docker's "any free port": host_port 0, which the engine fills in)
    network.expose = flags.expose(list((body.get("ExposedPorts") or {}).keys()))
    network.publish_all = bool(host.get("PublishAllPorts"))
    network.add_hosts = list(host.get("ExtraHosts") or [])
    network.dns, network.dns_search = list(host.get("Dns") or []), list(host.get("DnsSearch") or [])
    network.dns_options = list(host.get("DnsOptions") or [])
    namespaces = spec.namespaces
    namespaces.pid, namespaces.ipc = host.get("PidMode") or "", host.get("IpcMode") or ""
    namespaces.uts, namespaces.userns = host.get("UTSMode") or "", host.get("UsernsMode") or ""
    namespaces.sysctls = dict(host.get("Sysctls") or {})
    lifecycle = spec.lifecycle
    lifecycle.name = name or None
    lifecycle.remove = bool(host.get("AutoRemove"))
    restart = host.get("RestartPolicy") or {}
    if restart.get("Name"):
        count = restart.get("MaximumRetryCount") or 0
        lifecycle.restart = flags.restart_policy(restart["Name"] + (f":{count}" if count else ""))
    lifecycle.labels = dict(body.get("Labels") or {})
    log = (host.get("LogConfig") or {}).get("Type") or ""
    if log in ("none", "k8s-file", "json-file"):
        lifecycle.log_driver = "k8s-file" if log == "json-file" else log
    elif log:
        raise InvalidArgument(f"log driver {log!r} is not supported: json-file, k8s-file or none")
    lifecycle.create_command = []
    health = body.get("Healthcheck")
    if health and health.get("Test") and health["Test"][0] != "NONE":
        from pyctr.container.spec import HealthSpec

        spec.health = HealthSpec(test=list(health["Test"]),  # (Docker's form: CMD ... or CMD-SHELL text)
                                 interval=_seconds(health.get("Interval")), timeout=_seconds(health.get("Timeout")),
                                 start_period=_seconds(health.get("StartPeriod")), retries=health.get("Retries") or None)
    spec.validate()
    return spec


def _seconds(nanoseconds) -> float | None:
    return nanoseconds / 1e9 if nanoseconds else None


def _strings(value) -> list[str]:
    if isinstance(value, str):
        import shlex

        return shlex.split(value)
    return [str(v) for v in value]


def _env(items: list[str]) -> dict[str, str]:
    env = {}
    for item in items:
        key, eq, val = item.partition("=")
        if eq:
            env[key] = val
    return env


def _mount(m: dict):
    from pyctr.container import mountopts

    kind = (m.get("Type") or "volume").lower()
    parts = [f"type={kind}", f"destination={m.get('Target', '')}"]
    if m.get("Source"):
        parts.append(f"source={m['Source']}")
    if m.get("ReadOnly"):
        parts.append("ro")
    if kind == "tmpfs" and (m.get("TmpfsOptions") or {}).get("SizeBytes"):
        parts.append(f"tmpfs-size={m['TmpfsOptions']['SizeBytes']}")
    return mountopts.parse_mount(",".join(parts))


def _network(mode: str, networking: dict):
    """Docker's NetworkMode and EndpointsConfig -> (the spec's mode, the networks to join)."""
    from pyctr.container.spec import NetworkAttachment

    default = ("", "default", "bridge")  # Docker's names of the default network
    endpoints = {("" if n in default else n): c for n, c in (networking.get("EndpointsConfig") or {}).items()}
    if mode in default and not any(endpoints) and not any(endpoints.values()):
        return None, []
    if mode in ("host", "none") or mode.startswith("container:") or mode.startswith("ns:"):
        return mode, []
    names = [mode] if mode not in default else []
    names += [n for n in endpoints if n and n not in names]
    names = names or [""]
    attachments = []
    for name in names:
        config = endpoints.get(name) or {}
        attachment = NetworkAttachment(name, aliases=list(config.get("Aliases") or []))
        ipam = config.get("IPAMConfig") or {}
        attachment.ips = [ip for ip in (ipam.get("IPv4Address"), ipam.get("IPv6Address")) if ip]
        attachment.mac = config.get("MacAddress") or ""
        attachments.append(attachment)
    return "bridge", attachments
