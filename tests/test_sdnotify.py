"""run --sdnotify under a NOTIFY_SOCKET: what the shim tells the socket (here one the test listens on,
as systemd would): conmon → MAINPID (the shim) and READY=1 once the container runs; container →
MAINPID, then what the container itself sends through the socket mounted at /run/notify/notify.sock;
ignore → nothing. Under a real systemd: tests/test_systemd_units.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="runs containers as root")

# A container's sd_notify: one datagram to $NOTIFY_SOCKET (busybox has no such tool).
NOTIFY_C = r"""
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
int main(int argc, char **argv) {
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (!path || argc < 2 || fd < 0) return 2;
    strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
    return sendto(fd, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&addr, sizeof(addr)) < 0;
}
"""


@pytest.fixture
def listener(tmp_path):
    """A datagram socket in the role of systemd's: (its NOTIFY_SOCKET value, the socket)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    sock.settimeout(30)
    yield path, sock
    sock.close()


@pytest.fixture
def notifier(tmp_path) -> str:
    if not shutil.which("gcc"):
        pytest.skip("gcc is needed to build a static sd_notify client for the container")
    source = tmp_path / "notify.c"
    source.write_text(NOTIFY_C)
    binary = tmp_path / "notify-bin"
    result = subprocess.run(["gcc", "-static", "-O2", "-o", str(binary), str(source)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"no static libc to build the sd_notify client: {result.stderr[-300:]}")
    return str(binary)


def _messages(sock: socket.socket) -> list[str]:
    """What is waiting in the socket now."""
    out = []
    sock.setblocking(False)
    try:
        while True:
            out.append(sock.recv(65536).decode())
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(30)
    return out


def test_conmon_mode_says_mainpid_and_ready(pyctr, image, listener):
    path, sock = listener
    env = {"NOTIFY_SOCKET": path}
    try:
        pyctr("run", "-d", "--network", "none", "--sdnotify=conmon", "--name", "nc", image, "sleep", "100", env=env)
        shim = pyctr("inspect", "--format", "{{.State.ConmonPid}}", "nc").stdout.strip()
        assert _messages(sock) == [f"MAINPID={shim}\nREADY=1"]  # sent before `run -d` returned
        # The container has no NOTIFY_SOCKET of its own, nor runc (it would wait for a READY=1 itself).
        assert "NOTIFY_SOCKET" not in pyctr("exec", "nc", "env").stdout
    finally:
        pyctr("rm", "-f", "-t", "0", "nc", check=False)


def test_ignore_mode_and_no_socket_say_nothing(pyctr, image, listener):
    path, sock = listener
    try:
        pyctr("run", "-d", "--network", "none", "--sdnotify=ignore", "--name", "ni", image, "sleep", "100",
              env={"NOTIFY_SOCKET": path})
        pyctr("run", "-d", "--network", "none", "--sdnotify=conmon", "--name", "nn", image, "sleep", "100")
        assert _messages(sock) == []
        assert "NOTIFY_SOCKET" not in pyctr("exec", "ni", "env").stdout
    finally:
        pyctr("rm", "-f", "-t", "0", "ni", "nn", check=False)


def test_container_mode_passes_the_containers_own_ready_on(pyctr, image, notifier):
    # An abstract socket (systemd's `@` names) this time; the container's MAINPID is not passed on.
    name = f"pyctr-test-{uuid.uuid4().hex[:8]}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(30)
    try:
        # --sdnotify container is the default
        pyctr("run", "-d", "--network", "none", "--name", "nco", "-v", f"{notifier}:/notify:ro", image, "sh", "-c",
              "while [ ! -e /tmp/go ]; do sleep 0.1; done; /notify \"$(printf 'MAINPID=1\\nREADY=1\\nSTATUS=up')\"; "
              "exec sleep 100", env={"NOTIFY_SOCKET": f"@{name}"})
        shim = pyctr("inspect", "--format", "{{.State.ConmonPid}}", "nco").stdout.strip()
        assert sock.recv(65536).decode() == f"MAINPID={shim}"
        env = pyctr("exec", "nco", "env").stdout.splitlines()
        assert "NOTIFY_SOCKET=/run/notify/notify.sock" in env
        pyctr("exec", "nco", "touch", "/tmp/go")
        assert sock.recv(65536).decode() == "READY=1\nSTATUS=up"
    finally:
        sock.close()
        pyctr("rm", "-f", "-t", "0", "nco", check=False)
