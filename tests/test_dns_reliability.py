"""aardvark-dns, the one DNS server of every root store's bridge networks, keeps serving.

Found while testing pods and compose: names stopped resolving (`wget: bad address 'web'`) until
the next container's setup started aardvark-dns again. The causes (pyctr.network.aardvark):
netavark's start of it through `systemd-run` fails while /run/systemd/system exists without a
system manager (the systemd test harness creates it); a systemd unit that started it stops and
kills it; a network new to it gets its socket a moment after the setup. Checked as well: a restart
by policy sets the network up from under the container's shim (a child subreaper), and many
`run --rm` at once start and stop it.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, wait_for
from tests.harness import systemd_user
from tests.harness.images import WEB_PAGE

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="bridge networks as root")
HTTPD = ["httpd", "-f", "-p", "80", "-h", "/www"]
CONFIG = Path("/run/pyctr/networks/aardvark-dns")


@pytest.fixture
def network(pyctr):
    name = f"dnsrel{os.getpid() % 10000}"
    pyctr("network", "create", name)
    yield name
    pyctr("rm", "-fa", "-t", "0", check=False)
    pyctr("network", "rm", "-f", name, check=False)


def _aardvark() -> dict:
    """The running aardvark-dns: pid, parent, state letter, cgroup ({} if the pid file names none)."""
    try:
        pid = int((CONFIG / "aardvark.pid").read_text())
        stat = Path(f"/proc/{pid}/stat").read_text()
        cgroup = Path(f"/proc/{pid}/cgroup").read_text()
    except (OSError, ValueError):
        return {}
    fields = stat.rsplit(")", 1)[1].split()
    return {"pid": pid, "state": fields[0], "ppid": int(fields[1]), "cgroup": cgroup}


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


# Three times, a moment apart, before failing: busybox's nslookup gives up after one lost datagram,
# and aardvark-dns 1.4 refuses questions for a millisecond whenever another container's setup or
# teardown on the host makes it reload (pyctr.network.aardvark).
def _retried(command: str) -> str:
    return f"{{ {command}; }} || {{ sleep 0.2; {command}; }} || {{ sleep 0.5; {command}; }}"


def _resolves(pyctr, container: str, name: str) -> bool:
    script = _retried(f"nslookup {name} >/dev/null 2>&1")
    return pyctr("exec", container, "sh", "-c", script, check=False).returncode == 0


def test_a_restart_by_policy_leaves_aardvark_serving_and_not_under_a_shim(pyctr, web, network):
    # The first run fails: the restart's network setup runs in the cleanup, a child of the shim.
    script = "test -e /ran || { touch /ran; exit 1; }; exec " + " ".join(HTTPD)
    pyctr("run", "-d", "--name", "r1", "--restart", "on-failure", "--network", network, web, "sh", "-c", script)
    assert wait_for(lambda: pyctr("inspect", "--format", "{{.RestartCount}} {{.State.Status}}", "r1").stdout.strip()
                    == "1 running", timeout=60)
    out = pyctr("run", "--rm", "--network", network, web, "sh", "-c", _retried("wget -qO- http://r1/")).stdout
    assert out == WEB_PAGE
    # The old shim is gone once its cleanup has restarted the container: whoever adopted
    # aardvark-dns reaps it, and it is never a shim (nor a zombie).
    assert wait_for(lambda: b"pyctr.shim" not in _cmdline(_aardvark().get("ppid", 0)), timeout=30), _aardvark()
    assert _aardvark()["state"] != "Z"
    assert _resolves(pyctr, "r1", "r1")


def test_many_run_rm_at_once_resolve_their_own_names(pyctr, image, network):
    """While aardvark-dns serves another network, each round's first container brings its network
    back to it: its socket comes a moment after the SIGHUP, and the setup waits for it."""
    other = network + "b"
    pyctr("network", "create", other)
    try:
        pyctr("run", "-d", "--name", "other", "--network", other, image, "sleep", "300")

        def one(name: str) -> str:
            script = _retried(f"nslookup {name} >/tmp/out 2>&1") + f" || {{ echo FAIL {name}; cat /tmp/out; }}"
            return pyctr("run", "--rm", "--name", name, "--network", network, image, "sh", "-c", script).stdout

        for round_ in range(4):
            with ThreadPoolExecutor(4) as pool:
                assert "".join(pool.map(one, [f"p{round_}{i}" for i in range(4)])) == ""
    finally:
        pyctr("rm", "-f", "-t", "0", "other", check=False)
        pyctr("network", "rm", "-f", other, check=False)


@pytest.fixture
def fake_systemd_booted():
    """What the systemd harness does to the host: /run/systemd/system without systemd as PID 1,
    so that netavark's `systemd-run --scope aardvark-dns` fails (taken through the harness's
    reference count, so that a harness running at the same time keeps it)."""
    if not systemd_user.available():
        pytest.skip("needs the systemd harness")
    token = f"{os.getpid()}:dns-reliability"  # (the harness's token: pid first)
    systemd_user._acquire_shared(token)
    try:
        yield
    finally:
        systemd_user._release_shared(token)


def test_names_resolve_while_netavark_cannot_use_systemd_run(pyctr, web, network, fake_systemd_booted):
    assert systemd_user.RUN_SYSTEMD.is_dir()
    pyctr("run", "-d", "--name", "srv", "--network", network, web, *HTTPD)
    assert _resolves(pyctr, "srv", "srv"), _aardvark()


@pytest.mark.skipif(not systemd_user.available(), reason="needs root, systemd and a cgroup v2 mount")
def test_a_unit_that_started_aardvark_stops_and_names_still_resolve(pyctr, store, image, web, network):
    from tests.harness.systemd_user import UserManager

    unit = "dnsuser.service"
    argv = [sys.executable, "-m", "pyctr", "--root", str(store.root), "--runroot", str(store.runroot),
            "run", "--rm", "--name", "inunit", "--network", network, image, "sleep", "300"]
    text = f"[Service]\nExecStart={' '.join(argv)}\nKillMode=control-group\nTimeoutStopSec=5\n"
    with UserManager(env={"PYTHONPATH": str(REPO_ROOT)}) as sd:
        sd.install_unit(unit, text)
        assert sd.systemctl("start", unit).returncode == 0, sd.diagnostics(unit)
        assert wait_for(lambda: pyctr("ps", "-q", "--filter", "name=inunit").stdout.strip() != "", timeout=60), \
            sd.diagnostics(unit)
        pyctr("run", "-d", "--name", "srv", "--network", network, web, *HTTPD)
        assert _resolves(pyctr, "srv", "inunit"), (_aardvark(), sd.diagnostics(unit))
        assert unit not in _aardvark()["cgroup"]  # its own scope, not the unit's
        sd.systemctl("stop", unit, timeout=120)
        assert sd.wait_state(unit, ("inactive", "failed"), timeout=60), sd.diagnostics(unit)
        # aardvark-dns served every container: srv's name still resolves
        assert _resolves(pyctr, "srv", "srv"), _aardvark()
    # The manager's exit took the scope, and aardvark-dns, with it (as a logout would): the next
    # setup starts it again, whatever its pid file says.
    pyctr("run", "--rm", "--network", network, image, "true")
    assert _resolves(pyctr, "srv", "srv"), _aardvark()


def test_a_zombie_or_another_process_in_the_pid_file_is_not_serving(tmp_path):
    from pyctr.network import aardvark

    (tmp_path / "aardvark-dns").mkdir()
    assert aardvark.serving(tmp_path) is None and not aardvark.has_names(tmp_path)
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        assert wait_for(lambda: Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z")
        (tmp_path / "aardvark-dns" / "aardvark.pid").write_text(str(pid))  # a zombie (as netavark signals)
        assert aardvark.serving(tmp_path) is None
        aardvark.before_setup(tmp_path)  # netavark will start one
        assert not (tmp_path / "aardvark-dns" / "aardvark.pid").exists()
    finally:
        os.waitpid(pid, 0)
    (tmp_path / "aardvark-dns" / "aardvark.pid").write_text(str(os.getpid()))  # alive, not aardvark-dns
    assert aardvark.serving(tmp_path) is None and not aardvark.has_names(tmp_path)
    (tmp_path / "aardvark-dns" / "pyctr-net").write_text("10.89.0.1\n")
    assert aardvark.has_names(tmp_path)
    assert aardvark.uses_dns({"network_info": {"a": {"dns_enabled": False}, "b": {"dns_enabled": True}}})
