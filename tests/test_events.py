"""The events journal (pyctr.events), its filters (pyctr.engine.events) and `pyctr events`.

What podman 4.3.1 printed for the same actions is recorded below (PODMAN_*), so that the
tests need no podman.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time

import pytest

from pyctr import events
from pyctr.cli import events as cli_events
from pyctr.engine import events as engine_events
from pyctr.errors import InvalidArgument
from tests.conftest import wait_for

# `podman events --stream=false --format json` (file backend), and the same events as text.
PODMAN_JSON = [
    '{"ID":"23d4345c9ce00e1cd16d8a2bf9d70801dabddc83d96a517c8c8e5fdbaf94e6cb","Image":"localhost:5050/test/busybox:latest",'
    '"Name":"h5ev2","Status":"create","Time":"2026-12-05T11:21:48.266743229Z","Type":"container","Attributes":{"foo":"bar"}}',
    '{"ContainerExitCode":3,"ID":"23d4345c9ce00e1cd16d8a2bf9d70801dabddc83d96a517c8c8e5fdbaf94e6cb",'
    '"Image":"localhost:5050/test/busybox:latest","Name":"h5ev2","Status":"died","Time":"2026-12-05T11:21:48.53038879Z",'
    '"Type":"container","Attributes":{"foo":"bar"}}',
    '{"Name":"localhost:5050/test/busybox:latest","Status":"pull","Time":"2026-12-05T11:21:48.214170137Z","Type":"image","Attributes":null}',
    '{"ID":"a90b931bb4c949f3c26107a6a01780a3f877f0b1a87f58288f3c38a0f55ed453","Name":"h5tag:1","Status":"tag",'
    '"Time":"2026-12-05T11:22:06.624833191Z","Type":"image","Attributes":null}',
    '{"Name":"h5vol","Status":"create","Time":"2026-12-05T11:22:06.68497921Z","Type":"volume","Attributes":null}',
]
PODMAN_TEXT = [
    "2026-12-05 11:21:48.266743229 +0000 UTC container create 23d4345c9ce00e1cd16d8a2bf9d70801dabddc83d96a517c8c8e5fdbaf94e6cb"
    " (image=localhost:5050/test/busybox:latest, name=h5ev2, foo=bar)",
    "2026-12-05 11:21:48.53038879 +0000 UTC container died 23d4345c9ce00e1cd16d8a2bf9d70801dabddc83d96a517c8c8e5fdbaf94e6cb"
    " (image=localhost:5050/test/busybox:latest, name=h5ev2, foo=bar)",
    "2026-12-05 11:21:48.214170137 +0000 UTC image pull  localhost:5050/test/busybox:latest",
    "2026-12-05 11:22:06.624833191 +0000 UTC image tag a90b931bb4c949f3c26107a6a01780a3f877f0b1a87f58288f3c38a0f55ed453 h5tag:1",
    "2026-12-05 11:22:06.68497921 +0000 UTC volume create h5vol",
]


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def parsed(line: str):
    return engine_events.from_journal(json.loads(line))


# -- the journal ----------------------------------------------------------------------------

def test_time_is_rfc3339_with_trailing_zeros_dropped():
    assert events.rfc3339(1_764_933_708_530_388_790) == "2025-12-05T11:21:48.53038879Z"
    assert events.rfc3339(1_764_933_708_000_000_000) == "2025-12-05T11:21:48Z"


def test_recorded_lines_have_podmans_shape(tmp_path, monkeypatch):
    monkeypatch.delenv(events.BACKEND_ENV, raising=False)
    events.record(tmp_path, "container", "died", id="c" * 64, name="web", image="busy:latest",
                  attributes={"foo": "bar"}, exit_code=3)
    events.record(tmp_path, "container", "start", id="c" * 64, name="web", image="busy:latest")
    events.record(tmp_path, "image", "pull", name="busy:latest")
    events.record(tmp_path, "volume", "create", name="v1")
    lines = open(events.log_path(tmp_path)).read().splitlines()
    keys = [list(json.loads(line)) for line in lines]
    podman_keys = [list(json.loads(PODMAN_JSON[i])) for i in (1, 0, 2, 4)]
    assert keys == podman_keys
    assert json.loads(lines[1])["Attributes"] == {} and json.loads(lines[2])["Attributes"] is None
    assert ":" in lines[0] and ", " not in lines[0]  # compact, as Go writes it


def test_none_backend_and_unwritable_journal_never_fail(tmp_path, monkeypatch):
    events.record(tmp_path, "container", "start", id="x", backend="none")
    assert not os.path.exists(events.log_path(tmp_path))
    monkeypatch.setenv(events.BACKEND_ENV, "none")
    events.record(tmp_path, "container", "start", id="x")
    assert not os.path.exists(events.log_path(tmp_path))
    monkeypatch.delenv(events.BACKEND_ENV)
    blocker = tmp_path / "file"
    blocker.write_text("")
    events.record(blocker, "container", "start", id="x")  # runroot is a file: swallowed


def test_rotation_keeps_the_newest_half_with_concurrent_writers(tmp_path):
    path = events.log_path(tmp_path)
    line = lambda n, i: (json.dumps({"Status": "start", "Time": "2026-01-01T00:00:00Z", "Type": "container",  # noqa: E731
                                     "Name": f"w{n}-{i:05d}"}) + "\n").encode()

    def writer(n):
        for i in range(400):
            events._append(path, line(n, i), max_size=16_000)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    data = open(path, "rb").read()
    assert len(data) <= 16_000 + 200
    names = [json.loads(raw)["Name"] for raw in data.splitlines()]  # every line whole
    assert len(names) > 50
    for n in range(4):
        # Rotation drops the oldest lines only: what is left of each writer is the end of its sequence.
        mine = [int(x.partition("-")[2]) for x in names if x.startswith(f"w{n}-")]
        assert mine == list(range(400 - len(mine), 400))
    assert not [p for p in os.listdir(tmp_path / "events") if p.endswith(".tmp")]


def test_follow_continues_across_rotation_without_repeats(tmp_path):
    path = events.log_path(tmp_path)
    done = threading.Event()
    seen = []

    def follower():
        for event in events.follow(tmp_path, from_start=True, poll=0.01, stop=done.is_set):
            seen.append(event["Name"])

    thread = threading.Thread(target=follower)
    thread.start()
    for i in range(300):
        events._append(path, (json.dumps({"Status": "start", "Time": "2026-01-01T00:00:00Z", "Name": f"e{i:04d}"}) + "\n").encode(),
                       max_size=4_000)
        if i % 50 == 0:
            time.sleep(0.05)
    assert wait_for(lambda: seen[-1:] == ["e0299"], timeout=10)
    done.set()
    thread.join(timeout=5)
    assert len(seen) == len(set(seen)) and seen == sorted(seen)
    assert len(seen) > 150  # the follower kept up across several rotations


def test_follow_from_now_skips_what_is_there(tmp_path):
    events.record(tmp_path, "volume", "create", name="old")
    stop = threading.Event()
    got = []

    def follower():
        for event in events.follow(tmp_path, from_start=False, poll=0.01, stop=stop.is_set):
            got.append(event["Name"])

    thread = threading.Thread(target=follower)
    thread.start()
    time.sleep(0.2)
    events.record(tmp_path, "volume", "create", name="new")
    assert wait_for(lambda: got == ["new"], timeout=5)
    stop.set()
    thread.join(timeout=5)


# -- filters and formats --------------------------------------------------------------------

def test_filters_as_podman_reads_them():
    create, died, pull, tag, volume = (parsed(line) for line in PODMAN_JSON)
    f = engine_events.parse_filters
    assert engine_events.matches(died, f(["container=h5ev2"]))
    assert engine_events.matches(died, f(["CONTAINER=23d4345c"]))  # key in any case, ID prefix
    assert not engine_events.matches(pull, f(["container=h5ev2"]))
    assert engine_events.matches(died, f(["event=died", "event=start"]))  # one key: alternatives
    assert not engine_events.matches(create, f(["event=died", "container=h5ev2"]))  # two keys: both
    assert engine_events.matches(create, f(["label=foo=bar"])) and engine_events.matches(create, f(["label=foo"]))
    assert not engine_events.matches(create, f(["label=foo=baz"]))
    # image= matches image events only: their name, or an ID prefix (podman: not containers' images)
    assert engine_events.matches(pull, f(["image=localhost:5050/test/busybox:latest"]))
    assert engine_events.matches(tag, f(["image=a90b931bb4c9"]))
    assert not engine_events.matches(create, f(["image=localhost:5050/test/busybox:latest"]))
    assert engine_events.matches(volume, f(["volume=h5"])) and engine_events.matches(volume, f(["type=volume"]))
    assert engine_events.matches(create, f([f"until={create.timestamp + 1}"]))
    assert not engine_events.matches(create, f([f"since={create.timestamp + 1}"]))


@pytest.mark.parametrize("items, message", [
    (["foo=bar"], "invalid filter 'foo'"),
    (["container"], "expected KEY=VALUE"),
    (["type=bogus"], 'unknown event type "bogus"'),
    (["event=bogus"], 'unknown event status "bogus"'),
])
def test_bad_filters(items, message):
    with pytest.raises(InvalidArgument, match=message):
        engine_events.parse_filters(items)


def test_text_and_json_are_podmans(utc):
    for raw, text in zip(PODMAN_JSON, PODMAN_TEXT):
        event = parsed(raw)
        assert cli_events.human_line(event) == text
        assert cli_events.to_json_line(event) == raw
    died = parsed(PODMAN_JSON[1])
    assert cli_events.human_line(died, no_trunc=False).split()[6] == "23d4345c9ce0"
    row = cli_events.template_row(died)
    assert (row["Status"], row["ContainerExitCode"], row["Time"]) == ("died", 3, "2026-12-05 11:21:48.53038879 +0000 UTC")


# -- the command ----------------------------------------------------------------------------

def statuses(pyctr, *args) -> list[tuple[str, str, str]]:
    out = pyctr("events", "--stream=false", "--format", "{{.Type}} {{.Status}} {{.Name}}", *args).stdout
    return [tuple(line.split(" ")) for line in out.splitlines()]


def test_run_rm_is_recorded(pyctr, image):
    pyctr("run", "--rm", "--name", "ev1", "--label", "app=demo", image, "true")
    got = statuses(pyctr, "--since", "1m", "--filter", "container=ev1")
    assert [s for _, s, _ in got] == ["create", "init", "start", "attach", "died", "cleanup", "remove"]
    text = pyctr("events", "--since", "1m", "--stream=false", "--filter", "event=create").stdout
    assert text.rstrip().endswith(f"(image={image}, name=ev1, app=demo)")
    failed = pyctr("run", "--name", "ev2", image, "sh", "-c", "exit 3", check=False)
    assert failed.returncode == 3
    assert wait_for(lambda: statuses(pyctr, "--filter", "container=ev2", "--filter", "event=cleanup"))
    died = pyctr("events", "--stream=false", "--format", "json", "--filter", "event=died", "--filter", "container=ev2").stdout
    assert json.loads(died)["ContainerExitCode"] == 3


def test_lifecycle_volume_and_image_events(pyctr, image):
    pyctr("run", "-d", "--name", "ev3", image, "sleep", "100")
    for args in (("kill", "-s", "USR1", "ev3"), ("pause", "ev3"), ("unpause", "ev3"), ("rename", "ev3", "ev4"),
                 ("restart", "-t", "0", "ev4"), ("rm", "-f", "ev4"), ("volume", "create", "evvol"),
                 ("volume", "rm", "evvol"), ("tag", image, "evtag:1")):
        pyctr(*args)
    got = statuses(pyctr)
    container = [s for kind, s, _ in got if kind == "container"]
    for status in ("kill", "pause", "unpause", "rename", "restart", "died", "remove"):
        assert status in container
    assert container.index("rename") < container.index("restart")
    assert ("container", "rename", "ev4") in got
    assert ("volume", "create", "evvol") in got and ("volume", "remove", "evvol") in got
    assert ("image", "tag", "evtag:1") in got
    assert statuses(pyctr, "--filter", "type=volume") == [("volume", "create", "evvol"), ("volume", "remove", "evvol")]


def test_streaming_prints_new_events(pyctr, image):
    proc = subprocess.Popen(pyctr.argv("events", "--filter", "type=container"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=pyctr.store.env())
    try:
        time.sleep(1)  # it starts following from now
        pyctr("run", "--rm", "--name", "ev5", image, "true")
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
        reader.start()
        assert wait_for(lambda: any(" remove " in line for line in lines), timeout=20), lines
        assert all("name=ev5" in line for line in lines)
        assert [line.split()[5] for line in lines][:3] == ["create", "init", "start"]
    finally:
        proc.kill()
        proc.wait()


def test_bad_input_and_none_backend(pyctr, image):
    result = pyctr("events", "--stream=false", "--filter", "type=bogus", check=False)
    assert (result.returncode, result.stderr) == (125, 'Error: unknown event type "bogus"\n')
    result = pyctr("events", "--stream=false", "--since", "bogus", check=False)
    assert result.returncode == 125 and result.stderr.startswith("Error: ")
    pyctr("--events-backend", "none", "run", "--rm", "--name", "quiet", image, "true")
    assert not statuses(pyctr, "--filter", "container=quiet")
    result = pyctr("--events-backend", "none", "events", "--stream=false", check=False)
    assert (result.returncode, result.stderr) == (125, 'Error: cannot read events with the "none" backend\n')


def test_anonymous_volumes_are_created_and_removed_with_their_container(pyctr, image):
    pyctr("run", "--rm", "-v", "/data", image, "true")
    got = statuses(pyctr, "--filter", "type=volume")
    assert [s for _, s, _ in got] == ["create", "remove"] and got[0][2] == got[1][2]
