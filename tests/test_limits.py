"""Integration: the pids limit (default 2048, --pids-limit, containers.conf) and --device, through the
command line, runc and the container's own view of its cgroup (as root; rootless: tests/test_rootless.py)."""

from __future__ import annotations

import os

import pytest

PIDS_MAX = "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"
# A bounded fork bomb: a subshell starts 100 sleepers (busybox sh gives up at the first failed fork),
# then PID 1 reads how many processes the container holds, with builtins only (a fork could fail).
FORKS = ("( i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done ) 2>/dev/null; "
         "read n < /sys/fs/cgroup/pids/pids.current 2>/dev/null || read n < /sys/fs/cgroup/pids.current; echo $n")



def test_every_container_gets_the_default_pids_limit(pyctr, image):
    assert pyctr("run", "--rm", image, "sh", "-c", PIDS_MAX).stdout == "2048\n"
    assert pyctr("run", "--rm", "--pids-limit", "100", image, "sh", "-c", PIDS_MAX).stdout == "100\n"
    for none in ("-1", "0"):
        assert pyctr("run", "--rm", f"--pids-limit={none}", image, "sh", "-c", PIDS_MAX).stdout == "max\n"
    # create shares run's flags, and the limit is the container's for every start
    pyctr("create", "--name", "limited", "--pids-limit", "64", image, "sh", "-c", PIDS_MAX)
    assert pyctr("start", "-a", "limited").stdout == "64\n"
    assert pyctr("start", "-a", "limited").stdout == "64\n"


def test_the_default_comes_from_containers_conf_at_creation(pyctr, image, store):
    conf = store.tmp / "containers.conf"
    conf.write_text("[containers]\npids_limit = 321\n")
    env = {"CONTAINERS_CONF": str(conf)}
    assert pyctr("run", "--rm", image, "sh", "-c", PIDS_MAX, env=env).stdout == "321\n"
    pyctr("create", "--name", "made-with-321", image, "sh", "-c", PIDS_MAX, env=env)
    assert pyctr("start", "-a", "made-with-321").stdout == "321\n"  # fixed when it was made
    conf.write_text("[containers]\npids_limit = 'lots'\n")
    bad = pyctr("run", "--rm", image, "true", env=env, check=False)
    assert bad.returncode == 125 and "pids_limit must be a number" in bad.stderr


def test_a_fork_bomb_is_contained(pyctr, image):
    contained = int(pyctr("run", "--rm", "--pids-limit", "20", image, "sh", "-c", FORKS).stdout)
    assert 1 < contained <= 20
    assert int(pyctr("run", "--rm", image, "sh", "-c", FORKS).stdout) == 101  # the default leaves room


def test_bad_pids_limits_are_refused(pyctr, image):
    for wrong in ("-2", "5000000"):
        result = pyctr("run", "--rm", "--pids-limit", wrong, image, "true", check=False)
        assert result.returncode == 125 and f"invalid --pids-limit {wrong}" in result.stderr
    result = pyctr("run", "--rm", "--pids-limit", "many", image, "true", check=False)
    assert result.returncode == 125 and "--pids-limit" in result.stderr


def test_a_device_appears_and_works(pyctr, image):
    out = pyctr("run", "--rm", "--device", "/dev/null:/dev/mynull", "--device", "/dev/zero:r", image, "sh", "-c",
                "ls -l /dev/mynull /dev/zero | cut -c1-10; echo data > /dev/mynull && echo written").stdout
    assert out.split() == ["crw-rw-rw-", "crw-rw-rw-", "written"]


@pytest.mark.skipif(not os.path.exists("/dev/loop-control"), reason="needs /dev/loop-control")
def test_device_permissions_are_the_cgroups(pyctr, image):
    # /dev/loop-control is in no default rule (unlike /dev/null, /dev/zero or /dev/net/tun)
    script = "grep '^c 10:237 ' /sys/fs/cgroup/devices/devices.list; (: > /dev/lc) 2>/dev/null && echo writable || echo denied"
    read_only = pyctr("run", "--rm", "--device", "/dev/loop-control:/dev/lc:r", image, "sh", "-c", script).stdout
    assert read_only.split("\n")[-2] == "denied"
    writable = pyctr("run", "--rm", "--device", "/dev/loop-control:/dev/lc:rw", image, "sh", "-c", script).stdout
    assert writable.split("\n")[-2] == "writable"


def test_device_errors_are_one_line(pyctr, image, store):
    missing = pyctr("run", "--rm", "--device", "/dev/no-such-device", image, "true", check=False)
    assert missing.returncode == 125
    assert missing.stderr == "Error: stat /dev/no-such-device: no such file or directory\n"
    (store.tmp / "plain").write_text("")
    not_a_device = pyctr("create", "--device", f"{store.tmp}/plain:/dev/p", image, check=False)
    assert not_a_device.returncode == 125 and not_a_device.stderr.endswith("is not a valid device: not a device node\n")
    bad_mode = pyctr("run", "--rm", "--device", "/dev/null:/dev/n:rwx", image, "true", check=False)
    assert bad_mode.returncode == 125 and bad_mode.stderr.startswith("Error: invalid device mode: rwx")
    assert pyctr("ps", "-aq").stdout == ""  # nothing was made
