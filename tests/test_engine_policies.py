"""The engine's policies against a recording fake of runc (tests/fakes.py): which runtime calls
stop, kill, rm --force, pause and top make, and in what order. No container process runs;
a container counts as running while its state names a live shim (here: this test process)."""

from __future__ import annotations

import os

import pytest

from pyctr import ContainerSpec, Engine
from pyctr.errors import ContainerStateError
from tests.fakes import RecordingRunc


@pytest.fixture
def runc() -> RecordingRunc:
    return RecordingRunc()


@pytest.fixture
def engine(store, runc, registry) -> Engine:
    engine = Engine(store.root, store.runroot, runc=runc)
    engine.images.pull(f"{registry.host}/test/busybox:latest")
    return engine


def running(engine: Engine, name: str, *, stop_signal: str | None = None) -> str:
    """A created container made to look running: its state names a live 'shim' (us)."""
    spec = ContainerSpec.for_image(engine.images.list()[0].id, ["sleep", "30"])
    spec.lifecycle.name = name
    spec.process.stop_signal = stop_signal
    container_id = engine.containers.create(spec).id
    store = engine.services.containers
    store.state_dir(container_id).mkdir(parents=True)
    (store.state_dir(container_id) / "shim.pid").write_text(str(os.getpid()))
    (store.state_dir(container_id) / "pid").write_text("4242")
    store.write_state(container_id, started_at=1.0)
    return container_id


def exits_on(engine: Engine, container_id: str, *signals: int):
    """runc kill as a container that ends on one of `signals`: its shim goes away."""
    def kill(cid, signal, **_):
        if signal in signals:
            os.unlink(engine.services.containers.state_dir(cid) / "shim.pid")
    return kill


def test_kill_signals_through_runc_and_cancels_restarts(engine, runc):
    cid = running(engine, "k")
    [report] = engine.containers.kill(["k"], signal="SIGTERM")
    assert report.ok
    assert [(c.method, c.args) for c in runc.calls] == [("kill", (cid, 15))]
    assert engine.services.containers.read_state(cid)["stopping"] is True


def test_stop_escalates_to_sigkill_after_the_timeout(engine, runc):
    cid = running(engine, "s", stop_signal="SIGUSR1")
    runc.results["kill"] = exits_on(engine, cid, 9)
    [report] = engine.containers.stop(["s"], timeout=1)
    assert report.ok
    assert [c.args for c in runc.called("kill")] == [(cid, 10), (cid, 9)]


def test_rm_refuses_a_running_container_without_force(engine, runc):
    running(engine, "r")
    [report] = engine.containers.remove(["r"])
    assert isinstance(report.error, ContainerStateError)
    assert runc.calls == []


def test_rm_force_stops_then_deletes(engine, runc):
    cid = running(engine, "f")
    runc.results["kill"] = exits_on(engine, cid, 9)  # rm -f: stop -t0, SIGKILL alone (as podman)
    [report] = engine.containers.remove(["f"], force=True)
    assert report.ok
    # (`exists` only asks whether the run still needs its died/cleanup events: pyctr.events)
    assert [name for name in runc.names() if name != "exists"] == ["kill", "delete"]
    assert runc.called("delete")[0].kwargs == {"force": True}
    assert not engine.containers.exists(cid)


def test_pause_and_unpause(engine, runc):
    cid = running(engine, "p")
    assert engine.containers.pause(["p"])[0].ok
    assert engine.containers.inspect("p").status.state == "paused"
    [again] = engine.containers.pause(["p"])
    assert isinstance(again.error, ContainerStateError)  # already paused: runc is not asked
    assert engine.containers.unpause(["p"])[0].ok
    assert runc.names() == ["pause", "resume"] and runc.calls[0].args == (cid,)


def test_top_shows_only_the_container_pids(engine, runc):
    running(engine, "t")
    runc.results["ps"] = [os.getpid()]
    top = engine.containers.top("t", ["hpid", "comm"])  # podman's descriptors, from /proc of those pids
    assert top.headers == ["HPID", "COMMAND"]
    assert [row[0] for row in top.rows] == [str(os.getpid())]


def test_stop_all_selects_only_running_containers(engine, runc):
    cid = running(engine, "one")
    engine.containers.create(ContainerSpec.for_image(engine.images.list()[0].id, ["true"]))  # created: not stopped
    runc.results["kill"] = exits_on(engine, cid, 15)
    reports = engine.containers.stop(all_containers=True)
    assert [r.id for r in reports] == [cid]


def test_a_record_written_by_pyctr_0_1_is_read_with_its_spec():
    """Containers made before specs existed keep working after an upgrade (golden: made by 0.1's `create`)."""
    import json
    from pathlib import Path

    from pyctr.container.spec import PortMapping, RestartPolicy
    from pyctr.container.store import ContainerRecord

    data = json.loads((Path(__file__).parent / "golden" / "container-record-0.1.json").read_text())
    record = ContainerRecord.from_json(data)
    spec = record.spec
    assert record.name == "legacy" and record.args == ["sleep", "1"]
    assert spec.network.ports == [PortMapping(8080, 80, "tcp", "")] and record.ports == spec.network.ports
    assert spec.lifecycle.restart == RestartPolicy("on-failure", 3)
    assert spec.security.cap_add == ["NET_ADMIN"] and spec.resources.memory == 64 << 20
    assert spec.process.init and spec.storage.read_only and not record.remove
    assert ContainerRecord.from_json(json.loads(json.dumps(record.to_json()))) == record  # saved in the new form
