"""podman-compose driving pyctr as a rootless user: the same two services as test_compose, on a
network in the user's rootless network namespace. Run under `flock /tmp/pyctr-rootless-tests.lock`,
as the other rootless tests (it creates a user)."""

import os
import sys

import pytest

from tests.conftest import wait_for
from tests.harness.images import WEB_PAGE
from tests.test_compose import COMPOSE_FILE, PODMAN_COMPOSE
from tests.test_rootless import rootless, tun_for_users  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="runs pyctr as another user, set up as root")
PROJECT = "rlcompose"


def test_rootless_compose_up_exec_down(rootless, registry, tun_for_users):  # noqa: F811
    web = f"{registry.host}/test/web:latest"
    rootless.pyctr("pull", "-q", web)
    project = rootless.base / "compose-project"
    project.mkdir(mode=0o755)
    # (no ipam subnet: the network lives in the user's own network namespace)
    (project / "compose.yaml").write_text(COMPOSE_FILE.format(web=web).split("networks:")[0])
    wrapper = rootless.base / "pyctr-as-podman"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m pyctr "$@"\n')
    wrapper.chmod(0o755)

    def compose(*args):
        return rootless.run([str(PODMAN_COMPOSE), "--podman-path", str(wrapper), "-p", PROJECT, "-f",
                             str(project / "compose.yaml"), *args])

    try:
        compose("up", "-d")
        assert wait_for(lambda: WEB_PAGE.strip() in compose("logs", "client").stdout, timeout=40)
        assert compose("exec", "-T", "client", "wget", "-qO-", "http://web/").stdout == WEB_PAGE
        compose("down")
        assert rootless.pyctr("ps", "-aq").stdout == "" and rootless.pyctr("pod", "ps", "-q").stdout == ""
        assert rootless.pyctr("network", "ls", "--format", "{{.Name}}").stdout == "pyctr\n"
    finally:
        rootless.pyctr("pod", "rm", "-af", "-t", "0", check=False)
        rootless.pyctr("rm", "-af", "-t", "0", check=False)
        rootless.pyctr("network", "rm", "-f", f"{PROJECT}_default", check=False)
