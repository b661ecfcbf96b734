"""stdin of any kind for `run -i`, `start -ai`, `attach` and `exec -i`: every byte arrives, EOF closes
the container's stdin, the exit code is the container's; detach keys only from a terminal."""

from __future__ import annotations

import os
import socket
import subprocess
import threading

from pyctr.cli.terminal import DetachMatcher, parse_detach_keys
from pyctr.runtime import logs
from tests.conftest import wait_for
from tests.test_shim import harness, rootfs  # noqa: F401  (fixtures: a shim under real runc)

DETACH = b"\x10\x11"  # ctrl-p ctrl-q, the default detach keys



def payload(size: int) -> bytes:
    """Random bytes with the detach keys in them, at the start, inside and at the very end."""
    return DETACH + os.urandom(size // 2) + DETACH * 3 + os.urandom(size // 2) + b"\x10"


def run(pyctr, *args, stdin, timeout: float = 120) -> subprocess.CompletedProcess:
    """pyctr with `stdin` (a file object, an fd, DEVNULL or bytes through a pipe); binary output."""
    pipe = isinstance(stdin, bytes)
    try:
        return subprocess.run(pyctr.argv(*args), env=pyctr.store.env(), cwd=pyctr.store.tmp, capture_output=True,
                              timeout=timeout, **({"input": stdin} if pipe else {"stdin": stdin}))
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"{args} timed out; stderr: {error.stderr!r}") from None



def no_containers(pyctr) -> bool:
    return wait_for(lambda: pyctr("ps", "-a", "-q").stdout == "")


def file_with(tmp_path, data: bytes):
    path = tmp_path / "stdin.bin"
    path.write_bytes(data)
    return path


def socket_feeding(data: bytes) -> socket.socket:
    """Our end of a socketpair whose other end sends `data`, then shuts its sending side."""
    ours, theirs = socket.socketpair()

    def feed():
        with theirs:
            theirs.sendall(data)
            theirs.shutdown(socket.SHUT_WR)

    threading.Thread(target=feed, daemon=True).start()
    return ours


# -- detach keys (units) -------------------------------------------------------------------

def test_detach_matcher_holds_back_a_partial_match_and_gives_it_back_at_the_end():
    matcher = DetachMatcher(parse_detach_keys("ctrl-p,ctrl-q"))
    assert matcher.feed(b"ab\x10") == (b"ab", False)
    assert matcher.feed(b"c") == (b"\x10c", False)
    assert matcher.feed(b"x\x10") == (b"x", False)
    assert matcher.flush() == b"\x10"
    assert matcher.feed(b"\x10\x11rest") == (b"", True)
    assert DetachMatcher(parse_detach_keys("")).feed(DETACH) == (DETACH, False)


# -- the shim -------------------------------------------------------------------------------

def test_what_a_client_sent_before_it_went_still_reaches_the_container(harness):  # noqa: F811
    # The shim, its stdin buffer full, stops reading the client, which sends the rest and
    # STDIN_EOF and closes: the shim finds the close when it sends output, and must still
    # take what is left in the socket, or `cat` waits for its stdin forever.
    ctr = harness.run("leaver", ["sh", "-c", "sleep 1; cat"], stdin=True)
    client = ctr.attach()
    ctr.start()
    data = b"".join(b"%06d" % i + b"." * 57 + b"\n" for i in range(6144))  # 384 KiB
    client.sock.settimeout(10)
    client.send_stdin(data)
    client.close_stdin()
    client.close()
    assert ctr.wait_exit(timeout=20)["exit_code"] == 0
    assert b"".join(line.text + b"\n" for line in logs.read_log(ctr.log_path)) == data


# -- run -i --------------------------------------------------------------------------------

def test_run_i_from_a_pipe_passes_every_byte(pyctr, image):
    data = payload(8 << 20)
    result = run(pyctr, "run", "-i", "--rm", image, "cat", stdin=data)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) == len(data) and result.stdout == data
    assert no_containers(pyctr)


def test_run_i_from_dev_null(pyctr, image):
    result = run(pyctr, "run", "-i", "--rm", image, "cat", stdin=subprocess.DEVNULL)
    assert (result.returncode, result.stdout) == (0, b""), result.stderr
    code = run(pyctr, "run", "-i", "--rm", image, "sh", "-c", "cat; exit 3", stdin=subprocess.DEVNULL).returncode
    assert code == 3
    assert no_containers(pyctr)


def test_run_i_from_a_regular_file(pyctr, image, tmp_path):
    data = payload(16 << 20)  # well past what the shim and the socket buffer: flow control
    with open(file_with(tmp_path, data), "rb") as f:
        result = run(pyctr, "run", "-i", "--rm", image, "cat", stdin=f)
    assert result.returncode == 0, result.stderr
    assert result.stdout == data
    with open(file_with(tmp_path, b"one\ntwo\n"), "rb") as f:
        result = run(pyctr, "run", "-i", "--rm", image, "sh", "-c", "wc -l; exit 4", stdin=f)
    assert (result.returncode, result.stdout.strip()) == (4, b"2")
    assert no_containers(pyctr)


def test_a_container_that_ends_without_reading_its_stdin_gives_its_exit_code(pyctr, image, tmp_path):
    # The shim closes the connection while we still send: that is the end, not an error of ours.
    data = os.urandom(8 << 20)
    with open(file_with(tmp_path, data), "rb") as f:
        result = run(pyctr, "run", "-i", "--rm", image, "sh", "-c", "exit 5", stdin=f)
    assert result.returncode == 5, result.stderr
    result = run(pyctr, "run", "-i", "--rm", image, "sh", "-c", "head -c 10; exit 4", stdin=data)
    assert (result.returncode, result.stdout) == (4, data[:10]), result.stderr
    assert no_containers(pyctr)


def test_run_i_from_a_socket(pyctr, image):
    data = payload(1 << 20)
    with socket_feeding(data) as sock:
        result = run(pyctr, "run", "-i", "--rm", image, "cat", stdin=sock.fileno())
    assert result.returncode == 0, result.stderr
    assert result.stdout == data


def test_run_i_with_stdin_closed(pyctr, image):
    argv = ["sh", "-c", 'exec "$@" <&-', "sh", *pyctr.argv("run", "-i", "--rm", image, "sh", "-c", "cat; exit 6")]
    result = subprocess.run(argv, env=pyctr.store.env(), cwd=pyctr.store.tmp, capture_output=True, timeout=60)
    assert (result.returncode, result.stdout) == (6, b""), result.stderr


def test_run_without_i_gives_the_container_no_stdin(pyctr, image, tmp_path):
    with open(file_with(tmp_path, b"not for the container\n"), "rb") as f:
        result = run(pyctr, "run", "--rm", image, "cat", stdin=f)
    assert (result.returncode, result.stdout) == (0, b"")


def test_a_terminal_container_fed_from_a_pipe_does_not_detach(pyctr, image):
    # Without a terminal on our side the detach keys are plain bytes: the shell gets them, then the rest.
    result = run(pyctr, "run", "-it", "--rm", image, "sh", stdin=DETACH + b"echo after-$((3*4))\nexit 7\n")
    assert result.returncode == 7, result.stderr
    assert b"after-12" in result.stdout
    assert no_containers(pyctr)


def test_the_container_stdin_closes_when_our_reader_goes_away(pyctr, image, store):
    # `... | pyctr run -i IMAGE cat | head -c 10`: our stdout breaks; the container must not wait on stdin forever.
    pipeline = (f"head -c 100000000 /dev/zero | {' '.join(pyctr.argv('run', '-i', '--name', 'reader', image, 'cat'))}"
                f" | head -c 10 | wc -c")
    result = subprocess.run(["sh", "-c", pipeline], env=store.env(), cwd=store.tmp, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "10"
    assert wait_for(lambda: pyctr("inspect", "--format", "{{.State.Status}}", "reader").stdout.strip() == "exited")


# -- start -ai, attach ---------------------------------------------------------------------

def test_start_ai_from_a_file(pyctr, image, tmp_path):
    data = payload(4 << 20)
    cid = pyctr("create", "-i", image, "sh", "-c", "cat; exit 5").stdout.strip()
    with open(file_with(tmp_path, data), "rb") as f:
        result = run(pyctr, "start", "-ai", cid, stdin=f)
    assert result.returncode == 5, result.stderr
    assert result.stdout == data
    cid = pyctr("create", "-i", image, "cat").stdout.strip()
    result = run(pyctr, "start", "--attach", "--interactive", cid, stdin=subprocess.DEVNULL)
    assert (result.returncode, result.stdout) == (0, b"")
    assert pyctr("inspect", "--format", "{{.State.Status}}", cid).stdout.strip() == "exited"


def test_attach_from_a_file_and_a_pipe(pyctr, image, tmp_path):
    data = payload(4 << 20)
    pyctr("run", "-d", "-i", "--name", "filed", image, "sh", "-c", "cat; exit 3")
    with open(file_with(tmp_path, data), "rb") as f:
        result = run(pyctr, "attach", "filed", stdin=f)
    assert result.returncode == 3, result.stderr
    assert result.stdout == data
    pyctr("run", "-d", "-i", "--name", "piped", image, "sh", "-c", "cat; exit 2")
    result = run(pyctr, "attach", "piped", stdin=data)
    assert result.returncode == 2, result.stderr
    assert result.stdout == data


# -- exec -i -------------------------------------------------------------------------------

def test_exec_i_from_a_file_dev_null_a_pipe_and_a_socket(pyctr, image, tmp_path):
    pyctr("run", "-d", "--name", "box", image, "sleep", "300")
    data = payload(4 << 20)
    with open(file_with(tmp_path, data), "rb") as f:
        result = run(pyctr, "exec", "-i", "box", "sh", "-c", "cat; exit 9", stdin=f)
    assert (result.returncode, result.stdout == data) == (9, True), result.stderr
    result = run(pyctr, "exec", "-i", "box", "cat", stdin=subprocess.DEVNULL)
    assert (result.returncode, result.stdout) == (0, b"")
    result = run(pyctr, "exec", "-i", "box", "cat", stdin=data)
    assert (result.returncode, result.stdout == data) == (0, True)
    with socket_feeding(data) as sock:
        result = run(pyctr, "exec", "-i", "box", "cat", stdin=sock.fileno())
    assert (result.returncode, result.stdout == data) == (0, True)
    pyctr("rm", "-f", "-t", "0", "box")
