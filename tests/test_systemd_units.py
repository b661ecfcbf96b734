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


# -- the rootless pause process and units ------------------------------------------------------------

FIRST_COMMAND = """[Unit]
Description=the first rootless pyctr command after the pause process is gone

[Service]
Type=oneshot
StandardError=file:{err}
ExecStart={python} -m pyctr {args}
"""


def _live_pause(rootless) -> int | None:  # noqa: F811
    try:
        pid = int((rootless.runtime / "pyctr" / "pause.pid").read_text())
    except (OSError, ValueError):
        return None
    try:
        return pid if (b"sleep" in open(f"/proc/{pid}/cmdline", "rb").read()) else None
    except OSError:
        return None


def _cgroup(pid: int) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        return next(line[3:].strip() for line in f if line.startswith("0::"))


def _pause_scopes() -> list[str]:
    root = systemd_user.CGROUP_ROOTS[0] / "user.slice"
    return [d for d, _, _ in os.walk(root) if "pyctr-pause-" in d] if root.exists() else []


def _kill_pause(rootless) -> None:  # noqa: F811
    pid = _live_pause(rootless)
    if pid:
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: _live_pause(rootless) is None, timeout=10)


def _run_first_command(sd: UserManager, *args: str) -> None:
    """A oneshot unit runs `pyctr ARGS`: once it is done, systemd kills what is left in its cgroup."""
    err = sd.config_home / "first.err"
    sd.install_unit("first.service", FIRST_COMMAND.format(python=sys.executable, args=" ".join(args), err=err))
    assert sd.systemctl("start", "first.service").returncode == 0, sd.diagnostics("first.service")
    assert sd.wait_state("first.service", "inactive", timeout=30), sd.diagnostics("first.service")
    assert err.read_text() == ""  # no warning: the move worked


def test_the_pause_process_made_in_a_unit_outlives_it(rootless, registry):  # noqa: F811
    """A container started outside any unit keeps running; the pause process is gone; a unit's pyctr
    is the next command: the new pause process must not die with that unit."""
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    rootless.pyctr("run", "-d", "--name", "bg", "--network", "none", image, "sleep", "1000")
    try:
        with UserManager(user=rootless.name, runtime_dir=rootless.runtime, env=rootless.env()) as sd:
            _kill_pause(rootless)
            _run_first_command(sd, "ps", "-q")
            pause = _live_pause(rootless)
            assert pause, sd.diagnostics()
            cgroup = _cgroup(pause)
            assert f"/user@{sd.uid}.service/user.slice/pyctr-pause-" in cgroup and cgroup.endswith(".scope")
            assert os.readlink(f"/proc/{pause}/ns/user") == os.readlink(
                f"/proc/{rootless.pyctr('inspect', '--format', '{{.State.Pid}}', 'bg').stdout.strip()}/ns/user")
            assert rootless.pyctr("exec", "bg", "true").returncode == 0
        # The manager's exit stops the scope: no process and no cgroup are left of it.
        assert wait_for(lambda: not os.path.exists(f"/proc/{pause}"), timeout=10)
        assert _pause_scopes() == []
    finally:
        rootless.stop_everything()


def test_a_mount_made_in_a_unit_outlives_it(rootless, registry):  # noqa: F811
    """No container runs and no pause process exists: a unit's `pyctr mount` makes the namespace. Once
    the unit is done, the mount is still there (it lived only as long as the unit before)."""
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    rootless.pyctr("create", "--name", "held", "--network", "none", image)
    try:
        with UserManager(user=rootless.name, runtime_dir=rootless.runtime, env=rootless.env()) as sd:
            _kill_pause(rootless)
            _run_first_command(sd, "unshare", sys.executable, "-m", "pyctr", "mount", "held")
            listed = rootless.pyctr("unshare", sys.executable, "-m", "pyctr", "mount").stdout.split()
            assert len(listed) == 2 and rootless.pyctr("inspect", "--format", "{{.Id}}", "held").stdout.startswith(listed[0])
            shell = rootless.pyctr("unshare", "test", "-x", f"{listed[1]}/bin/sh", check=False)
            assert shell.returncode == 0, f"{listed[1]} is no longer mounted\n{sd.diagnostics()}"
            assert _live_pause(rootless)
            rootless.pyctr("unshare", sys.executable, "-m", "pyctr", "unmount", "held")
        assert _pause_scopes() == []
    finally:
        rootless.stop_everything()


def test_the_rootless_netns_slirp4netns_made_in_a_unit_outlives_it(rootless, tun_for_users):  # noqa: F811
    """The rootless network namespace's slirp4netns serves every bridge container of the user: made
    by a unit's pyctr, it goes into a scope of its own too (as podman's)."""
    try:
        with UserManager(user=rootless.name, runtime_dir=rootless.runtime, env=rootless.env()) as sd:
            _run_first_command(sd, "unshare", "--rootless-netns", "true")
            pid_file = next(rootless.runtime.rglob("rootless-netns.slirp.pid"))
            slirp = int(pid_file.read_text().split()[0])
            assert os.path.exists(f"/proc/{slirp}"), sd.diagnostics()
            assert f"/user@{sd.uid}.service/user.slice/pyctr-rootless-netns-" in _cgroup(slirp)
            assert f"/user@{sd.uid}.service/user.slice/pyctr-pause-" in _cgroup(_live_pause(rootless))
        assert wait_for(lambda: not os.path.exists(f"/proc/{slirp}"), timeout=10)
        assert _pause_scopes() == []
    finally:
        rootless.stop_everything()


def test_outside_a_service_nothing_moves(rootless):  # noqa: F811
    """The common path: a pause process made outside any unit stays where its command ran."""
    rootless.stop_everything()
    before = _cgroup(os.getpid())
    rootless.pyctr("ps", "-q")
    assert _cgroup(_live_pause(rootless)) == before


def test_a_failed_move_is_one_warning(tmp_path):
    """In a service whose manager cannot move the process: podman's warning, and nothing fails."""
    err = tmp_path / "err"
    script = ("from pyctr.systemd import scope; scope.keep_out_of_unit(2 ** 22 + 1, 0); "
              "scope.keep_out_of_unit(2 ** 22 + 1, 0, scope.ROOTLESS_NETNS); print('done')")
    with UserManager(env={"PYTHONPATH": str(REPO_ROOT)}) as sd:
        sd.install_unit("move.service", f"[Service]\nType=oneshot\nStandardOutput=file:{err}\nStandardError=file:{err}\n"
                                        f"ExecStart={sys.executable} -c \"{script}\"\n")
        assert sd.systemctl("start", "move.service").returncode == 0, sd.diagnostics("move.service")
    lines = err.read_text().splitlines()
    assert [line.split(" ", 1)[1] for line in lines[:2]] == [
        f'level=warning msg="Failed to add pause process to systemd sandbox cgroup: Process with ID {2 ** 22 + 1} does not exist."',
        f'level=warning msg="failed to move the rootless netns slirp4netns process to the systemd user.slice: '
        f'Process with ID {2 ** 22 + 1} does not exist."']
    assert lines[0].startswith('time="') and lines[2:] == ["done"]


def test_runc_start_of_an_initialized_container_under_notify_socket(pyctr, store, image, tmp_path):
    """`start` of an `init`ed container under a unit's NOTIFY_SOCKET: runc start must not see it
    (it would bind a socket `runc create` never prepared: "Error: listen unixgram .../notify/notify.sock:
    bind: no such file or directory"). As podman 4.3.1's start, systemd hears MAINPID=<the shim>
    (recorded: podman sends b'MAINPID=<conmon>'), and with --sdnotify conmon READY=1 too."""
    import socket

    for mode, ready in (("container", ""), ("conmon", "\nREADY=1")):
        pyctr("create", "--name", "early", "--network", "none", "--sdnotify", mode, image, "sleep", "1000")
        pyctr("init", "early")
        path = str(tmp_path / f"{mode}.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(30)
            try:
                result = pyctr("start", "early", env={"NOTIFY_SOCKET": path}, check=False, timeout=60)
                assert (result.returncode, result.stderr) == (0, "")
                assert pyctr("inspect", "--format", "{{.State.Status}}", "early").stdout == "running\n"
                shim = pyctr("inspect", "--format", "{{.State.ConmonPid}}", "early").stdout.strip()
                assert sock.recv(4096).decode() == f"MAINPID={shim}{ready}"
            finally:
                pyctr("rm", "-f", "-t", "0", "early", check=False)


def test_which_service_we_run_in(tmp_path):
    from pyctr.systemd import scope

    cases = {
        "0::/user.slice/user-1000.slice/user@1000.service/app.slice/web.service\n": "web.service",
        "1:name=systemd:/x.service\n0::/system.slice/cron.service\n": "cron.service",
        "0::/user.slice/user-1000.slice/user@1000.service/init.scope\n": None,  # the manager itself
        "0::/user.slice/user-1000.slice/user@1000.service\n": None,
        "0::/user.slice/user-1000.slice/session-2.scope\n": None,  # a login shell
        "0::/\n": None,
        "4:memory:/a.service\n": None,  # cgroup v1 only: not the unified hierarchy
    }
    for n, (text, service) in enumerate(cases.items()):
        (tmp_path / str(n)).write_text(text)
        assert scope.service_of(str(tmp_path / str(n))) == service, text
    assert scope.service_of(str(tmp_path / "missing")) is None


def test_dbus_messages_round_trip():
    from pyctr.systemd import dbus

    signature = "ssa(sv)a(sa(sv))"
    args = ("a.scope", "fail", [("PIDs", dbus.Variant("au", [7, 8])), ("Slice", dbus.Variant("s", "user.slice"))], [])
    message = dbus._message(3, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "StartTransientUnit",
                            signature, args, None)
    assert message[:4] == b"l\x01\x00\x01"
    fields_length = int.from_bytes(message[12:16], "little")
    header_length = 16 + fields_length + (-(16 + fields_length) % 8)
    fields = dict(dbus._Reader(message, 12).read("a(yv)"))
    assert fields[3].value == "StartTransientUnit" and fields[8].value == signature
    body = dbus._Reader(message, header_length)
    name, mode, props, aux = (body.read(t) for t in dbus._split(signature))
    assert (name, mode, aux) == ("a.scope", "fail", [])
    assert [(k, v.signature, v.value) for k, v in props] == [("PIDs", "au", [7, 8]), ("Slice", "s", "user.slice")]
    assert body.pos == len(message) == header_length + int.from_bytes(message[4:8], "little")


def test_a_pod_with_new_units_as_root(pyctr, store, registry):
    """generate systemd --new of a pod: the pod's unit makes the pod (its infra exits with the members:
    --exit-policy=stop), each member's unit runs in it; starting the pod's unit starts the members
    (Wants=), stopping it stops them (BindsTo=) and leaves nothing."""
    web = f"{registry.host}/test/web"
    pyctr("pull", "-q", web)
    port = free_port()
    pyctr("pod", "create", "--name", "shop", "-p", f"{port}:80")
    pyctr("create", "--pod", "shop", "--name", "front", web, *HTTPD)
    try:
        with UserManager(env={"PYTHONPATH": str(REPO_ROOT)}) as sd:
            out = pyctr("generate", "systemd", "--new", "--files", "--name", "shop").stdout.split()
            assert sorted(out) == [f"{store.tmp}/container-front.service", f"{store.tmp}/pod-shop.service"]
            for path in out:
                sd.install_unit(os.path.basename(path), open(path).read(), reload=False)
            sd.daemon_reload()
            pyctr("pod", "rm", "-f", "shop")  # the units make their own pod and containers
            assert sd.systemctl("start", "pod-shop.service").returncode == 0, sd.diagnostics("pod-shop.service")
            assert sd.wait_state("container-front.service", "active", timeout=60), sd.diagnostics("container-front.service")
            assert wait_for(lambda: fetch(f"http://127.0.0.1:{port}/") == WEB_PAGE, timeout=60), \
                sd.diagnostics("container-front.service")
            assert "front shop" in pyctr("ps", "--format", "{{.Names}} {{.PodName}}").stdout

            assert sd.systemctl("stop", "pod-shop.service", timeout=180).returncode == 0, sd.diagnostics("pod-shop.service")
            assert sd.wait_state("container-front.service", ("inactive", "failed"), timeout=60)
            assert pyctr("ps", "-aq").stdout == "" and pyctr("pod", "ps", "-q").stdout == ""
    finally:
        pyctr("pod", "rm", "-f", "--all", check=False)
        pyctr("rm", "-f", "--all", check=False)
