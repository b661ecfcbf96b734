"""The shipped pyctr/service/units/pyctr.socket and pyctr.service under a real systemd user manager
(tests/harness/systemd_user.py): the first connection starts the service, which serves the socket
systemd passed it, stops once idle, and is started again by the next connection."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import REPO_ROOT, wait_for
from tests.harness import systemd_user
from tests.harness.systemd_user import UserManager

docker = pytest.importorskip("docker")
pytest.importorskip("aiohttp")
pytestmark = pytest.mark.skipif(not systemd_user.available(), reason="needs root, systemd and a cgroup v2 mount")


def _ping(path: str) -> bool:
    try:
        client = docker.DockerClient(base_url=f"unix://{path}", version="1.41", timeout=30)
        try:
            return client.ping()
        finally:
            client.close()
    except Exception:
        return False


def test_socket_activated_unit(store):
    with UserManager() as sd:
        sd.install_unit("pyctr.socket", (REPO_ROOT / "pyctr/service/units/pyctr.socket").read_text(), reload=False)
        # This checkout's pyctr on the test's store, and a short idle time (the shipped unit runs `pyctr`).
        service = (REPO_ROOT / "pyctr/service/units/pyctr.service").read_text().replace(
            "ExecStart=/usr/bin/env pyctr system service --time 5",
            f"Environment=PYTHONPATH={REPO_ROOT}\n"
            f"ExecStart={sys.executable} -m pyctr --root {store.root} --runroot {store.runroot} system service --time 1")
        assert "--time 1" in service
        sd.install_unit("pyctr.service", service)
        assert sd.systemctl("start", "pyctr.socket").returncode == 0, sd.diagnostics("pyctr.socket")
        path = f"{sd.runtime_dir}/pyctr/pyctr.sock"
        assert _ping(path), sd.diagnostics("pyctr.service")
        assert sd.is_active("pyctr.service")
        assert sd.wait_state("pyctr.service", ("inactive",), timeout=30), sd.diagnostics("pyctr.service")
        assert sd.is_active("pyctr.socket")
        assert wait_for(lambda: _ping(path), timeout=30), sd.diagnostics("pyctr.service")  # started again
        sd.systemctl("stop", "pyctr.socket", "pyctr.service")
