"""podman-compose (PyPI, 1.x) as a real client of pyctr's command line: `--podman-path` names a small
wrapper that runs pyctr on the test's store. What podman-compose sends (recorded from it driving
podman 4.3.1) is in COMPOSE_UP: a pod without infra container (`pod create --infra=false --share=`),
a network, `create --pod ... --network=NET:alias=SERVICE --requires=...`, `start`, `wait
--condition=running`; then `ps -a --filter label=...`, `logs --color`, `exec --interactive`,
`stop -t N`, `rm`, `pod rm`, `network ls --noheading --filter label=... --format {{.Name}}`, `network rm`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.harness.images import WEB_PAGE

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="bridge networks as root")
PODMAN_COMPOSE = Path(sys.executable).parent / "podman-compose"
PROJECT = "pyctrcompose"

# podman-compose 1.6.0's commands for `up -d` of COMPOSE_FILE, as it sent them to podman 4.3.1
# (labels left out): each must be accepted by pyctr.
COMPOSE_UP = [
    "ps --filter label=io.podman.compose.project=pyctrcompose -a --format json",
    "pod exists pod_pyctrcompose",
    "pod create --name=pod_pyctrcompose --infra=false --share=",
    "network exists pyctrcompose_default",
    "network create ... --subnet 10.123.40.0/24 pyctrcompose_default",
    "create --name=pyctrcompose_web_1 --pod=pod_pyctrcompose ... --network=pyctrcompose_default:alias=web IMAGE httpd ...",
    "create --name=pyctrcompose_client_1 --pod=pod_pyctrcompose --requires=pyctrcompose_web_1 ... IMAGE sh -c ...",
    "start pyctrcompose_web_1",
    "wait --condition=running pyctrcompose_web_1",
    "start pyctrcompose_client_1",
]

COMPOSE_FILE = """\
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
networks:
  default:
    ipam:
      config:
        - subnet: 10.123.40.0/24
"""


@pytest.fixture
def compose(pyctr, registry, tmp_path):
    """A function running podman-compose in a project directory, with pyctr (on the test's store)
    as its podman; pods, containers and networks removed afterwards, pass or fail."""
    web = f"{registry.host}/test/web:latest"
    pyctr("pull", "-q", web)
    project = tmp_path / "project"
    project.mkdir()
    (project / "compose.yaml").write_text(COMPOSE_FILE.format(web=web))
    wrapper = tmp_path / "pyctr-as-podman"
    wrapper.write_text("#!/bin/sh\nexec " + " ".join(map(shlex.quote, pyctr.argv())) + ' "$@"\n')
    wrapper.chmod(0o755)

    def run(*args, check=True, timeout=120) -> subprocess.CompletedProcess:
        argv = [str(PODMAN_COMPOSE), "--podman-path", str(wrapper), "-p", PROJECT, *args]
        result = subprocess.run(argv, cwd=project, env=pyctr.store.env(), text=True, capture_output=True,
                                stdin=subprocess.DEVNULL, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)}: exit {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    yield run
    pyctr("pod", "rm", "-af", "-t", "0", check=False)
    pyctr("rm", "-af", "-t", "0", check=False)
    names = [n for n in pyctr("network", "ls", "-q", check=False).stdout.split() if n != "pyctr"]
    if names:
        pyctr("network", "rm", "-f", *names, check=False)


@root_only
def test_compose_up_ps_logs_exec_down(compose, pyctr):
    compose("up", "-d")
    names = pyctr("ps", "--format", "{{.Names}} {{.PodName}}", "--sort", "names").stdout
    assert names == f"{PROJECT}_client_1 pod_{PROJECT}\n{PROJECT}_web_1 pod_{PROJECT}\n"
    assert pyctr("pod", "ps", "--format", "{{.Name}} {{.NumberOfContainers}}").stdout == f"pod_{PROJECT} 2\n"
    ps = compose("ps").stdout
    assert f"{PROJECT}_web_1" in ps and f"{PROJECT}_client_1" in ps
    # the client found the web server by its service name, in the project's network
    assert wait_for(lambda: WEB_PAGE.strip() in compose("logs", "client").stdout, timeout=40)
    assert compose("exec", "-T", "client", "wget", "-qO-", "http://web/").stdout == WEB_PAGE
    assert compose("exec", "-T", "web", "hostname").stdout.strip() == pyctr(
        "inspect", "--format", "{{.Id}}", f"{PROJECT}_web_1").stdout[:12]
    compose("down")
    assert pyctr("ps", "-aq").stdout == ""
    assert pyctr("pod", "ps", "-q").stdout == ""
    assert pyctr("network", "ls", "--format", "{{.Name}}").stdout == "pyctr\n"
