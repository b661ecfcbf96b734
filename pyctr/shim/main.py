"""The shim's lifecycle: detach, `runc create`, report on the sync pipe, pump the
container's stdio until its init exits, record the exit, run the cleanup command.

Imports only the standard library, python-daemon, pyctr.errors, pyctr.linux.fsutil,
pyctr.runtime.runc and (--sdnotify) pyctr.systemd.notify: a host with a hundred containers runs a hundred shims (DESIGN.md,
"The shim contract"). And an idle shim holds none of that: once the container runs and nothing
but its output is left to serve for IDLE_DELAY, the shim exec()s the idle pump (pyctr.shim.idle,
built-in modules only), which exec()s the full shim again (`--resume FD`) for anything else.
Containers that keep the full shim throughout: those with a health check (its timers), with
--timeout (its alarm), with `--sdnotify container` (the relay of the container's messages), and
`init`ed ones until `start` (the watch for it).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

from pyctr.linux import fsutil
from pyctr.runtime.runc import Runc
from pyctr.shim import ending, idle, linux, protocol, runc
from pyctr.shim.config import ConfigError, ShimConfig, sync_fd_hint
from pyctr.shim.klog import LogWriter
from pyctr.shim.pump import Pump

IDLE_DELAY = 1.0  # seconds with nothing but output to serve before the shim goes idle
CLEANUP_TIMEOUT = 60.0
CLIENT_FLUSH_TIMEOUT = 2.0  # for the exit frame to reach slow clients before we exit
EXIT_RESERVE = 16384  # bytes: room for the exit record's temporary file and its directory entry


def main(argv: list[str]) -> int:
    """`python -m pyctr.shim CONFIG_PATH`, or `--config-fd N`: the config arrives as one JSON
    line on fd N. The engine starts a shim that way before it knows the container, so that
    the interpreter boots while the engine works; end of file means "not needed", exit.
    `--resume N`: the idle pump hands the running container back (pyctr.shim.handoff)."""
    if len(argv) == 2 and argv[0] == "--resume" and argv[1].isdigit():
        return _resume(int(argv[1]))
    if len(argv) == 2 and argv[0] == "--config-fd" and argv[1].isdigit():
        raw = _read_config_line(int(argv[1]))
        if raw is None:
            return 0
        load, hint = (lambda: ShimConfig.from_raw(json.loads(raw), "config"), lambda: _sync_fd_of(raw))
    elif len(argv) == 1:
        load, hint = (lambda: ShimConfig.load(argv[0]), lambda: sync_fd_hint(argv[0]))
    else:
        print("usage: python -m pyctr.shim CONFIG_PATH | --config-fd N", file=sys.stderr)
        return 2
    try:
        config = load()
        os.fstat(config.sync_fd)
    except (ConfigError, OSError, ValueError) as exc:
        fd = hint()
        if fd is not None:
            _report(fd, {"error": f"pyctr shim: {exc}"})
        print(f"pyctr shim: {exc}", file=sys.stderr)
        return 1
    os.set_inheritable(config.sync_fd, False)  # neither runc nor the cleanup may hold it
    # Only the shim speaks to systemd (config.notify_socket): runc, seeing NOTIFY_SOCKET, would
    # set up its own and wait in `start` for the container's READY=1.
    os.environ.pop("NOTIFY_SOCKET", None)
    preserved = [config.sync_fd]
    passed: list[int] = []
    held: list[int] = []
    if config.client_fd >= 0:
        os.set_inheritable(config.client_fd, False)
        preserved.append(config.client_fd)
        stdio_count = 3 if config.passthrough else 0
        if config.preserve_fds or stdio_count or config.held_fds:
            received = _receive_fds(config.client_fd, stdio_count + config.preserve_fds + config.held_fds)
            split = len(received) - config.held_fds if len(received) >= config.held_fds else len(received)
            passed, held = received[:split], received[split:]
            preserved += received
    import daemon  # (not for --resume: detached long ago)

    context = daemon.DaemonContext(
        detach_process=True, files_preserve=preserved, working_directory="/",
        umask=0o022, signal_map=signal_map(),
        prevent_core=False)  # RLIMIT_CORE would be inherited by the container
    with context:
        return Shim(config, passed, held).run()


def _resume(state_fd: int) -> int:
    from pyctr.shim import handoff

    try:
        shim, pump = handoff.resume(state_fd)
    except Exception:  # noqa: BLE001 - nothing left to serve with; the engine reads the container's own state
        import traceback

        print(traceback.format_exc(), file=sys.stderr)  # (/dev/null, unless run by hand)
        return 1
    return shim.serve(pump)


def _receive_fds(client_fd: int, count: int) -> list[int]:
    """exec --preserve-fds: the engine sends the fds over the client socket before the config."""
    sock = socket.socket(fileno=os.dup(client_fd))
    try:
        sock.settimeout(10)
        _, fds, _, _ = socket.recv_fds(sock, 1, count)
    except OSError:
        return []
    finally:
        sock.close()
    for fd in fds:
        os.set_inheritable(fd, False)
    return fds


def _read_config_line(fd: int) -> bytes | None:
    data = b""
    try:
        while not data.endswith(b"\n"):
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    return data or None


def _sync_fd_of(raw: bytes) -> int | None:
    try:
        value = json.loads(raw).get("sync_fd")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def signal_map() -> dict:
    """Survive what kills shells and sessions. Handlers rather than SIG_IGN, because an
    ignored signal stays ignored across exec, in runc and in the container."""
    noop = lambda signum, frame: None  # noqa: E731
    handlers = {getattr(signal, name): noop for name in idle.HANDLED}  # (the idle pump's too)
    handlers[signal.SIGPIPE] = None  # ignored (as Python does); subprocess restores it in children
    return handlers


def _report(fd: int, message: dict) -> None:
    """Write the one JSON line on the sync pipe and close it; the engine may be gone."""
    try:
        os.write(fd, json.dumps(message).encode() + b"\n")
    except OSError:
        pass
    try:
        os.close(fd)
    except OSError:
        pass


class Shim:
    def __init__(self, config: ShimConfig, passed_fds: list[int] = (), held_fds: list[int] = ()):
        self.config = config
        self.passed_fds = list(passed_fds)  # exec --preserve-fds, for runc.create
        self.held_fds = list(held_fds)  # published ports' sockets: only kept open (never inherited)
        self.dir_fd = -1
        self.listener: socket.socket | None = None
        self.socket_ino: int | None = None
        self.sync_fd: int | None = config.sync_fd
        self.wakeup_r = self.wakeup_w = -1  # the signal wakeup pipe of the event loop
        self.timed_out = False  # --timeout killed it
        self.notify_proxy: socket.socket | None = None  # --sdnotify container's socket

    def run(self) -> int:
        pump = self._create()
        if pump is None:
            return 1
        self._record_start(pump)
        if self.config.sdnotify and self.config.notify_socket and self.config.start:
            self._notify_started()  # before the engine hears of it: `pyctr run -d` exits next
        self._sync({"pid": pump.container_pid})
        if self.config.state_file:  # written by _record_start, made durable once the engine has its answer
            self._make_durable(self.config.state_file)
        if self.config.timeout > 0:
            if pump.started_at is not None or pump.start_watch_fd is None:
                self._arm_timeout(pump.container_pid)
            else:  # `init`: --timeout counts from `runc start`, as podman's
                self._chain_on_started(pump, lambda: self._arm_timeout(pump.container_pid))
        if self.config.health:
            self._start_health(pump)
        return self.serve(pump)

    def serve(self, pump: Pump) -> int:
        """From the running container to its end: output, clients, idle spells, exit record,
        cleanup; -> the shim's exit code. (Where a resumed shim starts, too.)"""
        if self._may_go_idle():
            pump.on_idle, pump.idle_delay = (lambda: self._go_idle(pump)), IDLE_DELAY
        try:
            pump.wait_for_exit()
        except Exception:  # noqa: BLE001 - a shim bug must not lose the exit status
            self._note_exception()
            if pump.exit_status is None:
                pump.exit_status = _wait_blocking(pump.container_pid)
        exit_code, sig = self._record_exit(pump)
        self._release_held()  # before the cleanup: a restart by policy binds the ports again
        if self.config.exec_process and self.config.events:
            self._record_event("exec_died", exit_code=exit_code)  # also for exec -d and a killed `pyctr exec`
        try:
            pump.finish(exit_code, sig)
            self._make_durable(self.config.exit_file)
            self._cleanup(pump)
            pump.serve_until(lambda: not pump.clients, CLIENT_FLUSH_TIMEOUT)
        except Exception:  # noqa: BLE001
            self._note_exception()
        pump.close()
        self._remove_socket()
        # As conmon: the container's exit code is the shim's, which is what a unit's Restart=on-failure sees.
        return exit_code & 0xFF

    def _may_go_idle(self) -> bool:
        """Whether the idle pump can stand in for this shim (see the module's docstring)."""
        cfg = self.config
        return not (cfg.health or cfg.timeout > 0 or self.notify_proxy is not None or self.sync_fd is not None)

    def _go_idle(self, pump: Pump) -> None:
        """exec the idle pump (never returns), or, if that fails, stay as we are for good."""
        from pyctr.shim import handoff

        try:
            handoff.go_idle(self, pump)
        except Exception:  # noqa: BLE001 - the full shim serves on; only memory is lost
            self._note_exception()
        pump.on_idle = None

    def _create(self) -> Pump | None:
        """Set up, run `runc create`; the event loop, or None once the error is reported."""
        cfg = self.config
        try:
            self._setup()
            self.log = LogWriter(cfg.log_path, cfg.log_size_max)
            self._reserve_exit_space()
            created = runc.create(cfg, self.dir_fd, self.wakeup_r, self.passed_fds)
        except runc.CreateFailed as exc:
            return self._fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - reported to the engine, never lost
            self._note_exception()
            return self._fail(f"pyctr shim: {exc}")
        self.oom_counter = linux.oom_counter_file(created.pid)
        self.oom_before = ending.read_oom_kills(self.oom_counter) or 0
        try:
            self._write_pid_files(created.pid)
            pump = Pump(created=created, log=self.log, listener=self.listener,
                        wakeup_fd=self.wakeup_r, terminal=cfg.terminal,
                        start_watch_fd=None if cfg.start else self._watch_start(),
                        client_fd=cfg.client_fd)
            if cfg.start:
                pump.started_at = time.time()
            return pump
        except Exception as exc:  # noqa: BLE001 - nobody would own the created container
            if not isinstance(exc, PidFileError):
                self._note_exception()
            try:
                if cfg.exec_process:  # an exec session: only its process is ours
                    os.kill(created.pid, signal.SIGKILL)
                else:
                    Runc(cfg.runc_root, cfg.runc, extra_args=cfg.runc_extra_args).delete(cfg.id, force=True)
            except Exception:  # noqa: BLE001 - the error that matters is the one reported
                self._note_exception()
            return self._fail(str(exc) if isinstance(exc, PidFileError) else f"pyctr shim: {exc}")

    def _write_pid_files(self, pid: int) -> None:
        """--pidfile and --conmon-pidfile, as runc and conmon write them for podman; one that
        cannot be written fails the start (as podman's, whose runc cannot create it). Written
        aside and renamed over the path: a symlink there is replaced, never followed (this
        runs as root, the path is the user's)."""
        for path, number in ((self.config.pidfile, pid), (self.config.conmon_pidfile, os.getpid())):
            if path:
                try:
                    fsutil.atomic_write(path, str(number).encode(), mode=0o644)
                except Exception as exc:  # noqa: BLE001 - a StoreError around the OSError
                    cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
                    raise PidFileError(f"writing pid file {path}: {getattr(cause, 'strerror', None) or cause}") from exc

    def _record_start(self, pump: Pump) -> None:
        """Before the engine hears of it: the run's pids, their start times and the start time
        in the engine's state.json, and the init and start events. The command that started
        the container may be killed at any moment; the container's status must not go with it."""
        cfg = self.config
        if not cfg.state_file:
            return  # an exec session
        from pyctr.linux.proc import process_start

        me = os.getpid()
        changes = {"shim_pid": me, "shim_start": process_start(me), "pid": pump.container_pid,
                   "pid_start": process_start(pump.container_pid), "paused": False, "stopping": False,
                   # `init` only created it: `runc start` comes later (on_started records it).
                   "initialized": not cfg.start, "started_at": pump.started_at if cfg.start else 0}
        self._update_state(changes, durable=False)  # (run() makes it durable after the sync)
        if not cfg.start:
            self._chain_on_started(
                pump, lambda: self._update_state({"initialized": False, "started_at": pump.started_at}))
        if cfg.events:
            for status in ("init", "start") if cfg.start else ("init",):
                self._record_event(status)

    def _record_event(self, status: str, exit_code: int | None = None) -> None:
        """One container event in the engine's journal (cfg.events: the container's id, name, image, labels)."""
        from pyctr import events  # small: os and time

        about = self.config.events
        try:
            events.record(about["runroot"], "container", status, id=about["id"], name=about["name"],
                          image=about["image"], attributes=about["attributes"], exit_code=exit_code, backend="file")
        except Exception:  # noqa: BLE001 - an event is never worth the exit status or the clients' exit frame
            self._note_exception()

    @staticmethod
    def _chain_on_started(pump: Pump, action) -> None:
        """Run `action` too when `runc start` lets an `init`ed container's process run."""
        before = pump.on_started

        def both() -> None:
            if before is not None:
                before()
            action()

        pump.on_started = both

    def _update_state(self, changes: dict, *, durable: bool = True) -> None:
        """Merge into the engine's state.json, under its lock (pyctr.container.store.write_state's)."""
        path = self.config.state_file
        try:
            fsutil.update_json(path, changes, os.path.join(os.path.dirname(path), "state.lock"), durable=durable)
        except Exception as exc:  # noqa: BLE001 - it runs all the same (a full disk): /proc tells its start
            self._note(f"recording the start in {path}: {exc}")

    def _record_exit(self, pump: Pump) -> tuple[int, int | None]:
        """Write the exit record atomically; -> (exit code, signal)."""
        cfg = self.config
        oom_after = ending.read_oom_kills(self.oom_counter)
        # started_at: when `runc start` let the process exec (it removes exec.fifo then), else
        # the time of its first output; null if it never started.
        record = ending.exit_record(pump.exit_status, oom=oom_after is not None and oom_after > self.oom_before,
                                    started_at=pump.started_at or pump.first_output_at,
                                    finished_at=pump.finished_at or time.time())
        if self.timed_out:
            record.update(exit_code=255, signal=None)  # as conmon reports a --timeout kill
        exit_code, sig = record["exit_code"], record["signal"]
        self.log.close()
        if self.log.error is not None:
            self._note(f"writing the log {cfg.log_path}: {self.log.error}")
        self._release_exit_space()  # delete before writing: the log may have filled the disk
        try:
            if not cfg.exec_process:  # an exec session's directory goes with its container: never made again
                os.makedirs(os.path.dirname(cfg.exit_file), exist_ok=True)
            # Atomic now for every reader; made durable (_sync_exit_record) once the clients
            # have the exit frame: the fsyncs are not on the path of `run`'s exit.
            fsutil.atomic_write_json(cfg.exit_file, record, durable=False)
        except Exception as exc:  # noqa: BLE001
            self._note(f"writing the exit record {cfg.exit_file}: {exc}")
        return exit_code, sig

    def _make_durable(self, path: str) -> None:
        """fsync what was written with durable=False, once the engine has heard."""
        try:
            fsutil.make_durable(path)
        except FileNotFoundError:
            pass  # removed meanwhile (rm -f): nothing left to keep
        except OSError as exc:
            self._note(f"syncing {path}: {exc}")

    def _arm_timeout(self, pid: int) -> None:
        """--timeout: SIGKILL to the container once it is up (its SIGALRM also wakes the event loop)."""
        def expire(signum, frame) -> None:
            self.timed_out = True
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

        signal.signal(signal.SIGALRM, expire)
        signal.alarm(self.config.timeout)

    def _start_health(self, pump: Pump) -> None:
        from pyctr.shim.health import HealthChecker  # only for a container that has a check

        try:
            HealthChecker(self.config, pump, self._note).start()
        except Exception:  # noqa: BLE001 - the container runs without its checks
            self._note_exception()

    # -- space for the exit record ---------------------------------------------------------

    def _exit_reserve(self) -> str:
        return os.path.join(os.path.dirname(self.config.exit_file), f".{os.path.basename(self.config.exit_file)}.reserve")

    def _reserve_exit_space(self) -> None:
        """Hold a little space, given back just before the exit record is written: a container
        that fills the disk with its log must not lose its exit status to it."""
        try:
            fd = os.open(self._exit_reserve(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, bytes(EXIT_RESERVE))
            finally:
                os.close(fd)
        except OSError:
            self._release_exit_space()  # the disk is full already: the record may still fit

    def _release_exit_space(self) -> None:
        try:
            os.unlink(self._exit_reserve())
        except OSError:
            pass

    # -- setup -----------------------------------------------------------------------------

    def _setup(self) -> None:
        cfg = self.config
        linux.set_child_subreaper()
        os.makedirs(cfg.state_dir, mode=0o700, exist_ok=True)
        self.dir_fd = os.open(cfg.state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        # (under the runroot, which a reboot empties: no fsync before runc may start)
        fsutil.atomic_write(os.path.join(cfg.state_dir, "shim.pid"), f"{os.getpid()}\n".encode(), durable=False)
        self._bind_attach_socket()
        if cfg.notify_proxy:
            self._bind_notify_proxy()
        # SIGCHLD wakes the event loop through this pipe; the handler itself does nothing.
        self.wakeup_r, self.wakeup_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.wakeup_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)

    def _bind_attach_socket(self) -> None:
        # Socket paths stop at 108 bytes and state_dir may be longer: bind a relative name.
        name = protocol.SOCKET_NAME
        try:
            os.unlink(name, dir_fd=self.dir_fd)  # a stale one from an earlier run
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        os.fchdir(self.dir_fd)
        try:
            sock.bind(name)
        finally:
            os.chdir("/")  # never pin the state directory
        os.chmod(name, 0o600, dir_fd=self.dir_fd)
        sock.listen(16)
        self.listener = sock
        self.socket_ino = os.stat(name, dir_fd=self.dir_fd).st_ino

    def _bind_notify_proxy(self) -> None:
        """--sdnotify container: the socket the container's READY=1 comes to (bound before runc
        mounts it; datagrams wait in it until the relay reads them). Anyone in the container may write."""
        name = os.path.basename(self.config.notify_proxy)
        directory = os.open(os.path.dirname(self.config.notify_proxy), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            try:
                os.unlink(name, dir_fd=directory)
            except FileNotFoundError:
                pass
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            os.fchdir(directory)
            try:
                sock.bind(name)
            finally:
                os.chdir("/")
            os.chmod(name, 0o777, dir_fd=directory)
        finally:
            os.close(directory)
        self.notify_proxy = sock

    def _notify_started(self) -> None:
        """--sdnotify conmon: MAINPID (this shim) and READY=1; container: MAINPID, and from now on
        what the container says (but its MAINPID) is passed on."""
        from pyctr.systemd import notify

        cfg = self.config
        message = f"MAINPID={os.getpid()}" + ("\nREADY=1" if cfg.sdnotify == "conmon" else "")
        try:
            notify.send(cfg.notify_socket, message)
        except OSError as exc:
            self._note(f"notifying {cfg.notify_socket}: {exc}")
        if cfg.sdnotify == "container" and self.notify_proxy is not None:
            import threading

            threading.Thread(target=self._relay_notifications, args=(self.notify_proxy,), daemon=True).start()

    def _relay_notifications(self, proxy: socket.socket) -> None:
        from pyctr.systemd import notify

        while True:
            try:
                message = notify.relay(proxy.recv(65536))
            except OSError:
                return
            if message:
                try:
                    notify.send(self.config.notify_socket, message)
                except OSError as exc:
                    self._note(f"passing on the container's notification: {exc}")

    def _watch_start(self) -> int | None:
        try:
            return linux.watch_deletions(os.path.join(self.config.runc_root, self.config.id))
        except OSError:
            return None  # started_at falls back to the first output

    # -- endings ---------------------------------------------------------------------------

    def _sync(self, message: dict) -> None:
        if self.sync_fd is not None:
            _report(self.sync_fd, message)
            self.sync_fd = None

    def _release_held(self) -> None:
        for fd in self.held_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.held_fds = []

    def _fail(self, message: str) -> None:
        # Not alive as far as the engine is concerned: it must not wait for this shim.
        try:
            os.unlink("shim.pid", dir_fd=self.dir_fd)
        except (OSError, TypeError, ValueError):
            pass
        self._remove_socket()
        self._release_exit_space()
        self._sync({"error": message})

    def _cleanup(self, pump: Pump) -> None:
        argv = self.config.cleanup_argv
        if not argv:
            return
        from pyctr.cleanup import settle_in_shim

        try:
            if settle_in_shim(argv, os.getpid()):
                return
        except Exception as exc:  # noqa: BLE001 - then the command decides
            self._note(f"checking what is left to clean up: {exc!r}")
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, close_fds=True, cwd="/")
        except OSError as exc:
            self._note(f"running the cleanup command {argv[0]}: {exc}")
            return
        pump.cleanup_pid = proc.pid
        if pump.serve_until(lambda: pump.cleanup_status is not None, CLEANUP_TIMEOUT):
            proc.returncode = os.waitstatus_to_exitcode(pump.cleanup_status)  # reaped by the pump
            if proc.returncode != 0:
                self._note(f"the cleanup command exited with status {proc.returncode}")
        else:
            # Left running: init adopts it once we exit; killing it could leave things half-done.
            proc.returncode = 0  # not ours to wait for any more
            self._note(f"the cleanup command did not finish within {CLEANUP_TIMEOUT:.0f} s")

    def _remove_socket(self) -> None:
        """Unlink the attach socket unless a newer shim (restart policy) has replaced it."""
        try:
            if os.stat(protocol.SOCKET_NAME, dir_fd=self.dir_fd).st_ino == self.socket_ino:
                os.unlink(protocol.SOCKET_NAME, dir_fd=self.dir_fd)
        except (OSError, ValueError):
            pass

    # -- the shim's own diagnostics (stderr is /dev/null) ------------------------------------

    def _note(self, message: str) -> None:
        """Append a line to state_dir/shim.log: the only trace a detached shim leaves."""
        line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} pid {os.getpid()}: {message}\n"
        try:
            fd = os.open(os.path.join(self.config.state_dir, "shim.log"),
                         os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, line.encode(errors="replace"))
            finally:
                os.close(fd)
        except OSError:
            pass

    def _note_exception(self) -> None:
        import traceback  # only on a bug: not worth its memory otherwise

        self._note(traceback.format_exc())


class PidFileError(Exception):
    """A --pidfile or --conmon-pidfile could not be written; the message is fit for the user."""


def _wait_blocking(pid: int) -> int | None:
    """Last resort after a failure of the event loop: wait for the container plainly."""
    while True:
        try:
            got, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return None
        if got == pid:
            return status
