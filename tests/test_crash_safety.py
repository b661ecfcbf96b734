"""Crashes and failures that must leave the state whole: a `pyctr run` killed as soon as the
shim answered, a start that fails with --rm, a health check that prints without end, a
temporary file left by a crash, and removals killed half-way.

Real CLI, runc and overlay mounts (as root) for the container cases; the store and fsutil
cases in this process, with real files and processes.
"""

from __future__ import annotations

import calendar
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

from pyctr.config import Config
from pyctr.container import health
from pyctr.container.spec import ContainerSpec
from pyctr.container.store import ContainerStore
from pyctr.linux.fsutil import atomic_write
from tests.conftest import wait_for

# `pyctr ...` that dies by SIGKILL the moment the shim has answered: the worst moment, when the
# container runs and the command has recorded nothing of it yet.
KILLED_AFTER_THE_SHIM_ANSWERED = textwrap.dedent("""
    import os, signal, sys
    from pyctr.container import tasks

    original = tasks.TaskService._go

    def go(self, *args, **kwargs):
        original(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    tasks.TaskService._go = go
    from pyctr.cli.main import main

    main(sys.argv[1:])
""")


def _seconds(rfc3339: str) -> float:
    return calendar.timegm(time.strptime(rfc3339.split(".")[0].rstrip("Z"), "%Y-%m-%dT%H:%M:%S"))


def test_run_killed_once_the_shim_answered_loses_nothing(pyctr, store, image, tmp_path):
    """Before: `Up 56 years ago`, StartedAt 0001-01-01, no init/start events, no --pidfile."""
    pidfile = tmp_path / "ctr.pid"
    before = time.time()
    argv = [sys.executable, "-c", KILLED_AFTER_THE_SHIM_ANSWERED, *pyctr.argv("run", "-d", "--name", "k",
                                                                           "--pidfile", pidfile, image, "sleep", "300")[3:]]
    killed = pyctr.run(argv, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    status = pyctr("ps", "-a", "--filter", "name=k", "--format", "{{.Status}}").stdout.strip()
    assert status.startswith("Up ") and "years" not in status, status
    state = pyctr("inspect", "--format", "{{.State.Status}} {{.State.StartedAt}} {{.State.Pid}}", "k").stdout.split()
    assert state[0] == "running"
    assert before - 2 <= _seconds(state[1]) <= time.time() + 2, state[1]
    assert pidfile.read_text() == state[2]
    events = pyctr("events", "--stream=false", "--filter", "container=k", "--format", "{{.Status}}").stdout.split()
    assert events == ["create", "init", "start"]

    pyctr("stop", "-t", "0", "k")
    assert pyctr("inspect", "--format", "{{.State.Status}}", "k").stdout.strip() == "exited"
    pyctr("rm", "k")


def test_a_start_that_fails_with_rm_leaves_nothing_behind(pyctr, image):
    """podman 4.3.1 removes the container in both cases (`ps -a` is empty after)."""
    bogus = pyctr("--runtime-flag", "bogus", "run", "--rm", image, "true", check=False)
    assert bogus.returncode == 126  # podman's run: any OCI runtime error is 126
    assert bogus.stderr.strip().splitlines()[-1] == "Error: flag provided but not defined: -bogus"
    assert pyctr("ps", "-a", "-q").stdout == ""
    assert pyctr("--runtime-flag", "bogus", "run", "-d", "--rm", image, "true", check=False).returncode != 0
    assert pyctr("ps", "-a", "-q").stdout == ""

    missing = pyctr("run", "--rm", image, "/nonexistent", check=False)
    assert missing.returncode == 127
    assert pyctr("ps", "-a", "-q").stdout == ""

    # Without --rm it stays, created (as podman's), and rm takes it even with the same bad flag.
    assert pyctr("--runtime-flag", "bogus", "run", "--name", "kept", image, "true", check=False).returncode == 126
    assert pyctr("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout == "kept Created\n"
    assert pyctr("--runtime-flag", "bogus", "start", "kept", check=False).returncode == 125  # start's: 125
    pyctr("--runtime-flag", "bogus", "rm", "kept")
    assert pyctr("ps", "-a", "-q").stdout == ""


def test_a_pidfile_that_cannot_be_written_fails_the_start(pyctr, image):
    """podman 4.3.1: an error and the container left Created (its runc cannot create the file)."""
    result = pyctr("run", "-d", "--name", "p", "--pidfile", "/nonexistent/dir/pid", image, "sleep", "30", check=False)
    assert result.returncode == 125
    assert result.stderr.strip() == "Error: writing pid file /nonexistent/dir/pid: No such file or directory"
    assert pyctr("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout == "p Created\n"
    pyctr("rm", "p")


# -- health check output --------------------------------------------------------------------

def _big_files(directory) -> list[tuple[str, int]]:
    found = []
    for base, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(base, name)
            try:
                size = os.lstat(path).st_size
            except OSError:
                continue
            if size > 1 << 20:
                found.append((path, size))
    return found


def test_health_output_without_end_takes_no_space(pyctr, store, image):
    """Before: the check's output went whole to a file on the runroot (126 MB in 2 s)."""
    pyctr("run", "-d", "--name", "h", "--health-cmd", "yes | head -c 30000000; echo end >&2",
          "--health-interval", "1s", "--health-timeout", "20s", image, "sleep", "300")

    def logged():
        out = pyctr("inspect", "--format", "{{len .State.Health.Log}}", "h").stdout.strip()
        return out not in ("", "0")

    assert wait_for(logged, timeout=60), "no health check result"
    assert _big_files(store.runroot) == []
    assert pyctr("healthcheck", "run", "h").returncode == 0
    assert _big_files(store.runroot) == []
    log = json.loads(pyctr("inspect", "--format", "{{json .State.Health.Log}}", "h").stdout)
    assert [(entry["ExitCode"], len(entry["Output"])) for entry in log][-2:] == [(0, 500), (0, 500)]
    assert log[-1]["Output"] == "y\n" * 250
    pyctr("rm", "-f", "h")


def test_a_check_keeps_the_head_of_its_output_and_its_timeout(tmp_path):
    """The pipe reader of `healthcheck run`, with plain processes in place of runc exec."""
    pid_file = str(tmp_path / "pid")
    code, output = health._run_check(["sh", "-c", "yes | head -c 20000000; exit 3"], 30, pid_file)
    assert (code, output) == (3, "y\n" * 250)
    assert os.listdir(tmp_path) == []
    # A process the check leaves behind holds the pipe: the result comes with the check's end.
    started = time.monotonic()
    code, output = health._run_check(["sh", "-c", "sleep 30 & echo hi"], 30, pid_file)
    assert (code, output) == (0, "hi")
    assert time.monotonic() - started < 15
    code, output = health._run_check(["sh", "-c", "echo before; exec sleep 30"], 0.5, pid_file)
    assert (code, output) == (-1, "before")


# -- temporary files and removals killed half-way ---------------------------------------------

def test_atomic_write_never_reuses_a_leftover_temporary_file(tmp_path):
    target = tmp_path / "secret.json"
    leftover = tmp_path / f".secret.json.tmp-{os.getpid()}"  # the name a crash left (mode 0644)
    leftover.write_text("old")
    leftover.chmod(0o644)
    atomic_write(target, b"secret", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_bytes() == b"secret"
    old = os.umask(0o077)
    try:
        atomic_write(tmp_path / "public", b"x", mode=0o644)  # the mode asked, whatever the umask
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "public").stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == [leftover.name, "public", "secret.json"]


def _record(store: ContainerStore, name: str) -> str:
    spec = ContainerSpec.for_image("localhost/image:latest", ["true"])
    return store.create({"image_id": "0" * 64, "image_name": "localhost/image:latest", "args": ["true"],
                         "spec_data": spec.to_json()}, name).id


def test_the_next_removal_sweeps_what_a_killed_removal_left(tmp_path):
    store = ContainerStore(Config(root=tmp_path / "root", runroot=tmp_path / "run", rootless=False))
    busy = subprocess.Popen(["sleep", "60"])
    try:
        left = {}
        for name, owner in (("dead", "999999999"), ("legacy", None), ("busy", str(busy.pid))):
            cid = _record(store, name)
            store.state_dir(cid).mkdir(parents=True)
            (store.path(cid) / "overlay").mkdir()
            gone = f".removing-{cid}" + (f".{owner}" if owner else "")
            os.rename(store.path(cid), store.dir / gone)  # rm killed right after its rename
            left[name] = gone
        stray = store.run_dir / ("f" * 64)  # a state directory whose container is gone
        stray.mkdir(parents=True)

        store.remove(store.resolve(_record(store, "next")))
        # What a live remover is working on stays; the rest is gone.
        assert sorted(os.listdir(store.dir)) == sorted([left["busy"], "names"])
        assert os.listdir(store.run_dir) == []  # (that of the busy one too: its remover deletes it anyway)
    finally:
        busy.kill()
        busy.wait()


def test_a_running_container_with_no_recorded_start_shows_its_process_start(tmp_path):
    """A start time nobody could record (a full disk): the process's own, never year 1."""
    store = ContainerStore(Config(root=tmp_path / "root", runroot=tmp_path / "run", rootless=False))
    cid = _record(store, "c")
    before = time.time()
    process = subprocess.Popen(["sleep", "60"])
    try:
        store.state_dir(cid).mkdir(parents=True)
        (store.state_dir(cid) / "shim.pid").write_text(str(os.getpid()))  # a live "shim"
        (store.state_dir(cid) / "pid").write_text(str(process.pid))
        status = store.status(cid)
        assert status.state == "running" and status.pid == process.pid
        assert before - 2 <= status.started_at <= time.time() + 2
    finally:
        process.kill()
        process.wait()
