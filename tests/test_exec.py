"""`pyctr exec`: sessions under their own shim (they outlive the command line), their records
and inspect, the options, and the error texts and exit codes of podman 4.3.1 with runc."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import time

import pytest

from pyctr.container.execs import MAX_FINISHED, ExecStore
from tests.conftest import wait_for
from tests.test_rootless import rootless  # noqa: F401  (fixture: a user with subordinate ids)

# podman 4.3.1 (Debian's, --runtime runc) on a running busybox container `c`, as recorded on
# the reference machine: the argv after `podman`, then its exit code and its stderr.
PODMAN_ERRORS = [
    (["exec", "c", "/etc"], 126,
     'Error: runc: exec failed: unable to start container process: exec: "/etc": permission denied: '
     "OCI permission denied\n"),
    (["exec", "c", "nosuch"], 127,
     'Error: runc: exec failed: unable to start container process: exec: "nosuch": executable file not found '
     "in $PATH: OCI runtime attempted to invoke a command that was not found\n"),
    (["exec", "c", "/nonexist"], 127,
     'Error: runc: exec failed: unable to start container process: exec: "/nonexist": stat /nonexist: no such '
     "file or directory: OCI runtime attempted to invoke a command that was not found\n"),
    (["exec", "-w", "/nonexist", "c", "true"], 127,
     'Error: runc: exec failed: unable to start container process: chdir to cwd ("/nonexist") set in '
     "config.json failed: no such file or directory: OCI runtime attempted to invoke a command that was not found\n"),
    (["exec", "-u", "nosuchuser", "c", "true"], 255,
     "Error: unable to find user nosuchuser: no matching entries in passwd file\n"),
    (["exec", "c"], 255, "Error: must provide a non-empty command to start an exec session: invalid argument\n"),
    (["exec"], 125, "Error: exec requires the name or ID of a container or the --latest flag\n"),
    (["exec", "--preserve-fds", "3", "c", "true"], 125,
     "Error: file descriptor 3 is not available - the preserve-fds option requires that file descriptors "
     "must be passed\n"),
    (["run", "--rm", "IMAGE", "/etc"], 126,
     'Error: runc: runc create failed: unable to start container process: exec: "/etc": permission denied: '
     "OCI permission denied\n"),
    (["run", "--rm", "IMAGE", "nosuch"], 127,
     'Error: runc: runc create failed: unable to start container process: exec: "nosuch": executable file not '
     "found in $PATH: OCI runtime attempted to invoke a command that was not found\n"),
]
# podman 4.3.1 on a created (and on a paused) container.
NOT_RUNNING = (255, "Error: can only create exec sessions on running containers: container state improper\n")
SESSION_ID = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture
def box(pyctr, image) -> str:
    pyctr("run", "-d", "--name", "c", image, "sleep", "300")
    return "c"


def processes(pyctr, name: str) -> str:
    return pyctr("exec", name, "ps", "-o", "args").stdout


def session(pyctr, session_id: str) -> dict:
    return json.loads(pyctr("inspect", "--type", "exec", session_id).stdout)[0]


def test_errors_and_exit_codes_word_for_word_as_podman(pyctr, image, box):
    for argv, code, stderr in PODMAN_ERRORS:
        argv = [image if arg == "IMAGE" else arg for arg in argv]
        result = subprocess.run(pyctr.argv(*argv), env=pyctr.store.env(), cwd=pyctr.store.tmp, capture_output=True,
                                text=True, timeout=120, stdin=subprocess.DEVNULL, pass_fds=())
        assert (result.returncode, result.stderr) == (code, stderr), argv
    pyctr("create", "--name", "made", image, "sleep", "1")
    result = pyctr("exec", "made", "true", check=False)
    assert (result.returncode, result.stderr) == NOT_RUNNING
    pyctr("pause", "c")
    result = pyctr("exec", "c", "true", check=False)
    assert (result.returncode, result.stderr) == NOT_RUNNING
    pyctr("unpause", "c")


def test_a_session_outlives_its_command_line_killed(pyctr, box):
    """The acceptance of the issue: kill -9 of `pyctr exec` leaves its process running, and
    its exit code is recorded where inspect finds it."""
    command = subprocess.Popen(pyctr.argv("exec", box, "sh", "-c", "sleep 3; echo done > /tmp/fg; exit 5"),
                               env=pyctr.store.env(), cwd=pyctr.store.tmp, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: "sleep 3; echo done" in processes(pyctr, box), timeout=30)
    finally:
        command.send_signal(signal.SIGKILL)
        command.wait()
    assert "sleep 3; echo done" in processes(pyctr, box)
    ids = json.loads(pyctr("inspect", box, "--format", "{{json .ExecIDs}}").stdout)
    sessions = [s for s in (session(pyctr, i) for i in ids) if s["ProcessConfig"]["entrypoint"] == "sh"]
    assert len(sessions) == 1 and sessions[0]["ContainerID"].startswith(pyctr("inspect", box, "--format", "{{.Id}}").stdout.strip())
    assert wait_for(lambda: not session(pyctr, sessions[0]["ID"])["Running"], timeout=30)
    assert session(pyctr, sessions[0]["ID"])["ExitCode"] == 5
    assert pyctr("exec", box, "cat", "/tmp/fg").stdout == "done\n"


def test_detached_session_prints_its_id_and_keeps_running(pyctr, box):
    session_id = pyctr("exec", "-d", box, "sleep", "100").stdout.strip()
    assert SESSION_ID.match(session_id)
    doc = session(pyctr, session_id[:12])
    assert doc["Running"] and doc["Pid"] > 0 and doc["CanRemove"] is False
    assert doc["ProcessConfig"] == {"entrypoint": "sleep", "arguments": ["100"], "tty": False, "privileged": False,
                                    "user": ""}
    assert json.loads(pyctr("inspect", session_id).stdout)[0]["ID"] == session_id  # no --type needed
    assert session_id in pyctr("inspect", box, "--format", "{{.ExecIDs}}").stdout
    assert "sleep 100" in processes(pyctr, box)
    ended = pyctr("exec", "-d", box, "sh", "-c", "exit 3").stdout.strip()
    assert wait_for(lambda: not session(pyctr, ended)["Running"], timeout=30)
    assert session(pyctr, ended)["ExitCode"] == 3 and session(pyctr, ended)["CanRemove"] is True
    missing = pyctr("inspect", "--type", "exec", "0123456789ab", check=False)
    assert missing.returncode == 125 and "no such exec session" in missing.stderr


def test_options(pyctr, box, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("A=from-file\n# comment\n\nB\nC=file\n")
    out = pyctr("exec", "--env-file", str(env_file), "-e", "C=flag", "-e", "D", "-e", "UNSET_HERE", box,
                "sh", "-c", "echo $A $B $C $D ${UNSET_HERE-unset}", env={"B": "caller-b", "D": "caller-d"}).stdout
    assert out == "from-file caller-b flag caller-d unset\n"
    assert pyctr("exec", "-u", "1:1", "-w", "/tmp", box, "sh", "-c", "id -u; id -g; pwd").stdout.split() == ["1", "1", "/tmp"]
    assert pyctr("exec", "-i", box, "sh", "-c", "cat; exit 2", input="piped\n", check=False).stdout == "piped\n"
    caps = dict(line.split(":\t") for line in pyctr("exec", "--privileged", box, "grep", "Cap", "/proc/self/status").stdout.splitlines())
    plain = dict(line.split(":\t") for line in pyctr("exec", box, "grep", "Cap", "/proc/self/status").stdout.splitlines())
    ours = next(line.split(":\t")[1] for line in open("/proc/self/status") if line.startswith("CapBnd"))
    assert caps["CapEff"].strip() == caps["CapBnd"].strip() == ours.strip()
    assert int(plain["CapEff"], 16) < int(caps["CapEff"], 16)
    assert pyctr("exec", "-l", "echo", "from", "latest").stdout == "from latest\n"
    result = pyctr("exec", "-l", box, "true", check=False)
    assert result.returncode == 127  # with --latest the first word is the command (as podman)


def test_preserve_fds_pass_the_callers_descriptors(pyctr, box, tmp_path):
    (tmp_path / "three").write_text("third\n")
    (tmp_path / "four").write_text("fourth\n")
    with open(tmp_path / "three") as three, open(tmp_path / "four") as four:
        sources = [fcntl.fcntl(f.fileno(), fcntl.F_DUPFD_CLOEXEC, 50) for f in (three, four)]

        def as_3_and_4() -> None:  # in the child: the caller's fds 3 and 4
            for target, fd in enumerate(sources, start=3):
                os.dup2(fd, target)

        result = subprocess.run(pyctr.argv("exec", "--preserve-fds", "2", box, "sh", "-c", "cat <&3; cat <&4"),
                                env=pyctr.store.env(), cwd=pyctr.store.tmp, capture_output=True, text=True,
                                timeout=120, stdin=subprocess.DEVNULL, close_fds=False, preexec_fn=as_3_and_4)
        for fd in sources:
            os.close(fd)
    assert (result.returncode, result.stdout) == (0, "third\nfourth\n"), result.stderr


def test_sessions_go_with_the_container(pyctr, box):
    pyctr("exec", box, "true")
    container_id = pyctr("inspect", box, "--format", "{{.Id}}").stdout.strip()
    exec_dir = pyctr.store.runroot / "containers" / container_id / "exec"
    assert len(os.listdir(exec_dir)) == 1
    pyctr("rm", "-f", box)
    assert not exec_dir.exists()


def test_finished_sessions_are_bounded(tmp_path):
    """Pure bookkeeping: finished sessions beyond the newest MAX_FINISHED go at the next exec."""
    from pyctr.config import Config
    from pyctr.container.store import ContainerStore

    store = ContainerStore(Config(root=tmp_path / "root", runroot=tmp_path / "run", rootless=False))
    execs, cid = ExecStore(store), "c" * 64
    options = {"tty": False, "open_stdin": False, "privileged": False, "user": "", "workdir": "", "detached": True}
    ids = []
    for n in range(MAX_FINISHED + 4):
        session_id, path = execs.new(cid, ["true"], **options)
        (path / "exit.json").write_text(json.dumps({"exit_code": n, "started_at": 1.0, "finished_at": 2.0}))
        ids.append(session_id)
        time.sleep(0.001)  # distinct creation times
    running, path = execs.new(cid, ["sleep"], **options)
    (path / "shim.pid").write_text(f"{os.getpid()}\n")  # alive: us
    execs.prune(cid)
    assert execs.ids(cid) == ids[-MAX_FINISHED:] + [running]
    assert execs.get(cid, ids[-1]).exit_code == MAX_FINISHED + 3 and execs.get(cid, running).running
    assert execs.find(running[:8]) == (cid, running)


def test_rootless_session_outlives_its_command_line(rootless, registry):  # noqa: F811
    """Rootless too (run under `flock /tmp/pyctr-rootless-tests.lock`, as test_rootless)."""
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("run", "-d", "--name", "rx", image, "sleep", "300")
    try:
        session_id = rootless.pyctr("exec", "-d", "rx", "sh", "-c", "sleep 1; exit 6").stdout.strip()
        assert SESSION_ID.match(session_id)

        def finished() -> dict | None:
            doc = json.loads(rootless.pyctr("inspect", "--type", "exec", session_id).stdout)[0]
            return None if doc["Running"] else doc

        assert wait_for(finished, timeout=30) and finished()["ExitCode"] == 6
        assert rootless.pyctr("exec", "rx", "sh", "-c", "exit 3", check=False).returncode == 3
        assert "PID" in rootless.pyctr("exec", "-u", "1", "rx", "ps").stdout
    finally:
        rootless.pyctr("rm", "-f", "rx", check=False)


def test_exec_process_changes_only_what_was_asked():
    from pyctr.container.execs import exec_process

    base = {"args": ["sleep", "1"], "terminal": False, "env": ["PATH=/bin", "A=old"], "cwd": "/",
            "user": {"uid": 0, "gid": 0}, "consoleSize": {"height": 1, "width": 2},
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]}}
    process = exec_process(base, "/nonexistent-rootfs", ["sh"], tty=True, env=["A=new", "B=1"], workdir="/tmp",
                           user=None)
    assert process["args"] == ["sh"] and process["terminal"] is True and process["cwd"] == "/tmp"
    assert process["env"] == ["PATH=/bin", "A=new", "B=1"] and "consoleSize" not in process
    assert process["capabilities"] == base["capabilities"] and base["args"] == ["sleep", "1"]  # base untouched
    privileged = exec_process(base, "/nonexistent-rootfs", ["sh"], tty=False, env=[], workdir=None, user=None,
                              privileged=True)["capabilities"]
    assert "CAP_SYS_ADMIN" in privileged["bounding"] and privileged["effective"] == privileged["bounding"]


def test_every_session_end_is_an_exec_died_event(pyctr, box):
    """The session's shim records exec_died, so a detached session's end is in the journal too."""
    from tests.conftest import wait_for

    session_id = pyctr("exec", "-d", box, "sh", "-c", "exit 4").stdout.strip()
    assert wait_for(lambda: session(pyctr, session_id[:12])["Running"] is False, 10)
    pyctr("exec", box, "sh", "-c", "exit 5", check=False)

    def died() -> list[str]:
        return pyctr("events", "--stream=false", "--filter", "event=exec_died",
                     "--format", "{{.ContainerExitCode}}").stdout.split()

    assert wait_for(lambda: died() == ["4", "5"], 10), died()  # one each: not also from the command line
