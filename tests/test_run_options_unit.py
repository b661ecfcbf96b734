"""run/create's finer options, pure parts: flag parsing, the spec's checks (podman 4.3.1's error texts,
recorded side by side), and their OCI mapping (compared with the config.json podman writes)."""

from __future__ import annotations

import pytest

from pyctr.container import flags, ocimap
from pyctr.container.create import merge_env, systemd_mode
from pyctr.container.spec import ContainerSpec, ProcessSpec
from pyctr.errors import InvalidArgument
from pyctr.runtime.spec import SpecOptions, generate

HOST = {"hard_limits": {"RLIMIT_NOFILE": 20000, "RLIMIT_NPROC": 4194304}, "machine": "x86_64", "host_caps": None}


def spec_with(**groups) -> ContainerSpec:
    spec = ContainerSpec.for_image("busybox")
    for path, value in groups.items():
        group, name = path.split("__")
        setattr(getattr(spec, group), name, value)
    return spec


# podman 4.3.1's answers to `podman create OPTION busybox true` (exit code 125 each).
PODMAN_ERRORS = [
    ({"namespaces__sysctls": {"foo.bar": "1"}}, "sysctl 'foo.bar' is not allowed"),
    ({"namespaces__sysctls": {"net.ipv4.ip_forward": "1"}, "network__mode": "host"},
     "sysctl net.ipv4.ip_forward=1 can't be set since Network Namespace set to host: invalid argument"),
    ({"namespaces__sysctls": {"kernel.hostname": "x"}, "namespaces__uts": "host"}, "sysctl 'kernel.hostname' is not allowed"),
    ({"process__umask": "999"}, "running container create option: invalid umask string 999: invalid argument"),
    ({"process__tz": "Foo/Bar"}, "running container create option: stat /usr/share/zoneinfo/Foo/Bar: no such file or directory"),
    ({"resources__cpuset_cpus": "abc"}, "invalid value abc for cpuset cpus"),
    ({"resources__cpu_quota": 500}, "CPU cfs quota cannot be less than 1ms (i.e. 1000)"),
    ({"resources__cpu_period": 500}, "CPU cfs period cannot be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
    ({"resources__memory_swap": 1 << 20}, "you should always set a memory limit when using a memoryswap limit, see usage"),
    ({"resources__memory_swap": 32 << 20, "resources__memory": 64 << 20},
     "minimum memoryswap limit should be larger than memory limit, see usage"),
    ({"resources__memory_swappiness": 101}, "invalid value: 101, valid memory swappiness range is 0-100"),
    ({"namespaces__pid": "foo"}, "unrecognized namespace mode foo passed"),
    ({"namespaces__ipc": "foo"}, "unrecognized namespace mode foo passed"),
    ({"namespaces__userns": "foo"}, "unrecognized namespace mode foo passed"),
    ({"lifecycle__sdnotify": "foo"},
     'invalid config provided: invalid argument: invalid sdnotify value "foo": must be container, conmon or ignore'),
    ({"security__seccomp_policy": "image"}, "no seccomp policy defined by image"),
    ({"security__seccomp_policy": "foo"}, 'invalid seccomp policy "foo": valid policies are ["default" "image"]'),
    ({"namespaces__uidmap": ["abc"]}, 'initializing ID mappings: UID setting is malformed expected ["uint32:uint32:uint32"]: ["abc"]'),
    ({"namespaces__subuidname": "h2-nonexistent"}, 'no subuid ranges found for user "h2-nonexistent" in /etc/subuid'),
    ({"resources__cgroups": "foo"}, 'running container create option: invalid cgroup mode "foo": invalid argument'),
    ({"resources__cgroups": "disabled"}, "requested OCI runtime runc is not compatible with NoCgroups: invalid argument"),
    ({"storage__image_volume": "foo"}, 'invalid image volume mode "foo" required value: bind, tmpfs, ignore'),
    ({"process__systemd": "foo"}, 'invalid config provided: --systemd values must be one of "true, false, always": invalid configuration'),
    ({"process__init": True, "process__init_path": "/nonexistent"},
     "container-init binary not found on the host: stat /nonexistent: no such file or directory"),
    ({"resources__device_read_bps": ["foo"]}, "bad format: foo"),
    ({"resources__device_read_bps": ["/dev/h2-none:1"]}, "could not parse throttle device at /dev/h2-none: no such file or directory"),
    ({"resources__blkio_weight_devices": ["/dev/h2-none:300"]},
     "failed to inspect '/dev/h2-none' in --blkio-weight-device: no such file or directory"),
    ({"resources__device_cgroup_rules": ["x"]}, 'invalid device cgroup rule requires type, major:Minor, and access rules: "x"'),
    ({"storage__no_hosts": True, "network__add_hosts": ["a:1.2.3.4"]}, "--no-hosts and --add-host cannot be set together"),
    ({"namespaces__userns": "host", "namespaces__uidmap": ["0:100000:65536"]},
     "--userns and --uidmap/--gidmap/--subuidname/--subgidname are mutually exclusive"),
    ({"resources__cpus": 1.0, "resources__cpu_quota": 5000}, "--cpu-quota and --cpus cannot be set together"),
    ({"resources__cpus": 1.0, "resources__cpu_period": 5000}, "--cpu-period and --cpus cannot be set together"),
    ({"resources__memory_reservation": 128 << 20, "resources__memory": 64 << 20},
     "minimum memory limit cannot be less than memory reservation limit, see usage"),
]


@pytest.mark.parametrize("groups,message", PODMAN_ERRORS, ids=[m[:40] for _, m in PODMAN_ERRORS])
def test_spec_errors_are_podmans(groups, message):
    with pytest.raises(InvalidArgument) as info:
        spec_with(**groups).validate()
    assert str(info.value).split("\n")[0] == message


def test_valid_options_pass():
    spec_with(namespaces__sysctls={"kernel.shmmax": "1", "net.ipv4.ip_forward": "1", "fs.mqueue.msg_max": "20"},
              namespaces__pid="host", namespaces__ipc="shareable", namespaces__uts="ns:/proc/1/ns/uts",
              process__umask="0027", process__tz="local", resources__cpu_quota=50000, resources__cpu_period=100000,
              resources__memory=64 << 20, resources__memory_swap=-1, resources__device_cgroup_rules=["c 1:3 rwm", "a *:* r"],
              resources__cgroups="no-conmon", process__systemd="always").validate()


@pytest.mark.parametrize("params,message", [
    ({"pod": "foo", "init_ctr": "always"}, "--init-ctr always: init containers of pods are not built yet"),
    ({"init_ctr": "always"}, "must specify pod value with init-ctr"),
])
def test_unbuilt_options_fail_clearly(params, message):
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(")", r"\)")):
        flags.not_built(params)


def test_flag_parsers():
    assert flags.expose(["80", "9000-9002/udp"]) == ["80/tcp", "9000/udp", "9001/udp", "9002/udp"]
    with pytest.raises(InvalidArgument, match="invalid range format for --expose: 80-70"):
        flags.expose(["80-70"])
    assert flags.sysctls(["net.a=1", "kernel.sem=1 2 3 4"]) == {"net.a": "1", "kernel.sem": "1 2 3 4"}
    with pytest.raises(InvalidArgument, match="nonsense is invalid, sysctl values must be in the form of KEY=VALUE"):
        flags.sysctls(["nonsense"])
    assert flags.throttle_rate("/dev/sda:1mb") == "/dev/sda:1048576"
    assert flags.attach_streams(["STDOUT", "stderr"]) == ("stdout", "stderr")
    assert flags.requires(["a,b", "c"]) == ["a", "b", "c"]
    assert flags.platform(None, None, "arm64", "v8") == "linux/arm64/v8"
    assert flags.platform("linux/amd64", "windows", None, None) == "windows/amd64"
    assert flags.size("32m", "memory") == 32 << 20
    with pytest.raises(InvalidArgument, match="invalid value for memory: invalid size: 'abc'"):
        flags.size("abc", "memory")


def test_label_file(tmp_path):
    path = tmp_path / "labels"
    path.write_text("# a comment\n\na=1\nb = 2\n")
    assert flags.label_file_lines(str(path)) == ["a=1", "b = 2"]
    with pytest.raises(InvalidArgument, match="unable to process labels: open /nonexistent: no such file or directory"):
        flags.label_file_lines("/nonexistent")


def test_environment_order():
    image_env = ["PATH=/usr/bin:/bin", "FROM_IMAGE=1"]
    caller = {"HOST_ONLY": "h", "HTTP_PROXY": "p", "FROM_IMAGE": "host"}
    plain = merge_env(image_env, {"A": "1"}, ProcessSpec(), caller)
    assert plain == ["PATH=/usr/bin:/bin", "FROM_IMAGE=1", "HTTP_PROXY=p", "A=1"]
    process = ProcessSpec(env_host=True, env_merge=["PATH=/x:${PATH}"], unsetenv=["A"])
    assert merge_env(image_env, {"A": "1"}, process, caller) == [
        "PATH=/x:/usr/bin:/bin", "FROM_IMAGE=host", "HOST_ONLY=h", "HTTP_PROXY=p"]
    assert merge_env(image_env, {"B": "2"}, ProcessSpec(unsetenv_all=True, http_proxy=False), caller) == ["B=2"]


def test_systemd_mode():
    spec = ContainerSpec.for_image("x")
    assert systemd_mode(spec, ["/sbin/init"]) and systemd_mode(spec, ["/usr/lib/systemd/systemd"])
    assert not systemd_mode(spec, ["sh"])
    spec.process.systemd = "always"
    assert systemd_mode(spec, ["sh"])
    spec.process.systemd = "false"
    assert not systemd_mode(spec, ["/sbin/init"])


# -- the OCI mapping: what podman 4.3.1 put into config.json for the same flags -----------------

def test_resources_as_podman_writes_them():
    spec = spec_with(resources__cpu_shares=512, resources__cpuset_cpus="0", resources__cpu_quota=50000,
                     resources__cpu_period=100000, resources__memory_reservation=32 << 20,
                     resources__memory_swap=128 << 20, resources__memory_swappiness=10, resources__oom_kill_disable=True,
                     resources__device_cgroup_rules=["c 1:3 rwm", "b *:* r"])
    resources = ocimap.resources(spec.resources)
    # podman: "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"}
    assert resources["cpu"] == {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"}
    assert resources["memory"] == {"reservation": 33554432, "swap": 134217728, "swappiness": 10, "disableOOMKiller": True}
    assert resources["devices"] == [{"allow": True, "type": "c", "access": "rwm", "major": 1, "minor": 3},
                                    {"allow": True, "type": "b", "access": "r"}]
    generated = generate(SpecOptions(rootfs="/r", args=["sh"], memory=64 << 20, resources=resources), **HOST)
    assert generated["linux"]["resources"]["memory"] == {"limit": 64 << 20, "reservation": 33554432, "swap": 134217728,
                                                        "swappiness": 10, "disableOOMKiller": True}
    assert {"allow": False, "access": "rwm"} in generated["linux"]["resources"]["devices"]  # the defaults stay
    rootless = generate(SpecOptions(rootfs="/r", args=["sh"], resources=resources, rootless=True), **HOST)
    assert "resources" not in rootless["linux"]


def test_process_extras_as_podman_writes_them():
    spec = spec_with(process__umask="0027", process__oom_score_adj=100, process__personality="LINUX32",
                     namespaces__sysctls={"net.ipv4.ip_forward": "1"})
    opts = SpecOptions(rootfs="/r", args=["sh"], umask=int(spec.process.umask, 8), oom_score_adj=100,
                       personality="LINUX32", sysctls=dict(spec.namespaces.sysctls))
    generated = generate(opts, **HOST)
    assert generated["process"]["user"]["umask"] == 23  # podman: {"uid": 0, "gid": 0, "umask": 23}
    assert generated["process"]["oomScoreAdj"] == 100
    assert generated["linux"]["personality"] == {"domain": "LINUX32"}
    assert generated["linux"]["sysctl"]["net.ipv4.ip_forward"] == "1"


def test_host_namespaces_as_podman_writes_them():
    spec = spec_with(namespaces__pid="host", namespaces__ipc="host", namespaces__uts="host", namespaces__cgroupns="private")
    namespaces = ocimap.namespaces(spec.namespaces, None)
    assert namespaces == {"pid": "host", "ipc": "host", "uts": "host", "cgroup": "new"}
    generated = generate(SpecOptions(rootfs="/r", args=["sh"], hostname="h", namespaces=namespaces), **HOST)
    # podman: [network, mount, cgroup] and no hostname; /dev/shm bound from the host's
    assert sorted(n["type"] for n in generated["linux"]["namespaces"]) == ["cgroup", "mount", "network"]
    assert "hostname" not in generated
    shm = next(m for m in generated["mounts"] if m["destination"] == "/dev/shm")
    assert (shm["type"], shm["source"]) == ("bind", "/dev/shm")


def test_joining_another_containers_namespace():
    spec = spec_with(namespaces__pid="container:abc", namespaces__ipc="ns:/proc/7/ns/ipc")
    namespaces = ocimap.namespaces(spec.namespaces, lambda cid, kind: f"/proc/42/ns/{kind}")
    assert namespaces == {"pid": "/proc/42/ns/pid", "ipc": "/proc/7/ns/ipc"}
    generated = generate(SpecOptions(rootfs="/r", args=["sh"], namespaces=namespaces), **HOST)
    assert {"type": "pid", "path": "/proc/42/ns/pid"} in generated["linux"]["namespaces"]
    assert ocimap.dependencies(spec) == ["abc"]


def test_id_mappings():
    spec = spec_with(namespaces__uidmap=["0:100000:65536"])
    uids, gids = ocimap.id_mappings(spec.namespaces)
    assert uids == gids == [{"containerID": 0, "hostID": 100000, "size": 65536}]  # --uidmap alone maps gids too, as podman
    generated = generate(SpecOptions(rootfs="/r", args=["sh"], uid_mappings=uids, gid_mappings=gids), **HOST)
    assert {"type": "user"} in generated["linux"]["namespaces"]
    assert generated["linux"]["uidMappings"] == uids
    assert not any(m["type"] == "sysfs" for m in generated["mounts"])  # bound from the host's instead


def test_unset_env_defaults():
    generated = generate(SpecOptions(rootfs="/r", args=["sh"], terminal=True, hostname="h", unset_env=["TERM"]), **HOST)
    assert [e.split("=")[0] for e in generated["process"]["env"]] == ["PATH", "container", "HOSTNAME"]
    generated = generate(SpecOptions(rootfs="/r", args=["sh"], hostname="h", home="/root", unset_all_env=True), **HOST)
    assert [e.split("=")[0] for e in generated["process"]["env"]] == ["HOSTNAME", "HOME"]  # podman keeps these


def test_etc_files_no_hosts_and_chrootdirs():
    spec = spec_with(storage__no_hosts=True, storage__chrootdirs=["/chroot"])
    files = ocimap.more_etc_files(spec, {"/etc/hosts": "/u/hosts", "/etc/resolv.conf": "/u/resolv.conf"})
    assert files == {"/etc/resolv.conf": "/u/resolv.conf", "/chroot/etc/resolv.conf": "/u/resolv.conf"}


def test_spec_round_trips_with_new_groups():
    spec = spec_with(namespaces__pid="host", namespaces__sysctls={"net.a": "1"}, resources__cpu_shares=2,
                     lifecycle__requires=["x"], network__expose=["80/tcp"], process__timeout=5)
    assert ContainerSpec.from_json(spec.to_json()) == spec
    assert ContainerSpec.from_json({"image": {"name": "old"}}).namespaces.pid == ""  # a record made before them


def test_keep_id_maps():
    from pyctr.container.userns import keep_id_maps

    assert keep_id_maps(1000, 65536) == ["1000:0:1", "0:1:1000", "1001:1001:64536"]
    assert keep_id_maps(70000, 65536) == ["70000:0:1", "0:1:65536"]


def test_passwd_entries_as_podman_writes_them():
    from pyctr.container.passwd import contents

    image_passwd, image_group = "root:x:0:0:root:/root:/bin/sh\n", "root:x:0:\n"
    # podman 4.3.1, --user 4321 and --user 4321:99 -w /tmp on busybox
    assert contents(image_passwd, image_group, "4321", 4321, 0, "/", passwd=True, entry=None, host_users=[]) == (
        "root:x:0:0:root:/root:/bin/sh\n4321:*:4321:0:container user:/:/bin/sh\n", "root:x:0:\n4321:x:4321:4321\n")
    passwd, group = contents(image_passwd, image_group, "4321:99", 4321, 99, "/tmp", passwd=True, entry=None, host_users=[])
    assert passwd.splitlines()[-1] == "4321:*:4321:99:container user:/tmp:/bin/sh" and group.splitlines()[-1] == "99:x:99:4321"
    passwd, _ = contents(image_passwd, image_group, "4321", 4321, 0, "/", passwd=True,
                         entry="u$UID:x:$UID:$GID:$NAME:$HOME:/bin/false:$USERNAME", host_users=[])
    assert passwd.splitlines()[-1] == "u4321:x:4321:0:container user:/:/bin/false:4321"
    assert contents(image_passwd, image_group, "4321", 4321, 0, "/", passwd=False, entry=None, host_users=[]) == (None, None)
    assert contents(image_passwd, image_group, "0", 0, 0, "/", passwd=True, entry=None, host_users=[]) == (None, None)
    passwd, _ = contents(image_passwd, image_group, "", 0, 0, "/", passwd=True, entry=None, host_users=["root", "daemon"])
    assert passwd.splitlines()[1:] == ["daemon:*:1:1:daemon:/:/bin/sh"]  # root is there already


def test_image_volumes_and_volumes_from():
    from pyctr.container.create import _image_volumes, _volumes_from
    from pyctr.container.store import ContainerRecord

    made = []

    def volume_path(name: str) -> str:
        made.append(name)
        return "/"

    config = {"Volumes": {"/data": {}, "/taken": {}}}
    assert [m["destination"] for m in _image_volumes(config, "bind", {"/taken"}, volume_path)] == ["/data"]
    assert made == [""]  # an anonymous volume
    assert _image_volumes(config, "tmpfs", set(), volume_path)[0]["type"] == "tmpfs"
    assert _image_volumes(config, "ignore", set(), volume_path) == []
    source = ContainerRecord(id="a" * 64, name="src", created=0, spec_data={}, image_id="", image_name="", args=["x"], mounts=[
        {"destination": "/v", "type": "bind", "source": "/s", "options": ["rbind", "rw", "rprivate"], "volume": True},
        {"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": []}])
    copies = _volumes_from({source.id: source}, [source.id + ":ro"], set())
    assert copies == [{"destination": "/v", "type": "bind", "source": "/s", "options": ["rbind", "ro", "rprivate"],
                       "volumes_from": source.id}]  # not this container's anonymous volume: rm -v keeps it


def test_publish_all_picks_free_ports():
    from pyctr.container.create import _free_ports
    from pyctr.container.spec import PortMapping

    spec = spec_with(network__expose=["8080/tcp", "53/udp"], network__ports=[PortMapping(9000, 80)])
    ports = _free_ports(spec, {"ExposedPorts": {"80/tcp": {}, "8080/tcp": {}}})
    assert [(p.container_port, p.protocol) for p in ports] == [(8080, "tcp"), (53, "udp")]  # 80 is published already
    assert all(0 < p.host_port < 65536 for p in ports)
