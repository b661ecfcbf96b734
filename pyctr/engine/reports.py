"""What the engine's operations return: dataclasses, never dicts, never text to print."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyctr.container.spec import PortMapping
    from pyctr.container.store import ContainerRecord, Status
    from pyctr.errors import PyctrError


@dataclass
class Report:
    """The outcome of an operation on one of several named objects (podman reports per item)."""

    name: str  # as the caller named it (the ID when selected by all=True)
    id: str = ""  # the full ID, once found
    error: "PyctrError | None" = None
    exit_code: int | None = None  # wait: the container's exit code

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Container:
    """A container just created (or the one an operation acted on)."""

    id: str
    name: str
    image: str  # the image's name (or ID when it has none)
    image_id: str


@dataclass
class ContainerSummary:
    """One line of `ps`: the container and its current state."""

    id: str
    name: str
    image: str
    image_id: str
    command: list[str]
    created: float
    state: str  # created, running, paused, stopping, exited
    exit_code: int
    pid: int
    started_at: float
    finished_at: float
    labels: dict[str, str]
    ports: list["PortMapping"]
    mounts: list[str]  # destinations
    auto_remove: bool


@dataclass
class ContainerInfo:
    """Everything `inspect` shows: the record (spec and what creation resolved), the state and the paths."""

    record: "ContainerRecord"
    status: "Status"
    log_path: str
    userdata_dir: str  # hosts, hostname, resolv.conf


@dataclass
class Top:
    """`ps` output of the host, cut to the container's processes."""

    header: str
    lines: list[str] = field(default_factory=list)


@dataclass
class ImageRemoval:
    """The result of removing several images: what was untagged and deleted, what failed, and podman's exit code."""

    untagged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: list["PyctrError"] = field(default_factory=list)
    exit_code: int = 0  # 0, 1 when an image was not found, 2 when one is in use, 125 otherwise
