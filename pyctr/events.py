"""The events journal: one JSON line per container, image and volume action, as podman's file backend.

    from pyctr import events
    events.record(runroot, "container", "start", id=..., name=..., image=..., attributes=labels)
    events.emit(config, "image", "pull", name=...)        # the same, with config's runroot and backend
    events.container(config, "start", container_record)  # a container's ID, name, image and labels

The file is `RUNROOT/events/events.log`; each line is the JSON podman's `events --format json`
prints (keys ContainerExitCode, ID, Image, Name, Status, Time, Type, health_status, Attributes).
Writing is one O_APPEND write of one line (atomic among concurrent writers) under a shared lock;
past MAX_SIZE the newest half is kept, rewritten atomically under the exclusive lock, so no
writer appends to a file that is being replaced. Recording never fails a command: errors
(a full disk, a read-only runroot) are swallowed.

The global `--events-backend none` (Config.events_backend, or PYCTR_EVENTS_BACKEND=none in the
environment) turns recording off.
"""

from __future__ import annotations

import os
import time

MAX_SIZE = 1 << 20  # bytes; past it, the newest half stays
BACKEND_ENV = "PYCTR_EVENTS_BACKEND"
# The order podman's Event struct gives its JSON keys.
_KEYS = ("ContainerExitCode", "ID", "Image", "Name", "Network", "Status", "Time", "Type", "health_status")


def log_path(runroot) -> str:
    return os.path.join(os.fspath(runroot), "events", "events.log")


def enabled(backend: str | None = None) -> bool:
    return (backend or os.environ.get(BACKEND_ENV, "file")) != "none"


def rfc3339(time_ns: int) -> str:
    """Go's RFC3339Nano in UTC: trailing zeros of the fraction dropped, as podman writes."""
    from pyctr.units import rfc3339_nano

    return rfc3339_nano(ns=time_ns)


def record(runroot, type: str, status: str, *, id: str = "", name: str = "", image: str = "",
           attributes: dict | None = None, exit_code: int | None = None, health_status: str = "",
           network: str = "", backend: str | None = None) -> None:
    """Append one event. Container events carry the container's labels as `attributes` (podman
    shows them and `--filter label=` matches them); `exit_code` goes with `died`.
    `backend`: "file", or "none" to record nothing (default: the environment's, else file)."""
    if not enabled(backend):
        return
    event = {"ContainerExitCode": exit_code or None, "ID": id, "Image": image, "Name": name, "Network": network,
             "Status": status, "Time": rfc3339(time.time_ns()), "Type": type, "health_status": health_status}
    line = {k: event[k] for k in _KEYS if event[k] not in (None, "")}
    # podman: {} for containers (their labels), null for the others.
    line["Attributes"] = dict(attributes or {}) if type == "container" else (dict(attributes) if attributes else None)
    try:
        import json

        _append(log_path(runroot), json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
    except (OSError, ValueError, TypeError):
        pass  # an event is never worth failing the action it describes


def emit(config, type: str, status: str, **fields) -> None:
    """record() in `config`'s runroot (a pyctr.config.Config), unless its events backend is none."""
    record(config.runroot, type, status, backend=getattr(config, "events_backend", None), **fields)


def container(config, status: str, ctr, **extra) -> None:
    """An event about a container (a pyctr.container.store.ContainerRecord)."""
    emit(config, "container", status, id=ctr.id, name=getattr(ctr, "name", ""), image=getattr(ctr, "image_name", ""),
         attributes=dict(getattr(ctr, "labels", None) or {}), **extra)


def _append(path: str, data: bytes, max_size: int | None = None) -> None:
    import fcntl

    lock = _open_lock(path)
    try:
        fcntl.flock(lock, fcntl.LOCK_SH)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, data)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        limit = MAX_SIZE if max_size is None else max_size
        if size > limit:
            fcntl.flock(lock, fcntl.LOCK_EX)  # converts the shared lock: no writer is inside now
            _rotate(path, limit)
    finally:
        os.close(lock)  # releases the lock


def _open_lock(path: str) -> int:
    try:
        return os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        return os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _rotate(path: str, limit: int) -> None:
    """Keep the newest half (from a line start), through a temporary file and a rename.
    Called with the exclusive lock held; checks the size again (another writer may have rotated)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size <= limit:
            return
        f.seek(size - limit // 2)
        f.readline()  # the rest of a cut line
        kept = f.read()
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as out:
            out.write(kept)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.rename(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# -- reading -----------------------------------------------------------------------------------

def read(runroot):
    """Every event in the journal, oldest first, as the dicts written (bad lines skipped)."""
    import json

    try:
        with open(log_path(runroot), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return
    for line in data.splitlines():
        event = _parse(json, line)
        if event is not None:
            yield event


def follow(runroot, *, from_start: bool, poll: float = 0.1, stop=None):
    """Like `tail -f` (from the start, or from the current end), across rotations; ends when
    `stop()` is true. A rotation keeps the newest half: we continue after the last line we saw."""
    import json

    path = log_path(runroot)
    f, buf, last = None, b"", b""
    skip_existing = not from_start  # only what is there now: a journal created later is all new
    try:
        while True:
            if f is None:
                try:
                    f = open(path, "rb")
                except FileNotFoundError:
                    pass
                else:
                    if last:  # a rotated journal: skip what we already gave
                        data = f.read()
                        at = data.rfind(last + b"\n")
                        f.seek(at + len(last) + 1 if at >= 0 else 0)
                    elif skip_existing:
                        f.seek(0, os.SEEK_END)
                skip_existing = False
            chunk = f.read() if f is not None else b""
            if chunk:
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    last = line
                    event = _parse(json, line)
                    if event is not None:
                        yield event
                continue
            if stop is not None and stop():
                return
            if f is not None and _replaced(path, f):
                f.close()
                f, buf = None, b""
                continue
            time.sleep(poll)
    finally:
        if f is not None:
            f.close()


def _replaced(path: str, f) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(f.fileno()).st_ino
    except FileNotFoundError:
        return True


def _parse(json, line: bytes) -> dict | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "Status" in event and "Time" in event else None
