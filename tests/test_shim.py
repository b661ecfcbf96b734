"""The per-container shim against real runc: python -m pyctr.shim, started as the engine does."""

from __future__ import annotations

import json
import os
import re
import secrets
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pyctr.runtime import attach, logs
from pyctr.shim import protocol

RUNC = "/usr/bin/runc"
BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "echo", "cat", "sleep", "ls", "stty", "true", "id", "printf", "head", "yes", "kill", "test")
RECORD = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) (F|P) (.*)$")

@pytest.fixture(scope="session")
def rootfs(tmp_path_factory) -> Path:
    if os.geteuid() != 0 or not os.path.exists(RUNC) or not os.path.exists(BUSYBOX):
        pytest.skip("needs root, runc and busybox")
    root = tmp_path_factory.mktemp("rootfs")
    (root / "bin").mkdir()
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    return root


class Container:
    """One shim-run container: paths, the sync message, and helpers."""

    def __init__(self, harness: "Harness", cid: str, config: dict, sync: dict):
        self.harness = harness
        self.id = cid
        self.config = config
        self.sync = sync
        self.state_dir = config["state_dir"]
        self.log_path = config["log_path"]
        self.exit_file = config["exit_file"]

    @property
    def shim_pid(self) -> int:
        return int(Path(self.state_dir, "shim.pid").read_text())

    def start(self) -> None:
        self.harness.runc("start", self.id)

    def attach(self) -> attach.AttachClient:
        client = attach.AttachClient.open(self.state_dir)
        self.harness.closers.append(client.close)
        return client

    def wait_exit(self, timeout: float = 20) -> dict:
        record = attach.wait_for_exit_record(self.exit_file, timeout)
        assert record is not None, f"no exit record after {timeout}s; shim.log: {self.shim_log()}"
        return record

    def shim_log(self) -> str:
        path = Path(self.state_dir, "shim.log")
        return path.read_text() if path.exists() else "(none)"

    def log_records(self) -> list[tuple[str, str, bytes]]:
        records = []
        for raw in Path(self.log_path).read_bytes().splitlines():
            m = RECORD.match(raw)
            assert m, f"not a k8s-file record: {raw!r}"
            records.append((m.group(1).decode(), m.group(2).decode(), m.group(3)))
        return records

    def wait_shim_gone(self, timeout: float = 20) -> None:
        pid = self.shim_pid
        deadline = time.monotonic() + timeout
        while _alive(pid):
            assert time.monotonic() < deadline, "the shim did not exit"
            time.sleep(0.05)


class Harness:
    """Bundles, configs and shims under one test's tmp dir; tears everything down."""

    def __init__(self, tmp: Path, rootfs: Path):
        self.tmp = tmp
        self.rootfs = rootfs
        self.runc_root = tmp / "runc"
        self.ids: list[str] = []
        self.pids: list[int] = []  # shims and throwaway parents to kill at teardown
        self.closers: list = []

    def runc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([RUNC, "--root", str(self.runc_root), *args], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=30, check=check)

    def bundle(self, name: str, args: list[str], terminal: bool = False, tweak=None) -> Path:
        bundle = self.tmp / f"bundle-{name}"
        bundle.mkdir()
        subprocess.run([RUNC, "spec"], cwd=bundle, check=True, timeout=30)
        spec = json.loads((bundle / "config.json").read_text())
        spec["process"]["args"] = args
        spec["process"]["terminal"] = terminal
        spec["root"] = {"path": str(self.rootfs), "readonly": False}
        if tweak:
            tweak(spec)
        (bundle / "config.json").write_text(json.dumps(spec))
        return bundle

    def config(self, name: str, args: list[str], *, terminal=False, stdin=False, cleanup_argv=None,
               state_dir: Path | None = None, tweak=None) -> dict:
        container_dir = self.tmp / "root" / name
        container_dir.mkdir(parents=True)
        state_dir = state_dir or self.tmp / "runroot" / name
        state_dir.mkdir(parents=True)
        # Unique: runc names the container's cgroups after it, and test runs may overlap.
        cid = f"{name}-{secrets.token_hex(4)}"
        return {
            "id": cid, "bundle": str(self.bundle(name, args, terminal, tweak)),
            "state_dir": str(state_dir), "runc": RUNC, "runc_root": str(self.runc_root),
            "log_path": str(container_dir / "ctr.log"), "exit_file": str(container_dir / "exit.json"),
            "terminal": terminal, "stdin": stdin,
            "cleanup_argv": cleanup_argv if cleanup_argv is not None else ["/bin/true"],
            "sync_fd": 3, "runc_extra_args": [],
        }

    def spawn(self, config: dict) -> Container:
        """Start a shim exactly as the engine does and wait for its sync line."""
        cid = config["id"]
        self.ids.append(cid)
        read_fd, write_fd = os.pipe()
        config = {**config, "sync_fd": write_fd}
        path = self.tmp / f"shim-{cid}.json"
        path.write_text(json.dumps(config))
        try:
            first = subprocess.Popen([sys.executable, "-m", "pyctr.shim", str(path)], pass_fds=(write_fd,),
                                     close_fds=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        finally:
            os.close(write_fd)
        try:
            line = _read_line(read_fd, 60)
        finally:
            os.close(read_fd)
        first.wait(timeout=10)  # the first fork exits at once
        container = Container(self, cid, config, json.loads(line))
        if Path(config["state_dir"], "shim.pid").exists():
            self.pids.append(container.shim_pid)
        return container

    def run(self, name: str, args: list[str], **kwargs) -> Container:
        return self.spawn(self.config(name, args, **kwargs))

    def teardown(self) -> None:
        for close in self.closers:
            close()
        for cid in self.ids:
            self.runc("delete", "--force", cid, check=False)
        for pid in self.pids:
            if _alive(pid) and str(self.tmp).encode() in _cmdline(pid):
                os.kill(pid, signal.SIGKILL)


def _read_line(fd: int, timeout: float) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no sync line within {timeout}s (got {data!r})"
        if select.select([fd], [], [], remaining)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    return data


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    """Running (a zombie whose parent does not reap it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _until(predicate, timeout: float = 20, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return result


@pytest.fixture
def harness(tmp_path, rootfs):
    h = Harness(Path(os.path.realpath(tmp_path)), rootfs)
    yield h
    h.teardown()


def test_shim_imports_stay_light():
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", "import pyctr.shim.main"],
                            capture_output=True, text=True, timeout=60, check=True)
    modules = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    heavy = {"typer", "rich", "httpx", "zstandard", "click", "pydantic"}
    assert not modules & heavy
    ours = {m for m in modules if m == "pyctr" or m.startswith("pyctr.")}
    # The shim runs runc through pyctr.runtime.runc, the one module that runs it (which logs
    # through pyctr.log: os, sys and time).
    assert {m for m in ours if not m.startswith("pyctr.shim")} == {
        "pyctr", "pyctr.errors", "pyctr.linux", "pyctr.linux.fsutil", "pyctr.log", "pyctr.runtime", "pyctr.runtime.runc"}
    # shutil would bring the compression modules along.
    assert not modules & {"shutil", "zlib", "bz2", "lzma", "dataclasses", "inspect"}


# -- output, log and exit record ---------------------------------------------------------------

def test_output_lands_in_log_with_both_streams(harness):
    ctr = harness.run("both", ["sh", "-c", "echo hello; echo err >&2"])
    assert isinstance(ctr.sync.get("pid"), int) and ctr.sync["pid"] > 0
    before = time.time()
    ctr.start()
    record = ctr.wait_exit()
    assert record["exit_code"] == 0 and record["signal"] is None and record["oom"] is False
    assert before - 1 <= record["started_at"] <= record["finished_at"] <= time.time()
    records = ctr.log_records()
    assert ("stdout", "F", b"hello") in records
    assert ("stderr", "F", b"err") in records
    lines = list(logs.read_log(ctr.log_path))
    assert {(line.stream, line.text) for line in lines} == {("stdout", b"hello"), ("stderr", b"err")}


def test_exit_code(harness):
    ctr = harness.run("three", ["sh", "-c", "exit 3"])
    ctr.start()
    record = ctr.wait_exit()
    assert (record["exit_code"], record["signal"]) == (3, None)


def test_killed_by_signal_through_runc(harness):
    ctr = harness.run("killed", ["sleep", "30"])
    ctr.start()
    harness.runc("kill", ctr.id, "KILL")
    record = ctr.wait_exit()
    assert (record["exit_code"], record["signal"]) == (137, 9)


def test_killed_by_its_own_signal(harness):
    # As PID 1 of its own PID namespace, sh would be immune to its own SIGKILL:
    # share the host's PID namespace for this one.
    def no_pid_namespace(spec):
        spec["linux"]["namespaces"] = [ns for ns in spec["linux"]["namespaces"] if ns["type"] != "pid"]

    ctr = harness.run("suicide", ["sh", "-c", "kill -9 $$; echo survived"], tweak=no_pid_namespace)
    ctr.start()
    record = ctr.wait_exit()
    assert (record["exit_code"], record["signal"]) == (137, 9)
    assert b"survived" not in Path(ctr.log_path).read_bytes()


def test_create_failure_reports_runc_error(harness):
    marker = harness.tmp / "cleaned"
    ctr = harness.run("missing", ["nonexistent"], cleanup_argv=["/bin/sh", "-c", f"touch {marker}"])
    assert "pid" not in ctr.sync
    assert 'exec: "nonexistent": executable file not found' in ctr.sync["error"]
    assert ctr.sync["error"].startswith("runc create failed: ")
    # Before reporting, the shim stops counting as alive for the engine (no shim.pid).
    assert not Path(ctr.state_dir, "shim.pid").exists()
    time.sleep(0.5)  # and whatever it still does, it runs no cleanup and records no exit
    assert not marker.exists() and not Path(ctr.exit_file).exists()
    assert not Path(ctr.state_dir, "attach").exists()


def test_runc_warnings_stay_out_of_the_container_log(harness):
    # A second container in the cgroup of a running one makes runc 1.1.5 warn.
    cgroup = f"/pyctr-test-{secrets.token_hex(4)}"

    def shared_cgroup(spec):
        spec["linux"]["cgroupsPath"] = cgroup

    first = harness.run("first", ["sleep", "30"], tweak=shared_cgroup)
    first.start()
    second = harness.run("second", ["echo", "hi"], tweak=shared_cgroup)
    second.start()
    second.wait_exit()
    assert second.log_records() == [("stdout", "F", b"hi")]
    runc_log = Path(second.state_dir, "runc-create.log").read_text()
    assert "cgroup is not empty" in runc_log


def test_invalid_config_reported_on_sync_pipe(harness):
    config = harness.config("bad", ["true"])
    del config["bundle"]
    ctr = harness.spawn(config)
    assert "bundle" in ctr.sync["error"]


# -- attach --------------------------------------------------------------------------------

def test_attach_gets_output_from_the_first_byte(harness):
    ctr = harness.run("attached", ["sh", "-c", "echo first; echo err >&2; echo last"])
    client = ctr.attach()  # before `runc start`
    ctr.start()
    out, err, status = client.collect(timeout=20)
    assert out == b"first\nlast\n" and err == b"err\n"
    assert status == {"exit_code": 0, "signal": None}
    assert Path(ctr.exit_file).exists()  # the exit record is written before the exit frame


def test_stdin_reaches_cat_and_eof_ends_it(harness):
    ctr = harness.run("cat", ["cat"], stdin=True)
    client = ctr.attach()
    ctr.start()
    client.send_stdin(b"hello\n")
    assert client.read_frame(timeout=10) == (protocol.STDOUT, b"hello\n")
    client.send_stdin(b"world\n")
    client.close_stdin()
    out, _, status = client.collect(timeout=20)
    assert out == b"world\n" and status["exit_code"] == 0
    assert [line.text for line in logs.read_log(ctr.log_path)] == [b"hello", b"world"]


def test_terminal_resize_and_output_through_the_pty(harness):
    # A state_dir longer than a socket path may be: attach and console sockets must cope.
    state_dir = harness.tmp / ("s" * 60) / ("t" * 60)
    ctr = harness.run("tty", ["sh", "-c", "read x; stty size; echo done"], terminal=True, stdin=True,
                      state_dir=state_dir)
    assert len(str(state_dir / "attach")) > 108
    client = ctr.attach()
    client.resize(40, 100)
    client.send_stdin(b"go\n")  # processed after the resize: same connection, in order
    ctr.start()
    out, err, status = client.collect(timeout=20)
    assert b"40 100\r\n" in out and b"done\r\n" in out and err == b""
    assert status["exit_code"] == 0
    texts = [line.text for line in logs.read_log(ctr.log_path)]
    assert b"40 100\r" in texts


def test_detach_leaves_the_container_running(harness):
    ctr = harness.run("detach", ["sh", "-c", "read x; echo got $x"], stdin=True)
    first = ctr.attach()
    ctr.start()
    first.detach()
    second = ctr.attach()
    second.send_stdin(b"more\n")
    out, _, status = second.collect(timeout=20)
    assert out == b"got more\n" and status["exit_code"] == 0


def test_a_client_dying_mid_stream_changes_nothing(harness):
    ctr = harness.run("dying", ["sh", "-c", "for i in 1 2 3 4 5; do echo $i; sleep 0.1; done"])
    doomed = ctr.attach()
    doomed.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
    survivor = ctr.attach()
    ctr.start()
    assert doomed.read_frame(timeout=10) == (protocol.STDOUT, b"1\n")
    doomed.close()
    out, _, status = survivor.collect(timeout=20)
    assert out == b"1\n2\n3\n4\n5\n" and status["exit_code"] == 0


def test_connect_without_a_shim_is_a_typed_error(tmp_path):
    with pytest.raises(attach.AttachError):
        attach.connect(str(tmp_path))
    long_dir = tmp_path / ("x" * 100) / ("y" * 100)
    long_dir.mkdir(parents=True)
    with pytest.raises(attach.AttachError):
        attach.connect(str(long_dir))


def test_read_frame_leaves_later_frames_to_select():
    ours, shims = socket.socketpair()
    with ours, shims:
        client = attach.AttachClient(ours)
        shims.sendall(protocol.encode(protocol.STDOUT, b"a") + protocol.encode(protocol.STDERR, b"")
                      + protocol.encode_json(protocol.EXIT, {"exit_code": 0, "signal": None}))
        assert client.read_frame(timeout=5) == (attach.FRAME_STDOUT, b"a")
        assert select.select([ours], [], [], 0)[0]  # the rest is still in the socket
        assert client.read_frame(timeout=5) == (attach.FRAME_STDERR, b"")
        kind, payload = client.read_frame(timeout=5)
        assert kind == attach.FRAME_EXIT and client.decode_exit(payload) == {"exit_code": 0, "signal": None}
        with pytest.raises(TimeoutError):
            client.read_frame(timeout=0.1)
        shims.shutdown(socket.SHUT_WR)
        assert client.read_frame(timeout=5) is None


def test_late_client_gets_the_exit_frame_at_once(harness):
    ctr = harness.run("late", ["true"], cleanup_argv=["/bin/sleep", "3"])
    ctr.start()
    ctr.wait_exit()
    client = ctr.attach()
    assert list(client.frames(timeout=5)) == [(protocol.EXIT, b'{"exit_code":0,"signal":null}')]


def test_slow_client_never_blocks_the_container(harness):
    ctr = harness.run("flood", ["sh", "-c", "yes 0123456789abcdef | head -c 4000000; echo; echo end"])
    stuck = ctr.attach()  # never reads
    ctr.start()
    record = ctr.wait_exit(timeout=60)
    assert record["exit_code"] == 0
    lines = [line.text for line in logs.read_log(ctr.log_path)]
    assert lines.count(b"0123456789abcdef") == 4000000 // 17 and lines[-2:] == [b"01", b"end"]
    # It was dropped, so it never sees the exit frame.
    received = bytearray()
    stuck.sock.settimeout(10)
    try:
        while chunk := stuck.sock.recv(1 << 20):
            received += chunk
    except ConnectionResetError:
        pass
    frames = protocol.Decoder().feed(bytes(received))
    assert frames and protocol.EXIT not in [kind for kind, _ in frames]


# -- process hygiene ------------------------------------------------------------------------

def test_shim_is_detached_and_survives_its_starter(harness):
    config = harness.config("orphan", ["sh", "-c", "sleep 0.5; echo done"])
    path = harness.tmp / "orphan-config.json"
    path.write_text(json.dumps(config))
    starter = textwrap.dedent(f"""
        import json, os, subprocess, sys, time
        r, w = os.pipe()
        config = json.load(open({str(path)!r}))
        config["sync_fd"] = w
        json.dump(config, open({str(path)!r}, "w"))
        subprocess.Popen([sys.executable, "-m", "pyctr.shim", {str(path)!r}], pass_fds=(w,),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(w)
        sys.stdout.write(os.read(r, 4096).decode()); sys.stdout.flush()
        time.sleep(60)
        """)
    proc = subprocess.Popen([sys.executable, "-c", starter], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    harness.pids.append(proc.pid)
    harness.ids.append(config["id"])
    sync = json.loads(_read_line(proc.stdout.fileno(), 60))
    proc.kill()  # the `pyctr` process dies right after the sync line
    proc.wait(timeout=10)
    proc.stdout.close()
    ctr = Container(harness, config["id"], config, sync)
    shim = ctr.shim_pid
    harness.pids.append(shim)
    assert "pid" in sync
    assert _ppid(shim) not in (os.getpid(), proc.pid)
    assert os.getsid(shim) != shim  # not a session leader: it can never get a controlling tty
    ctr.start()
    record = ctr.wait_exit()
    assert record["exit_code"] == 0
    assert ("stdout", "F", b"done") in ctr.log_records()


@pytest.mark.parametrize("terminal", [False, True])
def test_no_fd_leaks_into_the_container(harness, terminal):
    ctr = harness.run(f"fds-{terminal}", ["ls", "/proc/self/fd"], terminal=terminal)
    ctr.start()
    ctr.wait_exit()
    text = b" ".join(line.text for line in logs.read_log(ctr.log_path))
    assert sorted(text.split()) == [b"0", b"1", b"2", b"3"]  # 3: the directory ls reads


def test_shim_holds_no_inherited_fds(harness):
    ctr = harness.run("fd-shim", ["sleep", "30"], stdin=True)
    ctr.start()
    targets = {os.readlink(f"/proc/{ctr.shim_pid}/fd/{fd}")
               for fd in os.listdir(f"/proc/{ctr.shim_pid}/fd")}
    assert {t for t in targets if t.startswith("/") and t != "/dev/null"} <= {
        ctr.state_dir, ctr.log_path}, targets
    assert all(os.readlink(f"/proc/{ctr.shim_pid}/fd/{fd}") == "/dev/null" for fd in (0, 1, 2))
    assert os.readlink(f"/proc/{ctr.shim_pid}/cwd") == "/"


def test_configs_of_running_shims_still_read_and_run_the_same_runc():
    """A config as pyctr 0.1's engine wrote it (before pyctr.runtime.runc built the argv):
    it loads, and `runc create` gets the argv that shim used to build itself."""
    from pyctr.runtime.runc import Runc
    from pyctr.shim.config import ShimConfig

    old = {"id": "c1", "bundle": "/s/c1/bundle", "state_dir": "/run/s/c1", "runc": "/usr/bin/runc",
           "runc_root": "/run/s/runc", "log_path": "/s/c1/ctr.log", "exit_file": "/s/c1/exit.json",
           "terminal": True, "stdin": True, "cleanup_argv": ["/usr/bin/python3", "-m", "pyctr.cleanup", "c1"],
           "runc_extra_args": ["--debug"], "runc_create_args": ["--no-pivot"], "sync_fd": 3, "client_fd": -1}
    cfg = ShimConfig.from_raw(old, "config")
    runc = Runc(cfg.runc_root, cfg.runc, extra_args=cfg.runc_extra_args)
    argv = runc.create_argv(cfg.id, cfg.bundle, pid_file="/run/s/c1/pid", log="/run/s/c1/runc-create.log",
                            console_socket="/proc/1/fd/5/console.sock", start=cfg.start,
                            create_args=cfg.runc_create_args)
    assert argv == ["/usr/bin/runc", "--root", "/run/s/runc", "--log", "/run/s/c1/runc-create.log",
                    "--log-format", "json", "--debug", "create", "--bundle", "/s/c1/bundle",
                    "--pid-file", "/run/s/c1/pid", "--console-socket", "/proc/1/fd/5/console.sock",
                    "--no-pivot", "c1"]


def test_runc_extra_args_are_global_options(harness):
    config = harness.config("jsonlog", ["nonexistent"])
    config["runc_extra_args"] = ["--log-format", "json"]
    ctr = harness.spawn(config)
    assert ctr.sync["error"].startswith("runc create failed: ")
    assert 'exec: "nonexistent": executable file not found' in ctr.sync["error"]


def test_shim_lets_go_of_its_starters_stdio(harness):
    """A careless starter's pipes (pytest's capture) reach EOF while the shim runs on."""
    config = harness.config("stdio", ["sleep", "30"])
    read_fd, write_fd = os.pipe()
    path = harness.tmp / "stdio.json"
    path.write_text(json.dumps({**config, "sync_fd": write_fd}))
    harness.ids.append(config["id"])
    proc = subprocess.Popen([sys.executable, "-m", "pyctr.shim", str(path)], pass_fds=(write_fd,),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.PIPE)
    os.close(write_fd)
    sync = json.loads(_read_line(read_fd, 60))
    os.close(read_fd)
    ctr = Container(harness, config["id"], config, sync)
    harness.pids.append(ctr.shim_pid)
    assert proc.communicate(timeout=10) == (b"", b"")
    assert _alive(ctr.shim_pid)


def test_orphans_are_reaped_without_confusion(harness):
    def no_pid_namespace(spec):
        spec["linux"]["namespaces"] = [ns for ns in spec["linux"]["namespaces"] if ns["type"] != "pid"]

    # The backgrounded sh is orphaned at once: re-parented to the shim, it exits 5 first.
    ctr = harness.run("orphans", ["sh", "-c", "(sh -c 'sleep 0.5; exit 5' &); sleep 1.5; exit 0"],
                      tweak=no_pid_namespace)
    children = Path(f"/proc/{ctr.shim_pid}/task/{ctr.shim_pid}/children")
    ctr.start()
    _until(lambda: len(children.read_text().split()) == 2, 5, "the orphan to be re-parented")
    _until(lambda: children.read_text().split() == [str(ctr.sync["pid"])], 5, "the orphan to be reaped")
    record = ctr.wait_exit()
    assert (record["exit_code"], record["signal"]) == (0, None)


def _rss_kib(pid: int) -> int:
    return int(re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1))


def test_a_leftover_process_holding_stdout_does_not_delay_the_exit_for_long(harness):
    def no_pid_namespace(spec):
        spec["linux"]["namespaces"] = [ns for ns in spec["linux"]["namespaces"] if ns["type"] != "pid"]

    # Without its own PID namespace, a background process outlives init and keeps stdout open.
    ctr = harness.run("holder", ["sh", "-c", "(sleep 20 &); echo bye"], tweak=no_pid_namespace)
    started = time.monotonic()
    ctr.start()
    record = ctr.wait_exit(timeout=15)
    assert record["exit_code"] == 0 and time.monotonic() - started < 10
    assert ("stdout", "F", b"bye") in ctr.log_records()


def test_idle_shim_stays_small(harness):
    ctr = harness.run("rss", ["sleep", "30"], stdin=True)
    ctr.start()
    time.sleep(0.5)
    rss = _rss_kib(ctr.shim_pid)
    print(f"idle shim VmRSS: {rss} KiB")
    assert rss < 15 * 1024


def test_shim_is_small_again_after_a_burst_of_output(harness):
    size = 20_000_000
    ctr = harness.run("burst", ["sh", "-c", f"yes 0123456789 | head -c {size}; sleep 30"])
    client = ctr.attach()
    ctr.start()
    received = 0
    while received < size:
        received += len(client.read_frame(timeout=20)[1])
    time.sleep(2.5)  # the shim trims its heap after a second of quiet
    rss = _rss_kib(ctr.shim_pid)
    print(f"shim VmRSS after {size} bytes: {rss} KiB")
    assert rss < 15 * 1024


def test_shim_survives_hangup_interrupt_and_term(harness):
    ctr = harness.run("signals", ["sh", "-c", "sleep 1; echo still"])
    ctr.start()
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        os.kill(ctr.shim_pid, sig)
    record = ctr.wait_exit()
    assert record["exit_code"] == 0 and ("stdout", "F", b"still") in ctr.log_records()


def test_cleanup_runs_after_the_exit_record(harness):
    marker = harness.tmp / "cleaned"
    container_dir = harness.tmp / "root" / "cleanup"
    script = f"test -f {container_dir}/exit.json && touch {marker}"
    ctr = harness.run("cleanup", ["true"], cleanup_argv=["/bin/sh", "-c", script])
    assert not marker.exists()
    ctr.start()
    _until(marker.exists, what="the cleanup command")
    ctr.wait_shim_gone()
    assert not Path(ctr.state_dir, "attach").exists()


def test_container_never_started_has_no_start_time(harness):
    ctr = harness.run("unstarted", ["true"])
    harness.runc("kill", ctr.id, "KILL")
    record = ctr.wait_exit()
    assert record["started_at"] is None and record["exit_code"] == 137


def test_the_shim_records_the_start_before_it_answers(harness):
    """The engine's state.json, the pid files and the events are the shim's to write, before it
    answers: the command that started it may be killed at any moment. A `runc start` that
    nobody recorded (`pyctr start` killed after it) is recorded by the shim as well."""
    from pyctr import events

    config = harness.config("record", ["sleep", "30"])
    state_file = harness.tmp / "root" / "record" / "state.json"
    pidfile, conmon_pidfile = harness.tmp / "ctr.pid", harness.tmp / "conmon.pid"
    runroot = harness.tmp / "events-runroot"
    config.update(state_file=str(state_file), pidfile=str(pidfile), conmon_pidfile=str(conmon_pidfile),
                  events={"runroot": str(runroot), "id": "c" * 64, "name": "record", "image": "img",
                          "attributes": {"a": "b"}})
    ctr = harness.spawn(config)
    state = json.loads(state_file.read_text())
    assert (state["pid"], state["shim_pid"]) == (ctr.sync["pid"], ctr.shim_pid)
    assert state["pid_start"] and state["shim_start"]
    assert (state["initialized"], state["started_at"], state["paused"], state["stopping"]) == (True, 0, False, False)
    assert (pidfile.read_text(), conmon_pidfile.read_text()) == (str(ctr.sync["pid"]), str(ctr.shim_pid))
    journal = [json.loads(line) for line in Path(events.log_path(runroot)).read_text().splitlines()]
    assert [(e["Status"], e["Name"], e["Attributes"]) for e in journal] == [("init", "record", {"a": "b"})]

    before = time.time()
    ctr.start()
    state = _until(lambda: (s := json.loads(state_file.read_text()))["initialized"] is False and s,
                   what="the start in state.json")
    assert before - 1 <= state["started_at"] <= time.time() + 1


def test_a_pid_file_that_cannot_be_written_fails_the_create(harness):
    config = harness.config("nopid", ["sleep", "30"])
    config["pidfile"] = str(harness.tmp / "missing" / "ctr.pid")
    ctr = harness.spawn(config)
    assert ctr.sync == {"error": f"writing pid file {config['pidfile']}: No such file or directory"}
    assert harness.runc("state", ctr.id, check=False).returncode != 0, "the created container was left behind"


# -- partial lines and the log reader ---------------------------------------------------------

def test_partial_lines_are_recorded_and_joined(harness):
    ctr = harness.run("partial", ["sh", "-c", "printf abc; sleep 0.3; echo def"])
    ctr.start()
    ctr.wait_exit()
    assert ctr.log_records() == [("stdout", "P", b"abc"), ("stdout", "F", b"def")]
    assert [(line.text, line.partial) for line in logs.read_log(ctr.log_path)] == [(b"abcdef", False)]


def test_tail_and_since(harness):
    ctr = harness.run("tail", ["sh", "-c", "echo one; echo two; sleep 0.5; echo three; echo four"])
    ctr.start()
    ctr.wait_exit()
    lines = list(logs.read_log(ctr.log_path))
    assert [line.text for line in lines] == [b"one", b"two", b"three", b"four"]
    assert [line.text for line in logs.read_log(ctr.log_path, tail=2)] == [b"three", b"four"]
    since = lines[2].time
    assert [line.text for line in logs.read_log(ctr.log_path, since=since)] == [b"three", b"four"]
    assert [line.text for line in logs.read_log(ctr.log_path, until=since)] == [b"one", b"two"]


def test_follow_log_stops_when_the_container_ends(harness):
    ctr = harness.run("follow", ["sh", "-c", "echo a; sleep 0.5; echo b; sleep 0.5; printf c"])
    ctr.start()
    finished = lambda: os.path.exists(ctr.exit_file)  # noqa: E731
    started = time.monotonic()
    lines = list(logs.follow_log(ctr.log_path, is_finished=finished, poll=0.05))
    assert time.monotonic() - started < 15
    assert [(line.text, line.partial) for line in lines] == [(b"a", False), (b"b", False), (b"c", True)]


def test_oom_kill_is_recorded(harness):
    def limit_memory(spec):
        spec["linux"].setdefault("resources", {})["memory"] = {"limit": 16 << 20, "swap": 16 << 20}

    ctr = harness.run("oom", ["sh", "-c", "x=$(yes | head -c 200000000); echo survived"],
                      tweak=limit_memory)
    if "error" in ctr.sync:
        pytest.skip(f"memory limits unavailable: {ctr.sync['error']}")
    ctr.start()
    record = ctr.wait_exit(timeout=60)
    assert record["exit_code"] == 137 and record["signal"] == 9
    assert record["oom"] is True


# -- exec sessions: the same shim in exec mode (`runc exec --detach`) -----------------------------

def _exec_config(harness: Harness, ctr: Container, name: str, args: list[str], *, terminal=False, stdin=False) -> dict:
    """An exec session's config, as the engine writes it (pyctr.container.tasks.start_exec)."""
    session = harness.tmp / "root" / "exec" / name
    session.mkdir(parents=True)
    process = json.loads(Path(ctr.config["bundle"], "config.json").read_text())["process"]
    process.update(args=args, terminal=terminal)
    (session / "process.json").write_text(json.dumps(process))
    return {**ctr.config, "state_dir": str(session), "log_path": str(session / "exec.log"),
            "exit_file": str(session / "exit.json"), "terminal": terminal, "stdin": stdin, "cleanup_argv": [],
            "exec_process": str(session / "process.json")}


def _start_exec(harness: Harness, config: dict, *, attach_: bool = True, pass_fds=()):
    from pyctr.runtime.shimlauncher import ShimLauncher

    launcher = ShimLauncher()
    report = launcher.go(config, attach=attach_, pass_fds=pass_fds)
    if "pid" in report:
        harness.pids.append(int(Path(config["state_dir"], "shim.pid").read_text()))
    client = attach.AttachClient(launcher.client) if attach_ and "pid" in report else None
    if client:
        harness.closers.append(client.close)
    return report, client


@pytest.fixture
def running(harness):
    ctr = harness.run("host", ["sleep", "60"])
    ctr.start()
    return ctr


def test_exec_session_pipes_stdin_output_and_exit_code(harness, running):
    config = _exec_config(harness, running, "one", ["sh", "-c", "cat; echo err >&2; exit 7"], stdin=True)
    report, client = _start_exec(harness, config)
    assert report["pid"] > 0
    client.send_stdin(b"to the session\n")
    client.close_stdin()
    out, err, status = client.collect(timeout=20)
    assert (out, err, status["exit_code"]) == (b"to the session\n", b"err\n", 7)
    record = attach.wait_for_exit_record(config["exit_file"], 20)
    assert record["exit_code"] == 7 and record["started_at"] <= record["finished_at"]
    assert {line.text for line in logs.read_log(config["log_path"])} == {b"to the session", b"err"}
    assert harness.runc("state", running.id).stdout.count('"running"') == 1  # the container is untouched


def test_exec_session_with_a_terminal_and_preserved_fds(harness, running):
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"through fd 3\n")
    os.close(write_fd)
    config = _exec_config(harness, running, "tty", ["sh", "-c", "tty; cat <&3"], terminal=True)
    try:
        report, client = _start_exec(harness, {**config, "preserve_fds": 1}, pass_fds=[read_fd])
    finally:
        os.close(read_fd)
    out, _, status = client.collect(timeout=20)
    assert b"/dev/pts/" in out and b"through fd 3\r\n" in out and status["exit_code"] == 0


def test_exec_failure_is_runcs_own_error_and_leaves_the_container_alone(harness, running):
    config = _exec_config(harness, running, "bad", ["/nonexistent"])
    report, _ = _start_exec(harness, config)
    assert report["error"].startswith('exec failed: unable to start container process: exec: "/nonexistent"')
    assert not Path(config["state_dir"], "shim.pid").exists() and not Path(config["exit_file"]).exists()
    assert '"running"' in harness.runc("state", running.id).stdout


def test_detached_exec_session_runs_on_and_records_its_exit(harness, running):
    config = _exec_config(harness, running, "bg", ["sh", "-c", "sleep 1; exit 4"])
    report, client = _start_exec(harness, config, attach_=False)
    assert client is None and _alive(report["pid"])
    assert attach.wait_for_exit_record(config["exit_file"], 20)["exit_code"] == 4
    _until(lambda: not _alive(int(Path(config["state_dir"], "shim.pid").read_text())), what="the shim's exit")
