"""The container's health check, run by its shim on schedule (no daemon, no systemd timer).

Every `interval` after the previous check ended, `runc exec` runs the check in the container
with its output on a pipe the pump drains (only its head is kept: a check may print without
end); a timer kills it after `timeout`. The result goes to the status
file through pyctr.container.health (the same rules as `pyctr healthcheck run`). Once the
container is unhealthy, the on-failure action (kill, stop, restart) is the engine's: the shim
runs the command the engine gave it for that, once.

Everything happens on the pump's loop (a timer and a child callback): nothing blocks it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from pyctr.container import health
from pyctr.linux.fsutil import atomic_write_json
from pyctr.runtime.runc import Runc

PROCESS_FILE = "health-process.json"
PID_FILE = "health.pid"
DRAIN_CHUNKS = 64  # reads of what is left in the pipe once the check ended (a leftover process may go on)


class HealthChecker:
    def __init__(self, config, pump, note):
        self.check = config.health
        self.pump = pump
        self.note = note  # the shim's diagnostics (shim.log)
        self.id = config.id
        self.state_dir = config.state_dir
        self.runc = Runc(config.runc_root, config.runc, extra_args=config.runc_extra_args)
        self.proc: subprocess.Popen | None = None
        self.began = 0.0
        self.timed_out = False
        self.kill_timer = None
        self.acted = False
        self.output: health.OutputKeeper | None = None

    def start(self) -> None:
        """At the container's start: "starting" again, and the first check after one interval."""
        try:
            health.set_starting(self.check["status_file"])
        except Exception as exc:  # noqa: BLE001 - the container runs all the same
            self.note(f"health check: writing {self.check['status_file']}: {exc}")
        self._schedule()

    def _schedule(self) -> None:
        if self.check["interval"] > 0 and self.pump.exit_status is None:
            self.pump.call_at(time.monotonic() + self.check["interval"], self._run)

    def _path(self, name: str) -> str:
        return os.path.join(self.state_dir, name)

    def _run(self) -> None:
        if self.pump.exit_status is not None:
            return
        if self._paused():
            self._schedule()
            return
        try:
            self._spawn()
        except Exception as exc:  # noqa: BLE001 - try again at the next interval
            self.note(f"health check: {exc}")
            self._schedule()

    def _paused(self) -> bool:
        try:
            with open(self.check.get("engine_state", ""), "rb") as f:
                return bool(json.load(f).get("paused"))
        except (OSError, ValueError, AttributeError):
            return False

    def _process_file(self) -> str:
        path = self._path(PROCESS_FILE)
        if not os.path.exists(path):
            with open(self.check["bundle_config"], "rb") as f:
                process = json.load(f)["process"]
            atomic_write_json(path, health.process_for(process, self.check["argv"]), mode=0o600)
        return path

    def _spawn(self) -> None:
        process_file = self._process_file()
        try:
            os.unlink(self._path(PID_FILE))
        except FileNotFoundError:
            pass
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        try:
            argv = self.runc.exec_argv(self.id, process_file, tty=False, detach=False, pid_file=self._path(PID_FILE))
            self.began = time.time()
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=write_fd, stderr=write_fd,
                                         close_fds=True, cwd="/")
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self.output = health.OutputKeeper(read_fd)
        self.pump.watch_reader(read_fd, self._on_output)
        self.timed_out = False
        self.pump.children[self.proc.pid] = self._done
        self.kill_timer = self.pump.call_at(time.monotonic() + self.check["timeout"], self._kill)

    def _kill(self) -> None:
        """Past the timeout: the check's process first (runc exec waits for it), then runc."""
        self.timed_out = True
        try:
            with open(self._path(PID_FILE)) as f:
                os.kill(int(f.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        if self.proc is not None:
            try:
                self.proc.kill()
            except OSError:
                pass

    def _on_output(self) -> None:
        if self.output is not None and self.output.fd >= 0 and self.output.read():
            self._close_output()

    def _close_output(self) -> None:
        """Stop reading the check's output (what was kept of it stays in self.output.data)."""
        if self.output is not None and self.output.fd >= 0:
            self.pump.unwatch(self.output.fd)
            os.close(self.output.fd)
            self.output.fd = -1

    def _done(self, status: int) -> None:
        ended = time.time()
        self.pump.cancel(self.kill_timer)
        code = os.waitstatus_to_exitcode(status)
        if self.proc is not None:
            self.proc.returncode = code  # reaped by the pump
            self.proc = None
        output = ""
        if self.output is not None:
            if self.output.fd >= 0:
                self.output.read(DRAIN_CHUNKS)
            self._close_output()
            output, self.output = health.output_text(bytes(self.output.data)), None
        if self.pump.exit_status is not None:
            return  # the container ended meanwhile: nothing to say about its health
        if self.timed_out or code < 0:
            code = -1  # podman's code for a check that did not finish in time
        try:
            new = health.record_result(
                self.check["status_file"], start=self.began, end=ended, exit_code=code, output=output,
                retries=self.check["retries"],
                in_start_period=self.began < self.pump_started() + self.check["start_period"])
        except Exception as exc:  # noqa: BLE001
            self.note(f"health check: writing {self.check['status_file']}: {exc}")
            new = {}
        if new.get("Status") and self.check.get("event"):
            self._event(new["Status"])
        if new.get("Status") == health.UNHEALTHY and self.check["action_argv"] and not self.acted:
            self._act()
        self._schedule()

    def _event(self, status: str) -> None:
        from pyctr import events  # small: os and time

        event = self.check["event"]
        events.record(event["runroot"], "container", "health_status", id=event["id"], name=event["name"],
                      image=event["image"], attributes=event["attributes"], health_status=status, backend="file")

    def pump_started(self) -> float:
        return self.pump.started_at or self.pump.first_output_at or self.began

    def _act(self) -> None:
        """The on-failure action, by the engine's own command (it stops or kills us too)."""
        self.acted = True
        argv = self.check["action_argv"]
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, close_fds=True, cwd="/", start_new_session=True)
        except OSError as exc:
            self.note(f"health check: running {argv[0]}: {exc}")
            return
        self.pump.children[proc.pid] = lambda status: setattr(proc, "returncode", os.waitstatus_to_exitcode(status))
