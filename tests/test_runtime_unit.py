"""pyctr.runtime.runc without runc: argv builders, runc's log and error formats, the
recording fake against the protocol; and the snapshotter's mount descriptions."""

from __future__ import annotations

import inspect
import os
import stat
import subprocess

import pytest

from pyctr.errors import CommandNotFound, CommandNotInvokable, RuntimeFailure
from pyctr.linux import mount as mountmod
from pyctr.runtime import runc as runcmod
from pyctr.runtime.runc import OciRuntime, Runc, error_from_runc, error_message, parse_log_line
from pyctr.snapshot.layers import LayerStore, link_name
from tests.fakes import RecordingRunc

# -- the seam ---------------------------------------------------------------------------------


def _protocol_methods() -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(OciRuntime).items()
            if callable(member) and not name.startswith("_")}


def _shape(signature: inspect.Signature) -> list[tuple]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize("implementation", [RecordingRunc, Runc])
def test_implementations_keep_the_protocol_signatures(implementation):
    methods = _protocol_methods()
    assert {"exists", "start", "kill", "delete", "state", "pause", "resume", "ps", "exec", "version"} <= set(methods)
    for name, signature in methods.items():
        assert _shape(inspect.signature(getattr(implementation, name))) == _shape(signature), name


def test_fake_has_no_runtime_method_the_protocol_lacks():
    helpers = {"names", "called"}
    public = {name for name, member in vars(RecordingRunc).items() if callable(member) and not name.startswith("_")}
    assert public - helpers == set(_protocol_methods())


def test_fake_and_runc_have_the_protocol_attributes():
    attributes = set(OciRuntime.__annotations__)
    assert attributes == {"binary", "root", "extra_args"}
    for runtime in (RecordingRunc(), Runc("/tmp/x", "/bin/true")):
        assert attributes <= set(vars(runtime))


def test_fake_records_and_answers():
    runc = RecordingRunc()
    runc.containers.add("c1")
    assert runc.exists("c1") and not runc.exists("c2")
    runc.results["ps"] = [7, 8]
    assert runc.ps("c1") == [7, 8]
    runc.errors["kill"] = [RuntimeFailure("not running")]
    with pytest.raises(RuntimeFailure):
        runc.kill("c1", 15)
    runc.kill("c1", 9)  # one error per listed item, then success
    runc.delete("c1", force=True)
    assert runc.state("c1") is None and not runc.exists("c1")
    runc.results["exec"] = lambda cid, process, **kw: 3 if kw["tty"] else 0
    assert runc.exec("c1", "/p.json", tty=True, detach=False) == 3
    assert runc.names() == ["exists", "exists", "ps", "kill", "kill", "delete", "state", "exists", "exec"]
    assert runc.called("kill")[1] == ("kill", ("c1", 9), {"all_processes": False})
    assert runc.called("delete")[0].kwargs == {"force": True}


# -- argv -------------------------------------------------------------------------------------

def test_global_options_then_extra_args_then_subcommand():
    runc = Runc("/run/r", "/usr/bin/runc", extra_args=["--systemd-cgroup"])
    assert runc.argv("state", "c") == ["/usr/bin/runc", "--root", "/run/r", "--systemd-cgroup", "state", "c"]
    # --log comes before the extra arguments, so that they may override it.
    assert runc.argv("start", "c", log="/l") == [
        "/usr/bin/runc", "--root", "/run/r", "--log", "/l", "--log-format", "json", "--systemd-cgroup", "start", "c"]


def test_create_argv_as_the_shim_runs_it():
    runc = Runc("/run/r", "/usr/bin/runc")
    assert runc.create_argv("c", "/b", pid_file="/s/pid", log="/s/log", console_socket="/s/cs",
                            create_args=["--no-pivot"]) == [
        "/usr/bin/runc", "--root", "/run/r", "--log", "/s/log", "--log-format", "json",
        "create", "--bundle", "/b", "--pid-file", "/s/pid", "--console-socket", "/s/cs", "--no-pivot", "c"]
    assert runc.create_argv("c", "/b", pid_file="/p", start=True)[3:] == [
        "run", "--detach", "--bundle", "/b", "--pid-file", "/p", "c"]


def test_other_argv():
    runc = Runc("/r", "runc")
    assert runc.exec_argv("c", "/p.json", tty=True, detach=True, pid_file="/pid")[3:] == [
        "exec", "--process", "/p.json", "--tty", "--detach", "--pid-file", "/pid", "c"]
    assert runc.exec_argv("c", "/p.json", tty=False, detach=False)[3:] == ["exec", "--process", "/p.json", "c"]
    # An exec session's shim: its pty through a console socket, the caller's fds 3.., runc's log to a file.
    assert runc.exec_argv("c", "/p.json", tty=True, detach=True, pid_file="/pid", console_socket="/cs",
                          preserve_fds=2, log="/l")[3:] == [
        "--log", "/l", "--log-format", "json", "exec", "--process", "/p.json", "--tty", "--detach", "--pid-file",
        "/pid", "--console-socket", "/cs", "--preserve-fds", "2", "c"]
    assert runc.kill_argv("c", 15, all_processes=True)[3:] == ["kill", "--all", "c", "15"]
    assert runc.delete_argv("c", force=True)[3:] == ["delete", "--force", "c"]
    assert runc.ps_argv("c")[3:] == ["ps", "--format", "json", "c"]


# -- runc's logs and errors -------------------------------------------------------------------

def test_parse_log_line_json_logfmt_and_neither():
    assert parse_log_line('{"level":"error","msg":"boom \\"x\\"","time":"t"}') == ("error", 'boom "x"')
    assert parse_log_line('time="2024" level=warning msg="cgroup \\"a\\" busy" extra=1') == ("warning", 'cgroup "a" busy')
    assert parse_log_line("level=error msg=plain") == ("error", "plain")
    assert parse_log_line("just text") == (None, None)
    assert parse_log_line("{not json") == (None, None)
    assert parse_log_line('time="x" level=error msg="caf\\u00e9"') == ("error", "café")


def test_error_message_prefers_the_last_error_entry_of_the_first_source():
    log = b'{"level":"warning","msg":"w"}\n{"level":"error","msg":"first"}\n{"level":"error","msg":"last"}\n'
    assert error_message(log, b"stderr text\n") == "last"
    assert error_message(b'{"level":"warning","msg":"w"}\n', b'time="t" level=fatal msg="bad"\n') == "bad"
    # No error entry anywhere: the last line of the last source that has one.
    assert error_message(b"", b"line one\nline two\n\n") == "line two"
    assert error_message(b'{"level":"info","msg":"only info"}', b"") == "only info"
    assert error_message(b"", b"") == ""
    assert error_message('level=error msg="as str"') == "as str"


@pytest.mark.parametrize("text, kind, code, message", [
    ('time="t" level=error msg="runc create failed: unable to start container process: exec: \\"nope\\": '
     'executable file not found in $PATH"', CommandNotFound, 127,
     'runc: runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH: '
     "OCI runtime attempted to invoke a command that was not found"),
    # podman 4.3.1 (with runc) word for word; pyctr's `runc run --detach` reads as podman's `runc create`.
    ('runc run failed: unable to start container process: exec: "/etc": permission denied',
     CommandNotInvokable, 126, 'runc: runc create failed: unable to start container process: exec: "/etc": '
     "permission denied: OCI permission denied"),
    ('exec failed: unable to start container process: exec: "/nonexist": stat /nonexist: no such file or directory',
     CommandNotFound, 127, 'runc: exec failed: unable to start container process: exec: "/nonexist": stat /nonexist: '
     "no such file or directory: OCI runtime attempted to invoke a command that was not found"),
    ('exec failed: unable to start container process: chdir to cwd ("/x") set in config.json failed: no such file '
     "or directory", CommandNotFound, 127, 'runc: exec failed: unable to start container process: chdir to cwd ("/x") '
     "set in config.json failed: no such file or directory: OCI runtime attempted to invoke a command that was not found"),
    ("open /proc/x: permission denied", RuntimeFailure, 125, "open /proc/x: permission denied"),
    ("container not running", RuntimeFailure, 125, "container not running"),
    ("", RuntimeFailure, 125, "runc failed"),
])
def test_error_from_runc_maps_to_podman_exit_codes(text, kind, code, message):
    error = error_from_runc(text)
    assert type(error) is kind and error.exit_code == code and str(error) == message


# -- running a stand-in binary ----------------------------------------------------------------

@pytest.fixture
def fake_binary(tmp_path):
    """A 'runc' that records its argv and stdin, and answers per subcommand."""
    script = tmp_path / "runc"
    script.write_text(f"""#!/bin/sh
printf '%s\\n' "$@" > {tmp_path}/argv
for a in "$@"; do case "$a" in
  exec) cat > {tmp_path}/stdin; echo out; echo err >&2; exit 42;;
  delete) echo 'time="t" level=error msg="container does not exist"' >&2; exit 1;;
  state) echo 'level=error msg="container does not exist"' >&2; exit 1;;
  kill) echo 'time="t" level=error msg="container not running"' >&2; exit 1;;
  ps) echo '[5,6]'; exit 0;;
  --version) printf 'runc version 1.1.5\ncommit: v1.1.5\n'; exit 0;;
esac; done
exit 0
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return tmp_path


def test_runc_calls_through_a_stand_in(fake_binary):
    runc = Runc(fake_binary / "root", str(fake_binary / "runc"))
    runc.delete("c", force=True)  # a container runc does not know is not an error
    assert runc.state("c") is None
    assert runc.ps("c") == [5, 6]
    assert runc.version() == "runc version 1.1.5"
    with pytest.raises(RuntimeFailure, match="container not running"):
        runc.kill("c", 9)
    assert (fake_binary / "argv").read_text().split() == ["--root", str(fake_binary / "root"), "kill", "c", "9"]


def test_exec_gets_devnull_unless_given_stdin(fake_binary):
    runc = Runc(fake_binary / "root", str(fake_binary / "runc"))
    code = runc.exec("c", "/p.json", tty=False, detach=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert code == 42 and (fake_binary / "stdin").read_bytes() == b""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"given\n")
    os.close(write_fd)
    out = fake_binary / "out"
    with open(out, "wb") as f:
        assert runc.exec("c", "/p.json", tty=False, detach=False, stdin=read_fd, stdout=f, stderr=f) == 42
    os.close(read_fd)
    assert (fake_binary / "stdin").read_bytes() == b"given\n"
    assert out.read_bytes() == b"out\nerr\n"


def test_missing_binary_is_a_runtime_failure(tmp_path):
    runc = Runc(tmp_path, str(tmp_path / "no-runc"))
    with pytest.raises(RuntimeFailure, match="no-runc"):
        runc.start("c")
    with pytest.raises(RuntimeFailure, match="no-runc"):
        runc.exec("c", "/p", tty=False, detach=True)
    assert runc.version() == ""


def test_runtime_module_stays_light():
    """The shim imports pyctr.runtime.runc: the standard library, pyctr.errors and pyctr.log only."""
    source = inspect.getsource(runcmod)
    lines = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert {line.split()[1] for line in lines} <= {"__future__", "json", "os", "re", "subprocess", "pathlib",
                                                  "typing", "pyctr", "pyctr.errors"}
    assert [line for line in lines if line.split()[1] == "pyctr"] == ["from pyctr import log"]  # os, sys, time


# -- the snapshotter's mounts -----------------------------------------------------------------

def _chain(n: int) -> str:
    return "sha256:" + f"{n:x}" * 64


def test_rootfs_mount_descriptions(tmp_path):
    layers = LayerStore(tmp_path)
    base, top = _chain(1), _chain(2)
    for c in (base, top):
        layers.path(c).mkdir(parents=True)  # as if unpacked
    lower = lambda c: str(layers.path(c))  # noqa: E731
    link = lambda c: str(layers.links / link_name(c))  # noqa: E731  (an overlay's layers, by short link)

    view = layers.rootfs_mount([base, top])
    assert view == mountmod.Mount("overlay", "overlay", lowerdirs=(link(top), link(base)))
    assert view.readonly
    assert layers.lowerdirs([base, top]) == [lower(top), lower(base)]

    single = layers.rootfs_mount([base])
    assert single == mountmod.Mount("bind", lower(base), options=("ro",)) and single.readonly

    active = layers.rootfs_mount([base], upper=tmp_path / "u", work=tmp_path / "w", rootless=True)
    assert active == mountmod.Mount("overlay", "overlay", options=("userxattr",), lowerdirs=(link(base),),
                                    upperdir=str(tmp_path / "u"), workdir=str(tmp_path / "w"))
    assert not active.readonly

    empty = layers.rootfs_mount([], upper=tmp_path / "u", work=tmp_path / "w")
    assert empty == mountmod.Mount("bind", str(tmp_path / "u")) and not empty.readonly


def test_rootfs_mount_refuses_half_descriptions(tmp_path):
    from pyctr.errors import InvalidArgument

    layers = LayerStore(tmp_path)
    with pytest.raises(InvalidArgument):
        layers.rootfs_mount([])
    with pytest.raises(InvalidArgument):
        layers.rootfs_mount([_chain(1)], upper=tmp_path / "u")
    with pytest.raises(mountmod.StoreError):
        mountmod.mount_at(mountmod.Mount("overlay", "overlay"), str(tmp_path))
    with pytest.raises(mountmod.StoreError):
        mountmod.mount_at(mountmod.Mount("tmpfs", "tmpfs"), str(tmp_path))


# -- the fake in a unit test of an engine policy ---------------------------------------------

def test_stop_sends_the_stop_signal_then_sigkill_after_the_timeout(tmp_path):
    """TaskService.stop against RecordingRunc: no runc, no shim, no container."""
    from types import SimpleNamespace

    from pyctr.config import Config
    from pyctr.container.store import ContainerStore
    from pyctr.container.tasks import TaskService
    from pyctr.linux.fsutil import atomic_write_json, makedirs

    config = Config.create(tmp_path / "root", tmp_path / "run")
    store = ContainerStore(config)
    runc = RecordingRunc()
    tasks = TaskService(config, store, images=None, runc=runc)
    cid = "c" * 64
    no_restart = SimpleNamespace(lifecycle=SimpleNamespace(restart=SimpleNamespace(name="no")))
    record = SimpleNamespace(id=cid, name="web", stop_signal="SIGQUIT", stop_timeout=10, spec_data={"lifecycle": {}},
                             spec=no_restart, remove=False, network="none", mounts=[])
    makedirs(store.path(cid))
    makedirs(store.state_dir(cid))
    (store.state_dir(cid) / "shim.pid").write_text(f"{os.getpid()}\n")  # a live "shim": running

    def kill(container_id, signal, **_):
        if signal == 9:  # only SIGKILL ends this container
            atomic_write_json(store.exit_file(container_id), {"exit_code": 137, "signal": 9})

    runc.results["kill"] = kill
    tasks.stop(record, timeout=1)
    assert [call.args for call in runc.called("kill")] == [(cid, 3), (cid, 9)]
    assert store.read_state(cid)["stopping"] is True  # no restart policy brings it back
    # Cleaned up by stop itself (as podman's), not left to the shim: runc's state is deleted, and
    # the mark tells the shim's cleanup command that nothing is left for it.
    assert [call.args[0] for call in runc.called("delete")] == [cid]
    assert (store.state_dir(cid) / "cleaned").read_text() == str(os.getpid())
    os.unlink(store.exit_file(cid))
    tasks.stop(record, timeout=0)  # as podman's stop -t0: SIGKILL alone (a trapped SIGTERM still reads 137)
    assert [call.args for call in runc.called("kill")][2:] == [(cid, 9)]
