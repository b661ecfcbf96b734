"""`make demo`: pyctr's main job on a built-in default, and a registry left up for the README.

    python -m tests.harness.demo [--port 5050]   start (or reuse) the demo registry, push
                                                 test/busybox to it, then pull, list, inspect,
                                                 mount and run it with pyctr
    python -m tests.harness.demo stop            stop the demo registry, remove its storage

The registry (Debian's docker-registry) listens on 127.0.0.1:5050 and stays up after the
demo, so that the README's "Using it" commands work as copied. Not 5000: installing the
Debian package enables a system service on :5000 (htpasswd auth, all interfaces) wherever
systemd runs. Not a random port either, since the README names it. The tests never meet it:
they start their own registries on free ports from the ephemeral range (32768 and up).

Stopping needs only the standard library (`make demo-stop` runs without the virtualenv).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

DEFAULT_PORT = 5050
REPOSITORY = "test/busybox"
STARTUP_TIMEOUT = 20.0  # seconds


def state_dir() -> Path:
    """Config, log, pid file and blobs; root's in /run (root-only, gone at reboot, as the process)."""
    if os.geteuid() == 0:
        return Path("/run/pyctr-demo")
    return Path(os.environ.get("XDG_RUNTIME_DIR") or Path.home() / ".cache") / "pyctr-demo"


# -- the registry -------------------------------------------------------------------------------

def running() -> tuple[int, int] | None:
    """(pid, port) of the demo registry if it runs: the pid file's process, serving our config."""
    state = state_dir()
    try:
        pid = int((state / "registry.pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        port = json.loads((state / "config.yml").read_text())["http"]["addr"].rsplit(":", 1)[1]
    except (OSError, ValueError, KeyError):
        return None
    if str(state / "config.yml").encode() not in cmdline or _state_of(pid) == "Z":
        return None  # a recycled pid, or our registry died
    return pid, int(port)


def _state_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start(port: int) -> None:
    found = running()
    if found and found[1] == port and _answers(port):
        print(f"demo registry already running on localhost:{port} (pid {found[0]})")
        return
    if found:
        stop()  # on another port, or not answering: start afresh
    if _port_taken(port):
        sys.exit(f"demo failed: 127.0.0.1:{port} is taken by another program; stop it, or run "
                 f"`make demo DEMO_PORT=N` and use localhost:N in the README's commands")
    binary = shutil.which("docker-registry")
    if binary is None:
        sys.exit("demo failed: docker-registry not found: install the Debian package `docker-registry` (make deps)")
    state = state_dir()
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    config = state / "config.yml"
    # JSON is valid YAML. Anonymous pull and push, on loopback only.
    config.write_text(json.dumps({
        "version": 0.1,
        "log": {"level": "warn", "formatter": "text", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(state / "storage")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": os.urandom(16).hex()},
    }, indent=2))
    with open(state / "registry.log", "ab") as log:
        process = subprocess.Popen(
            [binary, "serve", str(config)], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True,  # outlives make and ignores the terminal's ctrl-c
            cwd=state, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
    (state / "registry.pid").write_text(f"{process.pid}\n")
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not _answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop()
            sys.exit(f"demo failed: docker-registry did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    print(f"started the demo registry on localhost:{port} (pid {process.pid}, files in {state})")


def stop() -> None:
    found = running()
    if found:
        pid, port = found
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while _state_of(pid) not in ("gone", "Z"):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.05)
        print(f"stopped the demo registry on localhost:{port} (pid {pid})")
    else:
        print("no demo registry running")
    shutil.rmtree(state_dir(), ignore_errors=True)


# -- the tour -----------------------------------------------------------------------------------

def pyctr(*args: str) -> str:
    print(f"$ pyctr {shlex.join(args)}", flush=True)
    result = subprocess.run([sys.executable, "-m", "pyctr", *args], text=True, stdout=subprocess.PIPE)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        sys.exit(f"demo failed: pyctr {shlex.join(args)} exited {result.returncode}")
    return result.stdout


def tour(port: int) -> None:
    from tests.harness.images import busybox_image, push, web_image  # httpx: only here, not for stop

    push(SimpleNamespace(url=f"http://127.0.0.1:{port}", auth=None), REPOSITORY, "latest", busybox_image())
    push(SimpleNamespace(url=f"http://127.0.0.1:{port}", auth=None), "test/web", "latest", web_image())
    image = f"localhost:{port}/{REPOSITORY}"
    print(f"the registry holds {image}:latest (built from /bin/busybox)\n")
    pyctr("pull", image)
    pyctr("images")
    pyctr("image", "inspect", "--format", "{{.Id}} {{.Os}}/{{.Architecture}} {{.Config.Cmd}}", image)
    root = pyctr("image", "mount", image).strip()
    print(f"$ ls {root}/bin | head -5")
    print("\n".join(sorted(p.name for p in Path(root, "bin").iterdir())[:5]))
    pyctr("image", "unmount", image)
    pyctr("run", "--rm", image, "sh", "-c", "echo hello from a pyctr container: $(uname -s) $(id -un), pid $$")
    pyctr("run", "-d", "--name", "pyctr-demo", "--replace", image, "sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.2; done")
    pyctr("logs", "-f", "pyctr-demo")
    pyctr("rm", "pyctr-demo")
    print(f"\nThe demo registry stays up on localhost:{port} with {REPOSITORY} in it: the commands in"
          f" README.md's \"Using it\" work as shown. `make demo-stop` stops it.")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.demo")
    parser.add_argument("action", nargs="?", choices=["start", "stop"], default="start")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args()
    if args.action == "stop":
        stop()
        return
    start(args.port)
    tour(args.port)


if __name__ == "__main__":
    main()
