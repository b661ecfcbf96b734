"""`make bench`'s network rows: `run --rm IMAGE true` of pyctr and podman, interleaved, as root
(default bridge network, and --network none) and rootless (default slirp4netns, and --network none).

Runs of both tools alternate (and which one goes first alternates too), so that whatever load the
machine has falls on both alike. Everything started here is undone on the way out, failed or not:
containers of both tools, the temporary user with its subordinate ids, the mode of /dev/net/tun.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# podman's default network is 10.88.0.0/16 as pyctr's: another subnet here, so that a podman
# container of the bench never routes pyctr's subnet while pyctr containers (of anyone on this
# host) start; the bridge, veth and firewall work measured are the same.
PODMAN_SUBNET = "10.87.0.0/16"
PODMAN_CONF = f"""[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_backend = "netavark"
default_subnet = "{PODMAN_SUBNET}"
"""
USER = "pyctr-bench"
SUBIDS = "700000-765535"
# The rootless tests take this lock: they create a user too, and set and restore /dev/net/tun's mode.
ROOTLESS_LOCK = "/tmp/pyctr-rootless-tests.lock"
REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Tool:
    """One engine's command line with its environment (and, rootless, the user it runs as)."""

    def __init__(self, argv: list[str], env: dict, user: pwd.struct_passwd | None = None):
        self.argv, self.env, self.user = argv, env, user

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        # As the user: from / (the caller's directory may be closed to it).
        ids = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": [], "cwd": "/"} if self.user else {}
        result = subprocess.run([*self.argv, *args], env=self.env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, **ids)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join([*self.argv, *args])} exited {result.returncode}: {result.stderr.strip()}")
        return result

    def timed(self, *args: str) -> float:
        start = time.perf_counter()
        self.run(*args)
        return (time.perf_counter() - start) * 1000


def paired(pairs: list[tuple[str, Tool, Tool, list[str]]], runs: int) -> list[tuple[str, float, float]]:
    """Every pair's pyctr and podman runs, all pairs interleaved: -> (label, pyctr median, podman median)."""
    times: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label, *_ in pairs}
    for i in range(runs):
        for label, pyctr, podman, args in pairs:
            mine, theirs = times[label]
            if i % 2:
                theirs.append(podman.timed(*args))
                mine.append(pyctr.timed(*args))
            else:
                mine.append(pyctr.timed(*args))
                theirs.append(podman.timed(*args))
    return [(label, statistics.median(times[label][0]), statistics.median(times[label][1])) for label, *_ in pairs]


def print_pairs(results: list[tuple[str, float, float]]) -> None:
    """The rows, then what the default network adds to --network none (a difference of the medians)."""
    for label, mine, theirs in results:
        print(f"  {label:<46} {mine:7.1f} ms {theirs:7.1f} ms {mine / theirs:8.2f}")
    (_, mine, theirs), (_, mine_none, theirs_none) = results
    print(f"  {'  the default network itself (difference)':<46} {mine - mine_none:7.1f} ms {theirs - theirs_none:7.1f} ms")


def run_args(image: str, network: str | None) -> list[str]:
    return ["run", "--rm", *(["--network", network] if network else []), image, "true"]


def root_pairs(pyctr: list[str], image: str, tmp: Path, runs: int) -> list[tuple[str, float, float]]:
    """As root: pyctr's default bridge network against podman's (netavark), and --network none."""
    conf = tmp / "podman-containers.conf"
    conf.write_text(PODMAN_CONF)
    env = {"CONTAINERS_CONF": str(conf), "PATH": SYSTEM_PATH, "HOME": str(tmp)}
    podman = Tool(["podman", "--root", f"{tmp}/podman-root", "--runroot", f"{tmp}/podman-run",
                   "--storage-driver", "overlay"], env)
    mine = Tool(pyctr, {**os.environ})
    try:
        podman.run("pull", "-q", "--tls-verify=false", image)
        return paired([("root, default network (bridge)", mine, podman, run_args(image, None)),
                       ("root, --network none", mine, podman, run_args(image, "none"))], runs)
    finally:
        # Not `system reset`: it would remove the host's podman networks (/etc/containers/networks).
        podman.run("rm", "-f", "--all", check=False)
        mine.run("rm", "-f", "--all", check=False)


def rootless_pairs(image: str, runs: int) -> list[tuple[str, float, float]]:
    """As a temporary user: pyctr's default (slirp4netns) against podman's default rootless network, and none."""
    with contextlib.ExitStack() as undo:
        undo.enter_context(_rootless_lock())
        user = undo.enter_context(_temporary_user())
        base = Path(tempfile.mkdtemp(prefix="pyctr-bench-rootless-"))
        undo.callback(shutil.rmtree, base, ignore_errors=True)
        os.chmod(base, 0o755)
        dirs = {}
        for name, mode in (("data", 0o755), ("runtime", 0o700), ("podman-root", 0o700), ("podman-run", 0o700)):
            dirs[name] = base / name
            dirs[name].mkdir(mode=mode)
            os.chown(dirs[name], user.pw_uid, user.pw_gid)
        conf = base / "containers.conf"
        conf.write_text(PODMAN_CONF)
        os.chmod(conf, 0o644)
        common = {"PATH": SYSTEM_PATH, "HOME": user.pw_dir, "USER": user.pw_name, "XDG_RUNTIME_DIR": str(dirs["runtime"])}
        mine = Tool([sys.executable, "-m", "pyctr"],
                    {**common, "XDG_DATA_HOME": str(dirs["data"]), "PYTHONPATH": str(REPO_ROOT)}, user)
        podman = Tool(["podman", "--root", str(dirs["podman-root"]), "--runroot", str(dirs["podman-run"]),
                       "--storage-driver", "overlay"], {**common, "CONTAINERS_CONF": str(conf)}, user)
        # Registered before anything runs as the user: stops what the tools left (pause processes too).
        undo.callback(_kill_user_processes, user.pw_uid)
        undo.callback(podman.run, "rm", "-f", "--all", check=False)
        undo.callback(mine.run, "rm", "-f", "--all", check=False)
        undo.enter_context(_tun_open_to_users())
        mine.run("pull", "-q", image)
        podman.run("pull", "-q", "--tls-verify=false", image)
        return paired([("rootless, default network (slirp4netns)", mine, podman, run_args(image, None)),
                       ("rootless, --network none", mine, podman, run_args(image, "none"))], runs)


@contextlib.contextmanager
def _rootless_lock():
    with open(ROOTLESS_LOCK, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"  (waiting for {ROOTLESS_LOCK}: rootless tests are running)", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def _temporary_user():
    """The user with a subordinate id range; what was added here is removed on the way out."""
    with contextlib.ExitStack() as undo:
        try:
            pwd.getpwnam(USER)
        except KeyError:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", USER], check=True, capture_output=True)
            undo.callback(subprocess.run, ["userdel", "--remove", "--force", USER], capture_output=True)
        if not any(line.split(":")[0] == USER for line in open("/etc/subuid")):
            subprocess.run(["usermod", "--add-subuids", SUBIDS, "--add-subgids", SUBIDS, USER], check=True)
            # Runs before userdel (callbacks run last-in first-out): the ranges go even if userdel keeps them.
            undo.callback(subprocess.run, ["usermod", "--del-subuids", SUBIDS, "--del-subgids", SUBIDS, USER],
                          capture_output=True)
        yield pwd.getpwnam(USER)


@contextlib.contextmanager
def _tun_open_to_users():
    """slirp4netns opens /dev/net/tun as the user; it is 0600 here. Its mode is restored afterwards."""
    mode = stat.S_IMODE(os.stat("/dev/net/tun").st_mode)
    os.chmod("/dev/net/tun", 0o666)
    try:
        yield
    finally:
        os.chmod("/dev/net/tun", mode)


def _kill_user_processes(uid: int) -> None:
    """Every process the user still has (the tools' pause processes, a slirp4netns left by a failure),
    each by its pid; they were all started by this bench."""
    for _ in range(50):
        pids = [pid for pid in _pids_of(uid) if pid != os.getpid()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def _pids_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            with open(f"/proc/{entry}/status") as f:
                # The real uid: /proc/PID's owner is root for processes that are not dumpable.
                real = next(line.split()[1] for line in f if line.startswith("Uid:"))
            if int(real) == uid:
                pids.append(int(entry))
    return pids
