"""slirp4netns: started detached, stopped without polling, reaped by whoever started it, and
cleaned up also after it died. The first tests call pyctr.network.slirp as root (real
slirp4netns, real namespaces under tmp_path); the rootless ones run pyctr as a user, under
`flock /tmp/pyctr-rootless-tests.lock` as test_rootless (they create a user)."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from pyctr.container.spec import PortMapping
from pyctr.linux import mount as mountmod
from pyctr.network import slirp
from tests.conftest import free_port, wait_for
from tests.test_rootless import rootless, tun_for_users  # noqa: F401  (fixtures)

CONTAINER = "5e1f" * 16


def _pid(run_dir: Path, container_id: str = CONTAINER) -> int:
    return int(slirp.paths(run_dir, container_id)[2].read_text().split()[0])


def _exited(pidfd: int) -> bool:
    return bool(__import__("select").select([pidfd], [], [], 0)[0])




def _assert_cleaned(run_dir: Path, container_id: str = CONTAINER) -> None:
    netns = slirp.paths(run_dir, container_id)[0]
    assert not mountmod.is_mountpoint(str(netns))
    assert not list((run_dir / "netns").iterdir())


@pytest.fixture
def run_dir(tmp_path):
    yield tmp_path
    slirp.teardown(tmp_path, CONTAINER)  # a failed test's namespace mount goes too


def test_teardown_stops_and_reaps_our_own_child(run_dir):
    netns = slirp.setup(run_dir, CONTAINER, [])
    assert mountmod.is_mountpoint(str(netns))
    assert os.stat(netns).st_ino != os.stat("/proc/self/ns/net").st_ino  # a new one; we stay in ours
    pid = _pid(run_dir)
    log = slirp.paths(run_dir, CONTAINER)[3]
    assert "received tapfd" in log.read_text()  # its stderr goes to a file, not to a pipe to us
    pidfd = os.pidfd_open(pid)
    try:
        slirp.teardown(run_dir, CONTAINER)
        _assert_cleaned(run_dir)
        assert wait_for(lambda: _exited(pidfd))
        slirp.teardown(run_dir, CONTAINER)  # twice is fine, and reaps what has exited since
        with pytest.raises(ChildProcessError):  # reaped: no zombie left in this process
            os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOHANG)
    finally:
        os.close(pidfd)


def test_published_ports_are_free_once_teardown_returns(run_dir):
    port = free_port()
    slirp.setup(run_dir, CONTAINER, [PortMapping(host_port=port, container_port=80)])
    slirp.teardown(run_dir, CONTAINER)
    _assert_cleaned(run_dir)
    with socket.socket() as s:  # slirp4netns has exited: nobody listens there any more
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen()


def test_a_port_in_use_is_an_error_and_leaves_nothing(run_dir):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(slirp.NetworkError, match=f"publishing port {port}: "):
            slirp.setup(run_dir, CONTAINER, [PortMapping(host_port=port, container_port=80)])
    _assert_cleaned(run_dir)


def test_teardown_after_slirp4netns_was_killed(run_dir):
    slirp.setup(run_dir, CONTAINER, [PortMapping(host_port=free_port(), container_port=80)])
    pid = _pid(run_dir)
    os.kill(pid, signal.SIGKILL)
    slirp.teardown(run_dir, CONTAINER)
    _assert_cleaned(run_dir)


def test_a_pid_file_naming_another_process_is_not_signalled(run_dir):
    import subprocess

    other = subprocess.Popen(["sleep", "60"])
    try:
        slirp.setup(run_dir, CONTAINER, [])
        pid = _pid(run_dir)
        os.kill(pid, signal.SIGKILL)
        slirp.paths(run_dir, CONTAINER)[2].write_text(f"{other.pid} 0\n")  # as if the pid were reused
        slirp.teardown(run_dir, CONTAINER)
        _assert_cleaned(run_dir)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_slirp4netns_failing_to_start_says_why(tmp_path):
    not_a_namespace = tmp_path / "plain-file"
    not_a_namespace.touch()
    log = tmp_path / "slirp.log"
    with pytest.raises(slirp.NetworkError, match=r"^slirp4netns: setns\(CLONE_NEWNET\): Invalid argument$"):
        slirp._start_slirp(not_a_namespace, tmp_path / "api.sock", log)


# -- rootless: pyctr's own start and removal ---------------------------------------------------

def _user_processes(user, name: str) -> list[tuple[int, int, str, int]]:
    """(pid, parent pid, state, session id) of the user's processes called `name`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != user.pw.pw_uid or (entry / "comm").read_text().strip() != name:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found.append((int(entry.name), int(fields[1]), fields[0], int(fields[3])))
    return found


def test_rootless_default_network_outlives_the_cli_and_is_cleaned_up_after_a_kill(rootless, registry,  # noqa: F811
                                                                                   tun_for_users):  # noqa: F811
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    assert "10.0.2.100" in rootless.pyctr("run", "--rm", image, "ip", "-4", "addr", "show", "tap0").stdout
    netns_dir = rootless.runtime / "pyctr" / "netns"
    assert not list(netns_dir.iterdir())

    rootless.pyctr("run", "-d", "--name", "slirpbg", image, "sleep", "60")
    try:
        # The CLI has exited: slirp4netns runs on, in its own session, and keeps the network up.
        (pid, _, state, session), = [p for p in _user_processes(rootless, "slirp4netns") if p[2] != "Z"]
        assert session == pid and state in ("S", "R")
        assert "10.0.2.100" in rootless.pyctr("exec", "slirpbg", "ip", "-4", "addr", "show", "tap0").stdout
        os.kill(pid, signal.SIGKILL)
    finally:
        rootless.pyctr("rm", "-f", "-t", "0", "slirpbg")
    assert not list(netns_dir.iterdir())
    mounts = rootless.pyctr("unshare", "cat", "/proc/self/mountinfo").stdout
    assert str(netns_dir) not in mounts
