"""Debian's docker-compose 1.29 (a docker-py client) drives `pyctr system service`: `up -d` of a web
service and a client that reaches it by name on the project's network, `ps`, `logs`, `down`."""

import os
import shutil
import subprocess

import pytest

from tests.conftest import wait_for
from tests.harness.images import WEB_PAGE
from tests.test_service import Service

pytest.importorskip("aiohttp")
DOCKER_COMPOSE = shutil.which("docker-compose")
pytestmark = [pytest.mark.skipif(not DOCKER_COMPOSE, reason="docker-compose is not installed"),
              pytest.mark.skipif(os.geteuid() != 0, reason="bridge networks as root")]
PROJECT = "pyctrsvc"

COMPOSE_FILE = """\
version: "3.7"
services:
  web:
    image: {web}
    command: httpd -f -p 80 -h /www
    stop_grace_period: 1s
  client:
    image: {web}
    command: ["sh", "-c", "for i in $$(seq 30); do wget -qO- http://web/ && break; sleep 1; done; exec sleep 600"]
    depends_on: [web]
    stop_grace_period: 1s
"""


@pytest.fixture
def compose(pyctr, registry, tmp_path):
    web = f"{registry.host}/test/web:latest"
    pyctr("pull", "-q", web)
    service = Service(pyctr)
    project = tmp_path / "project"
    project.mkdir()
    (project / "docker-compose.yml").write_text(COMPOSE_FILE.format(web=web))
    env = {**pyctr.store.env(), "DOCKER_HOST": service.uri, "COMPOSE_INTERACTIVE_NO_CLI": "1"}

    def run(*args, check=True, timeout=120) -> subprocess.CompletedProcess:
        argv = [DOCKER_COMPOSE, "--no-ansi", "-p", PROJECT, *args]
        result = subprocess.run(argv, cwd=project, env=env, text=True, capture_output=True,
                                stdin=subprocess.DEVNULL, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)}: exit {result.returncode}\n{result.stdout}\n{result.stderr}\n"
                                 f"--- service ---\n{service.output()}")
        return result

    yield run
    service.stop()
    pyctr("rm", "-af", "-t", "0", check=False)
    names = [n for n in pyctr("network", "ls", "-q", check=False).stdout.split() if n != "pyctr"]
    if names:
        pyctr("network", "rm", "-f", *names, check=False)


def test_compose_up_ps_logs_down(compose, pyctr):
    compose("up", "-d")
    names = pyctr("ps", "--format", "{{.Names}}", "--sort", "names").stdout
    assert names == f"{PROJECT}_client_1\n{PROJECT}_web_1\n"
    assert f"{PROJECT}_default" in pyctr("network", "ls", "--format", "{{.Name}}").stdout
    ps = compose("ps").stdout
    assert f"{PROJECT}_web_1" in ps and f"{PROJECT}_client_1" in ps
    assert "Up " in ps and "Up ()" not in ps  # (no healthcheck: no health in the state)
    # the client found the web server by its service name, on the project's network
    assert wait_for(lambda: WEB_PAGE.strip() in compose("logs", "client").stdout, timeout=40)
    compose("down")
    assert pyctr("ps", "-aq").stdout == ""
    assert pyctr("network", "ls", "--format", "{{.Name}}").stdout == "pyctr\n"
