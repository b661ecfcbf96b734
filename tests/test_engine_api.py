"""The public Python API (pyctr.Engine) used directly, in-process: real runc, a real registry, real mounts.

The command line is one front end over this API; these tests hold the API itself
to its contract (results are dataclasses, errors are typed and categorised,
policies such as rm --force, rmi --force and --rm live here).
"""

from __future__ import annotations

import time

import pytest

from pyctr import ContainerSpec, Engine
from pyctr.engine.containers import ContainerSummary
from pyctr.engine.reports import Report
from pyctr.errors import Conflict, ContainerNotFound, ContainerStateError, ImageNotFound, NameInUse, NotFound


@pytest.fixture
def engine(store) -> Engine:
    return Engine(store.root, store.runroot)


@pytest.fixture
def image(engine, registry) -> str:
    ref = f"{registry.host}/test/busybox:latest"
    engine.images.pull(ref)
    return ref


def output_of(engine: Engine, name: str) -> str:
    return "".join(line.text.decode() + ("" if line.partial else "\n") for line in engine.containers.logs(name))


def exit_frame_code(session, received: list | None = None) -> int:
    """What a front end does with an attached session: read the output until the shim's EXIT frame
    (a --rm container may be gone once it has exited, so its exit code comes from that frame)."""
    import json

    from pyctr.shim import protocol

    while (frame := session.client.read_frame(timeout=30)) is not None:
        kind, data = frame
        if kind == protocol.EXIT:
            session.client.close()
            return json.loads(data)["exit_code"]
        if received is not None:
            received.append(data)
    raise AssertionError("the session ended without an exit frame")


def test_pull_run_logs_remove(engine, image):
    assert [r for r in engine.images.list() if image in r.names]
    result = engine.containers.run(ContainerSpec.for_image(image, ["sh", "-c", "echo hello; exit 3"]))
    assert result.exit_code is None  # detached
    [report] = engine.containers.wait([result.container.id])
    assert report.exit_code == 3
    assert output_of(engine, result.container.id) == "hello\n"
    [summary] = engine.containers.list(all_containers=True)
    assert isinstance(summary, ContainerSummary) and summary.state == "exited" and summary.exit_code == 3
    assert engine.containers.remove([result.container.name]) == [Report(result.container.name, result.container.id)]
    assert not engine.containers.exists(result.container.id)


def test_spec_is_stored_as_given(engine, image):
    spec = ContainerSpec.for_image(image, ["true"])
    spec.lifecycle.name = "stored"
    spec.lifecycle.labels = {"app": "web"}
    spec.process.env = {"GREETING": "hi"}
    engine.containers.create(spec)
    info = engine.containers.inspect("stored")
    assert info.record.spec == spec
    assert "GREETING=hi" in info.record.env and info.record.labels["app"] == "web"
    assert info.status.state == "created"


def test_attached_run_with_rm_removes_before_returning(engine, image):
    spec = ContainerSpec.for_image(image, ["sh", "-c", "echo attached; exit 5"])
    spec.lifecycle.remove = True
    received = []

    def attach(session) -> int | None:
        return exit_frame_code(session, received)

    result = engine.containers.run(spec, attach=attach)
    assert result.exit_code == 5
    assert b"attached" in b"".join(received)
    assert not engine.containers.exists(result.container.id)  # --rm: gone when run returns


def test_errors_are_typed_and_categorised(engine, image):
    with pytest.raises(ContainerNotFound) as missing:
        engine.containers.get("nope")
    assert isinstance(missing.value, NotFound) and missing.value.exit_code == 125 and missing.value.http_status == 404
    with pytest.raises(ImageNotFound):
        engine.images.get("localhost/never-pulled:1")
    spec = ContainerSpec.for_image(image, ["sleep", "30"])
    spec.lifecycle.name = "taken"
    engine.containers.run(spec)
    with pytest.raises(NameInUse) as taken:
        engine.containers.create(spec)
    assert isinstance(taken.value, Conflict) and taken.value.http_status == 409
    [report] = engine.containers.remove(["taken"])
    assert isinstance(report.error, ContainerStateError) and isinstance(report.error, Conflict)
    [report] = engine.containers.remove(["taken"], force=True)
    assert report.ok and not engine.containers.exists("taken")


def test_bulk_operations_report_each_container(engine, image):
    engine.containers.create(ContainerSpec.for_image(image, ["true"]))
    reports = engine.containers.remove(["missing-one"], all_containers=False, ignore=False)
    assert len(reports) == 1 and isinstance(reports[0].error, ContainerNotFound)
    assert engine.containers.remove(["missing-one"], ignore=True) == []
    removed = engine.containers.remove(all_containers=True)
    assert len(removed) == 1 and removed[0].ok
    assert engine.containers.list(all_containers=True) == []


def test_replace_and_restart(engine, image):
    spec = ContainerSpec.for_image(image, ["sleep", "30"])
    spec.lifecycle.name = "web"
    first = engine.containers.run(spec).container
    second = engine.containers.run(spec, replace=True).container
    assert first.id != second.id and not engine.containers.exists(first.id)
    before = engine.containers.inspect("web").status.started_at
    time.sleep(0.05)
    [report] = engine.containers.restart(["web"], timeout=0)
    assert report.ok
    after = engine.containers.inspect("web").status
    assert after.state == "running" and after.started_at > before
    engine.containers.remove(["web"], force=True)


def test_rmi_force_removes_the_containers_using_the_image(engine, image):
    ctr = engine.containers.create(ContainerSpec.for_image(image, ["true"]))
    refused = engine.images.remove([image])
    assert refused.exit_code == 2 and engine.containers.exists(ctr.id)
    removed = engine.images.remove([image], force=True)
    assert removed.exit_code == 0 and removed.deleted
    assert not engine.containers.exists(ctr.id)
    assert engine.images.remove([image]).exit_code == 1  # not found any more
    assert engine.images.remove([image], ignore=True).exit_code == 0


def test_exec_and_top(engine, image):
    spec = ContainerSpec.for_image(image, ["sleep", "30"])
    spec.lifecycle.name = "busy"
    engine.containers.run(spec)
    assert engine.containers.exec("busy", ["sh", "-c", "exit 7"]) == 7
    top = engine.containers.top("busy")
    assert "PID" in top.headers and any(row[-1] == "sleep 30 " for row in top.rows)  # args: cmdline, NULs as spaces
    engine.containers.remove(["busy"], force=True)


def test_volumes_remove_reports_conflict_while_in_use(engine, image):
    from pyctr.container.spec import Mount

    engine.volumes.create("data")
    spec = ContainerSpec.for_image(image, ["true"])
    spec.storage.mounts = [Mount("volume", "/data", "data")]
    ctr = engine.containers.create(spec)
    assert engine.volumes.users(engine.volumes.get("data")) == [ctr.name]
    [report] = engine.volumes.remove(["data"])
    assert isinstance(report.error, Conflict)
    [report] = engine.volumes.remove(["data"], force=True)
    assert report.ok and not engine.containers.exists(ctr.id) and not engine.volumes.exists("data")


def readme_script(image: str) -> str:
    """The README's Python API example, pointed at `image` instead of the demo registry's."""
    from tests.conftest import REPO_ROOT

    text = (REPO_ROOT / "README.md").read_text()
    script = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert "localhost:5050/test/busybox" in script
    return script.replace("localhost:5050/test/busybox", image)


def test_the_readme_script_runs_as_shown(store, image):
    import subprocess
    import sys

    env = {**store.env(), "PYCTR_ROOT": str(store.root), "PYCTR_RUNROOT": str(store.runroot)}
    result = subprocess.run([sys.executable, "-c", readme_script(image)], env=env, capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("hello from ") and lines[-1] == "exit code 0"
    assert Engine(store.root, store.runroot).containers.list(all_containers=True) == []


def test_rm_cleanup_failure_keeps_the_containers_exit_code(engine, image):
    """run --rm --rmi whose image another container holds: the error is reported, the exit code stays 3."""
    engine.containers.create(ContainerSpec.for_image(image, ["true"]))  # holds the image
    spec = ContainerSpec.for_image(image, ["sh", "-c", "exit 3"])
    spec.lifecycle.remove = True

    def attach(session) -> int | None:
        return exit_frame_code(session)

    result = engine.containers.run(spec, attach=attach, remove_image=True)
    assert result.exit_code == 3 and not engine.containers.exists(result.container.id)
    assert [type(e).__name__ for e in result.errors] == ["ImageInUse"]


def test_replace_keeps_the_old_container_when_the_new_one_cannot_be_made(engine, image):
    spec = ContainerSpec.for_image(image, ["true"])
    spec.lifecycle.name = "keep"
    old = engine.containers.create(spec)
    broken = ContainerSpec.for_image("localhost/no-such-image:1", ["true"])
    broken.image.pull = "never"
    broken.lifecycle.name = "keep"
    with pytest.raises(ImageNotFound):
        engine.containers.create(broken, replace=True)
    assert engine.containers.get("keep").id == old.id


def test_rm_run_takes_its_anonymous_volumes(engine, image):
    from pyctr.container.spec import Mount

    spec = ContainerSpec.for_image(image, ["sh", "-c", "echo x > /data/f"])
    spec.storage.mounts = [Mount("volume", "/data")]  # anonymous
    spec.lifecycle.remove = True
    engine.volumes.create("named")

    def attach(session) -> int | None:
        return exit_frame_code(session)

    assert engine.containers.run(spec, attach=attach).exit_code == 0
    assert [v.name for v in engine.volumes.list()] == ["named"]


def test_following_the_logs_of_a_container_removed_meanwhile_ends(engine, image):
    """A follower that found the container before another command removed it (the service's logs
    stream racing a --rm) ends once the container is gone, with what it wrote."""
    import threading

    spec = ContainerSpec.for_image(image, ["sh", "-c", "echo bye; sleep 100"])
    spec.network.mode = "none"
    ctr = engine.containers.run(spec).container
    lines = engine.containers.logs(ctr.id, follow=True)
    followed: list[bytes] = []
    reader = threading.Thread(target=lambda: followed.extend(line.text for line in lines), daemon=True)
    reader.start()
    engine.containers.remove([ctr.id], force=True)
    reader.join(timeout=15)
    assert not reader.is_alive()
    assert followed == [b"bye"]
