"""Rootless: top, diff, mount (only from inside `pyctr unshare`, as podman's), update (no cgroup on
v1: one clear error) and system df. Run under `flock /tmp/pyctr-rootless-tests.lock` as the other
rootless tests (they create a user)."""

from __future__ import annotations

import sys

from tests.test_rootless import rootless  # noqa: F401 (fixture)


def test_inspection_commands_rootless(rootless, registry):  # noqa: F811
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    rootless.pyctr("run", "-d", "--name", "h6rl", image, "sh", "-c", "echo > /newfile; sleep 1000")
    try:
        top = rootless.pyctr("top", "h6rl", "user", "pid", "huser", "args").stdout.splitlines()
        assert top[0].split() == ["USER", "PID", "HUSER", "COMMAND"]
        assert any(line.split()[:3] == ["root", "1", rootless.name] for line in top[1:])
        assert "A /newfile" in rootless.pyctr("diff", "h6rl").stdout.splitlines()
        refused = rootless.pyctr("mount", "h6rl", check=False)
        assert (refused.returncode, refused.stderr.strip()) == (
            125, 'Error: cannot run command "pyctr mount" in rootless mode, must execute `pyctr unshare` first')
        inside = rootless.pyctr("unshare", "sh", "-c", f"{sys.executable} -m pyctr mount h6rl").stdout.strip()
        assert inside.endswith("/merged")
        update = rootless.pyctr("update", "--memory", "64m", "h6rl", check=False)
        assert update.returncode == 125 and update.stderr.count("\n") == 1 and "rootless" in update.stderr
        assert rootless.pyctr("system", "df").stdout.splitlines()[2].split()[:3] == ["Containers", "1", "1"]
    finally:
        rootless.pyctr("rm", "-f", "h6rl", check=False)
