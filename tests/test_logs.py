"""pyctr.runtime.logs: reading k8s-file logs (as written by pyctr.shim.klog)."""

from __future__ import annotations

import threading
import time

import pytest

from pyctr.runtime import logs
from pyctr.shim import klog

T0 = 1_800_000_000 * 10**9  # 2027-01-15T08:00:00Z in ns


def stamp(seconds: float) -> str:
    return klog.timestamp(T0 + int(seconds * 1e9))


def rec(seconds: float, stream: str, tag: str, text: str) -> bytes:
    return f"{stamp(seconds)} {stream} {tag} {text}\n".encode()


def write(path, *records: bytes) -> str:
    path.write_bytes(b"".join(records))
    return str(path)


def texts(lines) -> list[bytes]:
    return [line.text for line in lines]


def test_timestamp_format_and_parse_round_trip():
    text = klog.timestamp(T0 + 123456789)
    assert text == "2027-01-15T08:00:00.123456789Z"
    assert logs.parse_timestamp(text) == pytest.approx(T0 / 1e9 + 0.123456789)
    # podman writes local time with an offset; any fraction length is accepted.
    assert logs.parse_timestamp("2027-01-15T09:00:00.5+01:00") == pytest.approx(T0 / 1e9 + 0.5)
    assert logs.parse_timestamp("2027-01-15T08:00:00Z") == T0 / 1e9
    with pytest.raises(ValueError):
        logs.parse_timestamp("yesterday")


def test_records_split_lines_and_mark_partial_ones():
    assert klog.records("stdout", b"a\nb\nc", "TS") == b"TS stdout F a\nTS stdout F b\nTS stdout P c\n"
    assert klog.records("stderr", b"\n", "TS") == b"TS stderr F \n"
    assert klog.records("stdout", b"x\n", "TS") == b"TS stdout F x\n"


def test_read_joins_partial_records_per_stream(tmp_path):
    path = write(tmp_path / "log",
                 rec(0, "stdout", "P", "ab"), rec(1, "stderr", "P", "x"), rec(2, "stdout", "P", "c"),
                 rec(3, "stderr", "F", "y"), rec(4, "stdout", "F", "d"), rec(5, "stdout", "F", ""))
    lines = list(logs.read_log(path))
    assert [(line.stream, line.text) for line in lines] == [
        ("stderr", b"xy"), ("stdout", b"abcd"), ("stdout", b"")]
    assert lines[1].timestamp_text == stamp(0) and lines[1].time == pytest.approx(T0 / 1e9)
    assert not any(line.partial for line in lines)


def test_text_keeps_spaces_and_binary(tmp_path):
    path = tmp_path / "log"
    path.write_bytes(f"{stamp(0)} stdout F  two  spaces \xff\n".encode("latin-1"))
    assert texts(logs.read_log(str(path))) == [b" two  spaces \xff"]


def test_malformed_lines_are_skipped(tmp_path):
    path = write(tmp_path / "log",
                 b"garbage\n", rec(0, "stdout", "F", "ok"), b"2027-13-45T99 stdout F bad\n",
                 f"{stamp(1)} stdnone F bad\n".encode(), f"{stamp(1)} stdout X bad\n".encode(),
                 b"\n", f"{stamp(2)} stdout F".encode() + b"\n", rec(3, "stdout", "F", "end"),
                 f"{stamp(4)} stdout F being written".encode())  # no newline yet: skipped
    assert texts(logs.read_log(path)) == [b"ok", b"", b"end"]


def test_unfinished_line_at_the_end_is_partial(tmp_path):
    path = write(tmp_path / "log", rec(0, "stdout", "F", "a"), rec(1, "stdout", "P", "prompt> "))
    lines = list(logs.read_log(path))
    assert [(line.text, line.partial) for line in lines] == [(b"a", False), (b"prompt> ", True)]
    assert logs.format_line(lines[1]) == b"prompt> "
    assert logs.format_line(lines[0]) == b"a\n"
    assert logs.format_line(lines[0], timestamps=True) == f"{stamp(0)} a\n".encode()


def test_missing_log_reads_empty(tmp_path):
    assert list(logs.read_log(str(tmp_path / "nope"))) == []
    assert list(logs.read_log(str(tmp_path / "nope"), tail=3)) == []


def test_since_and_until(tmp_path):
    path = write(tmp_path / "log", *(rec(i, "stdout", "F", str(i)) for i in range(5)))
    base = T0 / 1e9
    assert texts(logs.read_log(path, since=base + 2)) == [b"2", b"3", b"4"]
    assert texts(logs.read_log(path, until=base + 2)) == [b"0", b"1"]
    assert texts(logs.read_log(path, since=base + 1, until=base + 3)) == [b"1", b"2"]
    assert texts(logs.read_log(path, tail=1, until=base + 3)) == [b"2"]
    assert texts(logs.read_log(path, tail=4, since=base + 2)) == [b"2", b"3", b"4"]


def test_tail(tmp_path):
    path = write(tmp_path / "log", *(rec(i, "stdout", "F", str(i)) for i in range(5)))
    assert texts(logs.read_log(path, tail=2)) == [b"3", b"4"]
    assert texts(logs.read_log(path, tail=0)) == []
    assert texts(logs.read_log(path, tail=99)) == [b"0", b"1", b"2", b"3", b"4"]
    assert texts(logs.read_log(path, tail=-1)) == texts(logs.read_log(path))


def test_tail_of_a_large_log_reads_back_far_enough(tmp_path):
    # 50k lines, a line split in many pieces just before the end, and a
    # stderr line whose previous record is far back: the window must grow.
    records = [rec(0, "stderr", "F", "old")]
    records += [rec(1, "stdout", "F", f"line {i}") for i in range(50_000)]
    records += [rec(2, "stdout", "P", "x" * 1000) for _ in range(100)] + [rec(2, "stdout", "F", "!")]
    records += [rec(3, "stderr", "F", "new")]
    path = write(tmp_path / "log", *records)
    lines = list(logs.read_log(path, tail=3))
    assert [(line.stream, line.text) for line in lines] == [
        ("stdout", b"line 49999"), ("stdout", b"x" * 100_000 + b"!"), ("stderr", b"new")]
    assert texts(logs.read_log(path, tail=50_003))[0] == b"old"


def test_tail_counts_a_stream_whose_pieces_span_the_window(tmp_path):
    records = [rec(0, "stdout", "P", "start-")]
    records += [rec(1, "stderr", "F", "e" * 100) for _ in range(2000)]
    records += [rec(2, "stdout", "F", "end")]
    path = write(tmp_path / "log", *records)
    assert texts(logs.read_log(path, tail=1)) == [b"start-end"]


def test_follow_yields_lines_as_written_and_stops_when_finished(tmp_path):
    path = tmp_path / "log"
    finished = threading.Event()

    def writer():
        time.sleep(0.2)  # the file does not exist yet when following starts
        with open(path, "ab", buffering=0) as f:
            f.write(rec(0, "stdout", "F", "one"))
            time.sleep(0.2)
            f.write(rec(1, "stdout", "P", "tw"))
            f.write(f"{stamp(1)} stdout F o".encode())  # a record cut mid-write
            time.sleep(0.2)
            f.write(b"\n" + rec(2, "stdout", "P", "tail"))
        finished.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen = []
    started = time.monotonic()
    for line in logs.follow_log(str(path), is_finished=finished.is_set, poll=0.02):
        seen.append((line.text, line.partial, round(time.monotonic() - started, 1)))
    thread.join()
    assert [(text, partial) for text, partial, _ in seen] == [
        (b"one", False), (b"two", False), (b"tail", True)]
    assert seen[0][2] < 0.4  # yielded as it was written, not at the end


def test_follow_with_tail_and_since(tmp_path):
    path = write(tmp_path / "log", *(rec(i, "stdout", "F", str(i)) for i in range(5)))
    done = lambda: True  # noqa: E731
    assert texts(logs.follow_log(path, is_finished=done, tail=2)) == [b"3", b"4"]
    assert texts(logs.follow_log(path, is_finished=done, since=T0 / 1e9 + 3)) == [b"3", b"4"]
    assert texts(logs.follow_log(path, is_finished=done, tail=0)) == []


def test_follow_continues_after_tail(tmp_path):
    path = tmp_path / "log"
    write(path, rec(0, "stdout", "F", "a"), rec(1, "stdout", "P", "b"))
    finished = threading.Event()
    got = []

    def follow():
        got.extend(logs.follow_log(str(path), is_finished=finished.is_set, tail=1, poll=0.02))

    thread = threading.Thread(target=follow)
    thread.start()
    time.sleep(0.2)
    with open(path, "ab") as f:
        f.write(rec(2, "stdout", "F", "c"))
    time.sleep(0.2)
    finished.set()
    thread.join(timeout=10)
    assert texts(got) == [b"a", b"bc"]


def test_follow_of_a_log_never_written(tmp_path):
    assert list(logs.follow_log(str(tmp_path / "none"), is_finished=lambda: True)) == []


# -- several containers, log drivers (held against podman 4.3.1) -------------------------------

def test_merge_orders_the_lines_of_several_logs_by_time(tmp_path):
    one = write(tmp_path / "one", rec(0, "stdout", "F", "a"), rec(2, "stdout", "F", "c"))
    two = write(tmp_path / "two", rec(1, "stdout", "F", "b"), rec(3, "stderr", "F", "d"))
    streams = [(("one", line) for line in logs.read_log(one)), (("two", line) for line in logs.read_log(two))]
    assert [(who, line.text) for who, line in logs.merge(streams)] == [
        ("one", b"a"), ("two", b"b"), ("one", b"c"), ("two", b"d")]
    assert texts(logs.until(logs.read_log(one), T0 / 1e9 + 1)) == [b"a"]


def test_merge_of_followers_yields_what_each_brings(tmp_path):
    def slow(name, items):
        for seconds, text in items:
            time.sleep(0.05)
            yield name, logs.LogLine(T0 / 1e9 + seconds, "stdout", text, stamp(seconds))

    merged = logs.merge([slow("a", [(0, b"1"), (2, b"3")]), slow("b", [(1, b"2")])], follow=True)
    assert sorted(line.text for _, line in merged) == [b"1", b"2", b"3"]


def test_logs_of_several_containers_as_podman(pyctr, image):
    pyctr("run", "--name", "l1", image, "sh", "-c", "echo one; sleep 0.3; echo three")
    pyctr("run", "--name", "l2", image, "echo", "two")
    l1 = pyctr("inspect", "-f", "{{.Id}}", "l1").stdout.strip()
    l2 = pyctr("inspect", "-f", "{{.Id}}", "l2").stdout.strip()
    # podman: several containers are prefixed by their short IDs, or with --names their names; one is not.
    assert pyctr("logs", "l1", "l2").stdout == f"{l1[:12]} one\n{l1[:12]} three\n{l2[:12]} two\n"
    assert pyctr("logs", "-n", "l1", "l2").stdout == "l1 one\nl1 three\nl2 two\n"
    assert pyctr("logs", "-n", "l1").stdout == "one\nthree\n"
    # --color: a colour per container in the order named (podman: white, red, yellow, ...).
    assert pyctr("logs", "--color", "-n", "l1", "l2").stdout == (
        "\033[37ml1 one\033[0m\n\033[37ml1 three\033[0m\n\033[31ml2 two\033[0m\n")
    assert pyctr("logs", "-l").stdout == "two\n"
    assert pyctr("logs", "--tail", "1", "-n", "l1", "l2").stdout == "l1 three\nl2 two\n"
    stamped = pyctr("logs", "-t", "-n", "l1", "l2").stdout.splitlines()[0].split()
    assert stamped[0] == "l1" and stamped[1].endswith("Z") and stamped[2] == "one"
    assert pyctr("logs", "-f", "-n", "l1", "l2").stdout == "l1 one\nl1 three\nl2 two\n"
    none = pyctr("logs", check=False)
    assert (none.returncode, none.stderr) == (125, "Error: specify at least one container name or ID to log\n")
    missing = pyctr("logs", "l1", "nope", check=False)
    assert missing.returncode == 125 and missing.stdout == ""


def test_log_drivers_and_options(pyctr, image, tmp_path):
    pyctr("run", "--name", "dn", "--log-driver", "none", image, "echo", "hi")
    refused = pyctr("logs", "dn", check=False)
    assert (refused.returncode, refused.stderr) == (125, "Error: this container is using the 'none' log driver, "
                                                         "cannot read logs: this container is not logging output\n")
    assert pyctr("inspect", "-f", "{{.HostConfig.LogConfig.Type}}:{{.HostConfig.LogConfig.Path}}", "dn").stdout == "none:\n"
    # json-file is the k8s-file format in podman 4 (its inspect still says json-file).
    pyctr("run", "--name", "dj", "--log-driver", "json-file", image, "echo", "hi")
    assert pyctr("logs", "dj").stdout == "hi\n"
    assert pyctr("inspect", "-f", "{{.HostConfig.LogConfig.Type}}", "dj").stdout == "json-file\n"
    path = tmp_path / "ctr.log"
    pyctr("run", "--name", "dp", "--log-opt", f"path={path}", "--log-opt", "max-size=10m", image, "echo", "hi")
    assert path.read_text().endswith(" stdout F hi\n")
    assert pyctr("logs", "dp").stdout == "hi\n"
    assert pyctr("inspect", "-f", "{{json .HostConfig.LogConfig}}", "dp").stdout == (
        '{"Type":"k8s-file","Config":null,"Path":"%s","Tag":"","Size":"10MB"}\n' % path)
    for args, message in [
        (("--log-driver", "bogus"), "running container create option: invalid log driver: invalid argument"),
        (("--log-opt", "nokey"), 'invalid log option "nokey"'),
        (("--log-driver", "journald"), "log driver journald: pyctr does not write to the journal; use k8s-file "
                                       "(the default) or none"),
    ]:
        result = pyctr("run", "--rm", *args, image, "true", check=False)
        assert (result.returncode, result.stderr) == (125, f"Error: {message}\n")
    # passthrough runs (tests/test_log_passthrough.py); not with -t, whose terminal would reach no one.
    tty = pyctr("run", "--rm", "-t", "--log-driver", "passthrough", image, "true", check=False)
    assert (tty.returncode, tty.stderr) == (125, "Error: the '--log-driver passthrough' option cannot be used with "
                                                 "--tty: the container's terminal would reach no one\n")
