"""The systemd user-manager harness (tests/harness/systemd_user.py): it comes up, runs a unit, and leaves
nothing behind, for root and for the rootless test user. Run under `flock /tmp/pyctr-rootless-tests.lock`."""

import os
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.harness import systemd_user
from tests.harness.systemd_user import UserManager
from tests.test_rootless import rootless  # noqa: F401  (fixture)

pytestmark = pytest.mark.skipif(not systemd_user.available(), reason="needs root, systemd and a cgroup v2 mount")

UNIT = """[Unit]
Description=harness check

[Service]
Type=exec
ExecStart=/bin/sleep 300
"""


def _state() -> tuple[bool, set[str]]:
    dirs = set()
    for root in systemd_user.CGROUP_ROOTS:
        if (root / "user.slice").exists():
            dirs |= {d for d, _, _ in os.walk(root / "user.slice")}
    return Path("/run/systemd/system").exists(), Path("/run/user/0").exists(), dirs


def _check_manager(sd: UserManager) -> None:
    assert sd.systemctl("is-system-running").stdout.strip() in ("running", "degraded")
    sd.install_unit("harness-check.service", UNIT)
    sd.systemctl("start", "harness-check.service", check=True)
    assert sd.is_active("harness-check.service"), sd.diagnostics("harness-check.service")
    pid = int(sd.show("harness-check.service", "MainPID"))
    assert Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"/bin/sleep\x00")
    assert os.stat(f"/proc/{pid}").st_uid == sd.uid
    assert f"/user@{sd.uid}.service/" in Path(f"/proc/{pid}/cgroup").read_text()
    assert "harness-check.service" in sd.status("harness-check.service")
    sd.systemctl("stop", "harness-check.service", check=True)
    assert wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=30)


def test_root_user_manager():
    before = _state()
    with UserManager() as sd:
        assert Path("/run/systemd/system").is_dir()
        assert sd.unit_dir.is_relative_to(sd.config_home) and sd.unit_dir.is_dir()
        _check_manager(sd)
        manager_pid = sd.process.pid
    assert not Path(f"/proc/{manager_pid}").exists()
    assert _state() == before


def test_rootless_user_manager(rootless):  # noqa: F811
    before = _state()
    with UserManager(user=rootless.name, runtime_dir=rootless.runtime, env=rootless.env()) as sd:
        assert sd.cgroup.stat().st_uid == rootless.pw.pw_uid
        _check_manager(sd)
        assert (rootless.runtime / "systemd" / "private").exists()
        manager_pid = sd.process.pid
    assert not Path(f"/proc/{manager_pid}").exists()
    assert _state() == before
    assert rootless.runtime.exists()  # not ours to remove: the fixture's
