"""Unpacked layers, one directory per chain ID, each a ready overlayfs lower layer.

Layout under the store root:
    layers/<chain hex>/diff         the layer's files (an overlay lower directory)
    layers/<chain hex>/layer.json   diff_id, chain_id and unpacked size
    layers/.tmp-<chain hex>-<pid>   an unpack in progress (renamed into place when complete)
    layers/<chain hex>.lock         held while one process unpacks that layer

A layer directory exists only once complete, so a crash mid-unpack leaves
just a .tmp directory, which the next unpack of that layer removes.
"""

from __future__ import annotations

import ctypes
import os
import shutil
from pathlib import Path
from typing import Callable, Sequence

from pyctr import digest as digestmod
from pyctr.errors import InvalidArgument
from pyctr.linux.fsutil import atomic_write_json, locked, makedirs, read_json, store_error
from pyctr.linux.mount import USERXATTR, Mount


def _syncfs(path: Path) -> None:
    """Flush the unpacked files before the rename that publishes them."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        ctypes.CDLL(None, use_errno=True).syncfs(fd)
    finally:
        os.close(fd)


def _tree_size(path: Path) -> int:
    total = 0
    stack = [str(path)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    return total


class LayerStore:
    def __init__(self, root: Path):
        self.dir = Path(root) / "layers"

    def path(self, chain_id: str) -> Path:
        """The overlay lower directory of a layer."""
        return self.dir / digestmod.hex_of(chain_id) / "diff"

    def lowerdirs(self, chain_ids: Sequence[str]) -> list[str]:
        """The overlay lower directories of an image's layers (chain IDs base first), topmost first."""
        return [str(self.path(c)) for c in reversed(chain_ids)]

    def rootfs_mount(self, chain_ids: Sequence[str], *, upper: str | Path | None = None,
                     work: str | Path | None = None, rootless: bool = False) -> Mount:
        """The mount of a root filesystem made of these layers (after containerd's snapshotter
        `Mounts`): read-only for an image, writable in `upper` (with overlay's `work`
        directory, on the same filesystem) for a container. Mount it with
        pyctr.linux.mount.mount_at(); `rootless` lets fuse-overlayfs stand in for the kernel."""
        lowers = self.lowerdirs(chain_ids)
        if (upper is None) != (work is None):
            raise InvalidArgument("a writable root filesystem needs both an upper and a work directory")
        if not lowers:
            if upper is None:
                raise InvalidArgument("no layers to mount")
            return Mount("bind", str(upper))  # nothing below: the upper directory is the whole tree
        if len(lowers) == 1 and upper is None:
            return Mount("bind", lowers[0], options=("ro",))  # overlay wants two layers without an upper
        return Mount("overlay", "overlay", options=(USERXATTR,) if rootless else (), lowerdirs=tuple(lowers),
                     upperdir=None if upper is None else str(upper), workdir=None if work is None else str(work))

    def exists(self, chain_id: str) -> bool:
        return (self.dir / digestmod.hex_of(chain_id)).is_dir()

    def info(self, chain_id: str) -> dict:
        return read_json(self.dir / digestmod.hex_of(chain_id) / "layer.json", {}) or {}

    def unpack(
        self,
        chain_id: str,
        diff_id: str,
        blob_path: Path,
        compression: str,
        *,
        rootless: bool = False,
        on_note: Callable[[str], None] | None = None,
    ) -> bool:
        """Unpack a layer blob once; returns False when another pull already did it."""
        from pyctr.snapshot import archive  # tarfile and friends only when a layer is really unpacked

        hex_id = digestmod.hex_of(chain_id)
        makedirs(self.dir)
        with locked(self.dir / f"{hex_id}.lock"):
            if self.exists(chain_id):
                return False
            self._remove_leftovers(hex_id)
            tmp = self.dir / f".tmp-{hex_id}-{os.getpid()}"
            try:
                makedirs(tmp / "diff", 0o755)
                archive.unpack_layer(str(blob_path), compression, str(tmp / "diff"), expected_diff_id=diff_id, rootless=rootless, on_note=on_note)
                atomic_write_json(tmp / "layer.json", {"chain_id": chain_id, "diff_id": diff_id, "size": _tree_size(tmp / "diff")})
                _syncfs(tmp)
                os.rename(tmp, self.dir / hex_id)
            except OSError as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                raise store_error(f"unpacking layer {diff_id}", exc) from exc
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return True

    def _remove_leftovers(self, hex_id: str) -> None:
        """Remove temporary directories of unpacks that died (we hold the layer's lock)."""
        for name in os.listdir(self.dir):
            if name.startswith(f".tmp-{hex_id}-") or name.startswith(f".del-{hex_id}-"):
                shutil.rmtree(self.dir / name, ignore_errors=True)

    def remove(self, chain_id: str) -> None:
        """Delete a layer: renamed away first so that it vanishes atomically."""
        hex_id = digestmod.hex_of(chain_id)
        with locked(self.dir / f"{hex_id}.lock"):
            gone = self.dir / f".del-{hex_id}-{os.getpid()}"
            try:
                os.rename(self.dir / hex_id, gone)
            except FileNotFoundError:
                return
            shutil.rmtree(gone, ignore_errors=True)

    def all(self) -> set[str]:
        try:
            return {f"sha256:{n}" for n in os.listdir(self.dir) if len(n) == 64 and (self.dir / n).is_dir()}
        except FileNotFoundError:
            return set()
