"""Health checks: the check a container has, its status file, and podman's rules for both.

The container's shim runs the check on schedule (pyctr.shim.health); `pyctr healthcheck run`
runs it once (pyctr.engine.containers). Both record each result here, so that the status
moves the same way whoever ran the check.

The status file is podman's `healthcheck.log` in the container's userdata directory:
    {"Status": "starting|healthy|unhealthy", "FailingStreak": N,
     "Log": [{"Start": RFC 3339, "End": RFC 3339, "ExitCode": N, "Output": "..."}, ...]}
kept to the last MAX_LOG results, replaced atomically under its own lock.

The shim imports this module: the standard library and pyctr.linux.fsutil only at the top
(no dataclasses: their `inspect` costs a shim more than it needs); the parsing of flags
imports the spec where it is used.
"""

from __future__ import annotations

import json
import os
import time

from pyctr.linux.fsutil import atomic_write_json, locked

STATUS_FILE = "healthcheck.log"
STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"
ACTIONS = ("none", "kill", "restart", "stop")
DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
MAX_LOG = 5  # results kept (podman's MaxHealthCheckNumberLogs)
MAX_OUTPUT = 500  # characters of output kept per result (podman's MaxHealthCheckLogLength)
NS = 1_000_000_000


# -- the check a container has ----------------------------------------------------------------

def parse_test(text: str) -> list[str]:
    """--health-cmd as podman reads it: a JSON list or a string; -> podman's Test form
    (["CMD-SHELL", "cmd"], ["CMD", arg, ...] or ["NONE"])."""
    from pyctr.errors import InvalidArgument

    try:
        words = json.loads(text)
        is_list = isinstance(words, list) and all(isinstance(w, str) for w in words)
    except ValueError:
        is_list = False
    if not is_list:
        words = text.split(" ", 1)
    if not words:
        raise InvalidArgument("must define a healthcheck command for all healthchecks")
    if words[0] in ("CMD", "none"):
        # podman splits the text on blanks here; a JSON list stays a list (podman would keep
        # its text as one word, which never runs).
        words = list(words) if is_list else text.split()
    elif words[0] != "CMD-SHELL":
        words = ["CMD", *words] if is_list and len(words) > 1 else ["CMD-SHELL", " ".join(words)]
    return ["NONE"] if words[0] == "none" else list(words)


def _seconds(text: str, flag: str) -> float:
    from pyctr.errors import InvalidArgument
    from pyctr.units import parse_duration

    if text and text.strip("0123456789.") == "" and text not in ("0", ""):
        raise InvalidArgument(f'invalid {flag}: time: missing unit in duration "{text}"')
    try:
        return parse_duration(text)
    except ValueError:
        raise InvalidArgument(f'invalid {flag}: time: invalid duration "{text}"') from None


def from_flags(cmd: str | None, interval: str, retries: int, timeout: str, start_period: str,
               on_failure: str, no_healthcheck: bool):
    """The spec's HealthSpec from run/create's --health-* flags, with podman's checks and texts."""
    from pyctr.container.spec import HealthSpec
    from pyctr.errors import InvalidArgument

    health = HealthSpec(on_failure=on_failure)
    if cmd:
        if no_healthcheck:
            raise InvalidArgument("cannot specify both --no-healthcheck and --health-cmd")
        health.test = parse_test(cmd)
        health.interval = 0.0 if interval == "disable" else _seconds(interval, "healthcheck-interval")
        if retries < 1:
            raise InvalidArgument("healthcheck-retries must be greater than 0")
        health.retries = retries
        health.timeout = _seconds(timeout, "healthcheck-timeout")
        if health.timeout < 1e-9:
            raise InvalidArgument("healthcheck-timeout must be at least 1 second")
        health.start_period = _seconds(start_period, "healthcheck-start-period")
        if health.start_period < 0:
            raise InvalidArgument("healthcheck-start-period must be 0 seconds or greater")
    elif no_healthcheck:
        health.test = ["NONE"]
    return health


def validate(health: dict | None) -> None:
    """What needs no image (spec.validate)."""
    from pyctr.errors import InvalidArgument

    action = (health or {}).get("on_failure", "none")
    if action not in ACTIONS:
        raise InvalidArgument(f'invalid on-failure action "{action}" for health check: supported actions are {",".join(ACTIONS)}')


def check_with_image(health: dict | None, image_config: dict) -> None:
    """At create, once the image is known: an on-failure action needs a check."""
    from pyctr.errors import InvalidArgument

    action = (health or {}).get("on_failure", "none")
    if action != "none" and config_of(health, image_config) is None:
        raise InvalidArgument(f"cannot set on-failure action to {action} without a health check")


def config_of(health: dict | None, image_config: dict) -> dict | None:
    """podman's Config.Healthcheck (durations in nanoseconds) from the spec's health group (as
    stored: a dict) and the image's HEALTHCHECK; None when there is neither. {"Test": ["NONE"]}
    for --no-healthcheck: shown by inspect, but no check (see command_of)."""
    health = health or {}
    test = health.get("test")
    if test is None:
        image = image_config.get("Healthcheck") or image_config.get("HealthCheck")
        if not image or not image.get("Test"):
            return None
        # The image's, with the defaults where it leaves a value out (as podman and docker).
        return {"Test": list(image["Test"]), "StartPeriod": int(image.get("StartPeriod") or 0),
                "Interval": int(image.get("Interval") or DEFAULT_INTERVAL * NS),
                "Timeout": int(image.get("Timeout") or DEFAULT_TIMEOUT * NS),
                "Retries": int(image.get("Retries") or DEFAULT_RETRIES)}
    if test == ["NONE"] and health.get("interval") is None:
        return {"Test": ["NONE"]}

    def given(name: str, default: float) -> float:
        value = health.get(name)
        return default if value is None else value

    return {"Test": list(test), "StartPeriod": int(given("start_period", 0) * NS),
            "Interval": int(given("interval", DEFAULT_INTERVAL) * NS),
            "Timeout": int(given("timeout", DEFAULT_TIMEOUT) * NS),
            "Retries": int(given("retries", DEFAULT_RETRIES))}


def inspect_config(config: dict | None) -> dict | None:
    """Config.Healthcheck as podman prints it: StartPeriod only when set."""
    if config is None:
        return None
    shown = {"Test": config["Test"]}
    if config.get("StartPeriod"):
        shown["StartPeriod"] = config["StartPeriod"]
    shown.update({k: config[k] for k in ("Interval", "Timeout", "Retries") if k in config})
    return shown


def command_of(config: dict | None) -> list[str] | None:
    """The argv of the check (podman's: CMD-SHELL runs /bin/sh -c); None when there is none."""
    test = (config or {}).get("Test") or []
    if not test or test[0] in ("", "NONE"):
        return None
    if test[0] == "CMD":
        argv = test[1:]
    elif test[0] == "CMD-SHELL":
        argv = ["/bin/sh", "-c", " ".join(test[1:])]
    else:
        argv = list(test)
    return argv if argv and argv[0] else None


def process_for(process: dict, argv: list[str]) -> dict:
    """The process of `runc exec` for the check: the container's (user, env, cwd, capabilities)
    running `argv`, without a terminal."""
    process = dict(process)
    process["args"] = list(argv)
    process["terminal"] = False
    process.pop("consoleSize", None)
    return process


# -- the status file --------------------------------------------------------------------------

def status_path(container_dir: str | os.PathLike) -> str:
    return os.path.join(container_dir, "userdata", STATUS_FILE)


def read_status(path: str) -> dict:
    """The status file, or an empty status (Status "") when there is none yet."""
    try:
        with open(path, "rb") as f:
            data = json.load(f)
        if isinstance(data, dict):
            # In podman's order (the file is written with sorted keys).
            log = [{key: entry.get(key) for key in ("Start", "End", "ExitCode", "Output")}
                   for entry in data.get("Log") or [] if isinstance(entry, dict)]
            return {"Status": data.get("Status", ""), "FailingStreak": int(data.get("FailingStreak", 0)), "Log": log}
    except (OSError, ValueError, TypeError):
        pass
    return {"Status": "", "FailingStreak": 0, "Log": []}


def _update(path: str, change) -> dict:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with locked(path + ".lock"):
        status = read_status(path)
        change(status)
        atomic_write_json(path, status, mode=0o600)
    return status


def set_starting(path: str) -> dict:
    """At each start: "starting" again; the log and the failing streak stay (as podman's)."""
    return _update(path, lambda status: status.update(Status=STARTING))


def record_result(path: str, *, start: float, end: float, exit_code: int, output: str, retries: int,
           in_start_period: bool) -> dict:
    """Add one result and move the status as podman does: a success makes it healthy (streak 0);
    a failure outside the start period adds to the streak, and `retries` failures in a row
    make it unhealthy. -> the new status."""
    def change(status: dict) -> None:
        if exit_code == 0:
            status["Status"], status["FailingStreak"] = HEALTHY, 0
        else:
            if not status["Status"]:
                status["Status"] = HEALTHY
            if not in_start_period:
                status["FailingStreak"] += 1
                if status["FailingStreak"] >= retries:
                    status["Status"] = UNHEALTHY
        entry = {"Start": rfc3339(start), "End": rfc3339(end), "ExitCode": exit_code, "Output": output}
        status["Log"] = (status["Log"] + [entry])[-MAX_LOG:]

    return _update(path, change)


def output_text(raw: bytes) -> str:
    """What a result keeps of the check's output (stdout and stderr together): its lines
    joined by newlines, cut to MAX_OUTPUT characters."""
    text = raw.decode(errors="replace")
    return "\n".join(text.splitlines())[:MAX_OUTPUT]


def rfc3339(ts: float) -> str:
    """A check's Start and End as podman writes them (Go's RFC3339Nano: trailing zeros dropped)."""
    from pyctr.units import rfc3339_nano

    return rfc3339_nano(ts)


def in_start_period(config: dict, started_at: float, now: float) -> bool:
    period = config.get("StartPeriod", 0) / NS
    return period > 0 and now < started_at + period


def of_record(record) -> dict | None:
    """The check of a container record (pyctr.container.store.ContainerRecord), as config_of."""
    return config_of(record.spec_data.get("health"), record.image_config)


def on_failure_of(record) -> str:
    return (record.spec_data.get("health") or {}).get("on_failure", "none")


def for_shim(record, store, config) -> dict:
    """What the container's shim needs to run its check on schedule; {} for none.
    `store`: the ContainerStore; `config`: the engine's Config (for the on-failure command)."""
    check = of_record(record)
    argv = command_of(check)
    if argv is None:
        return {}
    action = on_failure_of(record)
    action_argv = []
    if action != "none":
        from pyctr import dist
        from pyctr.engine.options import config_argv

        # The engine's own command: kill and stop keep it stopped, restart starts it again.
        action_argv = [*dist.command_argv(), "--root", str(config.root), "--runroot",
                       str(config.runroot), *config_argv(config), action, record.id]
    from pyctr import events

    # The shim records a health_status event after each check (as podman's), unless events are off.
    event = ({"runroot": str(config.runroot), "id": record.id, "name": record.name, "image": record.image_name,
              "attributes": dict(record.labels)} if events.enabled(getattr(config, "events_backend", None)) else {})
    return {"argv": argv, "interval": check["Interval"] / NS, "timeout": check["Timeout"] / NS,
            "start_period": check.get("StartPeriod", 0) / NS, "retries": check["Retries"],
            "status_file": status_path(store.path(record.id)),
            "bundle_config": str(store.bundle(record.id) / "config.json"), "action_argv": action_argv,
            # The engine's state.json: a paused container is not checked (podman's check needs it running).
            "engine_state": str(store.path(record.id) / "state.json"),
            "event": event}


# -- one check now (`pyctr healthcheck run`) ---------------------------------------------------

def run_once(tasks, record) -> tuple[bool, str]:
    """Run the container's check once, in this process, and record it: (passed, the new status).
    `tasks`: pyctr.container.tasks.TaskService. Errors as podman's `healthcheck run`."""
    from pyctr.errors import ContainerStateError, InvalidArgument

    store = tasks.store
    state = store.status(record.id)
    if state.state != "running":
        raise ContainerStateError(f"container {record.id} is not running")
    check = of_record(record)
    argv = command_of(check)
    if argv is None:
        raise InvalidArgument(f"container {record.id} has no defined healthcheck")
    with open(store.bundle(record.id) / "config.json", "rb") as f:
        process = process_for(json.load(f)["process"], argv)
    base = store.state_dir(record.id) / f"health-{os.getpid()}-{time.monotonic_ns()}"
    files = [f"{base}.json", f"{base}.pid"]
    try:
        atomic_write_json(files[0], process, mode=0o600)
        runc_argv = tasks.runc.exec_argv(record.id, files[0], tty=False, detach=False, pid_file=files[1])
        start = time.time()
        code, output = _run_check(runc_argv, check["Timeout"] / NS, files[1])
        end = time.time()
    finally:
        for path in files:
            try:
                os.unlink(path)
            except OSError:
                pass
    code = -1 if code < 0 else code
    status = record_result(status_path(store.path(record.id)), start=start, end=end, exit_code=code,
                           output=output, retries=check["Retries"],
                           in_start_period=in_start_period(check, state.started_at, start))
    return code == 0, status["Status"]


def _run_check(argv: list[str], timeout: float, pid_file: str) -> tuple[int, str]:
    """Run `runc exec` of the check with its output on a pipe, of which only the head is kept
    (a check may print without end); -> (exit code, -1 past the timeout; the output kept)."""
    import selectors
    import subprocess

    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=write_fd, stderr=write_fd, close_fds=True)
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    deadline = time.monotonic() + timeout
    output = OutputKeeper(read_fd)
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(read_fd, selectors.EVENT_READ)
            # Until the end of its output, or of runc (a process the check left behind may hold the pipe).
            while not output.eof and proc.poll() is None and (remaining := deadline - time.monotonic()) > 0:
                if selector.select(min(remaining, 0.25)):
                    output.read(16)
        try:
            code = proc.wait(timeout=max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            _kill_check(pid_file, proc)
            code = -1
        output.read(64)
    finally:
        os.close(read_fd)
    return code, output_text(bytes(output.data))


class OutputKeeper:
    """A check's output (stdout and stderr on one non-blocking pipe): the first KEEP bytes
    are kept, the rest is read and dropped, so that output without end costs no space."""

    KEEP = 64 << 10  # far more than MAX_OUTPUT characters need

    def __init__(self, fd: int):
        self.fd = fd
        self.data = bytearray()
        self.eof = False
        os.set_blocking(fd, False)

    def read(self, chunks: int = 1) -> bool:
        """Read at most `chunks` times what the pipe holds; -> whether it reached its end."""
        for _ in range(chunks):
            if self.eof:
                break
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                self.eof = True
            elif len(self.data) < self.KEEP:
                self.data += chunk[: self.KEEP - len(self.data)]
        return self.eof


def _kill_check(pid_file: str, proc) -> None:
    import signal

    try:
        with open(pid_file) as f:
            os.kill(int(f.read().strip()), signal.SIGKILL)
    except (OSError, ValueError):
        pass
    proc.kill()
    proc.wait()
