"""A real systemd user manager for tests (systemd is not PID 1 here; `systemd --user` still runs).

Usage (as root, which the tests are):

    from tests.harness.systemd_user import UserManager

    with UserManager() as sd:                       # root's own user manager (uid 0)
        sd.install_unit("web.service", text)        # writes into sd.unit_dir, then daemon-reload
        sd.systemctl("start", "web.service")        # CompletedProcess; check=True raises with the journal
        assert sd.is_active("web.service")
        sd.show("web.service", "MainPID")           # -> "1234"
        print(sd.status("web.service"))             # `systemctl --user status`, for assertion messages

    # for the rootless test user (tests/test_rootless.py fixture `rootless`):
    with UserManager(user=rootless.name, runtime_dir=rootless.runtime, env=rootless.env()) as sd: ...

    # or as a pytest fixture: `user_manager = pytest.fixture(user_manager_fixture)` gives root's manager.

    sd.config_home      the manager's XDG_CONFIG_HOME (a temporary directory, the user's): unit_dir is
                        config_home/systemd/user; user generators may go in config_home/systemd/user-generators
                        and Quadlet's user files in config_home/containers/systemd
    sd.run(argv)        any command as the manager's user, with sd.env() (XDG_RUNTIME_DIR, XDG_CONFIG_HOME, ...)
    sd.wait_state(unit, "active"|("failed", "inactive"), timeout)   sd.diagnostics(unit): for assertion messages
    sd.process.pid      the manager's pid;  sd.cgroup: its delegated cgroup v2 directory

What it does (issue 11, "Tested under a real systemd"):
1. `/run/systemd/system` is created if absent (systemd refuses to run without it) and removed at the
   end if this harness created it; a reference count in /tmp lets managers of several users overlap.
2. A delegated cgroup v2 directory /sys/fs/cgroup/unified/user.slice/user-UID.slice/user@UID.service,
   chowned to the user.
3. `systemd --user` is started inside it (via runuser for an ordinary user), with XDG_RUNTIME_DIR
   (default /run/user/UID, created if absent) and a private XDG_CONFIG_HOME, so that the units a test
   installs land in a temporary `unit_dir` and never in the user's home.
4. It waits until `systemctl --user is-system-running` says running (or degraded).
At exit: `systemctl --user exit`, wait for the manager to end (SIGKILL of its cgroup if it does not),
then every cgroup directory (unified and name=systemd hierarchies), runtime dir and /run/systemd/system
that it created is removed. One manager per uid at a time (a flock in /tmp serialises tests).
The harness never imports pyctr.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

SYSTEMD = "/lib/systemd/systemd"
CGROUP_ROOTS = (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup/systemd"))
RUN_SYSTEMD = Path("/run/systemd/system")
_REFS = Path("/tmp/pyctr-systemd-harness.refs")
_REFS_LOCK = Path("/tmp/pyctr-systemd-harness.lock")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def available() -> bool:
    """Whether a user manager can be started here (root, systemd installed, a cgroup v2 mount)."""
    return os.geteuid() == 0 and Path(SYSTEMD).exists() and (CGROUP_ROOTS[0] / "cgroup.procs").exists()


def _wait(predicate, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@contextmanager
def _locked(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _shared_paths() -> list[Path]:
    """What managers of several users share: created by the first, removed by the last."""
    return [RUN_SYSTEMD, *(root / "user.slice" for root in CGROUP_ROOTS)]


def _read_refs() -> tuple[list[str], list[str]]:
    """(tokens of live users, paths created by the harness); tokens of dead processes are dropped."""
    lines = _REFS.read_text().splitlines() if _REFS.exists() else []
    created = [line[len("created:"):] for line in lines if line.startswith("created:")]
    tokens = [line for line in lines if not line.startswith("created:") and _alive(int(line.split(":")[0]))]
    return tokens, created


def _write_refs(tokens: list[str], created: list[str]) -> None:
    if not tokens and not created:
        _REFS.unlink(missing_ok=True)
    else:
        _REFS.write_text("".join(f"{t}\n" for t in tokens) + "".join(f"created:{c}\n" for c in created))


def _acquire_shared(token: str) -> None:
    """Create /run/systemd/system (and the user.slice cgroups) unless they exist; count who uses them."""
    with _locked(_REFS_LOCK):
        tokens, created = _read_refs()
        for path in _shared_paths():
            if not path.is_dir():
                path.mkdir(parents=True)
                created.append(str(path))
        _write_refs([*tokens, token], created)


def _release_shared(token: str) -> None:
    with _locked(_REFS_LOCK):
        tokens, created = _read_refs()
        tokens = [t for t in tokens if t != token]
        if not tokens:
            for path in sorted(created, key=len, reverse=True):
                try:
                    os.rmdir(path)
                except OSError:
                    pass
            created = []
        _write_refs(tokens, created)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _existing_dirs(root: Path) -> set[Path]:
    return {Path(d) for d, _, _ in os.walk(root)} if root.exists() else set()


class UserManager:
    """A `systemd --user` for `user` (default root) for the time of a `with` block."""

    def __init__(self, user: str = "root", runtime_dir: str | Path | None = None, env: dict | None = None,
                 start_timeout: float = 60):
        self.user = user
        self.pw = pwd.getpwnam(user)
        self.uid = self.pw.pw_uid
        self.runtime_dir = Path(runtime_dir or f"/run/user/{self.uid}")
        self.extra_env = {k: v for k, v in (env or {}).items() if k not in ("XDG_RUNTIME_DIR", "XDG_CONFIG_HOME")}
        self.start_timeout = start_timeout
        rel = Path(f"user.slice/user-{self.uid}.slice/user@{self.uid}.service")
        self.cgroup = CGROUP_ROOTS[0] / rel
        self._rel = rel
        self.process: subprocess.Popen | None = None
        self.config_home: Path | None = None
        self._token = f"{os.getpid()}:{id(self)}"
        self._lock_handle = None
        self._created_dirs: list[Path] = []
        self._before: dict[Path, set[Path]] = {}
        self._log: Path | None = None

    # -- what tests use --------------------------------------------------------------------

    @property
    def unit_dir(self) -> Path:
        """Where user units go (`~/.config/systemd/user` of this manager: a private XDG_CONFIG_HOME)."""
        assert self.config_home is not None, "the manager is not started"
        return self.config_home / "systemd" / "user"

    def env(self) -> dict[str, str]:
        """The environment for `systemctl --user` and for commands run next to the manager."""
        return {"PATH": PATH, "HOME": self.pw.pw_dir, "USER": self.user, "LOGNAME": self.user, **self.extra_env,
                "XDG_RUNTIME_DIR": str(self.runtime_dir), "XDG_CONFIG_HOME": str(self.config_home)}

    def run(self, argv: list[str], check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run argv as the manager's user with env(); text output captured."""
        env_args = [f"{k}={v}" for k, v in self.env().items()]
        prefix = [] if self.uid == 0 else ["runuser", "-u", self.user, "--"]
        result = subprocess.run([*prefix, "env", "-i", *env_args, *argv], capture_output=True, text=True,
                                timeout=timeout, cwd="/", stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {result.returncode}\n{result.stdout}\n{result.stderr}\n"
                                 f"{self.diagnostics()}")
        return result

    def systemctl(self, *args, check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess:
        """`systemctl --user ARGS...` against this manager."""
        return self.run(["systemctl", "--user", *map(str, args)], check=check, timeout=timeout)

    def daemon_reload(self) -> None:
        self.systemctl("daemon-reload", check=True)

    def install_unit(self, name: str, text: str, reload: bool = True) -> Path:
        """Write a unit file into unit_dir (owned by the user) and daemon-reload."""
        self.unit_dir.mkdir(parents=True, exist_ok=True)
        path = self.unit_dir / name
        path.write_text(text)
        os.chown(path, self.uid, self.pw.pw_gid)
        if reload:
            self.daemon_reload()
        return path

    def show(self, unit: str, prop: str) -> str:
        """One property's value (`systemctl --user show -p PROP --value UNIT`)."""
        return self.systemctl("show", "-p", prop, "--value", unit).stdout.strip()

    def is_active(self, unit: str) -> bool:
        return self.systemctl("is-active", unit).stdout.strip() == "active"

    def wait_state(self, unit: str, states: str | tuple = "active", timeout: float = 60) -> bool:
        """Wait until ActiveState is one of `states`."""
        wanted = (states,) if isinstance(states, str) else states
        return _wait(lambda: self.show(unit, "ActiveState") in wanted, timeout, 0.2)

    def status(self, unit: str | None = None) -> str:
        """`systemctl --user status [UNIT]` (no pager, full lines), for diagnostics."""
        args = ["status", "--no-pager", "-l", "-n", "50"] + ([unit] if unit else [])
        result = self.systemctl(*args)
        return result.stdout + result.stderr

    def journal(self) -> str:
        """What the manager itself printed (its stderr/stdout: there is no journald for it here)."""
        return self._log.read_text(errors="replace") if self._log and self._log.exists() else ""

    def diagnostics(self, unit: str | None = None) -> str:
        """status of the unit (or the manager) and the manager's own log, to put in an assertion message."""
        return f"--- systemctl --user status ---\n{self.status(unit)}\n--- manager log ---\n{self.journal()[-4000:]}"

    # -- start / stop ----------------------------------------------------------------------

    def __enter__(self) -> "UserManager":
        self._lock_handle = open(f"/tmp/pyctr-systemd-user-{self.uid}.lock", "a")
        fcntl.flock(self._lock_handle, fcntl.LOCK_EX)
        try:
            self._start()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stop()

    def _start(self) -> None:
        _acquire_shared(self._token)
        self._acquired = True
        self._kill_leftover()
        for root in CGROUP_ROOTS:
            self._before[root] = _existing_dirs(root / self._rel.parent)
        self.config_home = Path(tempfile.mkdtemp(prefix=f"pyctr-sd-{self.user}-"))
        os.chmod(self.config_home, 0o755)
        (self.config_home / "systemd" / "user").mkdir(parents=True)
        for path in (self.config_home, self.config_home / "systemd", self.config_home / "systemd" / "user"):
            os.chown(path, self.uid, self.pw.pw_gid)
        if not self.runtime_dir.exists():
            if not self.runtime_dir.parent.exists():
                self.runtime_dir.parent.mkdir(parents=True)
                self._created_dirs.append(self.runtime_dir.parent)
            self.runtime_dir.mkdir(mode=0o700)
            os.chown(self.runtime_dir, self.uid, self.pw.pw_gid)
            self._created_dirs.append(self.runtime_dir)
        self.cgroup.mkdir(parents=True, exist_ok=True)
        for path in [self.cgroup, *[p for p in self.cgroup.rglob("*") if p.is_dir()]]:
            os.chown(path, self.uid, self.pw.pw_gid)
        for name in ("cgroup.procs", "cgroup.subtree_control", "cgroup.threads"):
            os.chown(self.cgroup / name, self.uid, self.pw.pw_gid)
        self._log = self.config_home / "manager.log"
        env_args = [f"{k}={v}" for k, v in self.env().items()]
        inner = ["env", "-i", *env_args, SYSTEMD, "--user"]
        if self.uid != 0:
            inner = ["runuser", "-u", self.user, "--", *inner]
        # Join the cgroup first (as root), then become the manager: it must start inside its delegated dir.
        script = f'echo $$ > {self.cgroup}/cgroup.procs && exec "$@"'
        with open(self._log, "wb") as log:
            self.process = subprocess.Popen(["sh", "-c", script, "sh", *inner], stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, cwd="/", start_new_session=True)

        def up() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"systemd --user exited {self.process.returncode}\n{self.journal()}")
            state = self.systemctl("is-system-running", timeout=10).stdout.strip()
            return state in ("running", "degraded")

        if not _wait(up, self.start_timeout, 0.2):
            raise RuntimeError(f"systemd --user did not come up\n{self.diagnostics()}")

    def _kill_leftover(self) -> None:
        """A manager left by a crashed run of this harness (we hold the uid's lock): end it."""
        kill = self.cgroup / "cgroup.kill"
        if kill.exists() and (self.cgroup / "cgroup.procs").exists():
            if any(p.read_text().strip() for p in [self.cgroup / "cgroup.procs", *self.cgroup.rglob("cgroup.procs")]):
                kill.write_text("1")
                _wait(lambda: not self._procs(), 10)

    def _procs(self) -> list[int]:
        if not self.cgroup.exists():
            return []
        pids = []
        for procs in [self.cgroup / "cgroup.procs", *self.cgroup.rglob("cgroup.procs")]:
            try:
                pids += [int(p) for p in procs.read_text().split()]
            except OSError:
                pass
        return pids

    def _stop(self) -> None:
        try:
            if self.process is not None and self.process.poll() is None:
                try:
                    self.systemctl("exit", timeout=30)
                except subprocess.TimeoutExpired:
                    pass
                try:
                    self.process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=10)
            if self._procs() and (self.cgroup / "cgroup.kill").exists():
                (self.cgroup / "cgroup.kill").write_text("1")
                _wait(lambda: not self._procs(), 10)
            for root in CGROUP_ROOTS:
                if root in self._before:
                    self._remove_new_cgroups(root)
            for path in reversed(self._created_dirs):
                if path == self.runtime_dir:
                    shutil.rmtree(path, ignore_errors=True)
                else:  # /run/user: only if no other manager's runtime dir is in it
                    try:
                        path.rmdir()
                    except OSError:
                        pass
            self._created_dirs.clear()
            if self.config_home is not None:
                shutil.rmtree(self.config_home, ignore_errors=True)
        finally:
            if getattr(self, "_acquired", False):
                _release_shared(self._token)
                self._acquired = False
            if self._lock_handle is not None:
                fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
                self._lock_handle.close()
                self._lock_handle = None

    def _remove_new_cgroups(self, root: Path) -> None:
        """rmdir, deepest first, the cgroup directories that did not exist before the manager started."""
        before = self._before[root]
        new = [d for d in _existing_dirs(root / self._rel.parent) if d not in before]
        for directory in sorted(new, key=lambda d: len(d.parts), reverse=True):
            for _ in range(50):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)  # busy for a moment while the last processes are reaped


def user_manager_fixture():
    """Generator for a pytest fixture: `user_manager = pytest.fixture(user_manager_fixture)` (root's manager)."""
    with UserManager() as manager:
        yield manager
