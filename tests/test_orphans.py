"""A container whose shim is gone (kill -9, the OOM killer): its state comes from the process
itself, stop, kill and rm act on it, and once it has ended the next command cleans up.
And the container's lock, which lives and dies with the container.

Real CLI, runc and overlay mounts (as root), plus store-level checks of the pid's identity and
of the lock's race with rm, in real processes.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pyctr.config import Config
from pyctr.container.spec import ContainerSpec
from pyctr.container.store import ContainerStore
from pyctr.linux.proc import process_start
from pyctr.errors import ContainerNotFound
from tests.conftest import wait_for

CTX = multiprocessing.get_context("fork")




def alive(pid: int) -> bool:
    return process_start(pid) is not None  # a zombie counts as ended


class Orphan:
    """A detached container whose shim has been SIGKILLed; its process lives on."""

    def __init__(self, pyctr, store, image, name: str, *run_args: str):
        self.pyctr, self.store, self.name = pyctr, store, name
        self.id = pyctr("run", "-d", "--name", name, *run_args, image, "sleep", "300").stdout.strip()
        self.pid = int(pyctr("inspect", "--format", "{{.State.Pid}}", name).stdout)
        self.shim = int((self.state_dir / "shim.pid").read_text())
        assert alive(self.pid) and alive(self.shim)
        os.kill(self.shim, signal.SIGKILL)
        assert wait_for(lambda: not alive(self.shim)), "the shim survived SIGKILL"
        assert alive(self.pid), "the container's process died with its shim"

    @property
    def state_dir(self) -> Path:
        return self.store.runroot / "containers" / self.id

    @property
    def runc_state(self) -> Path:
        return self.store.runroot / "runc" / self.id

    @property
    def rootfs(self) -> str:
        return str(self.store.root / "containers" / self.id / "merged")

    def status(self) -> str:
        return self.pyctr("ps", "-a", "--filter", f"name={self.name}", "--format", "{{.Status}}").stdout.strip()

    def assert_gone(self) -> None:
        """No process, mount, runc state, record or lock of it is left."""
        assert not alive(self.pid)
        assert self.rootfs not in self.store.mounts()
        assert not self.runc_state.exists(), "runc still has state for it"
        assert not (self.store.root / "containers" / self.id).exists()
        assert not self.state_dir.exists()
        run_dir = self.store.runroot / "containers"
        leftovers = [n for n in (os.listdir(run_dir) if run_dir.exists() else []) if self.id in n]
        assert leftovers == [], f"left under {run_dir}: {leftovers}"
        locks = [str(p) for p in self.store.tmp.rglob("*.lock") if self.id in str(p)]
        assert locks == [], f"lock files left: {locks}"


# -- a killed shim, with the CLI -----------------------------------------------------------

def test_a_container_whose_shim_was_killed_runs_stops_and_goes(pyctr, store, image):
    orphan = Orphan(pyctr, store, image, "s")
    assert orphan.status().startswith("Up "), orphan.status()
    assert pyctr("ps", "-q").stdout.split() == [orphan.id[:12]]
    assert pyctr("inspect", "--format", "{{.State.Status}} {{.State.Running}} {{.State.Pid}}", "s").stdout.split() \
        == ["running", "true", str(orphan.pid)]
    assert orphan.rootfs in store.mounts()

    started = time.monotonic()
    pyctr("stop", "-t", "1", "s")
    assert time.monotonic() - started < 20
    assert not alive(orphan.pid), "stop returned and left the container's process running"
    # Nobody saw how it ended: the exit is unknown; stop cleaned up as the shim would have.
    assert orphan.status().startswith("Exited (-1)"), orphan.status()
    assert pyctr("inspect", "--format", "{{.State.ExitCode}}", "s").stdout.strip() == "-1"
    assert orphan.rootfs not in store.mounts()
    assert not orphan.runc_state.exists()

    pyctr("rm", "s")
    orphan.assert_gone()
    assert pyctr("ps", "-a", "-q").stdout == ""


def test_an_orphan_that_ended_reads_exited_minus_one_and_rm_cleans_up(pyctr, store, image):
    orphan = Orphan(pyctr, store, image, "gone")
    os.kill(orphan.pid, signal.SIGKILL)
    assert wait_for(lambda: not alive(orphan.pid))
    assert orphan.status() == "Exited (-1)"  # ps only reads: no time, since nobody recorded one
    assert pyctr("ps", "-q").stdout == ""
    # ps changed nothing: what is left for the next command to clean up is still there.
    assert orphan.runc_state.exists() and orphan.rootfs in store.mounts()

    pyctr("rm", "gone")
    orphan.assert_gone()


def test_kill_and_rm_force_act_on_an_orphan(pyctr, store, image):
    killed = Orphan(pyctr, store, image, "killed")
    pyctr("kill", "killed")
    assert wait_for(lambda: not alive(killed.pid)), "kill did not reach the orphan"
    assert pyctr("wait", "killed").stdout.strip() == "-1"  # and wait records and cleans up
    assert not killed.runc_state.exists() and killed.rootfs not in store.mounts()
    assert killed.status().startswith("Exited (-1) "), killed.status()  # now with its time
    assert "can only kill running containers" in pyctr("kill", "killed", check=False).stderr

    forced = Orphan(pyctr, store, image, "forced")
    refused = pyctr("rm", "forced", check=False)
    assert refused.returncode != 0 and "running" in refused.stderr
    assert alive(forced.pid)
    pyctr("rm", "-f", "forced")
    forced.assert_gone()
    pyctr("rm", "killed")
    killed.assert_gone()


def test_an_orphan_with_rm_is_removed_by_the_next_command(pyctr, store, image):
    orphan = Orphan(pyctr, store, image, "tmp", "--rm")
    assert orphan.status().startswith("Up ")
    assert pyctr("start", "tmp").returncode == 0  # running: start leaves it alone
    assert alive(orphan.pid)
    pyctr("stop", "-t", "1", "tmp")
    orphan.assert_gone()
    assert pyctr("ps", "-a", "-q").stdout == ""


def test_an_orphan_can_be_started_again_after_it_ended(pyctr, store, image):
    orphan = Orphan(pyctr, store, image, "again")
    os.kill(orphan.pid, signal.SIGKILL)
    assert wait_for(lambda: not alive(orphan.pid))
    pyctr("start", "again")
    assert orphan.status().startswith("Up ")
    new_pid = int(pyctr("inspect", "--format", "{{.State.Pid}}", "again").stdout)
    assert new_pid != orphan.pid and alive(new_pid)
    pyctr("rm", "-f", "again")
    assert not alive(new_pid)


# -- the pid and its start time ---------------------------------------------------------------

def _record(store: ContainerStore, name: str) -> str:
    spec = ContainerSpec.for_image("localhost/image:latest", ["sleep", "300"])
    return store.create({"image_id": "0" * 64, "image_name": "localhost/image:latest", "args": ["sleep", "300"],
                         "spec_data": spec.to_json()}, name).id


def test_a_reused_pid_is_not_taken_for_the_container(tmp_path):
    """Without its shim, a container runs only while the recorded pid is the same process."""
    store = ContainerStore(Config(root=tmp_path / "root", runroot=tmp_path / "run", rootless=False))
    cid = _record(store, "c")
    assert store.status(cid).state == "created"
    stand_in = subprocess.Popen(["sleep", "60"])
    try:
        store.state_dir(cid).mkdir(parents=True)
        (store.state_dir(cid) / "pid").write_text(str(stand_in.pid))
        (store.state_dir(cid) / "shim.pid").write_text("999999999")  # no such process
        start = process_start(stand_in.pid)
        store.write_state(cid, started_at=time.time(), pid=stand_in.pid, pid_start=start)
        assert store.status(cid).state == "running" and store.status(cid).pid == stand_in.pid
        # The same pid, another process (as after pid reuse): not the container.
        store.write_state(cid, pid_start=start - 1)
        assert (store.status(cid).state, store.status(cid).exit_code) == ("exited", -1)
        # Nothing recorded by pyctr, nor by runc (no runc state): it cannot be the container.
        store.write_state(cid, pid=0, pid_start=None)
        assert store.status(cid).state == "exited"
        # ... but runc's record of its init is enough.
        runc_dir = tmp_path / "run" / "runc" / cid
        runc_dir.mkdir(parents=True)
        (runc_dir / "state.json").write_text(f'{{"init_process_pid": {stand_in.pid}, "init_process_start": {start}}}')
        assert store.status(cid).state == "running"
        store.write_state(cid, paused=True)
        assert store.status(cid).state == "paused"
    finally:
        stand_in.kill()
        stand_in.wait()
    assert store.status(cid).state == "exited"


def test_a_live_shim_whose_pid_was_reused_is_not_the_shim(tmp_path):
    store = ContainerStore(Config(root=tmp_path / "root", runroot=tmp_path / "run", rootless=False))
    cid = _record(store, "c")
    store.state_dir(cid).mkdir(parents=True)
    (store.state_dir(cid) / "shim.pid").write_text(str(os.getpid()))
    store.write_state(cid, started_at=time.time(), shim_pid=os.getpid(), shim_start=process_start(os.getpid()))
    assert store.status(cid).state == "running"
    store.write_state(cid, shim_start=process_start(os.getpid()) + 1)
    assert store.status(cid).state == "exited"


# -- the container's lock -------------------------------------------------------------------

def test_the_lock_lives_in_the_containers_directory(tmp_path):
    store = ContainerStore(Config(root=tmp_path / "root", runroot=tmp_path / "run", rootless=False))
    cid = _record(store, "c")
    assert (store.path(cid) / "lock").exists()  # made with the record: rm never needs space for it
    with store.lock(cid):
        pass
    store.remove(store.resolve("c"))
    assert not store.path(cid).exists()
    assert not (tmp_path / "run").exists() or list((tmp_path / "run").rglob("*")) == []
    with pytest.raises(ContainerNotFound):
        with store.lock(cid):
            pass
    assert not store.path(cid).exists(), "taking the lock of a removed container brought its directory back"


def _waiter(root: Path, cid: str, locked, result) -> None:
    store = ContainerStore(Config(root=root / "root", runroot=root / "run", rootless=False))
    assert locked.wait(10)
    try:
        with store.lock(cid):
            result.value = 1  # got the lock of a container that is gone
    except ContainerNotFound:
        result.value = 2


def test_a_process_waiting_on_the_lock_finds_the_container_removed(tmp_path):
    """rm holds the lock while it renames the container away; a waiter then holds a lock file
    that is no longer the container's, and must see the container gone (not lock a ghost)."""
    store = ContainerStore(Config(root=tmp_path / "root", runroot=tmp_path / "run", rootless=False))
    cid = _record(store, "c")
    lock_file = str(store.path(cid) / "lock")
    locked, result = CTX.Event(), CTX.Value("i", 0)
    # Forked before we lock: a child forked under the lock would share (and hold) it.
    waiter = CTX.Process(target=_waiter, args=(tmp_path, cid, locked, result))
    waiter.start()

    def waiting() -> bool:  # the waiter has the lock file open: it is blocked in flock
        for fd in os.listdir(f"/proc/{waiter.pid}/fd"):
            try:
                if os.readlink(f"/proc/{waiter.pid}/fd/{fd}") == lock_file:
                    return True
            except OSError:
                pass
        return False

    try:
        with store.lock(cid):
            locked.set()
            assert wait_for(waiting), "the waiter never opened the lock"
            time.sleep(0.1)
            assert waiter.is_alive() and result.value == 0, "the waiter got a lock that was held"
            store.remove(store.resolve("c"))
        waiter.join(10)
        assert waiter.exitcode == 0
    finally:
        if waiter.is_alive():
            waiter.kill()
            waiter.join()
    assert result.value == 2, "the waiter took the lock of a removed container"
    assert os.listdir(store.dir) == ["names"] and os.listdir(store.names_dir) == [".lock"]
