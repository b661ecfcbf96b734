"""Generated units under a real systemd user manager (tests/harness/systemd_user.py), issue 11's
acceptance: `create --name web -p PORT:80 IMAGE httpd ...`, `generate systemd --new --files --name web
--restart-policy on-failure`, the unit installed and started: active, the page answers, the main pid
is the shim's; kill -9 of the container's process → systemd restarts it; stop → the container is
gone. As root with root's user manager, and as the rootless test user with that user's. And
`systemd-analyze verify` passes every kind of unit pyctr generates.

Run under `flock /tmp/pyctr-rootless-tests.lock` (the rootless test creates a user)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, fetch, free_port, wait_for
from tests.harness import systemd_user
from tests.harness.images import WEB_PAGE
from tests.harness.systemd_user import UserManager
from tests.test_rootless import rootless, tun_for_users  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(not systemd_user.available(), reason="needs root, systemd and a cgroup v2 mount")

HTTPD = ["httpd", "-f", "-p", "80", "-h", "/www"]
UNIT = "container-web.service"


def _serve_web(sd: UserManager, pyctr, port: int) -> None:
    """The acceptance, with `pyctr(*args)` running pyctr as the manager's user."""
    assert sd.systemctl("start", UNIT).returncode == 0, sd.diagnostics(UNIT)
    assert sd.wait_state(UNIT, "active", timeout=60), sd.diagnostics(UNIT)
    assert wait_for(lambda: fetch(f"http://127.0.0.1:{port}/") == WEB_PAGE, timeout=60), sd.diagnostics(UNIT)
    main_pid = sd.show(UNIT, "MainPID")
    assert main_pid == pyctr("inspect", "--format", "{{.State.ConmonPid}}", "web").stdout.strip(), sd.diagnostics(UNIT)
    assert f"Main PID: {main_pid} (python" in sd.status(UNIT)  # the shim, a python process

    container_pid = int(pyctr("inspect", "--format", "{{.State.Pid}}", "web").stdout)
    os.kill(container_pid, signal.SIGKILL)

    def restarted() -> bool:
        return (sd.show(UNIT, "NRestarts") not in ("", "0") and sd.show(UNIT, "ActiveState") == "active"
                and sd.show(UNIT, "MainPID") not in ("0", main_pid))

    assert wait_for(restarted, timeout=90, interval=0.5), sd.diagnostics(UNIT)
    assert wait_for(lambda: fetch(f"http://127.0.0.1:{port}/") == WEB_PAGE, timeout=60), sd.diagnostics(UNIT)
    assert sd.show(UNIT, "MainPID") == pyctr("inspect", "--format", "{{.State.ConmonPid}}", "web").stdout.strip()

    assert sd.systemctl("stop", UNIT, timeout=180).returncode == 0, sd.diagnostics(UNIT)
    assert sd.show(UNIT, "ActiveState") in ("inactive", "failed")  # httpd, as pid 1, dies of the SIGKILL after -t
    assert pyctr("ps", "-aq").stdout == ""
    assert fetch(f"http://127.0.0.1:{port}/", timeout=2) is None


def test_a_new_unit_as_root(pyctr, store, registry):
    web = f"{registry.host}/test/web"
    pyctr("pull", "-q", web)
    port = free_port()
    pyctr("create", "--name", "web", "-p", f"{port}:80", web, *HTTPD)
    try:
        with UserManager(env={"PYTHONPATH": str(REPO_ROOT)}) as sd:
            out = pyctr("generate", "systemd", "--new", "--files", "--name", "web", "--restart-policy", "on-failure")
            assert out.stdout == f"{store.tmp}/{UNIT}\n"
            sd.install_unit(UNIT, (store.tmp / UNIT).read_text())
            _serve_web(sd, pyctr, port)
    finally:
        pyctr("rm", "-f", "--all", check=False)


def test_a_new_unit_as_a_rootless_user(rootless, registry, tun_for_users):  # noqa: F811
    web = f"{registry.host}/test/web"
    rootless.pyctr("pull", "-q", web)
    port = free_port()
    rootless.pyctr("create", "--name", "web", "-p", f"{port}:80", web, *HTTPD)
    try:
        with UserManager(user=rootless.name, runtime_dir=rootless.runtime, env=rootless.env()) as sd:
            generate = [sys.executable, "-m", "pyctr", "generate", "systemd", "--new", "--files", "--name", "web",
                        "--restart-policy", "on-failure"]
            # --files writes into the current directory: the user's unit directory (~/.config/systemd/user)
            script = f'cd "{sd.unit_dir}" && exec "$@"'
            out = rootless.run(["sh", "-c", script, "sh", *generate])
            assert out.stdout == f"{sd.unit_dir}/{UNIT}\n"
            sd.daemon_reload()
            _serve_web(sd, rootless.pyctr, port)
    finally:
        rootless.pyctr("rm", "-f", "--all", check=False)


def test_a_unit_of_an_existing_container(pyctr, store, image):
    """Without --new: start and stop of the container, followed through its shim's pid file (Type=forking)."""
    pyctr("create", "--name", "old", "--network", "none", image, "sleep", "1000")
    unit = "container-old.service"
    try:
        with UserManager(env={"PYTHONPATH": str(REPO_ROOT)}) as sd:
            sd.install_unit(unit, pyctr("generate", "systemd", "--name", "--stop-timeout", "1", "old").stdout)
            assert sd.systemctl("start", unit).returncode == 0, sd.diagnostics(unit)
            assert sd.wait_state(unit, "active", timeout=60), sd.diagnostics(unit)
            shim = pyctr("inspect", "--format", "{{.State.ConmonPid}}", "old").stdout.strip()
            assert sd.show(unit, "MainPID") == shim
            os.kill(int(pyctr("inspect", "--format", "{{.State.Pid}}", "old").stdout), signal.SIGKILL)
            assert wait_for(lambda: sd.show(unit, "NRestarts") not in ("", "0") and sd.show(unit, "ActiveState") == "active"
                            and sd.show(unit, "MainPID") not in ("0", shim), timeout=90, interval=0.5), sd.diagnostics(unit)
            assert sd.systemctl("stop", unit, timeout=120).returncode == 0, sd.diagnostics(unit)
            assert pyctr("inspect", "--format", "{{.State.Status}}", "old").stdout == "exited\n"
    finally:
        pyctr("rm", "-f", "--all", check=False)


def test_the_shims_exit_status_is_the_units(pyctr, store, image):
    """A --new unit's main process is the shim: the container's exit code is the service's."""
    pyctr("create", "--name", "three", "--network", "none", image, "sh", "-c", "sleep 1; exit 3")
    try:
        with UserManager(env={"PYTHONPATH": str(REPO_ROOT)}) as sd:
            text = pyctr("generate", "systemd", "--new", "--name", "--restart-policy", "no", "three").stdout
            sd.install_unit("container-three.service", text)
            assert sd.systemctl("start", "container-three.service").returncode == 0, sd.diagnostics("container-three.service")
            assert sd.wait_state("container-three.service", ("failed", "inactive"), timeout=60)
            assert sd.show("container-three.service", "ExecMainStatus") == "3", sd.diagnostics("container-three.service")
    finally:
        pyctr("rm", "-f", "--all", check=False)


def test_systemd_analyze_verifies_every_kind_of_unit(pyctr, store, image, tmp_path):
    pyctr("create", "--name", "solo", "--network", "none", "-e", "A=b c", image, "sh", "-c", 'echo "$HOME" 100%')
    pyctr("pod", "create", "--name", "shop")
    pyctr("create", "--pod", "shop", "--name", "member", image, "sleep", "100")
    try:
        runs = [["--name", "solo"], ["--new", "--name", "solo"], ["--template", "solo"], ["--name", "shop"],
                ["--new", "--name", "shop"],
                ["--new", "--restart-sec", "3", "--start-timeout", "9", "--wants", "sockets.target", "--after", "timers.target",
                 "--requires", "paths.target", "-e", "X=1", "--restart-policy", "always", "solo"]]
        for n, args in enumerate(runs):
            directory = tmp_path / f"units{n}"
            directory.mkdir()
            paths = subprocess.run(
                [sys.executable, "-m", "pyctr", "--root", str(store.root), "--runroot", str(store.runroot), "generate",
                 "systemd", "--files", *args], cwd=directory, env=store.env(), capture_output=True, text=True,
                check=True).stdout.split()
            assert paths
            # --man=no: the man page is pyctr's, not installed here; --user: they are user units
            result = subprocess.run(["systemd-analyze", "verify", "--man=no", "--user", *paths], capture_output=True,
                                    text=True, env={**os.environ, "XDG_RUNTIME_DIR": str(store.xdg_runtime_dir)})
            assert (result.returncode, result.stderr) == (0, ""), (args, [open(p).read() for p in paths])
    finally:
        pyctr("pod", "rm", "-f", "shop", check=False)
        pyctr("rm", "-f", "--all", check=False)
