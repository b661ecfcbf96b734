"""`pyctr system service` rootless: the default socket under $XDG_RUNTIME_DIR, the user's only,
and containers run in the user's namespace through the Docker API.

Run under `flock /tmp/pyctr-rootless-tests.lock` (the fixture creates a user)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import wait_for
from tests.test_rootless import rootless  # noqa: F401  (fixture)

docker = pytest.importorskip("docker")
pytest.importorskip("aiohttp")


def test_rootless_service(rootless, registry):  # noqa: F811
    path = rootless.runtime / "pyctr" / "pyctr.sock"
    env_args = [f"{k}={v}" for k, v in rootless.env().items()]
    proc = subprocess.Popen(["runuser", "-u", rootless.name, "--", "env", "-i", *env_args, sys.executable, "-m",
                             "pyctr", "system", "service", "--time", "0"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd="/", start_new_session=True)
    try:
        assert wait_for(lambda: path.exists() or proc.poll() is not None, timeout=30)
        assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
        info = os.stat(path)
        assert (info.st_uid, info.st_mode & 0o777) == (rootless.pw.pw_uid, 0o660)
        client = docker.DockerClient(base_url=f"unix://{path}", timeout=60)
        client.images.pull(f"{registry.host}/test/busybox", tag="latest")
        assert client.containers.run(f"{registry.host}/test/busybox", "id -u", remove=True) == b"0\n"
        assert client.info()["SecurityOptions"][-1] == "name=rootless"
        client.close()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
