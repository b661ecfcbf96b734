"""run and create's container spec from their parsed flags, without typer.

Used by the typer commands (pyctr.cli.run) and by the fast path's `run` (pyctr.cli.fast),
which parses a few common flags by hand and starts from RUN_DEFAULTS: the value of every
other flag when it is not given. tests/test_fast_path.py holds RUN_DEFAULTS equal to what
typer parses from `run IMAGE`.
"""

import os
import sys

# Every run/create parameter as typer gives it when the flag is absent (but `image`).
RUN_DEFAULTS = {"command": (), "detach": False, "interactive": False, "tty": False, "rm": False, "name": None,
    "env": (), "env_file": (), "workdir": None, "user": None, "entrypoint": None, "hostname": None, "volume": (),
    "mount": (), "tmpfs": (), "read_only": False, "cap_add": (), "cap_drop": (), "privileged": False,
    "security_opt": (), "ulimit": (), "init": False, "stop_signal": None, "stop_timeout": None, "cidfile": None,
    "replace": False, "label": (), "annotation": (), "log_opt": (), "log_driver": "k8s-file", "pull": "missing",
    "network": (), "publish": (), "add_host": (), "shm_size": None, "memory": None, "cpus": None, "pids_limit": None,
    "device": (), "secret": (), "dns": (), "dns_search": (), "dns_option": (), "group_add": (), "restart": "no",
    "platform": None, "arch": None, "os_": None, "variant": None, "attach_streams": (), "timeout": 0, "expose": (),
    "publish_all": False, "pid": None, "ipc": None, "uts": None, "cgroupns": None, "userns": None, "uidmap": (),
    "gidmap": (), "subuidname": None, "subgidname": None, "sysctl": (), "cpu_shares": None, "cpu_period": None,
    "cpu_quota": None, "cpu_rt_period": None, "cpu_rt_runtime": None, "cpuset_cpus": None, "cpuset_mems": None,
    "memory_reservation": None, "memory_swap": None, "memory_swappiness": None, "oom_kill_disable": False,
    "oom_score_adj": None, "blkio_weight": None, "blkio_weight_device": (), "device_read_bps": (),
    "device_write_bps": (), "device_read_iops": (), "device_write_iops": (), "device_cgroup_rule": (),
    "cgroup_conf": (), "cgroup_parent": None, "cgroups": "enabled", "umask": None, "tz": None, "env_host": False,
    "env_merge": (), "http_proxy": True, "unsetenv": (), "unsetenv_all": False, "label_file": (), "volumes_from": (),
    "image_volume": "bind", "read_only_tmpfs": True, "requires": (), "pidfile": None, "conmon_pidfile": None,
    "rootfs": False, "systemd": "true", "sdnotify": "container", "seccomp_policy": "default", "personality": None,
    "init_path": None, "no_hosts": False, "passwd": True, "passwd_entry": None, "hostuser": (), "chrootdirs": (),
    "preserve_fds": 0, "disable_content_trust": False, "pod": None, "pod_id_file": None, "ip": None, "ip6": None,
    "mac_address": None, "network_alias": (), "health_cmd": None, "health_interval": "30s", "health_retries": 3,
    "health_timeout": "30s", "health_start_period": "0s", "health_on_failure": "none", "no_healthcheck": False,
    "tls_verify": None, "authfile": None, "quiet": False, "sig_proxy": True, "detach_keys": "ctrl-p,ctrl-q",
    "rmi": False}


def spec_from_params(params: dict):
    """The container spec from run/create's flags (one line per flag)."""
    from pyctr.container import flags, logdriver, mountopts
    from pyctr.container.spec import ContainerSpec, ImageSpec

    flags.not_built(params)
    platform = flags.platform(params["platform"], params["os_"], params["arch"], params["variant"])
    image = os.path.abspath(params["image"]) if params["rootfs"] else params["image"]  # --rootfs: a directory
    spec = ContainerSpec(ImageSpec(image, pull=params["pull"], platform=platform,
                                   tls_verify=params["tls_verify"], authfile=params["authfile"], rootfs=params["rootfs"]))
    process = spec.process
    process.command = list(params["command"] or [])
    process.entrypoint = flags.entrypoint(params["entrypoint"])
    env_lines = [line for path in params["env_file"] for line in flags.env_file_lines(path)]
    process.env = flags.environment(env_lines + list(params["env"]))
    process.workdir, process.user = params["workdir"], params["user"]
    process.tty, process.stdin, process.init = params["tty"], params["interactive"], params["init"]
    process.stop_signal, process.stop_timeout = params["stop_signal"], params["stop_timeout"]
    process.init_path, process.env_host, process.http_proxy = params["init_path"], params["env_host"], params["http_proxy"]
    process.env_merge, process.unsetenv, process.unsetenv_all = list(params["env_merge"]), list(params["unsetenv"]), params["unsetenv_all"]
    process.umask, process.personality, process.oom_score_adj = params["umask"], params["personality"], params["oom_score_adj"]
    process.timeout, process.tz, process.systemd = params["timeout"], params["tz"], params["systemd"]
    storage = spec.storage
    storage.mounts = ([mountopts.parse_volume(v) for v in params["volume"]] + [mountopts.parse_mount(m) for m in params["mount"]]
                      + [mountopts.parse_tmpfs(t) for t in params["tmpfs"]])
    storage.read_only, storage.shm_size = params["read_only"], flags.size(params["shm_size"])
    storage.devices = [flags.device(d) for d in params["device"]]
    storage.read_only_tmpfs, storage.volumes_from = params["read_only_tmpfs"], list(params["volumes_from"])
    storage.image_volume, storage.no_hosts = params["image_volume"], params["no_hosts"]
    storage.passwd, storage.passwd_entry = params["passwd"] is not False, params["passwd_entry"]
    storage.hostusers, storage.chrootdirs = list(params["hostuser"]), list(params["chrootdirs"])
    if params["secret"]:
        from pyctr.container import secrets

        storage.secrets = [secrets.parse_flag(s) for s in params["secret"]]
    security = spec.security
    security.privileged, security.cap_add, security.cap_drop = params["privileged"], list(params["cap_add"]), list(params["cap_drop"])
    flags.security_options(list(params["security_opt"]), security)
    security.groups = flags.supplementary_groups(list(params["group_add"]))
    security.seccomp_policy = params["seccomp_policy"]
    resources = spec.resources
    resources.memory, resources.cpus, resources.ulimits = flags.size(params["memory"]), params["cpus"], list(params["ulimit"])
    resources.pids_limit = params["pids_limit"]
    resources.cpu_shares, resources.cpu_period, resources.cpu_quota = params["cpu_shares"], params["cpu_period"], params["cpu_quota"]
    resources.cpu_rt_period, resources.cpu_rt_runtime = params["cpu_rt_period"], params["cpu_rt_runtime"]
    resources.cpuset_cpus, resources.cpuset_mems = params["cpuset_cpus"], params["cpuset_mems"]
    resources.memory_reservation = flags.size(params["memory_reservation"], "memory")
    resources.memory_swap = flags.size(params["memory_swap"], "memory")
    resources.memory_swappiness, resources.oom_kill_disable = params["memory_swappiness"], params["oom_kill_disable"]
    resources.blkio_weight, resources.blkio_weight_devices = params["blkio_weight"], list(params["blkio_weight_device"])
    resources.device_read_bps = [flags.throttle_rate(t) for t in params["device_read_bps"]]
    resources.device_write_bps = [flags.throttle_rate(t) for t in params["device_write_bps"]]
    resources.device_read_iops, resources.device_write_iops = list(params["device_read_iops"]), list(params["device_write_iops"])
    resources.device_cgroup_rules = list(params["device_cgroup_rule"])
    resources.cgroup_conf = flags.cgroup_conf(list(params["cgroup_conf"]))
    resources.cgroup_parent, resources.cgroups = params["cgroup_parent"], params["cgroups"]
    network = spec.network
    network.mode, network.networks = flags.networks(list(params["network"]), ip=params["ip"], ip6=params["ip6"],
                                                    mac=params["mac_address"], aliases=list(params["network_alias"]))
    network.hostname = params["hostname"]
    network.ports = [port for text in params["publish"] for port in flags.publish(text)]
    network.add_hosts = list(params["add_host"])
    network.dns, network.dns_search, network.dns_options = list(params["dns"]), list(params["dns_search"]), list(params["dns_option"])
    network.expose, network.publish_all = flags.expose(list(params["expose"])), params["publish_all"]
    namespaces = spec.namespaces
    namespaces.pid, namespaces.ipc, namespaces.uts = params["pid"] or "", params["ipc"] or "", params["uts"] or ""
    namespaces.cgroupns, namespaces.userns = params["cgroupns"] or "", params["userns"] or ""
    namespaces.uidmap, namespaces.gidmap = list(params["uidmap"]), list(params["gidmap"])
    namespaces.subuidname, namespaces.subgidname = params["subuidname"], params["subgidname"]
    namespaces.sysctls = flags.sysctls(list(params["sysctl"]))
    lifecycle = spec.lifecycle
    lifecycle.name, lifecycle.remove, lifecycle.restart = params["name"], params["rm"], flags.restart_policy(params["restart"])
    label_lines = [line for path in params["label_file"] for line in flags.label_file_lines(path)]
    lifecycle.labels = flags.key_values(label_lines + list(params["label"]), "label")
    lifecycle.requires, lifecycle.sdnotify = flags.requires(list(params["requires"])), params["sdnotify"]
    lifecycle.pod = flags.pod(params["pod"], params["pod_id_file"])
    lifecycle.pidfile = os.path.abspath(params["pidfile"]) if params["pidfile"] else None
    lifecycle.conmon_pidfile = os.path.abspath(params["conmon_pidfile"]) if params["conmon_pidfile"] else None
    lifecycle.annotations = flags.key_values(list(params["annotation"]), "annotation")
    lifecycle.log_max_size = flags.log_max_size(list(params["log_opt"]))
    log_options = logdriver.log_options(list(params["log_opt"]))
    lifecycle.log_driver, lifecycle.log_path, lifecycle.log_tag = params["log_driver"], log_options.get("path"), log_options.get("tag")
    lifecycle.create_command = ["pyctr", *sys.argv[1:]]
    from pyctr.container import health

    spec.health = health.from_flags(params["health_cmd"], params["health_interval"], params["health_retries"],
                                    params["health_timeout"], params["health_start_period"],
                                    params["health_on_failure"], params["no_healthcheck"])
    return spec
