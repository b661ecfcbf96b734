"""The idle shim: once a container runs and nothing but its output is left to serve, its shim
exec()s the small idle pump (pyctr.shim.idle) in the same process, and the full shim again
(`--resume`) for anything but output and the container's end. Every test here lets the shim go idle first, then checks that
what a client, the engine or the container does next works as with a full shim. The rootless
test runs under `flock /tmp/pyctr-rootless-tests.lock`, as test_rootless (it creates a user)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pyctr.runtime import attach, logs
from pyctr.shim import ending, idle, protocol
from tests.conftest import wait_for
from tests.test_dist import dist_cache, dist_file, one_file  # noqa: F401  (fixtures: the one-file build)
from tests.test_rootless import rootless  # noqa: F401  (fixture: a user with subordinate ids)
from tests.test_shim import (_alive, _cmdline, _exec_config, _ppid, _start_exec, _until, harness,  # noqa: F401
                             rootfs)

IDLE_WAIT = 15.0  # the shim goes idle after a second of quiet; a busy machine may take longer


def is_idle(pid: int) -> bool:
    return b"import idle" in _cmdline(pid)


def wait_idle(pid: int) -> None:
    assert wait_for(lambda: is_idle(pid), IDLE_WAIT), f"shim {pid} did not go idle: {_cmdline(pid)!r}"


def pss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    raise AssertionError("no Pss")


# -- units -------------------------------------------------------------------------------------

def test_arguments_are_parsed():
    args = idle.parse(["pid=42", "wakeup=5,6", "listener=7", "dir=3", "log=9,-1", "out=10:stdout",
                       "out=12:stderr", "--", "/usr/bin/python3", "-m", "pyctr.shim", "--resume", "4"])
    assert args == {"pid": 42, "wakeup": (5, 6), "listener": 7, "dir": 3, "log": (9, -1),
                    "out": {10: "stdout", 12: "stderr"}, "full": ["/usr/bin/python3", "-m", "pyctr.shim", "--resume", "4"]}


def test_exit_frame_and_record_are_the_full_shims():
    for code, sig in ((0, None), (7, None), (137, 9)):
        assert ending.exit_frame(code, sig) == protocol.encode_json(protocol.EXIT, {"exit_code": code, "signal": sig})
    assert ending.exit_record(7 << 8, oom=False, started_at=1.0, finished_at=2.0) == {
        "exit_code": 7, "signal": None, "oom": False, "started_at": 1.0, "finished_at": 2.0}
    assert ending.exit_record(signal.SIGKILL, oom=True, started_at=None, finished_at=2.0)["exit_code"] == 137
    assert ending.exit_record(None, oom=False, started_at=None, finished_at=2.0)["exit_code"] == 255


def test_the_pump_loads_only_built_in_modules(tmp_path):
    """What the pump's interpreter holds besides its start-up modules: klog and itself, and of the
    standard library only modules built into the interpreter (no os, no socket, no json)."""
    import sys

    from pyctr.shim import handoff

    probe = ("import sys; before = set(sys.modules); sys.path[:0] = [sys.argv[1]]; import idle, klog; "
             "print(' '.join(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", probe, handoff.HERE], capture_output=True,
                         text=True, check=True, timeout=30).stdout.split()
    assert {"idle", "klog"} <= set(out)
    assert not {m for m in out if m not in ("idle", "klog") and m not in sys.builtin_module_names}


# -- the shim alone, under real runc --------------------------------------------------------------

def test_idle_shim_keeps_its_pid_and_logs_on_until_the_exit(harness):  # noqa: F811
    ctr = harness.run("pump", ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo out $i; "
                               "echo -n err$i >&2; sleep 0.25; done; exit 4"], cleanup_argv=["/bin/true"])
    pid, parent = ctr.shim_pid, _ppid(ctr.shim_pid)
    ctr.start()
    wait_idle(pid)
    assert _ppid(pid) == parent and Path(ctr.state_dir, "shim.pid").read_text().strip() == str(pid)
    record = ctr.wait_exit()
    assert (record["exit_code"], record["signal"]) == (4, None)
    ctr.wait_shim_gone()
    lines = list(logs.read_log(ctr.log_path))
    assert [line.text for line in lines if line.stream == "stdout"] == [f"out {i}".encode() for i in range(1, 13)]
    assert b"".join(line.text for line in lines if line.stream == "stderr") == b"".join(
        f"err{i}".encode() for i in range(1, 13))
    assert ("stderr", "P", b"err12") in ctr.log_records()  # partial lines stay partial
    assert not Path(ctr.state_dir, "attach").exists()
    assert ctr.shim_log() == "(none)"


def test_the_pump_ends_the_container_itself_and_serves_late_clients(harness):  # noqa: F811
    marker = harness.tmp / "cleanup-parent"
    # The cleanup command notes who ran it, then takes a while: clients connect meanwhile.
    cleanup = ["/bin/sh", "-c", f"tr '\\0' ' ' < /proc/$PPID/cmdline > {marker}; sleep 2"]
    ctr = harness.run("ends", ["sh", "-c", "sleep 2; echo done; exit 3"], cleanup_argv=cleanup)
    pid = ctr.shim_pid
    ctr.start()
    wait_idle(pid)
    assert ctr.wait_exit()["exit_code"] == 3
    assert wait_for(lambda: marker.exists() and marker.read_text(), 10)
    assert "import idle" in marker.read_text()  # no full shim came back for the ending
    client = ctr.attach()
    assert list(client.frames(timeout=5)) == [(protocol.EXIT, b'{"exit_code":3,"signal":null}')]
    ctr.wait_shim_gone()
    assert not Path(ctr.state_dir, "attach").exists()
    assert [line.text for line in logs.read_log(ctr.log_path)] == [b"done"]
    assert not list(Path(ctr.exit_file).parent.glob(".exit.json*"))  # neither the reserve nor a temporary file


def test_an_idle_exec_session_ends_through_the_full_shim(harness):  # noqa: F811
    host = harness.run("host", ["sleep", "60"])
    host.start()
    config = _exec_config(harness, host, "bg", ["sh", "-c", "sleep 2.5; echo out; exit 4"])
    report, client = _start_exec(harness, config, attach_=False)
    shim = int(Path(config["state_dir"], "shim.pid").read_text())
    wait_idle(shim)
    assert attach.wait_for_exit_record(config["exit_file"], 20)["exit_code"] == 4
    _until(lambda: not _alive(shim), what="the shim's exit")
    assert [line.text for line in logs.read_log(config["log_path"])] == [b"out"]
    assert '"running"' in harness.runc("state", host.id).stdout


def test_idle_shim_is_small(harness):  # noqa: F811
    ctr = harness.run("small", ["sleep", "30"], stdin=True)
    ctr.start()
    wait_idle(ctr.shim_pid)
    pss = pss_kib(ctr.shim_pid)
    print(f"idle shim PSS: {pss} KiB")
    assert pss < 6 * 1024  # (a full shim: 7 MiB with 50 of them; alone, more)


def test_a_client_wakes_the_full_shim_which_serves_stdin_output_and_exit(harness):  # noqa: F811
    ctr = harness.run("wake", ["sh", "-c", "echo ready; read line; echo got $line; exit 6"], stdin=True)
    ctr.start()
    wait_idle(ctr.shim_pid)
    client = ctr.attach()
    client.send_stdin(b"hello\n")
    out, _, status = client.collect(timeout=20)
    assert out == b"got hello\n" and status == {"exit_code": 6, "signal": None}
    assert [line.text for line in logs.read_log(ctr.log_path)] == [b"ready", b"got hello"]


def test_the_shim_goes_idle_again_once_the_client_detaches(harness):  # noqa: F811
    ctr = harness.run("again", ["sh", "-c", "while true; do sleep 0.3; echo tick; done"])
    ctr.start()
    wait_idle(ctr.shim_pid)
    client = ctr.attach()
    assert wait_for(lambda: not is_idle(ctr.shim_pid), 10)
    kind, data = client.read_frame(timeout=10)
    assert kind == protocol.STDOUT and b"tick" in data
    client.detach()
    wait_idle(ctr.shim_pid)
    harness.runc("kill", ctr.id, "KILL")
    record = ctr.wait_exit()
    assert (record["exit_code"], record["signal"]) == (137, 9)


def test_terminal_output_resize_and_exit_after_idling(harness):  # noqa: F811
    ctr = harness.run("tty", ["sh", "-c", "read x; stty size; echo typed $x; exit 2"], terminal=True, stdin=True)
    ctr.start()
    wait_idle(ctr.shim_pid)
    client = ctr.attach()
    client.resize(33, 101)
    client.send_stdin(b"abc\r")
    out, _, status = client.collect(timeout=20)
    assert b"33 101" in out and b"typed abc" in out and status["exit_code"] == 2


def test_log_size_limit_holds_while_idle(harness):  # noqa: F811
    config = harness.config("limit", ["sh", "-c", "sleep 2; i=0; while [ $i -lt 200 ]; do echo line-$i; "
                                      "i=$((i+1)); done; sleep 30"])
    ctr = harness.spawn({**config, "log_size_max": 2000})
    ctr.start()
    wait_idle(ctr.shim_pid)
    assert wait_for(lambda: b"line-199" in Path(ctr.log_path).read_bytes(), 20)
    assert is_idle(ctr.shim_pid)  # output alone never wakes the full shim
    assert os.path.getsize(ctr.log_path) <= 2000
    texts = [line.text for line in logs.read_log(ctr.log_path)]
    assert texts[-1] == b"line-199" and texts == [f"line-{i}".encode() for i in range(200 - len(texts), 200)]


def test_idle_shim_survives_hangup_interrupt_and_term(harness):  # noqa: F811
    ctr = harness.run("signals", ["sh", "-c", "sleep 2.5; echo still"])
    ctr.start()
    wait_idle(ctr.shim_pid)
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGPIPE):
        os.kill(ctr.shim_pid, sig)
    time.sleep(0.2)
    assert is_idle(ctr.shim_pid)
    record = ctr.wait_exit()
    assert record["exit_code"] == 0 and ("stdout", "F", b"still") in ctr.log_records()


def test_idle_pump_reaps_orphans_and_stays_idle(harness):  # noqa: F811
    def no_pid_namespace(spec):
        spec["linux"]["namespaces"] = [ns for ns in spec["linux"]["namespaces"] if ns["type"] != "pid"]

    # The backgrounded sh is orphaned at once (re-parented to the shim) and exits once the shim is idle.
    ctr = harness.run("orphans", ["sh", "-c", "(sh -c 'sleep 3; exit 5' &); sleep 30"], tweak=no_pid_namespace)
    children = Path(f"/proc/{ctr.shim_pid}/task/{ctr.shim_pid}/children")
    ctr.start()
    _until(lambda: len(children.read_text().split()) == 2, 5, "the orphan to be re-parented")
    wait_idle(ctr.shim_pid)
    _until(lambda: children.read_text().split() == [str(ctr.sync["pid"])], 10, "the orphan to be reaped")
    assert is_idle(ctr.shim_pid)
    harness.runc("kill", ctr.id, "KILL")
    assert ctr.wait_exit()["exit_code"] == 137


def test_containers_with_a_timeout_keep_the_full_shim(harness):  # noqa: F811
    config = harness.config("timeout", ["sleep", "30"])
    ctr = harness.spawn({**config, "timeout": 3})
    ctr.start()
    time.sleep(2)
    assert not is_idle(ctr.shim_pid)
    assert ctr.wait_exit()["exit_code"] == 255  # --timeout killed it, as conmon reports


# -- through the engine -------------------------------------------------------------------------

def _shim_pid(pyctr, name: str) -> int:
    return int(pyctr("inspect", "--format", "{{.State.ConmonPid}}", name).stdout)


def test_stop_kill_exec_pause_and_logs_of_an_idle_container(pyctr, image):
    script = "trap 'echo got term; exit 3' TERM; echo started; while true; do sleep 0.2; done"
    pyctr("run", "-d", "--network", "none", "--name", "idle-a", image, "sh", "-c", script)
    pyctr("run", "-d", "--network", "none", "--name", "idle-b", image, "sleep", "100")
    shim_a, shim_b = _shim_pid(pyctr, "idle-a"), _shim_pid(pyctr, "idle-b")
    wait_idle(shim_a)
    wait_idle(shim_b)
    assert _shim_pid(pyctr, "idle-a") == shim_a  # the same process, as ps and inspect know it
    assert pyctr("exec", "idle-a", "echo", "from-exec").stdout == "from-exec\n"
    pyctr("pause", "idle-a")
    assert pyctr("inspect", "--format", "{{.State.Status}}", "idle-a").stdout.strip() == "paused"
    pyctr("unpause", "idle-a")
    assert is_idle(shim_a)
    follow = subprocess.Popen(pyctr.argv("logs", "-f", "idle-a"), env=pyctr.store.env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    pyctr("stop", "-t", "10", "idle-a")
    out, err = follow.communicate(timeout=30)
    assert follow.returncode == 0 and out == "started\ngot term\n", err
    assert pyctr("inspect", "--format", "{{.State.ExitCode}}", "idle-a").stdout.strip() == "3"
    pyctr("kill", "idle-b")
    assert pyctr("wait", "idle-b").stdout.strip() == "137"
    assert not _alive(shim_a)  # stop returns once the shim has cleaned up
    assert wait_for(lambda: not _alive(shim_b), 30)


def test_attach_to_an_idle_container(pyctr, image):
    pyctr("run", "-d", "-i", "--network", "none", "--name", "idle-i", image,
          "sh", "-c", "echo ready; while read l; do echo got $l; done; echo bye; exit 7")
    wait_idle(_shim_pid(pyctr, "idle-i"))
    result = pyctr("attach", "idle-i", input="one\ntwo\n", check=False)
    assert (result.returncode, result.stdout) == (7, "got one\ngot two\nbye\n"), result.stderr
    assert pyctr("logs", "idle-i").stdout == "ready\ngot one\ngot two\nbye\n"


def test_restart_policy_after_idling(pyctr, image):
    pyctr("run", "-d", "--network", "none", "--restart", "on-failure:1", "--name", "idle-r", image,
          "sh", "-c", "sleep 2.5; echo once; exit 1")
    wait_idle(_shim_pid(pyctr, "idle-r"))
    # The second run's output first: between the two runs the count is 1 and the state "exited" already.
    assert wait_for(lambda: pyctr("logs", "idle-r").stdout == "once\nonce\n", 40)
    assert wait_for(lambda: pyctr("inspect", "--format", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}",
                                  "idle-r").stdout.strip() == "1 exited 1", 20)


def test_run_rm_exits_before_any_idling(pyctr, image):
    result = pyctr("run", "--rm", "--network", "none", image, "sh", "-c", "echo hi; exit 9", check=False)
    assert (result.returncode, result.stdout) == (9, "hi\n")
    assert pyctr("ps", "-a", "-q").stdout == ""


@pytest.fixture(autouse=True)
def _root_only(request):
    if os.geteuid() != 0:
        pytest.skip("runs containers as root")


def test_rootless_idle_shim(rootless, registry):  # noqa: F811
    image = f"{registry.host}/test/busybox"
    script = "trap 'echo got term; exit 3' TERM; echo started; while true; do sleep 0.2; done"
    rootless.pyctr("run", "-d", "--name", "idle-u", image, "sh", "-c", script)
    shim = int(rootless.pyctr("inspect", "-f", "{{.State.ConmonPid}}", "idle-u").stdout)
    wait_idle(shim)
    assert rootless.pyctr("exec", "idle-u", "echo", "in").stdout == "in\n"
    rootless.pyctr("stop", "-t", "10", "idle-u", timeout=30)
    assert rootless.pyctr("inspect", "-f", "{{.State.ExitCode}}", "idle-u").stdout.strip() == "3"
    assert rootless.pyctr("logs", "idle-u").stdout == "started\ngot term\n"
    assert not _alive(shim)
    rootless.pyctr("rm", "idle-u")


# -- from the one-file build ------------------------------------------------------------------------

def test_the_one_file_shim_goes_idle_and_back(one_file, registry):  # noqa: F811
    """dist/pyctr: the pump is imported from the unpacked payload, the full shim comes back as the file."""
    image = f"{registry.host}/test/busybox"
    one_file("pull", "-q", image)
    one_file("run", "-d", "-i", "--name", "dist-idle", image, "sh", "-c", "echo ready; read l; echo got $l; exit 5")
    shim = int(one_file("inspect", "-f", "{{.State.ConmonPid}}", "dist-idle").stdout)
    wait_idle(shim)
    argv = _cmdline(shim).decode().split("\0")
    assert Path(argv[5]).parents[2] == Path(one_file.env["PYCTR_DIST_CACHE"])
    assert argv[argv.index("--") + 2:][:3] == ["-IS", str(one_file.path), "__module"]
    result = subprocess.run([str(one_file.path), "--root", str(one_file.store.root), "--runroot",
                             str(one_file.store.runroot), "attach", "dist-idle"], input="x\n", env=one_file.env,
                            cwd="/", capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (5, "got x\n"), result.stderr
    assert one_file("logs", "dist-idle").stdout == "ready\ngot x\n"
    one_file("rm", "dist-idle")
