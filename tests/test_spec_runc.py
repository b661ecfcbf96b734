"""Integration: specs from pyctr.runtime.spec run by the real runc, checked from inside the container.

Needs root, runc and a static busybox (Debian's busybox-static). A static C probe for raw
system calls is built when gcc is present; the tests that need it skip otherwise.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from pyctr.runtime import spec as specmod
from pyctr.runtime.spec import SpecOptions
from pyctr.container.userdb import resolve_user

BUSYBOX = shutil.which("busybox")
RUNC = shutil.which("runc")
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not RUNC or not BUSYBOX,
                                reason="needs root, runc and busybox")

APPLETS = ["sh", "cat", "grep", "id", "ls", "sleep", "mount", "umount", "touch", "unshare", "hostname",
           "echo", "wc", "head", "tr", "true", "false", "sed", "cut"]
PASSWD = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"
GROUP = "root:x:0:\nuser:x:1000:\nwheel:x:10:user\naudio:x:29:user\n"

# The capability numbers of podman's default set (capabilities(7)).
DEFAULT_CAP_NUMBERS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6,
                       "SETUID": 7, "SETPCAP": 8, "NET_BIND_SERVICE": 10, "SYS_CHROOT": 18, "SETFCAP": 31}

PROBE_C = r"""
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
/* probe NR [ARG...]: make one raw system call, print its result or -errno. */
int main(int argc, char **argv) {
    long a[6] = {0};
    for (int i = 2; i < argc && i < 8; i++) a[i - 2] = strtol(argv[i], 0, 0);
    long r = syscall(strtol(argv[1], 0, 0), a[0], a[1], a[2], a[3], a[4], a[5]);
    printf("%ld\n", r < 0 ? -(long)errno : r);
    return 0;
}
"""
EPERM, ENOSYS = 1, 38


def _host_cap_bounding() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))


@pytest.fixture(scope="module")
def rootfs() -> Path:
    # Not under pytest's 0700 tmp dir: the rootless test's mapped root must reach it.
    top = Path(tempfile.mkdtemp(prefix="pyctr-spec-runc-"))
    top.chmod(0o755)
    try:
        yield _build_rootfs(top / "rootfs")
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _build_rootfs(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "mnt").mkdir()
    shutil.copy2(os.path.realpath(BUSYBOX), root / "bin" / "busybox")
    for applet in APPLETS:
        os.symlink("busybox", root / "bin" / applet)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    if shutil.which("gcc"):
        (root.parent / "probe.c").write_text(PROBE_C)
        subprocess.run(["gcc", "-static", "-O2", "-o", str(root / "bin" / "probe"), str(root.parent / "probe.c")],
                       check=True, capture_output=True)
    return root


def run(tmp_path: Path, options: SpecOptions, script: str, **generate_kwargs) -> subprocess.CompletedProcess:
    """Run `sh -c script` in a container made from `options`; always delete it afterwards."""
    options.args = ["/bin/sh", "-c", script]
    bundle = tmp_path / f"bundle-{uuid.uuid4().hex[:8]}"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(specmod.generate(options, **generate_kwargs)))
    runc = ["runc", "--root", str(tmp_path / "runc")]
    container = f"pyctr-spec-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    try:
        return subprocess.run([*runc, "run", "--bundle", str(bundle), container], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60)
    finally:
        subprocess.run([*runc, "delete", "--force", container], capture_output=True, timeout=30)


def status_fields(stdout: str) -> dict[str, str]:
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in stdout.splitlines()) if v}


STATUS = "grep -E '^(Cap(Prm|Eff|Bnd|Inh|Amb)|Seccomp|NoNewPrivs):' /proc/self/status"


def test_default_spec(rootfs, tmp_path):
    result = run(tmp_path, SpecOptions(rootfs=str(rootfs), args=[], hostname="pyctr-test"), f"""
        {STATUS}
        echo "nofile: $(ulimit -n)"
        echo "hostname: $(hostname)"
        echo "kcore: $(cat /proc/kcore 2>/dev/null | wc -c)"
        echo "timer_list: $(cat /proc/timer_list 2>/dev/null | wc -c)"
        echo "firmware: $(ls -A /sys/firmware | wc -l)"
        echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo "proc_sys: writable" || echo "proc_sys: read-only"
        mount -t tmpfs x /mnt 2>/dev/null && echo "mount: ok" || echo "mount: denied"
        unshare -n true 2>/dev/null && echo "unshare: ok" || echo "unshare: denied"
        echo "pipes: $(echo hello world | tr a-z A-Z | sed s/WORLD/THERE/)"
        sleep 0.1 && echo "sleep: ok"
        echo "ls: $(ls /bin | grep -c busybox)"
        echo "net: $(ls /sys/class/net | tr '\\n' ' ')"
        echo "ping_group_range: $(cat /proc/sys/net/ipv4/ping_group_range | tr '\\t' ' ')"
        echo "env_path: $PATH"
    """)
    assert result.returncode == 0, result.stderr
    fields = status_fields(result.stdout)
    default_mask = sum(1 << n for n in DEFAULT_CAP_NUMBERS.values()) & _host_cap_bounding()
    for key in ("CapPrm", "CapEff", "CapBnd"):
        assert int(fields[key], 16) == default_mask, (key, result.stdout)
    assert int(fields["CapInh"], 16) == int(fields["CapAmb"], 16) == 0
    assert fields["Seccomp"] == "2" and fields["NoNewPrivs"] == "0"
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert fields["nofile"] == str(1048576 if hard == resource.RLIM_INFINITY else min(1048576, hard))
    assert fields["hostname"] == "pyctr-test"
    assert fields["kcore"] == "0" and fields["timer_list"] == "0" and fields["firmware"] == "0"
    assert fields["proc_sys"] == "read-only"
    assert fields["mount"] == "denied" and fields["unshare"] == "denied"
    assert fields["pipes"] == "HELLO THERE" and fields["sleep"] == "ok" and int(fields["ls"]) >= 1
    assert fields["net"] == "lo"
    assert fields["ping_group_range"] == "0 0"
    assert fields["env_path"] == specmod.DEFAULT_PATH


def test_user_from_passwd(rootfs, tmp_path):
    uid, gid, groups, home = resolve_user(str(rootfs), "user")
    options = SpecOptions(rootfs=str(rootfs), args=[], uid=uid, gid=gid, additional_gids=groups, home=home,
                          no_new_privileges=True)
    result = run(tmp_path, options, f'{STATUS}; echo "id: $(id -u) $(id -g) $(id -G)"; echo "home: $HOME"')
    assert result.returncode == 0, result.stderr
    fields = status_fields(result.stdout)
    assert fields["id"].split()[:2] == ["1000", "1000"]
    assert set(fields["id"].split()[2:]) - {"1000"} == {"10", "29"}
    assert fields["home"] == "/home/user"
    assert int(fields["CapEff"], 16) == int(fields["CapPrm"], 16) == 0
    assert fields["NoNewPrivs"] == "1"


def test_non_root_cap_add_reaches_the_process(rootfs, tmp_path):
    options = SpecOptions(rootfs=str(rootfs), args=[], uid=1000, gid=1000, cap_add=["net_raw"])
    result = run(tmp_path, options, STATUS)
    assert result.returncode == 0, result.stderr
    fields = status_fields(result.stdout)
    assert int(fields["CapEff"], 16) == int(fields["CapAmb"], 16) == 1 << 13  # CAP_NET_RAW


def test_readonly_rootfs(rootfs, tmp_path):
    options = SpecOptions(rootfs=str(rootfs), args=[], readonly_rootfs=True)
    result = run(tmp_path, options, """
        touch /x 2>/dev/null && echo "root: writable" || echo "root: read-only"
        touch /tmp/x && echo "tmp: writable"
    """)
    assert result.returncode == 0, result.stderr
    assert status_fields(result.stdout) == {"root": "read-only", "tmp": "writable"}
    assert not (rootfs / "x").exists()


def test_privileged(rootfs, tmp_path):
    result = run(tmp_path, SpecOptions(rootfs=str(rootfs), args=[], privileged=True), f"""
        {STATUS}
        echo "firmware: $(ls -A /sys/firmware | wc -l)"
        mount -t tmpfs x /mnt && echo "mount: ok" && umount /mnt
    """)
    assert result.returncode == 0, result.stderr
    fields = status_fields(result.stdout)
    host = _host_cap_bounding() & ((1 << len(specmod.CAPS)) - 1)
    for key in ("CapPrm", "CapEff", "CapBnd"):
        assert int(fields[key], 16) == host, key
    assert fields["Seccomp"] == "0"
    assert fields["mount"] == "ok"
    assert int(fields["firmware"]) == len(os.listdir("/sys/firmware"))  # not masked


def test_user_ulimits_and_mounts(rootfs, tmp_path):
    options = SpecOptions(rootfs=str(rootfs), args=[], ulimits=["nofile=100:200", "nproc=50"], shm_size=2 << 20,
                          mounts=[{"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}])
    result = run(tmp_path, options, """
        echo "nofile: $(ulimit -n) $(ulimit -Hn)"
        echo "nproc: $(ulimit -u)"
        echo "shm: $(grep ' /dev/shm ' /proc/mounts | grep -o 'size=[0-9]*k')"
        touch /data/x && echo "data: ok"
    """)
    assert result.returncode == 0, result.stderr
    assert status_fields(result.stdout) == {"nofile": "100 200", "nproc": "50", "shm": "size=2048k", "data": "ok"}


def test_rootless_spec_in_a_user_namespace(rootfs, tmp_path):
    """The rootless spec, run by root (runc then sets up the user namespace itself)."""
    mapping = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    options = SpecOptions(rootfs=str(rootfs), args=[], rootless=True, uid_mappings=mapping, gid_mappings=mapping)
    result = run(tmp_path, options, f'{STATUS}; echo "uid_map: $(cat /proc/self/uid_map | tr -s " ")"; '
                                    'echo "sys: $(ls /sys/kernel >/dev/null && echo ok)"')
    assert result.returncode == 0, result.stderr
    fields = status_fields(result.stdout)
    assert fields["uid_map"].split() == ["0", "200000", "65536"]
    assert fields["Seccomp"] == "2" and fields["sys"] == "ok"


def test_pids_limit_and_devices(rootfs, tmp_path):
    devices = [{"source": "/dev/null", "destination": "/dev/mynull", "permissions": "rwm"},
               {"source": "/dev/loop-control", "destination": "/dev/lc", "permissions": "r"}]
    if not os.path.exists("/dev/loop-control"):
        devices.pop()
    options = SpecOptions(rootfs=str(rootfs), args=[], pids_limit=10, devices=devices)
    result = run(tmp_path, options, """
        echo "pids.max: $(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"
        echo "mynull: $(ls -l /dev/mynull | tr -s ' ' | cut -d' ' -f1,5,6)"
        echo written > /dev/mynull && echo "write: ok"
        if [ -e /dev/lc ]; then (: > /dev/lc) 2>/dev/null && echo "lc: writable" || echo "lc: denied"; fi
    """)
    assert result.returncode == 0, result.stderr
    fields = status_fields(result.stdout)
    assert fields["pids.max"] == "10"
    assert fields["mynull"] == "crw-rw-rw- 1, 3" and fields["write"] == "ok"
    if len(devices) == 2:
        assert fields["lc"] == "denied"  # read only: the cgroup refuses to open it for writing


def test_rootless_devices_are_bind_mounts(rootfs, tmp_path):
    mapping = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    options = SpecOptions(rootfs=str(rootfs), args=[], rootless=True, uid_mappings=mapping, gid_mappings=mapping,
                          devices=[{"source": "/dev/null", "destination": "/dev/mynull", "permissions": "rw"}])
    result = run(tmp_path, options, """
        echo "mount: $(grep -c ' /dev/mynull ' /proc/mounts)"
        echo written > /dev/mynull && echo "write: ok"
    """)
    assert result.returncode == 0, result.stderr
    assert status_fields(result.stdout) == {"mount": "1", "write": "ok"}


# -- raw system calls through the probe ------------------------------------------------------

SYSCALLS_X86_64 = {"clone3": 435, "bpf": 321, "personality": 135, "socket": 41, "keyctl": 250,
                   "clone": 56, "kexec_load": 246, "getpid": 39}


def _probe(rootfs: Path, tmp_path: Path, calls: list[str], **options) -> list[int]:
    if not (rootfs / "bin" / "probe").exists():
        pytest.skip("needs gcc to build the probe")
    if os.uname().machine != "x86_64":
        pytest.skip("syscall numbers are x86_64's")
    script = "; ".join(f"probe {c}" for c in calls)
    result = run(tmp_path, SpecOptions(rootfs=str(rootfs), args=[], **options), script)
    assert result.returncode == 0, result.stderr
    return [int(line) for line in result.stdout.split()]


def test_seccomp_default_profile_with_raw_calls(rootfs, tmp_path):
    n = SYSCALLS_X86_64
    calls = [f"{n['clone3']} 0 0", f"{n['bpf']} 0 0 0", f"{n['personality']} 0x40000",
             f"{n['personality']} 0xffffffff", f"{n['socket']} 40 1 0", f"{n['socket']} 1 1 0",
             f"{n['keyctl']} 0 0", f"{n['clone']} 0x10000000 0 0 0 0", f"{n['kexec_load']} 0 0 0 0",
             f"{n['getpid']}", "470 0"]
    clone3, bpf, no_aslr, query, vsock, unix, keyctl, clone_userns, kexec, pid, future = \
        _probe(rootfs, tmp_path, calls)
    assert clone3 == -ENOSYS  # libc falls back to clone
    assert bpf == no_aslr == vsock == keyctl == clone_userns == kexec == -EPERM
    assert query >= 0 and unix >= 0 and pid > 1
    assert future == -ENOSYS  # runc answers ENOSYS for calls newer than the profile knows


def test_seccomp_with_sys_admin(rootfs, tmp_path):
    n = SYSCALLS_X86_64
    clone3, kexec = _probe(rootfs, tmp_path, [f"{n['clone3']} 0 0", f"{n['kexec_load']} 0 0 0 0"],
                           cap_add=["sys_admin"])
    assert clone3 == -22  # EINVAL from the kernel itself: the filter let it through
    assert kexec == -EPERM
