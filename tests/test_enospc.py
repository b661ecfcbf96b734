"""A full disk: a container fills its --root (a 20 MB tmpfs) through its log; `rm -f` of it
still works, gives the space back, and the next `run` works.

Real CLI, runc and overlay mounts, as root.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from pyctr.linux.proc import process_start
from tests.conftest import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs: needs root")


@pytest.fixture
def small_root(store):
    """store.root on a 20 MB tmpfs, unmounted at the end (after the store's own teardown)."""
    store.root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m,mode=0700", "tmpfs", str(store.root)], check=True)
    try:
        yield store.root
    finally:
        store.teardown()
        subprocess.run(["umount", "-l", str(store.root)], capture_output=True)
    assert str(store.root) not in store.mounts()


@pytest.fixture
def image(registry, pyctr, small_root):
    ref = f"{registry.host}/test/busybox:latest"
    pyctr("pull", "-q", ref)
    return ref


def free_bytes(path) -> int:
    info = os.statvfs(path)
    return info.f_bavail * info.f_frsize



def test_rm_force_of_a_container_that_filled_the_disk(pyctr, store, image, small_root):
    container_id = pyctr("run", "-d", "--name", "filler", image, "yes").stdout.strip()
    pid = int(pyctr("inspect", "--format", "{{.State.Pid}}", "filler").stdout)
    shim = int((store.runroot / "containers" / container_id / "shim.pid").read_text())
    assert wait_for(lambda: free_bytes(small_root) < 64 * 1024, 60), "the log never filled the disk"
    time.sleep(0.5)  # let writes that fail pile up a little

    # Commands that must write fail in one line, with exit 125.
    result = pyctr("create", "--name", "other", image, "true", check=False)
    if result.returncode != 0:
        assert result.returncode == 125, result.stderr
        lines = result.stderr.strip().splitlines()  # the error, and perhaps a hint
        assert lines[0].startswith("Error: ") and "no space left on device" in lines[0].lower(), result.stderr
        assert len(lines) <= 2 and "Traceback" not in result.stderr, result.stderr
        assert "other" not in pyctr("ps", "-a", "--format", "{{.Names}}").stdout.split()
        pyctr("rm", "-f", "other", check=False)  # in case the record fitted after all

    rm = pyctr("rm", "-f", "filler", check=False)
    assert rm.returncode == 0, rm.stderr
    assert rm.stdout.strip() in ("filler", container_id)
    assert process_start(pid) is None, "the container's process still runs"
    assert wait_for(lambda: process_start(shim) is None, 10), "the shim still runs"
    assert free_bytes(small_root) > 10 * 1024 * 1024, "the space did not come back"
    assert not (store.root / "containers" / container_id).exists()
    assert not (store.runroot / "containers" / container_id).exists()
    assert not (store.runroot / "runc" / container_id).exists()
    assert not [m for m in store.mounts() if container_id in m]
    assert pyctr("ps", "-a", "-q").stdout.strip() == ""

    # The name is free again and containers run.
    assert pyctr("run", "--rm", image, "true").returncode == 0
    pyctr("run", "--rm", "--name", "filler", image, "true")
    assert pyctr("ps", "-a", "-q").stdout.strip() == ""


def test_stop_and_a_failed_start_on_a_full_disk(pyctr, store, image, small_root):
    pyctr("run", "--name", "done", image, "true")
    pyctr("run", "-d", "--name", "filler", image, "yes")
    assert wait_for(lambda: free_bytes(small_root) < 64 * 1024, 60), "the log never filled the disk"

    def status(name: str) -> str:
        return pyctr("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name).stdout.strip()

    # A start that cannot write its bundle fails in one line and leaves the container as it was.
    result = pyctr("start", "done", check=False)
    assert result.returncode == 125, result.stderr
    assert result.stderr.startswith("Error: ") and "no space left on device" in result.stderr.splitlines()[0].lower()
    assert status("done") == "exited 0"

    # A pause that cannot be recorded is undone: the container runs, as its state says.
    result = pyctr("pause", "filler", check=False)
    assert result.returncode == 125 and "no space left on device" in result.stderr.lower(), result.stderr
    assert status("filler") == "running 0"
    assert pyctr("exec", "filler", "true", check=False).returncode == 0

    # Stopping needs no space, and the exit status is still recorded.
    pyctr("stop", "-t", "1", "filler")
    assert status("filler") == "exited 137"
    assert not [m for m in store.mounts() if "/containers/" in m and m.endswith("/merged")]

    pyctr("rm", "filler")
    assert free_bytes(small_root) > 10 * 1024 * 1024, "the space did not come back"
    pyctr("start", "done")
    assert pyctr("wait", "done").stdout.strip() == "0"
    pyctr("rm", "done")
    assert pyctr("ps", "-a", "-q").stdout.strip() == ""


def test_log_opt_max_size_caps_the_log(pyctr, store, image, small_root):
    container_id = pyctr("run", "-d", "--name", "capped", "--log-opt", "max-size=100k", image, "yes").stdout.strip()
    log = store.root / "containers" / container_id / "ctr.log"
    sizes = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        sizes.append(log.stat().st_size)
        time.sleep(0.02)
    assert max(sizes) > 50_000, "the container wrote little: the test shows nothing"
    assert max(sizes) <= 100_000, max(sizes)
    assert free_bytes(small_root) > 10 * 1024 * 1024
    lines = pyctr("logs", "--tail", "5", "capped").stdout.splitlines()
    assert lines == ["y"] * 5
    pyctr("rm", "-f", "capped")

    result = pyctr("create", "--log-opt", "max-size=lots", image, "true", check=False)
    assert result.returncode == 125 and "invalid size" in result.stderr


def test_log_max_size_parsing():
    from pyctr.container.flags import log_max_size
    from pyctr.errors import InvalidArgument

    assert log_max_size(["max-size=10k"]) == 10_000  # podman's units: decimal
    assert log_max_size(["max-size=1Mi"]) == 1024 * 1024
    assert log_max_size(["tag=x", "max-size=2mb"]) == 2_000_000
    assert log_max_size(["max-size=-1"]) == -1
    assert log_max_size([]) is None
    for bad in (["max-size=abc"], ["max-size"]):
        with pytest.raises(InvalidArgument):
            log_max_size(bad)


def test_log_writer_starts_again_once_full(tmp_path):
    from pyctr.shim.klog import LogWriter

    path = tmp_path / "ctr.log"
    log = LogWriter(str(path), 200)
    for _ in range(20):
        log.write("stdout", b"0123456789\n")
    log.close()
    size = path.stat().st_size
    assert 0 < size <= 200
    assert path.read_bytes().endswith(b" stdout F 0123456789\n")

    # One read bigger than the size: its last whole records that fit.
    log = LogWriter(str(path), 200)
    log.write("stdout", b"".join(b"line %d\n" % i for i in range(100)))
    log.close()
    data = path.read_bytes()
    assert 0 < len(data) <= 200 and data.endswith(b" stdout F line 99\n")
    assert all(b" stdout F line " in record for record in data.splitlines())
    # A single record bigger than the size is kept whole.
    log = LogWriter(str(path), 50)
    log.write("stdout", b"x" * 100 + b"\n")
    log.close()
    assert path.read_bytes().endswith(b" stdout F " + b"x" * 100 + b"\n") and path.read_bytes().count(b"\n") == 1


def test_containers_conf_log_size_max_is_the_default(pyctr, store, image, small_root):
    conf = store.tmp / "containers.conf"
    conf.write_text("[containers]\nlog_size_max = 50000\n")
    env = {"CONTAINERS_CONF": str(conf)}
    capped = pyctr("run", "-d", image, "yes", env=env).stdout.strip()
    # --log-opt wins over the configuration.
    wide = pyctr("run", "-d", "--log-opt", "max-size=200k", image, "yes", env=env).stdout.strip()
    logs = {cid: store.root / "containers" / cid / "ctr.log" for cid in (capped, wide)}
    sizes = {cid: [] for cid in logs}
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        for cid, log in logs.items():
            sizes[cid].append(log.stat().st_size)
        time.sleep(0.02)
    assert 25_000 < max(sizes[capped]) <= 50_000, max(sizes[capped])
    assert 100_000 < max(sizes[wide]) <= 200_000, max(sizes[wide])
    assert free_bytes(small_root) > 10 * 1024 * 1024
    pyctr("rm", "-f", capped, wide)

    conf.write_text("[containers]\nlog_size_max = \"big\"\n")
    result = pyctr("create", image, "true", env=env, check=False)
    assert result.returncode == 125 and "log_size_max" in result.stderr, result.stderr
