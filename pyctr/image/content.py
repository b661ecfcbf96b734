"""The content store: blobs by digest, written through a verified ingest.

Layout under the store root:
    blobs/sha256/<hex>        complete, verified blobs (immutable)
    ingest/<hex>.partial      a download in progress (kept across crashes to resume)
    ingest/<hex>.lock         held by the one process writing that blob

Life of a write: `writer()` takes the blob's lock (a second writer of the same
blob waits, then finds it committed); bytes are appended to the partial file
while hashed; `commit()` checks size and digest, fsyncs, and renames into
blobs/. A crash leaves only a partial file, which the next writer resumes.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)
if TYPE_CHECKING:
    from typing import Iterator

from pyctr import digest as digestmod
from pyctr.errors import DigestMismatch
from pyctr.linux.fsutil import fsync_dir, locked, makedirs, store_error, try_locked

CHUNK = 1 << 20


class BlobWriter:
    """Appends verified bytes to one blob's partial file; see the module doc for the lifecycle."""

    def __init__(self, store: "ContentStore", digest: str, size: int | None):
        self.store = store
        self.digest = digest
        self.size = size
        self.partial = store.ingest_dir / f"{digestmod.hex_of(digest)}.partial"
        self.committed = store.exists(digest)
        self._verifier = digestmod.Verifier(digest, size)
        self._fd: int | None = None
        if not self.committed:
            self._open_partial()

    @property
    def offset(self) -> int:
        """How many bytes are already written (a resumed download starts here)."""
        return self._verifier.count

    def _open_partial(self) -> None:
        try:
            self._fd = os.open(self.partial, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            # Re-hash what an earlier, interrupted writer left, so we can resume after it.
            while chunk := os.read(self._fd, CHUNK):
                self._verifier.update(chunk)
        except OSError as exc:
            raise store_error(f"opening {self.partial}", exc) from exc
        if self.size is not None and self.offset > self.size:
            self.restart()

    def restart(self) -> None:
        """Throw away what was written (the server would not resume, or it was bad)."""
        assert self._fd is not None
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        self._verifier = digestmod.Verifier(self.digest, self.size)

    def write(self, chunk: bytes) -> None:
        if self.size is not None and self.offset + len(chunk) > self.size:
            raise DigestMismatch(f"blob {self.digest}: more data than the expected {self.size} bytes")
        view = memoryview(chunk)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            raise store_error(f"writing {self.partial}", exc) from exc
        self._verifier.update(chunk)

    def commit(self) -> None:
        """Verify and move the blob into place; a bad blob is discarded, not kept for resumption."""
        if self.committed:
            return
        try:
            self._verifier.check(f"blob {self.digest}")
        except DigestMismatch:
            self.restart()
            raise
        try:
            os.fsync(self._fd)
            os.rename(self.partial, self.store.path(self.digest))
            fsync_dir(self.store.blobs_dir)
        except OSError as exc:
            raise store_error(f"storing blob {self.digest}", exc) from exc
        self.committed = True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class ContentStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.blobs_dir = self.root / "blobs" / "sha256"
        self.ingest_dir = self.root / "ingest"

    def _ensure_dirs(self) -> None:
        makedirs(self.blobs_dir)
        makedirs(self.ingest_dir)

    def path(self, digest: str) -> Path:
        return self.blobs_dir / digestmod.hex_of(digest)

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def read(self, digest: str) -> bytes:
        with open(self.path(digest), "rb") as f:
            return f.read()

    @contextlib.contextmanager
    def writer(self, digest: str, size: int | None = None) -> Iterator[BlobWriter]:
        """Exclusive writer for one blob; `w.committed` is already true if it is stored."""
        self._ensure_dirs()
        with locked(self.ingest_dir / f"{digestmod.hex_of(digest)}.lock"):
            w = BlobWriter(self, digest, size)
            try:
                yield w
            finally:
                w.close()

    def put(self, digest: str, data: bytes) -> None:
        """Store small content (manifests, configs) that is already in memory."""
        with self.writer(digest, len(data)) as w:
            if not w.committed:
                w.restart()
                w.write(data)
                w.commit()

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(digest))

    def all_digests(self) -> set[str]:
        try:
            return {f"sha256:{name}" for name in os.listdir(self.blobs_dir) if len(name) == 64}
        except FileNotFoundError:
            return set()

    def remove_stale_ingests(self, keep: set[str]) -> None:
        """Drop partial downloads nobody is writing (called by gc)."""
        try:
            names = os.listdir(self.ingest_dir)
        except FileNotFoundError:
            return
        for name in names:
            if name.endswith(".partial") and f"sha256:{name[:-8]}" not in keep:
                lock = self.ingest_dir / (name[:-8] + ".lock")
                with contextlib.suppress(OSError), try_locked(lock) as got:
                    if got:
                        os.unlink(self.ingest_dir / name)

