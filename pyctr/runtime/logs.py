"""Reading container logs in podman's k8s-file format (written by pyctr.shim.klog).

Each record is `<RFC3339 timestamp> <stdout|stderr> <F|P> <text>`; P records are
pieces of a line continued by the next record of the same stream, so readers
join them and yield a line when its F record arrives. A line's time is that of
its first piece. Malformed records are skipped, never fatal.
"""

from __future__ import annotations

import os
import time
from typing import Callable, Iterable, Iterator, NamedTuple

from pyctr.units import parse_rfc3339

_STREAMS = ("stdout", "stderr")
_TAIL_WINDOW = 64 << 10


class LogLine(NamedTuple):
    time: float           # seconds since the epoch, of the line's first record
    stream: str           # "stdout" or "stderr"
    text: bytes           # without the newline; partial records joined
    timestamp_text: str   # the first record's timestamp, as written
    partial: bool = False  # the output ended without a newline (a last prompt)


# Record timestamps are read by the one time parser (units.parse_rfc3339, fast on our own format).
parse_timestamp = parse_rfc3339


class _Record(NamedTuple):
    stamp: str
    time: float
    stream: str
    full: bool
    text: bytes


def _parse_record(raw: bytes) -> _Record | None:
    """One log line (without its newline) -> a record, or None if malformed."""
    parts = raw.split(b" ", 3)
    if len(parts) < 3:
        return None
    try:
        stamp = parts[0].decode("ascii")
        when = parse_timestamp(stamp)
        stream = parts[1].decode("ascii")
        tag = parts[2].decode("ascii").split(":")[0]  # k8s tags may grow ":"-separated fields
    except (UnicodeDecodeError, ValueError):
        return None
    if stream not in _STREAMS or tag not in ("F", "P"):
        return None
    return _Record(stamp, when, stream, tag == "F", parts[3] if len(parts) == 4 else b"")


class _Joiner:
    """Joins P records into lines. With `cut` (reading from the middle of a file),
    a stream's first line may have lost pieces before the cut: it is `uncertain`."""

    def __init__(self, cut: bool = False):
        self.cut = cut
        self.pending: dict[str, tuple[_Record, list[bytes], bool]] = {}
        self.seen_full: set[str] = set()

    def add(self, rec: _Record) -> tuple[LogLine, bool] | None:
        first, pieces, uncertain = self.pending.pop(rec.stream, (rec, [], self._uncertain(rec.stream)))
        pieces.append(rec.text)
        if not rec.full:
            self.pending[rec.stream] = (first, pieces, uncertain)
            return None
        self.seen_full.add(rec.stream)
        return LogLine(first.time, rec.stream, b"".join(pieces), first.stamp), uncertain

    def _uncertain(self, stream: str) -> bool:
        return self.cut and stream not in self.seen_full

    def flush(self) -> list[tuple[LogLine, bool]]:
        """The unfinished lines, as partial lines in order of their first piece."""
        lines = [(LogLine(first.time, stream, b"".join(pieces), first.stamp, True), uncertain)
                 for stream, (first, pieces, uncertain) in self.pending.items()]
        self.pending.clear()
        return sorted(lines, key=lambda item: item[0].time)


def format_line(line: LogLine, timestamps: bool = False) -> bytes:
    """A line as `pyctr logs` prints it: [original timestamp + " "] text + newline
    (none after a partial last line)."""
    prefix = (line.timestamp_text + " ").encode() if timestamps else b""
    return prefix + line.text + (b"" if line.partial else b"\n")


def _wanted(line: LogLine, since: float | None, until: float | None) -> bool:
    """`since` is inclusive, `until` exclusive."""
    return (since is None or line.time >= since) and (until is None or line.time < until)


def _join(raw_lines: Iterable[bytes], joiner: _Joiner) -> Iterator[tuple[LogLine, bool]]:
    for raw in raw_lines:
        rec = _parse_record(raw)
        if rec is not None:
            done = joiner.add(rec)
            if done is not None:
                yield done


def read_log(path: str, *, tail: int | None = None, since: float | None = None,
             until: float | None = None) -> Iterator[LogLine]:
    """The lines of a log: all, or the last `tail` of those between since and until.
    A missing log file reads as empty."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        if tail is not None and tail >= 0:
            lines, joiner, _ = _tail(f, tail, since, until)
            yield from lines
            return
        joiner = _Joiner()
        complete = (raw[:-1] for raw in f if raw.endswith(b"\n"))  # a record being written is skipped
        for line, _ in _join(complete, joiner):
            if _wanted(line, since, until):
                yield line
        for line, _ in joiner.flush():
            if _wanted(line, since, until):
                yield line


def _tail(f, count: int, since, until, flush: bool = True) -> tuple[list[LogLine], _Joiner, int]:
    """The last `count` wanted lines, read backwards in growing windows from the end.
    -> (lines, joiner holding unfinished lines unless flushed, offset read up to)."""
    end = os.fstat(f.fileno()).st_size
    window = _TAIL_WINDOW
    while True:
        start = max(0, end - window)
        f.seek(start)
        data = f.read(end - start)
        end_of_data = data.rfind(b"\n") + 1  # up to the last complete record
        data = data[:end_of_data]
        if start > 0:
            data = data[data.find(b"\n") + 1:]  # the first record is cut
        joiner = _Joiner(cut=start > 0)
        found = list(_join(data.split(b"\n")[:-1], joiner))
        if flush:
            found += joiner.flush()
        selected = [(line, unsure) for line, unsure in found if _wanted(line, since, until)]
        selected = selected[-count:] if count else []
        enough = len(selected) >= count and not any(unsure for _, unsure in selected)
        if start == 0 or enough or count == 0:
            return [line for line, _ in selected], joiner, start + end_of_data
        # Grow by what the lines found so far suggest, at least doubling.
        window = max(window * 2, int(window * 1.25 * count / max(1, len(found))))


def follow_log(path: str, *, is_finished: Callable[[], bool], tail: int | None = None,
               since: float | None = None, poll: float = 0.1) -> Iterator[LogLine]:
    """Like read_log, then keep yielding lines as they are written until is_finished()
    is true and no more data follows; unfinished lines are then yielded as partial."""
    while not os.path.exists(path):
        if is_finished():
            if not os.path.exists(path):
                return
            break
        time.sleep(poll)
    with open(path, "rb") as f:
        if tail is not None and tail >= 0:
            lines, joiner, offset = _tail(f, tail, since, None, flush=False)
            joiner.cut = False  # later lines start after the cut
            yield from lines
        else:
            joiner, offset = _Joiner(), 0
        f.seek(offset)
        buf = b""
        finishing = False
        while True:
            chunk = f.read(65536)
            if chunk:
                buf += chunk
                cut = buf.rfind(b"\n") + 1
                complete, buf = buf[:cut], buf[cut:]
                for line, _ in _join(complete.split(b"\n")[:-1], joiner):
                    if _wanted(line, since, None):
                        yield line
                continue
            if os.fstat(f.fileno()).st_size < f.tell():  # truncated: start over
                f.seek(0)
                buf, joiner = b"", _Joiner()
                continue
            if finishing:
                for line, _ in joiner.flush():
                    if _wanted(line, since, None):
                        yield line
                return
            if is_finished():
                finishing = True  # one more read: the last output may have landed meanwhile
                continue
            time.sleep(poll)


def until(lines: Iterable[LogLine], limit: float) -> Iterator[LogLine]:
    """The lines up to `limit` (exclusive); a follower stops at the first line past it."""
    for line in lines:
        if line.time >= limit:
            return
        yield line


def merge(streams: list[Iterator], *, follow: bool = False) -> Iterator:
    """Several containers' (container, LogLine) streams as one, by time. Followed streams block
    while they wait for output: each is read by a thread, and lines are yielded as they come
    (which is by time, give or take the readers' poll)."""
    if not follow:
        import heapq

        return heapq.merge(*streams, key=lambda item: item[1].time)
    return _merge_live(streams)


def _merge_live(streams: list[Iterator]) -> Iterator:
    import queue
    import threading

    found: queue.Queue = queue.Queue(maxsize=1024)
    done = object()

    def read(stream) -> None:
        try:
            for item in stream:
                found.put(item)
        except BaseException as exc:  # reported by the consumer
            found.put(exc)
        finally:
            found.put(done)

    for stream in streams:
        threading.Thread(target=read, args=(stream,), daemon=True).start()
    running = len(streams)
    while running:
        batch = [found.get()]
        time.sleep(0.15)  # longer than a reader's poll: what came meanwhile is sorted in
        while True:
            try:
                batch.append(found.get_nowait())
            except queue.Empty:
                break
        lines = []
        for item in batch:
            if item is done:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                lines.append(item)
        yield from sorted(lines, key=lambda item: item[1].time)
