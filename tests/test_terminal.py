"""`run -it`, resize, detach and attach in a real terminal (tmux)."""

from __future__ import annotations

import shlex
import subprocess
import time
import uuid

import pytest


@pytest.fixture
def tmux(store):
    socket = f"pyctr-test-{uuid.uuid4().hex[:8]}"
    sessions = []

    def run(command: list[str], env: dict[str, str]) -> str:
        name = f"s{len(sessions)}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k in ("HOME", "XDG_RUNTIME_DIR", "PYTHONPATH", "PATH"))
        shell = f"env {exports} {shlex.join(command)}; echo EXIT=$?; sleep 60"
        subprocess.run(["tmux", "-L", socket, "new-session", "-d", "-s", name, "-x", "100", "-y", "30", shell], check=True)
        sessions.append(name)
        return name

    yield run, socket
    subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


def screen(socket: str, session: str) -> str:
    return subprocess.run(["tmux", "-L", socket, "capture-pane", "-t", session, "-p"], capture_output=True, text=True).stdout


def keys(socket: str, session: str, *args: str) -> None:
    subprocess.run(["tmux", "-L", socket, "send-keys", "-t", session, *args], check=True)


def wait_screen(socket, session, text, timeout=10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = screen(socket, session)
        if text in content:
            return content
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared on screen:\n{screen(socket, session)}")


def test_interactive_terminal_resize_detach_attach(registry, pyctr, store, tmux):
    run, socket = tmux
    image = f"{registry.host}/test/busybox"
    pyctr("pull", "-q", image)
    sized = run(pyctr.argv("run", "--rm", "-it", image, "busybox", "stty", "size"), store.env())
    wait_screen(socket, sized, "EXIT=0")
    assert "30 100" in screen(socket, sized)  # the size is there from the first instruction
    session = run(pyctr.argv("run", "-it", "--name", "tty", image, "sh"), store.env())
    wait_screen(socket, session, "/ #")
    keys(socket, session, "stty size; echo marker-$((6*7))", "Enter")
    wait_screen(socket, session, "marker-42")
    assert "30 100" in screen(socket, session)

    subprocess.run(["tmux", "-L", socket, "resize-window", "-t", session, "-x", "120", "-y", "40"], check=True)
    time.sleep(0.3)
    keys(socket, session, "stty size", "Enter")
    wait_screen(socket, session, "40 120")

    keys(socket, session, "C-p", "C-q")
    wait_screen(socket, session, "EXIT=0")
    assert pyctr("inspect", "--format", "{{.State.Status}}", "tty").stdout.strip() == "running"

    again = run(pyctr.argv("attach", "tty"), store.env())
    time.sleep(0.5)
    keys(socket, again, "echo back-$((1+1))", "Enter")
    wait_screen(socket, again, "back-2")
    keys(socket, again, "exit 4", "Enter")
    wait_screen(socket, again, "EXIT=4")
    assert pyctr("inspect", "--format", "{{.State.ExitCode}}", "tty").stdout.strip() == "4"


def test_empty_detach_keys_turn_detaching_off(registry, pyctr, store, tmux):
    run, socket = tmux
    image = f"{registry.host}/test/busybox"
    pyctr("pull", "-q", image)
    session = run(pyctr.argv("run", "-it", "--rm", "--detach-keys", "", image, "sh"), store.env())
    wait_screen(socket, session, "/ #")
    keys(socket, session, "C-p", "C-q")
    time.sleep(0.3)
    keys(socket, session, "echo still-$((2+3))", "Enter")  # the shell got the keys, we are still attached
    wait_screen(socket, session, "still-5")
    keys(socket, session, "exit 3", "Enter")
    wait_screen(socket, session, "EXIT=3")
