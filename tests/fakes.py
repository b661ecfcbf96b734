"""Fakes of pyctr's seams, for unit tests of the engine's policies (no processes, no mounts).

RecordingRunc stands in for pyctr.runtime.runc.Runc (the OciRuntime protocol): it records
every call and answers with configurable results or errors. tests/test_runtime_unit.py
checks that its methods keep the protocol's signatures.

    runc = RecordingRunc()
    runc.errors["kill"] = RuntimeFailure("container not running")
    runc.results["ps"] = [101, 102]
    engine = Engine(root, runroot, runc=runc)
    ...
    assert runc.names() == ["kill", "delete"]
    assert runc.called("kill")[0].args == (container_id, 15)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, NamedTuple


class Call(NamedTuple):
    method: str
    args: tuple
    kwargs: dict


class RecordingRunc:
    """Records calls instead of running runc.

    `results[method]`: what a method returns (a callable is called with the call's
    arguments and its result returned); without one, a method answers as runc would for
    a container in `containers` (the ids of which `exists` says yes, `delete` forgets).
    `errors[method]`: an exception raised (after recording the call); a list of them is
    raised one per call, then the method succeeds again.
    """

    def __init__(self, root: str | Path = "/nonexistent/pyctr-fake-runc", binary: str = "/usr/bin/runc", *,
                 extra_args: list[str] | tuple[str, ...] = ()):
        self.root = Path(root)
        self.binary = binary
        self.extra_args = list(extra_args)
        self.calls: list[Call] = []
        self.results: dict[str, Any] = {}
        self.errors: dict[str, BaseException | list[BaseException]] = {}
        self.containers: set[str] = set()

    # -- reading what happened -------------------------------------------------------------

    def names(self) -> list[str]:
        """The methods called, in order."""
        return [call.method for call in self.calls]

    def called(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def _record(self, method: str, default: Callable[[], Any], *args, **kwargs) -> Any:
        self.calls.append(Call(method, args, kwargs))
        error = self.errors.get(method)
        if isinstance(error, list):
            error = error.pop(0) if error else None
        if error is not None:
            raise error
        if method in self.results:
            result = self.results[method]
            return result(*args, **kwargs) if callable(result) else result
        return default()

    # -- the OciRuntime protocol (pyctr.runtime.runc) ------------------------------------------

    def exists(self, container_id: str) -> bool:
        return self._record("exists", lambda: container_id in self.containers, container_id)

    def start(self, container_id: str) -> None:
        return self._record("start", lambda: None, container_id)

    def kill(self, container_id: str, signal: int | str, *, all_processes: bool = False) -> None:
        return self._record("kill", lambda: None, container_id, signal, all_processes=all_processes)

    def delete(self, container_id: str, *, force: bool = False) -> None:
        return self._record("delete", lambda: self.containers.discard(container_id), container_id, force=force)

    def state(self, container_id: str) -> dict | None:
        def default() -> dict | None:
            return {"id": container_id, "status": "running"} if container_id in self.containers else None

        return self._record("state", default, container_id)

    def pause(self, container_id: str) -> None:
        return self._record("pause", lambda: None, container_id)

    def resume(self, container_id: str) -> None:
        return self._record("resume", lambda: None, container_id)

    def ps(self, container_id: str) -> list[int]:
        return self._record("ps", lambda: [], container_id)

    def exec(self, container_id: str, process_file: str, *, tty: bool, detach: bool,
             stdin=None, stdout=None, stderr=None) -> int:
        return self._record("exec", lambda: 0, container_id, process_file, tty=tty, detach=detach,
                            stdin=stdin, stdout=stdout, stderr=stderr)

    def version(self) -> str:
        return self._record("version", lambda: "runc version 0.0.0 (recording fake)")
