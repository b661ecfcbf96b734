"""Other clients of `pyctr system service`: testcontainers (PyPI) starts a container with a wait
strategy, reaches its mapped port and removes it. Its "ryuk" reaper (an image from docker hub) is
disabled: tests never reach the internet."""

import os
import subprocess
import sys
import textwrap

import pytest

from tests.harness.images import WEB_PAGE
from tests.test_service import Service

pytest.importorskip("aiohttp")
pytest.importorskip("testcontainers")
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="published ports as root")

# testcontainers reads its settings from the environment when imported: a process of its own
TESTCONTAINERS_SCRIPT = textwrap.dedent("""\
    import sys, urllib.request
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    image = sys.argv[1]
    # httpd -f logs nothing: the shell says when it is about to serve
    command = ["sh", "-c", "echo serving; exec httpd -f -p 80 -h /www"]
    with DockerContainer(image).with_command(command).with_exposed_ports(80).waiting_for(
            LogMessageWaitStrategy("serving")) as ctr:
        url = f"http://{ctr.get_container_host_ip()}:{ctr.get_exposed_port(80)}/"
        for _ in range(50):
            try:
                print(urllib.request.urlopen(url, timeout=5).read().decode(), end="")
                break
            except OSError:
                import time; time.sleep(0.2)
        print("ID", ctr.get_container_id())
""")


def test_testcontainers_with_a_wait_strategy(registry, pyctr, tmp_path):
    web = f"{registry.host}/test/web:latest"
    pyctr("pull", "-q", web)
    service = Service(pyctr)
    try:
        env = {**pyctr.store.env(), "DOCKER_HOST": service.uri, "TESTCONTAINERS_RYUK_DISABLED": "true"}
        result = subprocess.run([sys.executable, "-c", TESTCONTAINERS_SCRIPT, web], env=env, text=True,
                                capture_output=True, stdin=subprocess.DEVNULL, timeout=180, cwd=tmp_path)
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n--- service ---\n{service.output()}"
        page, _, ident = result.stdout.rpartition("ID ")
        assert page == WEB_PAGE
        assert len(ident.strip()) == 64
        # removed at the end, and no reaper was ever made
        assert pyctr("ps", "-aq").stdout == ""
        assert [line for line in pyctr("images", "--format", "{{.Repository}}").stdout.split() if "ryuk" in line] == []
    finally:
        service.stop()
        pyctr("rm", "-af", "-t", "0", check=False)


def test_attach_over_a_websocket_and_search(image, pyctr):
    """attach/ws: stdin from the client's messages, the output as binary messages, the socket
    closed when the container exits; images/search: a clear refusal."""
    import asyncio

    import aiohttp

    pyctr("run", "-d", "-i", "--name", "svc-ws", image, "sh", "-c", "read line; echo got $line; echo err >&2")
    service = Service(pyctr)

    async def session():
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=service.path)) as http:
            async with http.ws_connect("http://d/v1.41/containers/svc-ws/attach/ws?stream=1&stdin=1&stdout=1"
                                       "&stderr=1") as ws:
                await ws.send_bytes(b"hello\n")
                received = b""
                async for message in ws:
                    assert message.type == aiohttp.WSMsgType.BINARY
                    received += message.data
            async with http.get("http://d/v1.41/images/search", params={"term": "busybox"}) as search:
                return received, search.status, await search.json()

    try:
        received, status, answer = asyncio.run(asyncio.wait_for(session(), 60))
        assert received.replace(b"err\n", b"") == b"got hello\n" and b"err\n" in received
        assert status == 501 and "not supported" in answer["message"]
        assert pyctr("inspect", "--format", "{{.State.ExitCode}}", "svc-ws").stdout == "0\n"
    finally:
        service.stop()
        pyctr("rm", "-af", "-t", "0", check=False)
