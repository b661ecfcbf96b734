"""--log-driver passthrough with real runc: the container gets the caller's own fds 0-2 (as conmon
hands podman's to the runtime), so nothing is logged and nothing attaches; the exit status is
still recorded. Expected texts and rules are podman 4.3.1's, measured side by side:

    $ podman run --rm --log-driver passthrough IMG sh -c 'echo out; echo err >&2; exit 3'   # rc 3, straight through
    $ podman run -d --log-driver passthrough IMG ...      # rc 0, prints no ID; output to our stdout
    $ podman create --log-driver passthrough IMG ...      # prints no ID either
    $ podman logs C    # Error: this container is using the 'passthrough' log driver, cannot read logs: ... (125)
    $ podman attach C  # Error: attaching to container ID: this container is using the 'passthrough' log driver,
                       #        cannot attach: this container is not logging output (125)
    on a terminal (any of fds 0-2): Error: the '--log-driver passthrough' option cannot be used on a TTY (125)
    `start` on a terminal: [conmon:e]: cannot use a tty with passthrough logging mode to prevent attacks via TIOCSTI

One deliberate difference: podman accepts -t and the container's terminal output goes nowhere;
pyctr refuses -t (no option is accepted and silently ignored).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from pyctr.container import logdriver
from pyctr.container.spec import LifecycleSpec
from pyctr.errors import InvalidArgument
from tests.conftest import wait_for

ON_A_TTY = "Error: the '--log-driver passthrough' option cannot be used on a TTY\n"


def run(pyctr, *args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, input: bytes | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """pyctr with stdio of our choosing (a pipe, a file, a pty)."""
    extra = {"input": input} if input is not None else {"stdin": stdin}
    return subprocess.run(pyctr.argv(*args), env=pyctr.store.env(), cwd=pyctr.store.tmp, stdout=stdout,
                          stderr=subprocess.PIPE, timeout=timeout, **extra)


def test_output_stdin_and_exit_code_go_straight_through(pyctr, image):
    result = run(pyctr, "run", "--rm", "--log-driver", "passthrough", image,
                 "sh", "-c", "read line; echo out $line; echo err >&2; exit 3", input=b"hello\n")
    # Without -i too: the container reads the caller's stdin itself (as podman's).
    assert (result.returncode, result.stdout, result.stderr) == (3, b"out hello\n", b"err\n")
    assert pyctr("ps", "-aq").stdout == ""  # --rm as usual


def test_the_container_holds_the_callers_own_file(pyctr, image, tmp_path):
    out = tmp_path / "out.txt"
    with open(out, "wb") as f:
        result = run(pyctr, "run", "--rm", "--log-driver", "passthrough", image, "readlink", "/proc/self/fd/1",
                     stdout=f)
    assert result.returncode == 0, result.stderr
    # The path as the container sees it: the caller's file itself, not a pipe of the shim's.
    assert out.read_text() == f"{out}\n"


def test_detached_prints_no_id_keeps_no_log_and_refuses_attach(pyctr, image):
    proc = subprocess.Popen(pyctr.argv("run", "-d", "--name", "pt", "--log-driver", "passthrough", image,
                                       "sh", "-c", "echo started; read never"),
                            env=pyctr.store.env(), cwd=pyctr.store.tmp, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # No ID: our stdout is the container's, which outlives us (its first line is the container's own).
        assert proc.stdout.readline() == b"started\n"
        assert proc.wait(timeout=60) == 0
        assert pyctr("inspect", "-f", "{{.State.Status}} {{.HostConfig.LogConfig.Type}}:"
                     "{{.HostConfig.LogConfig.Path}}", "pt").stdout == "running passthrough:\n"
        attach = pyctr("attach", "pt", check=False)
        full_id = pyctr("inspect", "-f", "{{.Id}}", "pt").stdout.strip()
        assert (attach.returncode, attach.stderr) == (125, f"Error: attaching to container {full_id}: this container "
                                                           "is using the 'passthrough' log driver, cannot attach: "
                                                           "this container is not logging output\n")
        proc.stdin.close()  # the container's stdin: `read` ends, and so does the container
        assert proc.stdout.read() == b""  # the container held our stdout until its end
        assert wait_for(lambda: pyctr("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "pt").stdout
                        == "exited 1\n", timeout=30)
    finally:
        proc.kill()
        proc.wait()
    logs = pyctr("logs", "pt", check=False)
    assert (logs.returncode, logs.stdout, logs.stderr) == (
        125, "", "Error: this container is using the 'passthrough' log driver, cannot read logs: "
                 "this container is not logging output\n")


def test_create_prints_no_id_and_each_start_uses_its_callers_stdio(pyctr, image):
    created = run(pyctr, "create", "--name", "pc", "--log-driver", "passthrough", image, "sh", "-c", "echo run; exit 4")
    assert (created.returncode, created.stdout) == (0, b"")
    started = run(pyctr, "start", "-a", "pc")
    assert (started.returncode, started.stdout) == (4, b"run\n")
    again = run(pyctr, "start", "pc")  # without -a the container writes to start's stdout all the same
    assert again.returncode == 0 and sorted(again.stdout.splitlines()) == [b"pc", b"run"]


def test_refused_on_a_terminal_and_with_tty(pyctr, image):
    leader, follower = os.openpty()
    try:
        for argv in (("run", "--rm"), ("create",)):
            result = run(pyctr, *argv, "--log-driver", "passthrough", image, "true", stdin=follower)
            assert (result.returncode, result.stdout, result.stderr.decode()) == (125, b"", ON_A_TTY)
        pyctr("create", "--name", "pt", "--log-driver", "passthrough", image, "true")
        # A start from a terminal: the shim refuses it (conmon's words), and the container stays as it was.
        start = run(pyctr, "start", "pt", stdin=follower)
        assert (start.returncode, start.stderr.decode()) == (
            125, "Error: cannot use a tty with passthrough logging mode to prevent attacks via TIOCSTI\n")
        assert pyctr("inspect", "-f", "{{.State.Status}}", "pt").stdout == "created\n"
    finally:
        os.close(leader)
        os.close(follower)
    assert pyctr("ps", "-aq").stdout.count("\n") == 1  # no run --rm container left behind
    tty = pyctr("run", "--rm", "-t", "--log-driver", "passthrough", image, "true", check=False)
    assert tty.returncode == 125 and "cannot be used with --tty" in tty.stderr


def test_validation_and_stdio_units():
    with pytest.raises(InvalidArgument, match="cannot be used with --tty"):
        logdriver.validate_log_options(LifecycleSpec(log_driver="passthrough"), tty=True)
    logdriver.validate_log_options(LifecycleSpec(log_driver="passthrough"), tty=False)
    assert logdriver.passes_stdio(LifecycleSpec(log_driver="passthrough"))
    assert not logdriver.keeps_log(LifecycleSpec(log_driver="passthrough"))
    assert logdriver.log_file(LifecycleSpec(log_driver="passthrough"), "/x/ctr.log") == "/dev/null"
