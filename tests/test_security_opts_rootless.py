"""--security-opt and --systemd's release_agent mask, rootless (podman 4.3.1 compared side by side: the same
maskedPaths, release_agent included). Run under `flock /tmp/pyctr-rootless-tests.lock`, as test_rootless
(it creates a user)."""

from __future__ import annotations

import json
import os

import pytest

from tests.test_rootless import rootless  # noqa: F401  (fixture: a user with subordinate ids)


def test_security_options_rootless(rootless, registry):  # noqa: F811
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    profile = rootless.base / "deny-mkdir.json"  # where the user can read it
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}))
    rootless.pyctr("create", "--name", "g1-rl", "--network", "none", "--security-opt", f"seccomp={profile}",
                   "--security-opt", "mask=/proc/version", image, "sh", "-c", "mkdir /d 2>&1; echo [$(cat /proc/version)]")
    profile.unlink()  # kept with the container at create
    out = rootless.pyctr("start", "-a", "g1-rl").stdout
    assert "Operation not permitted" in out and "[]" in out
    rootless.pyctr("rm", "g1-rl")


@pytest.mark.skipif(not os.path.isdir("/sys/fs/cgroup/systemd"), reason="no cgroup v1 systemd hierarchy")
def test_systemd_masks_the_release_agent_rootless(rootless, registry):  # noqa: F811
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    out = rootless.pyctr("run", "--rm", "--network", "none", "--systemd", "always", image, "sh", "-c",
                         "grep -c ' /sys/fs/cgroup/systemd/release_agent ' /proc/self/mountinfo").stdout
    assert out.strip() == "1"
