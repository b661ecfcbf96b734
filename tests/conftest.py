"""Fixtures for pyctr's integration tests.

Session-scoped, started on first use, stopped at session end (and at exit, see
tests/harness/registry.py), each populated with images.standard_images():
    registry         anonymous registry          registry.host == "127.0.0.1:PORT"
    registry_basic   htpasswd auth               registry.username / registry.password
    registry_token   token auth                  registry.issuer (a TokenIssuer)
`registry.pushed` maps "repo:tag" to the Image or Index pushed there.

Function-scoped:
    store            a fresh root/runroot/home under the test's tmp dir; torn down by
                     force-deleting leftover runc containers, killing leftover processes
                     that mention the tmp dir, and unmounting everything under it
    pyctr            pyctr("pull", ref, check=False) -> CompletedProcess (text, captured)
    image            test/busybox pulled into the test's store; its reference
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.images import populate
from tests.harness.registry import Registry, start_registry

REPO_ROOT = Path(__file__).resolve().parents[1]

# Variables through which the host's own container config could leak into a test.
LEAKY_ENV = ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "CONTAINERS_CONF", "CONTAINERS_REGISTRIES_CONF",
             "CONTAINERS_STORAGE_CONF", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
             "XDG_RUNTIME_DIR", "HOME")


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    """Poll `predicate` until it is true (True) or `timeout` seconds pass (False)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, timeout: float = 5) -> str | None:
    """The body at `url`, or None when nothing answers (refused, reset, timed out)."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read().decode()
    except OSError:
        return None


# -- registries ----------------------------------------------------------------------------

def _populated_registry(request, tmp_path_factory, auth: str | None) -> Registry:
    registry = start_registry(tmp_path_factory.mktemp(f"registry-{auth or 'anonymous'}"), auth)
    request.addfinalizer(registry.stop)  # before populate: a failed push still stops it
    populate(registry)
    return registry


@pytest.fixture(scope="session")
def registry(request, tmp_path_factory) -> Registry:
    return _populated_registry(request, tmp_path_factory, None)


@pytest.fixture(scope="session")
def registry_basic(request, tmp_path_factory) -> Registry:
    return _populated_registry(request, tmp_path_factory, "basic")


@pytest.fixture(scope="session")
def registry_token(request, tmp_path_factory) -> Registry:
    return _populated_registry(request, tmp_path_factory, "token")


# -- store and the pyctr command -------------------------------------------------------------

@dataclass
class Store:
    tmp: Path  # everything of this test lives under here
    root: Path
    runroot: Path
    home: Path
    xdg_runtime_dir: Path
    xdg_config_home: Path

    @classmethod
    def create(cls, tmp: Path) -> "Store":
        tmp = Path(os.path.realpath(tmp))  # mountinfo and /proc show real paths
        store = cls(tmp, tmp / "root", tmp / "runroot", tmp / "home",
                    tmp / "xdg-runtime", tmp / "home" / ".config")
        store.home.mkdir()
        store.xdg_runtime_dir.mkdir(mode=0o700)
        store.xdg_config_home.mkdir()
        return store

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}
        env.update(
            HOME=str(self.home),
            XDG_RUNTIME_DIR=str(self.xdg_runtime_dir),
            XDG_CONFIG_HOME=str(self.xdg_config_home),
            XDG_DATA_HOME=str(self.home / ".local" / "share"),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        )
        return env

    # teardown ---------------------------------------------------------------------------

    def teardown(self) -> None:
        self.delete_runc_containers()
        self.kill_processes()
        self.teardown_networks()
        self.unmount_all()

    def teardown_networks(self) -> None:
        """Undo the bridge network setups a test left (firewall rules, addresses, DNS names and
        bridges are host-wide: they would leak into the next tests)."""
        from pyctr.network import bridge

        for record in self.root.glob(f"containers/*/{bridge.RECORD}"):
            bridge.teardown(record.parent, self.runroot, container_id=record.parent.name, rootless=os.geteuid() != 0)

    def delete_runc_containers(self) -> None:
        """`runc delete --force` every container whose runc state lives under runroot
        (runc keeps <runc-root>/<id>/state.json)."""
        for directory, _, files in os.walk(self.runroot):  # never follows symlinks
            if "state.json" not in files:
                continue
            runc_root, container_id = os.path.split(directory)
            subprocess.run(["runc", "--root", runc_root, "delete", "--force", container_id],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)

    def kill_processes(self) -> None:
        """SIGKILL leftover processes (shims, hung commands) whose argv names the tmp dir."""
        for pid in _pids_mentioning(f"{self.tmp}/"):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def mounts(self) -> list[str]:
        return [m for m in _mount_points() if m == str(self.tmp) or m.startswith(f"{self.tmp}/")]

    def unmount_all(self) -> None:
        """Lazily unmount every mount under tmp, deepest first, until none is left
        (a path may carry several stacked mounts)."""
        for _ in range(10):
            mounts = self.mounts()
            if not mounts:
                return
            for mount in sorted(mounts, key=lambda m: m.count("/"), reverse=True):
                subprocess.run(["umount", "-l", mount], capture_output=True)


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        fields = [line.split(" ") for line in f]
    # Field 5 is the mount point, with space, tab, newline and backslash octal-escaped.
    return [re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), f[4]) for f in fields]


def _pids_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone already
        if any(text.encode() in arg for arg in argv):
            pids.append(int(entry.name))
    return pids


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store.create(tmp_path)
    yield store
    store.teardown()


class Pyctr:
    """Runs `python -m pyctr --root ROOT --runroot RUNROOT ...` in the test's store."""

    def __init__(self, store: Store):
        self.store = store

    def argv(self, *args) -> list[str]:
        return [sys.executable, "-m", "pyctr", "--root", str(self.store.root),
                "--runroot", str(self.store.runroot), *map(str, args)]

    def __call__(self, *args, check: bool = True, input: str | None = None,
                 env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return self.run(self.argv(*args), check=check, input=input, env=env, timeout=timeout)

    def run(self, argv: list[str], check: bool = True, input: str | None = None,
            env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        """Any command, with the store's environment plus `env`."""
        full_env = {**self.store.env(), **(env or {})}
        try:
            result = subprocess.run(argv, input=input, env=full_env, cwd=self.store.tmp, text=True,
                                    capture_output=True, timeout=timeout,
                                    stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as error:
            raise AssertionError(_describe(argv, f"timed out after {timeout}s",
                                           _text(error.stdout), _text(error.stderr))) from None
        if check and result.returncode != 0:
            raise AssertionError(_describe(argv, f"exit status {result.returncode}",
                                           result.stdout, result.stderr))
        return result


def _text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else (output or "")


def _describe(argv: list[str], what: str, stdout: str, stderr: str) -> str:
    return (f"command failed ({what}): {' '.join(argv)}\n"
            f"--- stdout ---\n{stdout}--- stderr ---\n{stderr}")


@pytest.fixture
def pyctr(store) -> Pyctr:
    return Pyctr(store)


@pytest.fixture
def web(registry, pyctr) -> str:
    """test/web (busybox httpd and a page in /www) from the session registry, pulled into this test's store."""
    ref = f"{registry.host}/test/web:latest"
    pyctr("pull", "-q", ref)
    return ref


@pytest.fixture
def image(registry, pyctr) -> str:
    """test/busybox from the session registry, pulled into this test's store."""
    ref = f"{registry.host}/test/busybox:latest"
    pyctr("pull", "-q", ref)
    return ref
