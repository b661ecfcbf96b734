"""Unit tests of pyctr.runtime.spec (golden files and each with_* step), pyctr.runtime.seccomp and pyctr.container.etcfiles.

PYCTR_UPDATE_GOLDEN=1 rewrites tests/golden/spec-*.json from the current code.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import re
from pathlib import Path

import pytest

from pyctr.container import etcfiles
from pyctr.runtime import seccomp, spec as specmod
from pyctr.errors import InvalidArgument
from pyctr.runtime.spec import CAPS, DEFAULT_CAPS, SpecOptions, generate

GOLDEN = Path(__file__).parent / "golden"
# A fixed host, so that the golden files do not depend on the machine running the tests.
HOST = dict(hard_limits={"RLIMIT_NOFILE": 20000, "RLIMIT_NPROC": 4194304}, machine="x86_64",
            host_caps=set(CAPS))
ETC = {"/etc/hosts": "/run/pyctr/c/hosts", "/etc/hostname": "/run/pyctr/c/hostname",
       "/etc/resolv.conf": "/run/pyctr/c/resolv.conf"}
MAPPING = [{"containerID": 0, "hostID": 100000, "size": 65536}]

GOLDEN_CASES = {
    "default": SpecOptions(rootfs="/var/lib/pyctr/overlay/c/merged", args=["/bin/sh", "-c", "echo hi"],
                           env=["FOO=bar"], hostname="c0ffee", etc_files=ETC, home="/root", pids_limit=2048),
    "privileged": SpecOptions(rootfs="/var/lib/pyctr/overlay/c/merged", args=["/bin/sh"],
                              hostname="c0ffee", terminal=True, privileged=True, etc_files=ETC),
    "readonly-user": SpecOptions(
        rootfs="/var/lib/pyctr/overlay/c/merged", args=["/app/server", "--port", "80"],
        env=["PATH=/app:/bin"], cwd="/app", uid=1000, gid=1000, additional_gids=[10, 1000],
        hostname="web", readonly_rootfs=True, network="host", cap_drop=["all"],
        cap_add=["net_bind_service"], no_new_privileges=True, ulimits=["nofile=1024:2048", "core=0"],
        mounts=[{"destination": "/data/cache", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
                {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"]},
                {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["size=1g"]}],
        etc_files=ETC, stop_signal="SIGQUIT", annotations={"org.example": "yes"}),
    "rootless": SpecOptions(rootfs="/home/u/.local/share/pyctr/overlay/c/merged", args=["/bin/sh"],
                            hostname="c0ffee", rootless=True, uid_mappings=MAPPING,
                            gid_mappings=MAPPING, etc_files=ETC, shm_size=1 << 20),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden(name):
    generated = generate(GOLDEN_CASES[name], **HOST)
    path = GOLDEN / f"spec-{name}.json"
    if os.environ.get("PYCTR_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(generated, indent=2, sort_keys=True) + "\n")
    assert generated == json.loads(path.read_text())


def opts(**kwargs) -> SpecOptions:
    return SpecOptions(**{"rootfs": "/r", "args": ["sh"], **kwargs})


def gen(**kwargs) -> dict:
    return generate(opts(**kwargs), **HOST)


# -- process, user, env ---------------------------------------------------------------------

def test_default_spec_is_podman_like():
    spec = specmod.default_spec()
    assert spec["ociVersion"] == "1.0.2"
    assert [n["type"] for n in spec["linux"]["namespaces"]] == ["pid", "network", "ipc", "uts", "mount"]
    caps = spec["process"]["capabilities"]
    assert caps["bounding"] == caps["effective"] == caps["permitted"] == DEFAULT_CAPS
    assert caps["inheritable"] == caps["ambient"] == []
    assert {m["destination"] for m in spec["mounts"]} == {
        "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"}


def test_with_process():
    spec = specmod.default_spec()
    specmod.with_process(spec, opts(args=["a", "b"], cwd="/w", terminal=True, no_new_privileges=True))
    assert spec["process"]["args"] == ["a", "b"]
    assert spec["process"]["cwd"] == "/w" and spec["process"]["terminal"] is True
    assert spec["process"]["noNewPrivileges"] is True
    with pytest.raises(InvalidArgument, match="no command"):
        specmod.with_process(spec, opts(args=[]))
    with pytest.raises(InvalidArgument, match="absolute"):
        specmod.with_process(spec, opts(cwd="relative"))


def test_with_user():
    spec = specmod.default_spec()
    specmod.with_user(spec, opts(uid=5, gid=6, additional_gids=[7, 6, 7, 8]))
    assert spec["process"]["user"] == {"uid": 5, "gid": 6, "umask": 0o022, "additionalGids": [7, 8]}


def test_with_env_adds_missing_defaults_only():
    spec = specmod.default_spec()
    specmod.with_env(spec, opts(env=["PATH=/x", "A=1=2"], hostname="h", terminal=True, home="/root"))
    assert spec["process"]["env"] == ["container=pyctr", "TERM=xterm", "HOSTNAME=h", "HOME=/root",
                                      "PATH=/x", "A=1=2"]
    specmod.with_env(spec, opts(env=[]))
    assert spec["process"]["env"] == [f"PATH={specmod.DEFAULT_PATH}", "container=pyctr"]


# -- capabilities ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["net_admin", "CAP_NET_ADMIN", "Net_Admin", " cap_net_admin "])
def test_parse_cap(name):
    assert specmod.parse_cap(name) == "CAP_NET_ADMIN"


def test_parse_cap_all_and_unknown():
    assert specmod.parse_cap("all") == "ALL"
    with pytest.raises(InvalidArgument, match="'cap_bogus'"):
        specmod.parse_cap("cap_bogus")
    with pytest.raises(InvalidArgument, match="'frobnicate'"):
        specmod.capability_set(["chown", "frobnicate"], [], available=set(CAPS))


def test_capability_set_combinations():
    every = set(CAPS)
    assert specmod.capability_set([], [], available=every)[0] == DEFAULT_CAPS
    assert specmod.capability_set(["net_raw"], ["all"], available=every) == (["CAP_NET_RAW"], ["CAP_NET_RAW"])
    caps, _ = specmod.capability_set(["all"], ["sys_admin"], available=every)
    assert set(caps) == every - {"CAP_SYS_ADMIN"}
    assert specmod.capability_set([], ["chown", "CAP_KILL"], available=every)[0] == sorted(
        set(DEFAULT_CAPS) - {"CAP_CHOWN", "CAP_KILL"})
    assert set(specmod.capability_set([], [], privileged=True, available=every)[0]) == every


def test_capability_set_respects_our_bounding_set():
    available = set(CAPS) - {"CAP_SYS_RESOURCE", "CAP_SETFCAP"}
    caps, _ = specmod.capability_set([], [], privileged=True, available=available)
    assert set(caps) == available
    assert "CAP_SETFCAP" not in specmod.capability_set([], [], available=available)[0]
    with pytest.raises(InvalidArgument, match="CAP_SYS_RESOURCE"):
        specmod.capability_set(["sys_resource"], [], available=available)


def test_host_capabilities_reads_bounding_set():
    caps = specmod.host_capabilities()
    assert caps and caps <= set(CAPS)


def test_non_root_user_gets_no_effective_caps_but_keeps_added_ones():
    spec = gen(uid=1000)
    caps = spec["process"]["capabilities"]
    assert caps["bounding"] == DEFAULT_CAPS
    assert caps["effective"] == caps["permitted"] == caps["inheritable"] == caps["ambient"] == []
    caps = gen(uid=1000, cap_add=["net_raw"])["process"]["capabilities"]
    assert caps["effective"] == caps["permitted"] == caps["ambient"] == caps["inheritable"] == ["CAP_NET_RAW"]
    assert "CAP_NET_RAW" in caps["bounding"]


def test_cap_mask():
    assert specmod.cap_mask(DEFAULT_CAPS) == 0x800405FB


# -- seccomp -----------------------------------------------------------------------------------

def _allowed(profile: dict) -> set[str]:
    """Names allowed without argument conditions."""
    return {n for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args")
            for n in r["names"]}


DANGEROUS = ["kexec_load", "init_module", "finit_module", "delete_module", "mount", "umount2", "pivot_root",
             "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "reboot", "swapon", "swapoff",
             "settimeofday", "clock_settime", "acct", "open_by_handle_at", "userfaultfd", "ptrace",
             "personality", "clone", "clone3", "unshare", "setns", "socket", "io_uring_setup"]


def test_default_profile_structure():
    profile = seccomp.default_profile(set(DEFAULT_CAPS), "x86_64")
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile["defaultErrnoRet"] == 1
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert seccomp.default_profile(set(), "aarch64")["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    allowed = _allowed(profile)
    assert {"read", "write", "execve", "openat", "futex", "mmap", "exit_group", "wait4"} <= allowed
    assert not set(DANGEROUS) & allowed
    rules = {tuple(r["names"]): r for r in profile["syscalls"]}
    assert rules[("clone3",)] == {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
    clone = rules[("clone",)]["args"]
    assert clone == [{"index": 0, "value": seccomp.CLONE_NS_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]
    assert rules[("socket",)]["args"][0]["op"] == "SCMP_CMP_NE"
    personas = [r["args"][0]["value"] for r in profile["syscalls"] if r["names"] == ["personality"]]
    assert 0 in personas and 0xFFFFFFFF in personas and 0x40000 not in personas  # ADDR_NO_RANDOMIZE
    for rule in profile["syscalls"]:  # each group is sorted and free of duplicates
        assert rule["names"] == sorted(set(rule["names"]))


def test_default_profile_opens_calls_with_capabilities():
    allowed = _allowed(seccomp.default_profile({"CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_TIME"}, "x86_64"))
    assert {"mount", "umount2", "pivot_root", "clone", "clone3", "unshare", "setns", "ptrace",
            "settimeofday"} <= allowed
    assert not {"init_module", "kexec_load", "acct"} & allowed
    names = [n for r in seccomp.default_profile({"CAP_SYS_ADMIN"}, "x86_64")["syscalls"] for n in r["names"]]
    assert names.count("clone3") == 1  # no ENOSYS rule beside the allow rule
    s390 = seccomp.default_profile(set(), "s390x")
    assert next(r for r in s390["syscalls"] if r["names"] == ["clone"])["args"][0]["index"] == 1


def test_default_profile_names_are_known_to_libseccomp():
    """Each name exists on at least one architecture (catches typos; runc ignores unknown names)."""
    path = ctypes.util.find_library("seccomp")
    if not path:
        pytest.skip("libseccomp is not installed")
    lib = ctypes.CDLL(path)
    lib.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    arches = [lib.seccomp_arch_resolve_name(a.encode()) for a in
              ("x86_64", "x86", "x32", "aarch64", "arm", "ppc64le", "s390x", "riscv64")]
    everything = set(CAPS)
    names = {n for r in seccomp.default_profile(everything, "x86_64")["syscalls"] for n in r["names"]}
    names |= {n for r in seccomp.default_profile(set(), "x86_64")["syscalls"] for n in r["names"]}
    unknown = [n for n in sorted(names)
               if all(lib.seccomp_syscall_resolve_name_arch(a, n.encode()) < 0 for a in arches if a)]
    assert unknown == []


def test_with_seccomp_modes(tmp_path):
    assert "seccomp" in gen()["linux"]
    assert "seccomp" not in gen(seccomp="unconfined")["linux"]
    assert "seccomp" not in gen(privileged=True)["linux"]
    assert "seccomp" not in gen(privileged=True, seccomp="default")["linux"]
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]}))
    assert gen(seccomp=str(profile))["linux"]["seccomp"] == {
        "defaultAction": "SCMP_ACT_ALLOW", "architectures": [],
        "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]}
    assert "mount" in _allowed(gen(cap_add=["sys_admin"])["linux"]["seccomp"])


DOCKER_PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "basics"},
        {"name": "getpid", "action": "SCMP_ACT_ALLOW"},
        {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
        {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
        {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_PTRACE"]},
         "errnoRet": 1},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
    ],
}


def test_load_docker_profile(tmp_path):
    path = tmp_path / "docker.json"
    path.write_text(json.dumps(DOCKER_PROFILE))
    profile = seccomp.load_profile(str(path), {"CAP_CHOWN"}, machine="x86_64", kernel="6.1.0-18-amd64")
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert profile["defaultErrnoRet"] == 1
    assert [r["names"] for r in profile["syscalls"]] == [
        ["read", "write"], ["getpid"], ["arch_prctl"], ["ptrace"], ["ptrace"], ["personality"]]
    assert all(set(r) <= {"names", "action", "args", "errnoRet"} for r in profile["syscalls"])
    assert profile["syscalls"][-1]["args"] == [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]
    other = seccomp.load_profile(str(path), {"CAP_SYS_ADMIN", "CAP_SYS_PTRACE"}, machine="aarch64", kernel="4.4")
    assert other["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert [r["names"] for r in other["syscalls"]] == [["read", "write"], ["getpid"], ["mount"], ["personality"]]


def test_load_oci_profile_unchanged(tmp_path):
    oci = seccomp.default_profile(set(DEFAULT_CAPS), "x86_64")
    path = tmp_path / "oci.json"
    path.write_text(json.dumps(oci))
    assert seccomp.load_profile(str(path), machine="x86_64") == oci


@pytest.mark.parametrize("content, message", [
    ("{not json", "decoding seccomp profile failed"),  # podman's words
    ("[]", "JSON object"),
    ('{"defaultAction": "SCMP_ACT_MAYBE"}', "unknown action"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]}', "syscall names"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",'
     ' "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}', "bad argument"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}}', "must be a list"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read", "action": "SCMP_ACT_ALLOW"}]}', "syscall names"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_X86_64", '
     '"subArchitectures": ["x86"]}]}', "bad architecture"),
])
def test_load_profile_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InvalidArgument, match=message) as info:
        seccomp.load_profile(str(path))
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    with pytest.raises(InvalidArgument, match="^opening seccomp profile failed: open .*: no such file or directory$"):
        seccomp.load_profile(str(tmp_path / "missing.json"))


# -- rlimits -------------------------------------------------------------------------------------

def test_rlimits_default_capped_at_hard_limit():
    limits = {"RLIMIT_NOFILE": 20000, "RLIMIT_NPROC": 512}
    spec = generate(opts(), hard_limits=limits, machine="x86_64", host_caps=set(CAPS))
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 20000, "soft": 20000},
                                          {"type": "RLIMIT_NPROC", "hard": 512, "soft": 512}]
    spec = generate(opts(), hard_limits={"RLIMIT_NOFILE": specmod.RLIM_INFINITY}, machine="x86_64")
    assert spec["process"]["rlimits"][0]["hard"] == 1048576
    # Without injected limits: never above this process's own.
    spec = generate(opts())
    import resource
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    expected = 1048576 if nofile == resource.RLIM_INFINITY else min(1048576, nofile)
    assert spec["process"]["rlimits"][0] == {"type": "RLIMIT_NOFILE", "hard": expected, "soft": expected}


def test_ulimits_override_defaults():
    unlimited = {"RLIMIT_CORE": specmod.RLIM_INFINITY, "RLIMIT_MEMLOCK": specmod.RLIM_INFINITY}
    spec = generate(opts(ulimits=["nofile=1024:2048", "nproc=512", "core=unlimited", "memlock=-1:-1"]),
                    hard_limits={**HOST["hard_limits"], **unlimited}, machine="x86_64", host_caps=set(CAPS))
    assert spec["process"]["rlimits"] == [
        {"type": "RLIMIT_NOFILE", "hard": 2048, "soft": 1024},
        {"type": "RLIMIT_NPROC", "hard": 512, "soft": 512},
        {"type": "RLIMIT_CORE", "hard": specmod.RLIM_INFINITY, "soft": specmod.RLIM_INFINITY},
        {"type": "RLIMIT_MEMLOCK", "hard": specmod.RLIM_INFINITY, "soft": specmod.RLIM_INFINITY},
    ]


@pytest.mark.parametrize("text, message", [
    ("nofile", "expected NAME=SOFT"), ("bogus=1", "expected NAME=SOFT"), ("nofile=abc", "not a number"),
    ("nofile=10:abc", "not a number"), ("nofile=10:5", "soft limit exceeds"), ("nofile=", "not a number"),
])
def test_ulimit_syntax_errors(text, message):
    with pytest.raises(InvalidArgument, match=message):
        specmod.parse_ulimit(text)


def test_ulimit_above_hard_limit_is_refused():
    with pytest.raises(InvalidArgument, match="exceeds the hard limit of 20000 for nofile"):
        gen(ulimits=["nofile=30000"])
    with pytest.raises(InvalidArgument, match="exceeds the hard limit"):
        gen(ulimits=["nofile=100:unlimited"])
    assert gen(ulimits=["nofile=20000"])["process"]["rlimits"][0]["hard"] == 20000


# -- namespaces, mounts, devices, paths -------------------------------------------------------

def test_namespaces():
    def types(spec):
        return [(n["type"], n.get("path")) for n in spec["linux"]["namespaces"]]
    assert ("network", None) in types(gen()) and ("network", None) in types(gen(network="none"))
    assert "network" not in [t for t, _ in types(gen(network="host"))]
    assert ("network", "/run/netns/x") in types(gen(network="ns:/run/netns/x"))
    with pytest.raises(InvalidArgument, match="invalid network mode"):
        gen(network="bridge")
    with pytest.raises(InvalidArgument, match="absolute"):
        gen(network="ns:relative")


def test_sysctls_only_with_own_network_namespace():
    assert gen()["linux"]["sysctl"] == {"net.ipv4.ping_group_range": "0 0"}
    assert "sysctl" not in gen(network="host")["linux"]


def _mounts(spec) -> dict[str, dict]:
    return {m["destination"]: m for m in spec["mounts"]}


def test_mounts_defaults_and_shm_size():
    mounts = _mounts(gen(shm_size=128 << 20))
    assert "size=131072k" in mounts["/dev/shm"]["options"]
    assert mounts["/sys"]["options"][-1] == "ro" and mounts["/sys/fs/cgroup"]["type"] == "cgroup"
    assert "size=1000" in _mounts(gen(shm_size=1000))["/dev/shm"]["options"]
    with pytest.raises(InvalidArgument, match="shm size"):
        gen(shm_size=0)


def test_user_mounts_replace_defaults_and_parents_come_first():
    user = [{"destination": "/a/b/c", "type": "tmpfs", "source": "tmpfs", "options": []},
            {"destination": "/a//", "type": "bind", "source": "/x", "options": ["rbind"]},
            {"destination": "/dev/shm", "type": "bind", "source": "/host/shm", "options": ["rbind"]},
            {"destination": "/etc/hosts", "type": "bind", "source": "/mine", "options": ["rbind"]}]
    spec = gen(mounts=user, etc_files=ETC)
    destinations = [m["destination"] for m in spec["mounts"]]
    assert destinations.count("/dev/shm") == 1 and destinations.count("/etc/hosts") == 1
    assert _mounts(spec)["/dev/shm"]["source"] == "/host/shm"
    assert _mounts(spec)["/etc/hosts"]["source"] == "/mine"
    assert _mounts(spec)["/etc/resolv.conf"]["options"] == ["rbind", "rprivate"]
    assert destinations.index("/a") < destinations.index("/a/b/c")
    for i, outer in enumerate(destinations):  # no mount comes after one beneath it
        assert not any(inner.startswith(outer.rstrip("/") + "/") for inner in destinations[:i])
    with pytest.raises(InvalidArgument, match="absolute"):
        gen(mounts=[{"destination": "rel", "type": "tmpfs", "source": "tmpfs"}])


def test_user_mount_on_dev_keeps_dev_children_on_top():
    destinations = [m["destination"] for m in
                    gen(mounts=[{"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind"]}])["mounts"]]
    assert destinations.index("/dev") < destinations.index("/dev/pts")
    root_mount = gen(mounts=[{"destination": "/", "type": "bind", "source": "/x", "options": ["rbind"]}])["mounts"]
    assert root_mount[0]["destination"] == "/"


def test_readonly_rootfs():
    spec = gen(readonly_rootfs=True)
    assert spec["root"] == {"path": "/r", "readonly": True}
    assert {"/tmp", "/var/tmp", "/run"} <= set(_mounts(spec))
    assert "/tmp" not in _mounts(gen(readonly_rootfs=True, read_only_tmpfs=False))
    assert gen()["root"] == {"path": "/r", "readonly": False}
    with pytest.raises(InvalidArgument, match="absolute"):
        gen(rootfs="rootfs")


def test_devices_and_masked_paths():
    spec = gen()
    devices = spec["linux"]["resources"]["devices"]
    assert devices[0] == {"allow": False, "access": "rwm"}
    assert {(d["major"], d.get("minor")) for d in devices[1:]} == set(specmod.ALLOWED_DEVICES)
    assert "/proc/kcore" in spec["linux"]["maskedPaths"] and "/proc/sys" in spec["linux"]["readonlyPaths"]
    privileged = gen(privileged=True)
    assert privileged["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert "maskedPaths" not in privileged["linux"] and "readonlyPaths" not in privileged["linux"]
    assert "rw" in _mounts(privileged)["/sys"]["options"]


def test_rootless():
    spec = gen(rootless=True, uid_mappings=MAPPING, gid_mappings=MAPPING)
    assert {"type": "user"} in spec["linux"]["namespaces"]
    assert spec["linux"]["uidMappings"] == MAPPING and "resources" not in spec["linux"]
    mounts = _mounts(spec)
    assert mounts["/sys"] == {"destination": "/sys", "type": "bind", "source": "/sys",
                              "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
    assert "/sys/fs/cgroup" not in mounts
    assert "gid=5" in mounts["/dev/pts"]["options"]
    narrow = [{"containerID": 0, "hostID": 1000, "size": 1}]
    assert "gid=5" not in _mounts(gen(rootless=True, uid_mappings=narrow, gid_mappings=narrow))["/dev/pts"]["options"]
    with pytest.raises(InvalidArgument, match="mappings"):
        gen(rootless=True, uid_mappings=MAPPING)
    # Inside pyctr's own user namespace: no new one, but the rest of the rootless changes.
    inside = gen(rootless=True)
    assert {"type": "user"} not in inside["linux"]["namespaces"] and "uidMappings" not in inside["linux"]
    assert "resources" not in inside["linux"] and _mounts(inside)["/sys"]["type"] == "bind"


def test_annotations():
    spec = gen(stop_signal="SIGTERM", annotations={"a": "b"})
    assert spec["annotations"] == {"io.container.manager": "pyctr", specmod.STOP_SIGNAL_ANNOTATION: "SIGTERM",
                                   "a": "b"}


def test_init_keeps_args():
    assert gen(init=True, args=["/init", "--", "sh"])["process"]["args"] == ["/init", "--", "sh"]


# -- /etc files ----------------------------------------------------------------------------------

def test_hosts_content():
    text = etcfiles.hosts_content("box", "private", ["db:10.0.0.5", "a;b=fe80::1", "v6:[::2]"])
    lines = text.splitlines()
    assert lines[1:4] == ["10.0.0.5\tdb", "fe80::1\ta b", "::2\tv6"]
    assert "127.0.0.1\tlocalhost localhost.localdomain" in lines and "127.0.1.1\tbox" in lines
    host = etcfiles.hosts_content("box", "host", ["db:10.0.0.5"], "127.0.0.1 localhost myhost\n")
    assert host.endswith("10.0.0.5\tdb\n127.0.0.1 localhost myhost\n")


@pytest.mark.parametrize("entry", ["db", "db:notanip", ":1.2.3.4", "bad name:1.2.3.4", "db:host-gateway"])
def test_add_host_errors(entry):
    with pytest.raises(InvalidArgument, match="--add-host"):
        etcfiles.hosts_content("box", "private", [entry])


RESOLVED_STUB = "# stub\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example\n"


def test_resolv_conf_loopback_servers_dropped_in_own_netns():
    text = etcfiles.resolv_conf_content(RESOLVED_STUB, "private")
    assert "nameserver" not in text.replace("nameservers", "")
    assert "search corp.example" in text and "options edns0 trust-ad" in text
    assert "127.0.0.53" in text.splitlines()[1] and text.splitlines()[1].startswith("#")
    assert etcfiles.resolv_conf_content(RESOLVED_STUB, "host") == RESOLVED_STUB
    mixed = etcfiles.resolv_conf_content("nameserver ::1\nnameserver 10.1.1.1\n", "private")
    assert "nameserver 10.1.1.1" in mixed and "nameserver ::1" not in mixed
    custom = etcfiles.resolv_conf_content(RESOLVED_STUB, "private", ["9.9.9.9"], ["a.example"], ["ndots:2"])
    assert custom.splitlines()[1:] == ["search a.example", "nameserver 9.9.9.9", "options ndots:2"]


def test_host_resolv_conf_follows_systemd_resolved(tmp_path):
    stub, upstream = tmp_path / "resolv.conf", tmp_path / "upstream.conf"
    stub.write_text(RESOLVED_STUB)
    upstream.write_text("nameserver 10.2.2.2\n")
    assert etcfiles.host_resolv_conf(str(stub), str(upstream), "private") == "nameserver 10.2.2.2\n"
    assert etcfiles.host_resolv_conf(str(stub), str(upstream), "host") == RESOLVED_STUB
    assert etcfiles.host_resolv_conf(str(stub), str(tmp_path / "none"), "private") == RESOLVED_STUB


def test_write_etc_files(tmp_path):
    resolv = tmp_path / "host-resolv.conf"
    resolv.write_text("nameserver 10.3.3.3\n")
    result = etcfiles.write_etc_files(str(tmp_path / "c"), "box", "private", ["db:10.0.0.5"],
                                      host_resolv=str(resolv), resolved_upstream=str(tmp_path / "none"))
    assert set(result) == {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}
    assert Path(result["/etc/hostname"]).read_text() == "box\n"
    assert "10.0.0.5\tdb" in Path(result["/etc/hosts"]).read_text()
    assert "nameserver 10.3.3.3" in Path(result["/etc/resolv.conf"]).read_text()
    assert sorted(os.listdir(tmp_path / "c")) == ["hostname", "hosts", "resolv.conf"]  # no temp files left
    assert (Path(result["/etc/hosts"]).stat().st_mode & 0o777) == 0o644


# -- pids limit and devices: the spec, its flag, containers.conf and the OCI mapping ----------

def test_pids_limit_is_a_cgroup_limit_unless_none():
    assert gen(pids_limit=100)["linux"]["resources"]["pids"] == {"limit": 100}
    for none in (0, -1):
        assert "pids" not in gen(pids_limit=none)["linux"]["resources"]
    assert "resources" not in gen(pids_limit=100, rootless=True)["linux"]  # no cgroup rootless


NULL = {"source": "/dev/null", "destination": "/dev/mynull", "permissions": "rwm"}


def test_a_device_is_a_node_and_a_cgroup_rule():
    spec = gen(devices=[NULL, {"source": "/dev/zero", "destination": "/dev/z", "permissions": "r"}])
    null, zero = os.stat("/dev/null"), os.stat("/dev/zero")
    assert spec["linux"]["devices"] == [
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666, "uid": null.st_uid, "gid": null.st_gid},
        {"path": "/dev/z", "type": "c", "major": 1, "minor": 5, "fileMode": 0o666, "uid": zero.st_uid, "gid": zero.st_gid}]
    rules = spec["linux"]["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}  # still deny first, then the defaults, then ours
    assert rules[-2:] == [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                          {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"}]
    assert "/dev/mynull" not in _mounts(spec)
    same_path = gen(devices=[{"source": "/dev/null", "destination": "", "permissions": "rw"}])
    assert [d["path"] for d in same_path["linux"]["devices"]] == ["/dev/null"]
    assert "devices" not in gen()["linux"]


def test_a_device_of_a_privileged_container_keeps_allow_all():
    spec = gen(privileged=True, devices=[NULL])
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert [d["path"] for d in spec["linux"]["devices"]] == ["/dev/mynull"]


def test_a_rootless_device_is_a_bind_mount_read_only_without_w():
    spec = gen(rootless=True, uid_mappings=MAPPING, gid_mappings=MAPPING,
               devices=[NULL, {"source": "/dev/zero", "destination": "/dev/z", "permissions": "rm"}])
    mounts = _mounts(spec)
    assert mounts["/dev/mynull"] == {"destination": "/dev/mynull", "type": "bind", "source": "/dev/null",
                                     "options": ["rbind", "nosuid", "noexec", "rw"]}
    assert mounts["/dev/z"]["options"][-1] == "ro"
    assert "devices" not in spec["linux"] and "resources" not in spec["linux"]
    order = [m["destination"] for m in spec["mounts"]]
    assert order.index("/dev") < order.index("/dev/mynull")  # after the /dev it lands in


def test_a_device_symlink_is_followed(tmp_path):
    (tmp_path / "link").symlink_to("/dev/null")
    spec = gen(devices=[{"source": str(tmp_path / "link"), "destination": "/dev/l", "permissions": "rw"}])
    assert (spec["linux"]["devices"][0]["major"], spec["linux"]["devices"][0]["minor"]) == (1, 3)
    rootless = gen(rootless=True, devices=[{"source": str(tmp_path / "link"), "destination": "/dev/l", "permissions": "rw"}])
    assert _mounts(rootless)["/dev/l"]["source"] == "/dev/null"


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_a_device_directory_gives_every_node_under_it(tmp_path):
    top = tmp_path / "dri"
    (top / "by-path").mkdir(parents=True)
    os.mknod(top / "card0", 0o660 | 0o020000, os.makedev(226, 0))
    os.mknod(top / "by-path" / "disk", 0o600 | 0o060000, os.makedev(7, 200))
    os.chmod(top / "card0", 0o660)  # past the umask
    (top / "by-path" / "card0-link").symlink_to("../card0")  # a symlink is no device
    (top / "notes.txt").write_text("not a device")
    spec = gen(devices=[{"source": str(top), "destination": "/dev/dri", "permissions": "rw"}])
    assert [(d["path"], d["type"], d["major"], d["minor"], d["fileMode"]) for d in spec["linux"]["devices"]] == [
        ("/dev/dri/card0", "c", 226, 0, 0o660), ("/dev/dri/by-path/disk", "b", 7, 200, 0o600)]


def test_device_errors(tmp_path):
    with pytest.raises(InvalidArgument, match="^stat /dev/no-such-device: no such file or directory$"):
        gen(devices=[{"source": "/dev/no-such-device", "destination": "/dev/x", "permissions": "rwm"}])
    (tmp_path / "file").write_text("")
    with pytest.raises(InvalidArgument, match="not a valid device: not a device node"):
        gen(devices=[{"source": str(tmp_path / "file"), "destination": "/dev/x", "permissions": "rwm"}])
    with pytest.raises(InvalidArgument, match="must be absolute"):
        gen(devices=[{"source": "/dev/null", "destination": "dev/x", "permissions": "rwm"}])


@pytest.mark.parametrize("text, expected", [
    ("/dev/null", ("/dev/null", "", "rwm")),
    ("/dev/null:/dev/mynull", ("/dev/null", "/dev/mynull", "rwm")),
    ("/dev/null:r", ("/dev/null", "", "r")),
    ("/dev/null:mw", ("/dev/null", "", "mw")),
    ("/dev/null:/dev/mynull:rw", ("/dev/null", "/dev/mynull", "rw")),
    ("/dev/./null", ("/dev/null", "", "rwm")),
])
def test_device_flag(text, expected):
    from pyctr.container import flags

    device = flags.device(text)
    assert (device.source, device.destination, device.permissions) == expected


@pytest.mark.parametrize("text, message", [
    ("/dev/null:rel", "invalid device mode: rel"),
    ("/dev/null:/dev/x:rwx", "invalid device mode: rwx"),
    ("/dev/null:/dev/x:rr", "invalid device mode: rr"),
    ("/dev/null:/dev/x:", "invalid device mode: "),
    ("/dev/null::r", "the container's path must be absolute"),
    ("/dev/null:/a:r:w", "invalid device specification"),
    (":/dev/x", "invalid device specification"),
])
def test_device_flag_errors(text, message):
    from pyctr.container import flags

    with pytest.raises(InvalidArgument, match=re.escape(message)):
        flags.device(text)


def test_spec_validation_of_pids_limit_and_devices(tmp_path):
    from pyctr.container.spec import ContainerSpec, Device

    def check(**resources_and_devices):
        spec = ContainerSpec.for_image("busybox")
        spec.storage.devices = resources_and_devices.pop("devices", [])
        spec.resources.pids_limit = resources_and_devices.pop("pids_limit", None)
        spec.validate()

    for fine in (None, -1, 0, 1, 2048, 4194304):
        check(pids_limit=fine)
    for wrong in (-2, 4194305):
        with pytest.raises(InvalidArgument, match=f"invalid --pids-limit {wrong}"):
            check(pids_limit=wrong)
    check(devices=[Device("/dev/null"), Device("/dev/null", "/dev/n", "r"), Device(str(tmp_path))])
    (tmp_path / "file").write_text("")
    for device, message in [(Device("/dev/no-such"), "^stat /dev/no-such: no such file or directory$"),
                            (Device(str(tmp_path / "file")), "not a device node"),
                            (Device("/dev/null", "/dev/n", "x"), "invalid device mode: x"),
                            (Device("/dev/null", "n"), "must be absolute")]:
        with pytest.raises(InvalidArgument, match=message):
            check(devices=[device])


def test_a_spec_keeps_its_devices_and_pids_limit_through_json():
    from pyctr.container.spec import ContainerSpec, Device

    spec = ContainerSpec.for_image("busybox")
    spec.storage.devices = [Device("/dev/null", "/dev/n", "rw")]
    spec.resources.pids_limit = 100
    assert ContainerSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    assert ContainerSpec.for_image("busybox").resources.pids_limit is None  # the configured default


def _record(spec, **resolved):
    from pyctr.container.store import ContainerRecord

    return ContainerRecord(id="c" * 64, name="n", created=0.0, spec_data=spec.to_json(), image_id="i",
                           image_name="busybox", args=["sh"], **resolved)


def _spec_options(record, rootless=False):
    from pyctr.container import ocimap

    return ocimap.spec_options(record, rootfs="/r", uid=0, gid=0, groups=[], home="/root", etc_files={},
                               netns=None, rootless=rootless)


def test_ocimap_passes_the_pids_limit_and_devices():
    from pyctr.container.spec import ContainerSpec, Device
    from pyctr.container.store import ContainerRecord

    spec = ContainerSpec.for_image("busybox")
    spec.storage.devices = [Device("/dev/null", "/dev/mynull", "rw"), Device("/dev/zero")]
    options = _spec_options(_record(spec, pids_limit=100))  # what creation resolved, not the spec's None
    assert options.pids_limit == 100
    assert options.devices == [{"source": "/dev/null", "destination": "/dev/mynull", "permissions": "rw"},
                               {"source": "/dev/zero", "destination": "/dev/zero", "permissions": "rwm"}]
    generated = generate(options, **HOST)
    assert generated["linux"]["resources"]["pids"] == {"limit": 100}
    assert [d["path"] for d in generated["linux"]["devices"]] == ["/dev/mynull", "/dev/zero"]
    # A record written before the pids limit existed has no key: no limit, as when it was made.
    data = _record(ContainerSpec.for_image("busybox")).to_json()
    del data["pids_limit"], data["spec"]["resources"]["pids_limit"], data["spec"]["storage"]["devices"]
    old = _spec_options(ContainerRecord.from_json(data))
    assert (old.pids_limit, old.devices) == (0, [])
    assert "pids" not in generate(old, **HOST)["linux"]["resources"]


def test_containers_conf_pids_limit(tmp_path, monkeypatch):
    from pyctr.containersconf import ContainersConf, containers_conf_paths, default_pids_limit
    from pyctr.errors import ConfigError

    base, override = tmp_path / "base.conf", tmp_path / "override.conf"
    base.write_text("[containers]\npids_limit = 100\nlog_size_max = -1\n[engine]\nruntime = 'runc'\n")
    override.write_text("[engine]\nruntime = 'crun'\n")  # says nothing of pids: the earlier value stays
    assert ContainersConf.load([base, override]).pids_limit == 100
    assert ContainersConf.load([tmp_path / "missing.conf"]).pids_limit == 2048
    override.write_text("[containers]\npids_limit = -1\n")
    assert ContainersConf.load([base, override]).pids_limit == -1
    for bad in ("pids_limit = 'many'", "pids_limit = -5", "pids_limit = true", "pids_limit = ["):
        override.write_text(f"[containers]\n{bad}\n")
        with pytest.raises(ConfigError, match="override.conf"):
            ContainersConf.load([override])
    override.write_text("containers.pids_limit = 7\n")  # a dotted key is the same key
    assert ContainersConf.load([base, override]).pids_limit == 7
    override.write_text("[engine\n# pids_limit = 1\n")  # no line sets it: not even parsed (podman's own file)
    assert ContainersConf.load([base, override]).pids_limit == 100
    monkeypatch.setenv("CONTAINERS_CONF", str(base))
    assert containers_conf_paths() == [base]
    assert default_pids_limit(rootless=False) == 100
    assert default_pids_limit(rootless=True) == 0  # no cgroup: no limit (no file read)
    monkeypatch.setenv("CONTAINERS_CONF", str(tmp_path / "missing.conf"))
    with pytest.raises(ConfigError, match="CONTAINERS_CONF file .*missing.conf: no such file"):
        default_pids_limit(rootless=False)
    monkeypatch.delenv("CONTAINERS_CONF")
    paths = containers_conf_paths()
    assert paths[:2] == [Path("/usr/share/containers/containers.conf"), Path("/etc/containers/containers.conf")]

