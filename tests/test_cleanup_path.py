"""The cleanup after a container's exit: who does it, and what it costs.

`stop` cleans up itself (as podman's stop) and leaves a mark for the shim's cleanup command,
which then finds with `os` alone that nothing is left to do (stop -a starts one per container).
`run --rm` mounts its root filesystem `volatile` (as podman's), so that its unmount syncs nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.conftest import REPO_ROOT, wait_for


def _mount_options(text: str) -> str:
    """The options of the root filesystem's mount, from the container's /proc/self/mountinfo."""
    for line in text.splitlines():
        fields = line.split(" ")
        if fields[4] == "/":
            return line
    raise AssertionError(f"no root mount in {text!r}")


def test_stop_cleans_up_itself_and_marks_the_run(pyctr, store, image):
    cid = pyctr("run", "-d", "--name", "c", image, "sleep", "100").stdout.strip()
    run_dir = store.runroot / "containers" / cid
    shim = int((run_dir / "shim.pid").read_text())
    pyctr("stop", "-t", "0", "c")
    # Done when stop returns: no mount, no runc state, and the mark names this run's shim.
    assert not [m for m in store.mounts() if cid in m]
    assert not (store.runroot / "runc" / cid).exists()
    assert (run_dir / "cleaned").read_text() == str(shim)
    assert wait_for(lambda: not os.path.exists(f"/proc/{shim}"), timeout=30)  # its cleanup found nothing left
    assert pyctr("inspect", "-f", "{{.State.ExitCode}}", "c").stdout.strip() == "137"
    # The next run starts without the mark, and its shim's own cleanup releases it.
    pyctr("start", "c")
    assert not (run_dir / "cleaned").exists()
    pyctr("kill", "c")
    assert wait_for(lambda: not [m for m in store.mounts() if cid in m], timeout=30)
    assert wait_for(lambda: not (store.runroot / "runc" / cid).exists(), timeout=30)


def test_stop_of_an_rm_container_removes_it(pyctr, store, image):
    pyctr("run", "-d", "--rm", "--name", "gone", image, "sleep", "100")
    pyctr("stop", "-t", "0", "gone")
    assert pyctr("ps", "-a", "-q").stdout == ""  # at once: stop removed it, as podman's
    assert store.mounts() == []


def test_stop_cleans_up_a_container_with_a_restart_policy(pyctr, store, image):
    """stop marks it stopped by the user first, so no restart follows: stop cleans up itself."""
    cid = pyctr("run", "-d", "--restart", "always", "--name", "r", image, "sleep", "100").stdout.strip()
    shim = int((store.runroot / "containers" / cid / "shim.pid").read_text())
    pyctr("stop", "-t", "0", "r")
    assert not [m for m in store.mounts() if cid in m]
    assert (store.runroot / "containers" / cid / "cleaned").read_text() == str(shim)
    assert wait_for(lambda: not os.path.exists(f"/proc/{shim}"), timeout=30)
    assert pyctr("inspect", "-f", "{{.State.Status}}", "r").stdout.strip() == "exited"


def _cleanup_in_a_child(store, container_id: str, ppid_mark: bool) -> tuple[int, bool]:
    """Run pyctr.cleanup's main as the shim would (its argv); -> (exit code, whether the engine was loaded)."""
    code = (
        "import os, sys; from pyctr import cleanup\n"
        f"run_dir = {str(store.runroot / 'containers' / container_id)!r}\n"
        f"if {ppid_mark}: os.makedirs(run_dir, exist_ok=True); cleanup.mark_cleaned(run_dir, os.getppid())\n"
        f"rc = cleanup.nothing_left(['--root', {str(store.root)!r}, '--runroot', {str(store.runroot)!r}, {container_id!r}], os.getppid())\n"
        "print(int(rc), int('pyctr.config' in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    nothing_left, loaded = out.split()
    return int(nothing_left), loaded == "1"


def test_the_cleanup_command_decides_with_os_alone(store):
    """No container, or its run marked cleaned by the shim that asks: nothing to do, and no
    engine loaded. A run marked for another shim, or anything unexpected: the engine decides."""
    cid = "a" * 64
    assert _cleanup_in_a_child(store, cid, ppid_mark=False) == (1, False)  # no such container
    container = store.root / "containers" / cid
    container.mkdir(parents=True)
    (container / "lock").touch()
    assert _cleanup_in_a_child(store, cid, ppid_mark=False) == (0, False)  # not cleaned: the engine's turn
    assert _cleanup_in_a_child(store, cid, ppid_mark=True) == (1, False)
    (container / "lock").unlink()
    assert _cleanup_in_a_child(store, cid, ppid_mark=True) == (0, False)  # no lock file: not ours to judge
    from pyctr import cleanup

    run_dir = store.runroot / "containers" / cid
    cleanup.mark_cleaned(run_dir, 4242)
    assert cleanup.cleaned(run_dir, 4242) and not cleanup.cleaned(run_dir, 424)
    # What a removal left to shim 4242's cleanup (.removing-ID.4242): deleted by it, and by no other.
    argv = ["--root", str(store.root), "--runroot", str(store.runroot), cid]
    left = store.root / "containers" / f".removing-{cid}.4242"
    (left / "overlay" / "upper").mkdir(parents=True)
    cleanup.sweep(argv, 424)
    assert left.exists()
    cleanup.sweep(argv, 4242)
    assert not left.exists()
    # A shim asks before it starts the command (either form of pyctr.dist.module_argv's): the
    # container is gone, so nothing is left; it sweeps what was left to it.
    container.rmdir()
    (left / "overlay").mkdir(parents=True)
    for command in (["python", "-P", "-m", "pyctr.cleanup", *argv], ["python3", "-IS", "/f", "__module", "pyctr.cleanup", *argv]):
        assert cleanup.settle_in_shim(command, 4242)
        assert not left.exists()
    assert not cleanup.settle_in_shim(["true"], 4242)


def test_run_rm_mounts_its_rootfs_volatile(pyctr, store, image):
    """As podman's --rm: nothing of its upper directory needs to survive a crash."""
    volatile = pyctr("run", "--rm", image, "cat", "/proc/self/mountinfo").stdout
    assert "volatile" in _mount_options(volatile)
    kept = pyctr("run", "--name", "kept", image, "cat", "/proc/self/mountinfo").stdout
    assert "volatile" not in _mount_options(kept)
    assert store.mounts() == [] or wait_for(lambda: store.mounts() == [])


def test_an_rm_container_mounted_before_its_start(pyctr, store, image):
    """overlay refuses an upper mounted volatile before, until the mark it left is gone."""
    pyctr("create", "--rm", "--name", "later", image, "cat", "/hello")
    merged = pyctr("mount", "later").stdout.strip()
    with open(os.path.join(merged, "hello"), "w") as f:
        f.write("written before the start\n")
    pyctr("umount", "later")
    assert pyctr("start", "-a", "later").stdout == "written before the start\n"
    assert wait_for(lambda: pyctr("ps", "-a", "-q").stdout == "")
    assert wait_for(lambda: store.mounts() == [])


def test_rm_and_run_rm_leave_the_files_to_the_shims_cleanup(pyctr, store, image):
    """rm -f of a running container and run --rm rename the container away and return; its
    shim's cleanup command deletes the files (a killed one leaves them to the next removal)."""
    containers = store.root / "containers"
    pyctr("run", "--rm", image, "true")
    pyctr("run", "-d", "--name", "f", image, "sleep", "100")
    pyctr("rm", "-f", "-t", "0", "f")
    pyctr("run", "-d", "--name", "idle", image, "sleep", "100")
    time.sleep(2)  # its shim is the idle pump by now (pyctr.shim.idle), which ends it itself
    pyctr("rm", "-f", "-t", "0", "idle")
    assert pyctr("ps", "-a", "-q").stdout == ""
    assert wait_for(lambda: sorted(p.name for p in containers.iterdir()) == ["names"], timeout=30)
    assert not list((store.runroot / "containers").iterdir())
    assert store.mounts() == []


def test_the_hosts_default_seccomp_profile_has_x32_only_where_the_kernel_runs_it(pyctr, image):
    """runc builds the filter for each architecture named (~5 ms for x32 at every start)."""
    import ctypes

    from pyctr.runtime import seccomp

    if os.uname().machine != "x86_64":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    runs_x32 = libc.syscall(ctypes.c_long(seccomp.X32_SYSCALL_BIT | 39)) != -1
    assert seccomp.kernel_runs_x32() == runs_x32
    host = seccomp.default_profile(set())["architectures"]
    assert host[:2] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"] and ("SCMP_ARCH_X32" in host) == runs_x32
    assert "SCMP_ARCH_X32" in seccomp.default_profile(set(), "x86_64")["architectures"]  # (any x86_64 named)
    assert pyctr("run", "--rm", image, "echo", "filtered").stdout == "filtered\n"
