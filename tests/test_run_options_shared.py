"""Options that podman refuses (or acts on) when a namespace is shared or missing, pure parts: the spec's
checks with podman 4.3.1's texts (recorded side by side, `podman run OPTIONS busybox true`, exit 125 each),
rootful user namespaces, --group-add, --ulimit host, a shareable /dev/shm, the platform of a local image."""

from __future__ import annotations

import os

import pytest

from pyctr.container import flags
from pyctr.container.spec import ContainerSpec
from pyctr.errors import InvalidArgument
from pyctr.runtime.spec import SpecOptions, generate

HOST = {"hard_limits": {"RLIMIT_NOFILE": 20000, "RLIMIT_NPROC": 4194304}, "machine": "x86_64", "host_caps": None}


def spec_with(**groups) -> ContainerSpec:
    spec = ContainerSpec.for_image("busybox")
    for path, value in groups.items():
        group, name = path.split("__")
        setattr(getattr(spec, group), name, value)
    return spec


OWN_IPC = f"ns:/proc/{os.getpid()}/ns/ipc"  # pyctr's own: the host's
PODMAN_ERRORS = [
    ({"network__hostname": "foo", "namespaces__uts": "host"},
     "invalid config provided: cannot set hostname when running in the host UTS namespace: invalid configuration"),
    ({"network__hostname": "foo", "namespaces__uts": "container:abc"},
     "invalid config provided: cannot set hostname when running in the host UTS namespace: invalid configuration"),
    ({"network__hostname": "foo", "namespaces__uts": "ns:/proc/1/ns/uts"},
     "invalid config provided: cannot set hostname when running in the host UTS namespace: invalid configuration"),
    ({"storage__shm_size": 1 << 20, "namespaces__ipc": "host"},
     "invalid config provided: cannot set shmsize when running in the {host } IPC Namespace"),
    ({"storage__shm_size": 1 << 20, "namespaces__ipc": "none"},
     "invalid config provided: cannot set shmsize when running in the {none } IPC Namespace"),
    ({"process__init": True, "namespaces__pid": "host"}, "cannot add init binary as PID 1 (PID namespace isn't private)"),
    ({"process__init": True, "namespaces__pid": "container:abc"}, "cannot add init binary as PID 1 (PID namespace isn't private)"),
    ({"network__dns": ["1.1.1.1"], "network__mode": "none"}, "conflicting options: dns and the network mode: none"),
    ({"network__dns_search": ["x"], "network__mode": "none"}, "conflicting options: dns and the network mode: none"),
    ({"network__dns_options": ["x"], "network__mode": "none"}, "conflicting options: dns and the network mode: none"),
    ({"resources__cgroup_parent": "foo.slice"}, "systemd slice received as cgroup parent when using cgroupfs: invalid argument"),
    ({"security__groups": ["10", "keep-groups"]},
     "the '--group-add keep-groups' option is not allowed with any other --group-add options"),
    ({"namespaces__sysctls": {"kernel.domainname": "x"}}, "sysctl 'kernel.domainname' is not allowed"),  # even with its own UTS
    # podman 4.3.1 writes the host's value here; pyctr refuses as for --ipc host (its text)
    ({"namespaces__sysctls": {"kernel.shmmax": "1000"}, "namespaces__ipc": OWN_IPC},
     "sysctl kernel.shmmax=1000 can't be set since IPC Namespace set to host: invalid argument"),
]


@pytest.mark.parametrize("groups,message", PODMAN_ERRORS, ids=[m[:40] for _, m in PODMAN_ERRORS])
def test_shared_namespace_errors_are_podmans(groups, message):
    with pytest.raises(InvalidArgument) as info:
        spec_with(**groups).validate()
    assert str(info.value).split("\n")[0] == message


def test_what_podman_accepts_passes():
    # podman 4.3.1 runs each of these
    spec_with(storage__shm_size=1 << 20, namespaces__ipc="container:abc").validate()
    spec_with(network__hostname="foo", namespaces__uts="private").validate()
    spec_with(network__dns=["1.1.1.1"], network__mode="host").validate()
    spec_with(resources__cgroup_parent="/foo", resources__cgroups="no-conmon").validate()
    spec_with(security__groups=["keep-groups"]).validate()
    spec_with(namespaces__sysctls={"kernel.shmmax": "1000"}, namespaces__ipc="ns:/proc/no-such/ns/ipc").validate()


def test_cgroups_split_is_refused_clearly():
    # podman 4.3.1 here (cgroup v1): "could not find cgroup mount in "/proc/self/cgroup"", exit 126, at start
    with pytest.raises(InvalidArgument, match="--cgroups split is not built yet"):
        spec_with(resources__cgroups="split").validate()


@pytest.mark.parametrize("groups,message", [
    ({"namespaces__userns": "private"}, "must provide at least one UID or GID mapping to configure a user namespace"),
    ({"namespaces__uidmap": ["0:100000:65536"]}, "--uidmap: a user namespace for a container run as root is not built yet"),
    ({"namespaces__gidmap": ["0:100000:65536"]}, "--gidmap: a user namespace for a container run as root is not built yet"),
    ({"namespaces__userns": "ns:/proc/1/ns/user"}, "--userns ns:/proc/1/ns/user: a user namespace for a container run as root"),
])
def test_rootful_user_namespaces_are_refused(groups, message):
    from pyctr.container.create import _user_namespace

    with pytest.raises(InvalidArgument) as info:
        _user_namespace(spec_with(**groups), rootless=False)
    assert str(info.value).startswith(message)


def test_keep_groups_rootless_needs_crun():
    from pyctr.container.create import _user_namespace

    with pytest.raises(InvalidArgument, match="--group-add keep-groups is not supported rootless with runc"):
        _user_namespace(spec_with(security__groups=["keep-groups"]), rootless=True)


def test_group_add_takes_names(tmp_path):
    from pyctr.container import userdb

    assert flags.supplementary_groups(["10", "wheel", "keep-groups"]) == ["10", "wheel", "keep-groups"]
    with pytest.raises(InvalidArgument):
        flags.supplementary_groups(["a:b"])
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "group").write_text("root:x:0:\napp:x:1234:\n")
    assert userdb.group_ids(str(tmp_path), ["app", "7"]) == [1234, 7]
    with pytest.raises(LookupError):
        userdb.group_ids(str(tmp_path), ["wheel"])


def test_ulimit_host_copies_ours():
    import resource

    generated = generate(SpecOptions(rootfs="/r", args=["sh"], ulimits=["nofile=10", "host"]), **HOST)
    limits = {r["type"]: (r["soft"], r["hard"]) for r in generated["process"]["rlimits"]}
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert limits["RLIMIT_NOFILE"] == (min(soft, 20000), 20000)  # host wins over nofile=10, whatever the order (podman)
    assert "RLIMIT_CORE" in limits and "RLIMIT_NPROC" in limits


def test_shareable_shm_binds_the_host_side_tmpfs():
    from pyctr.container import shm

    generated = generate(SpecOptions(rootfs="/r", args=["sh"], shm_source="/c/userdata/shm"), **HOST)
    mount = next(m for m in generated["mounts"] if m["destination"] == "/dev/shm")
    assert (mount["type"], mount["source"]) == ("bind", "/c/userdata/shm")
    plain = generate(SpecOptions(rootfs="/r", args=["sh"]), **HOST)
    assert next(m for m in plain["mounts"] if m["destination"] == "/dev/shm")["type"] == "tmpfs"
    assert shm.own(spec_with()) and shm.own(spec_with(namespaces__ipc="shareable"))
    assert not shm.own(spec_with(namespaces__ipc="private")) and not shm.own(spec_with(namespaces__ipc="host"))
    assert shm.source(spec_with(namespaces__ipc="container:b"), "/nonexistent/a") == ""  # not mounted: runc's own


def test_platform_mismatch_as_podman_words_it():
    from pyctr.container.create import _platform_mismatch

    amd64 = {"os": "linux", "architecture": "amd64"}
    # podman 4.3.1, run --arch arm64 on a single-platform amd64 image
    assert _platform_mismatch(amd64, "linux/arm64") == (
        "image platform ({amd64 linux  [] }) does not match the expected platform ({arm64 linux  [] })")
    assert _platform_mismatch(amd64, "windows/amd64") == (
        "image platform ({amd64 linux  [] }) does not match the expected platform ({amd64 windows  [] })")
    assert _platform_mismatch(amd64, "linux/amd64") == "" and _platform_mismatch(amd64, None) == ""
    assert _platform_mismatch({"os": "linux", "architecture": "arm64"}, "linux/arm64/v8") == ""


def test_a_start_that_fails_leaves_no_shm_mounted(pyctr, image, store):
    """The run's /dev/shm tmpfs goes with a failed start as with an ended run (the container stays, Created)."""
    assert pyctr("run", "--name", "nocmd", image, "/nonexistent", check=False).returncode == 127
    assert not [m for m in store.mounts() if m.endswith("/userdata/shm")]
    pyctr("rm", "nocmd")
