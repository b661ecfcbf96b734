"""--security-opt (mask, unmask, systempaths, proc-opts, apparmor, label, seccomp, no-new-privileges) and
--systemd's release_agent mask.

What podman 4.3.1 does was compared side by side (its config.json after `podman create`, on this host:
cgroup v1, no AppArmor, no SELinux); the expectations below record it. One deliberate difference:
proc-opts adds to the /proc mount's nosuid,noexec,nodev where podman replaces them.
"""

from __future__ import annotations

import json
import os

import pytest

from pyctr.container import flags, securityopts
from pyctr.container.spec import ContainerSpec, SecuritySpec
from pyctr.errors import InvalidArgument
from pyctr.runtime.spec import CAPS, MASKED_PATHS, READONLY_PATHS, SpecOptions, generate

HOST = dict(hard_limits={"RLIMIT_NOFILE": 20000, "RLIMIT_NPROC": 4194304}, machine="x86_64", host_caps=set(CAPS))
RELEASE_AGENT = "/sys/fs/cgroup/systemd/release_agent"


def parse(*items: str) -> SecuritySpec:
    security = SecuritySpec()
    flags.security_options(list(items), security)
    return security


def gen(**kwargs) -> dict:
    return generate(SpecOptions(**{"rootfs": "/r", "args": ["sh"], **kwargs}), **HOST)


# -- parsing (podman's reading, docker's KEY:VALUE too) ----------------------------------------

def test_parsing_each_option():
    s = parse("mask=/proc/foo:/bar", "mask:/baz", "unmask=/proc/kcore:/proc/sys", "proc-opts=hidepid=2,subset=pid",
              "apparmor=unconfined", "label=disable", "label:type:x", "no-new-privileges", "seccomp:unconfined")
    assert s.mask == ["/proc/foo", "/bar", "/baz"]
    assert s.unmask == ["/proc/kcore", "/proc/sys"]
    assert s.proc_opts == ["hidepid=2", "subset=pid"]
    assert (s.apparmor, s.labels, s.no_new_privileges, s.seccomp) == ("unconfined", ["disable", "type:x"], True, "unconfined")


def test_parsing_values_as_podman():
    assert parse("unmask=ALL").unmask == ["ALL"]
    assert parse("systempaths=unconfined").unmask == ["ALL"]
    assert parse("unmask=/proc/kcore:ALL").unmask == ["/proc/kcore"]  # ALL counts only as the whole value
    assert parse("proc-opts=a", "proc-opts=b").proc_opts == ["b"]  # the last one
    assert parse("seccomp=").seccomp == "default"
    assert parse("seccomp=p.json").seccomp == os.path.abspath("p.json")
    for text, wanted in (("true", True), ("1", True), ("t", True), ("TRUE", True), ("false", False), ("F", False)):
        assert parse("no-new-privileges", f"no-new-privileges={text}").no_new_privileges is wanted
    assert parse("no-new-privileges:true").no_new_privileges is True


@pytest.mark.parametrize("item, message", [
    ("mask", 'invalid --security-opt 1: "mask"'),
    ("bogus", 'invalid --security-opt 1: "bogus"'),
    ("bogus=1", 'invalid --security-opt 2: "bogus=1"'),
    ("no-new-privileges=maybe", 'invalid --security-opt 2: "no-new-privileges=maybe"'),
    ("no-new-privileges=", 'invalid --security-opt 2: "no-new-privileges="'),
    ("no-new-privileges:maybe", 'invalid --security-opt 2: "no-new-privileges:maybe"'),
    ("systempaths=foo", 'invalid systempaths option "foo", only `unconfined` is supported'),
])
def test_parsing_errors_are_podmans(item, message):
    with pytest.raises(InvalidArgument) as info:
        parse(item)
    assert str(info.value) == message


def test_host_checks(tmp_path, monkeypatch):
    monkeypatch.setattr(securityopts, "APPARMOR_ENABLED", str(tmp_path / "absent"))
    monkeypatch.setattr(securityopts, "SELINUX_ENFORCE", str(tmp_path / "absent"))
    with pytest.raises(InvalidArgument) as info:
        securityopts.validate(parse("apparmor=foo"))
    assert str(info.value) == 'apparmor profile "foo" specified, but Apparmor is not enabled on this system'
    securityopts.validate(parse("apparmor=unconfined", "apparmor=", "label=disable", "label=type:x", "label=nested"))
    assert securityopts.apparmor_for_start(parse("apparmor=unconfined")) == ""
    enabled = tmp_path / "enabled"
    enabled.write_text("Y\n")
    monkeypatch.setattr(securityopts, "APPARMOR_ENABLED", str(enabled))
    securityopts.validate(parse("apparmor=foo"))
    assert securityopts.apparmor_for_start(parse("apparmor=foo")) == "foo"
    monkeypatch.setattr(securityopts, "SELINUX_ENFORCE", str(enabled))  # SELinux on: labels are not built
    securityopts.validate(parse("label=disable"))
    with pytest.raises(InvalidArgument, match="SELinux labels are not built yet"):
        securityopts.validate(parse("label=type:x"))
    with pytest.raises(InvalidArgument, match='path "relative" is not an absolute path'):
        securityopts.validate(parse("mask=relative"))
    with pytest.raises(InvalidArgument) as info:
        securityopts.validate(parse(f"seccomp={tmp_path}/missing.json"))
    assert str(info.value) == f"opening seccomp profile failed: open {tmp_path}/missing.json: no such file or directory"


def test_spec_round_trip_keeps_the_options():
    spec = ContainerSpec.for_image("busybox")
    spec.security = parse("mask=/a", "unmask=ALL", "proc-opts=hidepid=2", "apparmor=unconfined", "label=disable")
    assert ContainerSpec.from_json(json.loads(json.dumps(spec.to_json()))).security == spec.security


# -- the OCI spec (podman's config.json, recorded) ---------------------------------------------

def test_masked_paths_as_podman():
    linux = gen(mask=["/proc/foo", "/bar"])["linux"]
    assert linux["maskedPaths"] == MASKED_PATHS + ["/proc/foo", "/bar"]
    linux = gen(unmask=["/proc/kcore", "/proc/sys"])["linux"]
    assert linux["maskedPaths"] == [p for p in MASKED_PATHS if p != "/proc/kcore"]
    assert linux["readonlyPaths"] == [p for p in READONLY_PATHS if p != "/proc/sys"]
    linux = gen(unmask=["/proc/*"])["linux"]  # * stays within one path element (Go's filepath.Match)
    assert linux["maskedPaths"] == ["/sys/firmware", "/sys/fs/selinux", "/sys/dev/block"] and "readonlyPaths" not in linux
    linux = gen(unmask=["/proc/k*", "/sys/*"])["linux"]
    assert linux["maskedPaths"] == [p for p in MASKED_PATHS if p not in ("/proc/kcore", "/proc/keys", "/sys/firmware")]
    assert "maskedPaths" not in gen(unmask=["ALL"])["linux"] and "readonlyPaths" not in gen(unmask=["ALL"])["linux"]
    assert gen(unmask=["/proc/sys/", "relative"])["linux"]["readonlyPaths"] == READONLY_PATHS  # no match, as podman
    # mask comes after unmask and after --privileged's clearing
    assert gen(unmask=["ALL"], mask=["/a"])["linux"]["maskedPaths"] == ["/a"]
    assert gen(privileged=True, mask=["/a"])["linux"]["maskedPaths"] == ["/a"]
    assert gen(mask=["/a"], unmask=["/a"])["linux"]["maskedPaths"] == MASKED_PATHS + ["/a"]


def test_proc_opts_apparmor_and_seccomp(tmp_path):
    proc = next(m for m in gen(proc_opts=["hidepid=2", "nosuid"])["mounts"] if m["destination"] == "/proc")
    assert proc["options"] == ["nosuid", "noexec", "nodev", "hidepid=2"]
    assert gen(apparmor_profile="foo")["process"]["apparmorProfile"] == "foo"
    assert "apparmorProfile" not in gen()["process"]
    profile = tmp_path / "p.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ALLOW"}')
    # --privileged drops the default profile, not one the user gave (podman's config.json has it)
    assert gen(privileged=True, seccomp=str(profile))["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ALLOW"
    assert "seccomp" not in gen(privileged=True)["linux"]


def test_glob_patterns():
    """unmask= patterns read as Go's path.Match (pyctr.pathmatch, shared with images' reference=)."""
    from pyctr.pathmatch import matches as match

    assert match("/proc/[kl]*", "/proc/latency_stats") and not match("/proc/[!k]*", "/proc/kcore")
    assert match("/proc/?cpi", "/proc/acpi") and not match("/proc/*", "/proc/sys/kernel")
    assert not match("/p.c", "/pxc") and match("/a[", "/a[")
    assert match("/a\\*", "/a*") and not match("/a\\*", "/ab") and match("/[]x]", "/]")


# -- through the real runc ----------------------------------------------------------------------

def _config(pyctr, name: str) -> dict:
    container_id = pyctr("inspect", "--format", "{{.Id}}", name).stdout.strip()
    return json.loads((pyctr.store.root / "containers" / container_id / "bundle" / "config.json").read_text())


def test_mask_unmask_and_proc_opts_in_a_container(pyctr, image):
    out = pyctr("run", "--rm", "--security-opt", "mask=/proc/version:/etc/hostname", "--security-opt", "proc-opts=hidepid=2",
                image, "sh", "-c", "echo [$(cat /proc/version)] [$(cat /etc/hostname)]; grep '^proc /proc ' /proc/mounts").stdout
    assert out.startswith("[] []\n") and "hidepid=" in out
    out = pyctr("run", "--rm", "--security-opt", "unmask=/proc/*", image, "sh", "-c", "grep -c ' /proc/[a-z]' /proc/mounts || true")
    assert out.stdout.strip() == "0"  # nothing masked nor read-only under /proc
    pyctr("create", "--name", "g1-sys", "--security-opt", "systempaths=unconfined", image, "true")
    pyctr("container", "init", "g1-sys")
    config = _config(pyctr, "g1-sys")
    assert "maskedPaths" not in config["linux"] and "readonlyPaths" not in config["linux"]
    pyctr("rm", "-f", "g1-sys")


def test_bad_values_fail_as_podman(pyctr, image, tmp_path):
    for option, message in (("apparmor=foo", 'apparmor profile "foo" specified, but Apparmor is not enabled on this system'),
                            ("systempaths=foo", 'invalid systempaths option "foo", only `unconfined` is supported'),
                            ("bogus", 'invalid --security-opt 1: "bogus"')):
        if option.startswith("apparmor") and securityopts.apparmor_enabled():
            continue
        result = pyctr("create", "--security-opt", option, image, "true", check=False)
        assert (result.returncode, result.stderr.strip()) == (125, f"Error: {message}")
    bad = tmp_path / "bad.json"
    bad.write_text("junk")
    result = pyctr("create", "--security-opt", f"seccomp={bad}", image, "true", check=False)
    assert result.returncode == 125
    assert result.stderr.startswith(f"Error: loading seccomp profile ({bad}) failed: decoding seccomp profile failed: ")
    assert pyctr("ps", "-aq").stdout.strip() == ""  # nothing half-made


def test_seccomp_profile_is_kept_at_create(pyctr, image, tmp_path):
    profile = tmp_path / "deny-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}))
    pyctr("create", "--name", "g1-sc", "--security-opt", f"seccomp={profile}", image, "sh", "-c", "mkdir /d 2>&1; echo rc=$?")
    profile.unlink()  # podman embeds the profile at create: the file is not needed any more
    out = pyctr("start", "-a", "g1-sc").stdout
    assert "Operation not permitted" in out and "rc=1" in out
    assert pyctr("start", "-a", "g1-sc").stdout == out  # and again
    pyctr("rm", "g1-sc")


@pytest.mark.skipif(not os.path.isdir("/sys/fs/cgroup/systemd"), reason="no cgroup v1 systemd hierarchy")
def test_systemd_masks_the_release_agent(pyctr, image):
    # the hierarchy is bound writable: without the mask, CAP_SYS_ADMIN could set a program the host runs
    # (nothing is written here: the file is the host's, should the mask be missing)
    out = pyctr("run", "--rm", "--systemd", "always", "--cap-add", "sys_admin", image, "sh", "-c",
                "grep -c ' /sys/fs/cgroup/systemd/release_agent ' /proc/self/mountinfo; ls -l /sys/fs/cgroup/systemd/release_agent").stdout
    assert out.splitlines()[0] == "1" and out.splitlines()[1].startswith("c")  # /dev/null over it
    pyctr("create", "--name", "g1-sd", "--privileged", "--systemd", "always", image, "true")
    pyctr("container", "init", "g1-sd")
    assert _config(pyctr, "g1-sd")["linux"]["maskedPaths"] == [RELEASE_AGENT]  # as podman's, even --privileged
    pyctr("rm", "-f", "g1-sd")


def test_inspect_shows_security_opt_as_podman(pyctr, image):
    pyctr("create", "--name", "g1-in", "--security-opt", "label=type:x", "--security-opt", "label=level:s0",
          "--security-opt", "apparmor=unconfined", "--security-opt", "seccomp=unconfined", "--security-opt", "no-new-privileges",
          "--security-opt", "mask=/a", "--security-opt", "unmask=ALL", image, "true")
    shown = json.loads(pyctr("inspect", "--format", "{{json .HostConfig.SecurityOpt}}", "g1-in").stdout)
    assert shown == ["no-new-privileges", "label=type:x,label=level:s0", "seccomp=unconfined", "apparmor=unconfined"]
    pyctr("rm", "g1-in")
