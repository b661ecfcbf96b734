"""Pull progress: one bar per layer on a terminal, podman's plain lines in a pipe."""

from __future__ import annotations

import sys
import threading

from pyctr.units import human_size
TYPE_CHECKING = False  # (not typing's: ~2 ms at every pull and run)

if TYPE_CHECKING:
    from pyctr.image.pull import PullEvent


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


class PlainProgress:
    """Lines podman prints when its stderr is not a terminal."""

    def __init__(self, out=None):
        self.out = out or sys.stderr
        self._lock = threading.Lock()
        self._announced = False

    def __call__(self, event: PullEvent) -> None:
        with self._lock:
            line = self._line(event)
            if line:
                self.out.write(line + "\n")
                self.out.flush()

    def _line(self, event: PullEvent) -> str | None:
        if event.kind == "trying":
            return f"Trying to pull {event.message}..."
        if event.kind in ("blob", "blob-done", "blob-exists", "config") and not self._announced:
            self._announced = True
            self.out.write("Getting image source signatures\n")
        if event.kind == "blob-done":
            return f"Copying blob {_short(event.digest)} done"
        if event.kind == "blob-exists":
            return f"Copying blob {_short(event.digest)} skipped: already exists"
        if event.kind == "config":
            return f"Copying config {_short(event.digest)} done"
        if event.kind == "writing-manifest":
            return "Writing manifest to image destination"
        if event.kind == "note":
            return f"Note: {event.message}"
        if event.kind == "warning":
            return f"WARNING: {event.message}"
        return None


class TerminalProgress(PlainProgress):
    """Redraws one bar per layer in place (ANSI cursor moves; no rich needed for this)."""

    WIDTH = 30

    def __init__(self, out=None):
        super().__init__(out)
        self._bars: dict[str, tuple[int, int, str]] = {}
        self._drawn = 0

    def __call__(self, event: PullEvent) -> None:
        with self._lock:
            if event.kind in ("blob", "blob-done", "blob-exists"):
                state = {"blob": "", "blob-done": "done", "blob-exists": "already exists"}[event.kind]
                self._bars[event.digest] = (event.done, event.total, state)
                self._redraw()
                return
            line = self._line(event)
            if not line:
                return
            if event.kind == "writing-manifest":
                # The downloads are over: leave their bars where they are, and go on below.
                self._bars.clear()
                self._drawn = 0
                self.out.write(line + "\n")
                return
            self._clear()
            self.out.write(line + "\n")
            self._drawn = 0
            self._redraw()

    def _clear(self) -> None:
        if self._drawn:
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")

    def _redraw(self) -> None:
        self._clear()
        for digest, (done, total, state) in self._bars.items():
            frac = min(done / total, 1.0) if total else 1.0
            filled = int(frac * self.WIDTH)
            bar = "=" * filled + (">" if filled < self.WIDTH else "") + " " * (self.WIDTH - filled - 1)
            tail = state or f"{human_size(done)} / {human_size(total)}"
            self.out.write(f"Copying blob {_short(digest)} [{bar[: self.WIDTH]}] {tail}\n")
        self._drawn = len(self._bars)
        self.out.flush()


def for_stream(quiet: bool):
    if quiet:
        return None
    return TerminalProgress() if sys.stderr.isatty() else PlainProgress()
