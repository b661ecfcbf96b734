"""What the engine's operations return: dataclasses, never dicts, never text to print.

Report is shared by every namespace; the results of one namespace are defined at the top of
its module (engine/containers.py, engine/images.py), so that a command builds only its own.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)

from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.errors import PyctrError


@value
class Report:
    """The outcome of an operation on one of several named objects (podman reports per item)."""

    name: str  # as the caller named it (the ID when selected by all=True)
    id: str = ""  # the full ID, once found
    error: "PyctrError | None" = None
    exit_code: int | None = None  # wait: the container's exit code

    @property
    def ok(self) -> bool:
        return self.error is None


def removal_exit_code(reports: list[Report]) -> int:
    """podman's exit code for a removal (rm, volume rm): 0 when all went, else that of the last
    failure: 1 when it was not found, 2 when it is in use or running (Conflict), 125 otherwise."""
    from pyctr.errors import Conflict, NotFound

    failed = [r.error for r in reports if r.error is not None]
    if not failed:
        return 0
    last = failed[-1]
    return 1 if isinstance(last, NotFound) else 2 if isinstance(last, Conflict) else last.exit_code
