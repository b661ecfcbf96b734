"""Unpacked layers, one directory per chain ID, each a ready overlayfs lower layer.

Layout under the store root:
    layers/<chain hex>/diff         the layer's files (an overlay lower directory)
    layers/<chain hex>/layer.json   diff_id, chain_id and unpacked size
    layers/.tmp-<chain hex>-<pid>   an unpack in progress (renamed into place when complete)
    layers/<chain hex>.lock         held while one process unpacks, links or removes that layer
    layers/l/<short name>           a symlink to ../<chain hex>/diff (see link_name)

A layer directory exists only once complete, so a crash mid-unpack leaves
just a .tmp directory, which the next unpack of that layer removes.

Short links keep overlay mounts within the one page (4096 bytes) that mount(2)
takes for its options: an overlay names its lower directories by link, relative
to l/ (pyctr.linux.mount changes into it), 27 bytes a layer instead of 70, so
that 125 layers (Docker's limit) fit with room for the upper and work paths.
A link is made after its layer is renamed into place and removed before its
layer goes, under the layer's lock, so a link never names a missing layer; a
layer without one (unpacked by an older pyctr, or a crash between the two
steps) gets it on first use.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)

from pyctr import digest as digestmod
from pyctr.errors import InvalidArgument, StoreError
from pyctr.linux.fsutil import atomic_write_json, locked, makedirs, read_json, store_error, tree_size

if TYPE_CHECKING:
    from typing import Callable, Sequence
    from pyctr.linux.mount import Mount


def _rmtree(path: Path | str) -> None:
    import shutil  # (here: reading the store, e.g. for inspect, needs none of it)

    shutil.rmtree(path, ignore_errors=True)


def _syncfs(path: Path) -> None:
    """Flush the unpacked files before the rename that publishes them."""
    import ctypes

    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        ctypes.CDLL(None, use_errno=True).syncfs(fd)
    finally:
        os.close(fd)


LINKS = "l"


def _has_volatile() -> bool:
    """overlay's `volatile` option: Linux 5.10 and later."""
    try:
        major, minor = (int(n) for n in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 10)


def clear_volatile(work: str | Path) -> None:
    """Before mounting an upper again that was mounted `volatile`: overlay refuses it while the
    mark it left in the work directory is there (it says: after a crash, the upper may have
    lost writes; a volatile upper is one whose writes nobody needs)."""
    incompat = os.path.join(work, "work", "incompat")
    if os.path.lexists(incompat):
        _rmtree(incompat)


def link_name(chain_id: str) -> str:
    """A layer's short name: 128 bits of its chain ID in base32 (26 characters, no ':' or ',',
    which overlay's options would split on). Derived, not drawn at random, so that nothing
    needs to record it; a collision (never seen for sha256 prefixes) is refused, not followed."""
    import base64  # (here: inspect reads the layer store, and never needs it)

    return base64.b32encode(bytes.fromhex(digestmod.hex_of(chain_id))[:16]).decode().rstrip("=")


class LayerStore:
    def __init__(self, root: Path):
        self.dir = Path(root) / "layers"
        self.links = self.dir / LINKS

    def path(self, chain_id: str) -> Path:
        """The overlay lower directory of a layer."""
        return self.dir / digestmod.hex_of(chain_id) / "diff"

    def lowerdirs(self, chain_ids: Sequence[str]) -> list[str]:
        """The overlay lower directories of an image's layers (chain IDs base first), topmost first."""
        return [str(self.path(c)) for c in reversed(chain_ids)]

    def rootfs_mount(self, chain_ids: Sequence[str], *, upper: str | Path | None = None,
                     work: str | Path | None = None, rootless: bool = False, volatile: bool = False) -> Mount:
        """The mount of a root filesystem made of these layers (after containerd's snapshotter
        `Mounts`): read-only for an image, writable in `upper` (with overlay's `work`
        directory, on the same filesystem) for a container. Mount it with
        pyctr.linux.mount.mount_at(); `rootless` lets fuse-overlayfs stand in for the kernel.
        An overlay's lower directories are the layers' short links, all in one directory.
        `volatile`: an upper whose writes need not survive a crash (a --rm container's, as
        podman's), so that its unmount need not sync the whole filesystem (see clear_volatile)."""
        from pyctr.linux.mount import USERXATTR, Mount  # (only here: reading the store needs no mount code)

        if (upper is None) != (work is None):
            raise InvalidArgument("a writable root filesystem needs both an upper and a work directory")
        if not chain_ids:
            if upper is None:
                raise InvalidArgument("no layers to mount")
            return Mount("bind", str(upper))  # nothing below: the upper directory is the whole tree
        if len(chain_ids) == 1 and upper is None:
            self._check_present(chain_ids[0])
            # overlay wants two layers without an upper
            return Mount("bind", str(self.path(chain_ids[0])), options=("ro",))
        lowers = tuple(str(self.link(c)) for c in reversed(chain_ids))
        options = ((USERXATTR,) if rootless else ()) + (("volatile",) if volatile and upper and _has_volatile() else ())
        return Mount("overlay", "overlay", options=options, lowerdirs=lowers,
                     upperdir=None if upper is None else str(upper), workdir=None if work is None else str(work))

    # -- short links -------------------------------------------------------------------------

    def link(self, chain_id: str) -> Path:
        """The layer's short link, made now if it has none yet."""
        hex_id = digestmod.hex_of(chain_id)
        path = self.links / link_name(chain_id)
        if self._read_link(path) == f"../{hex_id}/diff":
            return path  # the usual case: one readlink, no lock
        with locked(self.dir / f"{hex_id}.lock"):
            self._check_present(chain_id)
            self._make_link(hex_id, chain_id)
        return path

    def _check_present(self, chain_id: str) -> None:
        if not self.exists(chain_id):
            raise StoreError(f"layer {chain_id} is missing from the store",
                             hint="remove the image and pull it again")

    def _read_link(self, path: Path) -> str | None:
        try:
            return os.readlink(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise store_error(f"reading the layer link {path}", exc) from exc

    def _make_link(self, hex_id: str, chain_id: str) -> None:
        """Create l/<name> -> ../<hex>/diff (we hold the layer's lock, and the layer is complete).
        symlink(2) creates a link with its target at once: no temporary name is needed."""
        path = self.links / link_name(chain_id)
        target = f"../{hex_id}/diff"
        makedirs(self.links)
        try:
            os.symlink(target, path)
            return
        except FileExistsError:
            pass
        except OSError as exc:
            raise store_error(f"creating the layer link {path}", exc) from exc
        current = self._read_link(path)
        if current != target:
            raise StoreError(f"the layer link {path} points to {current!r}, not to layer {chain_id}",
                             hint=f"remove {path} if nothing else uses it")

    def _remove_link(self, hex_id: str) -> None:
        """Remove the layer's link (we hold its lock), unless it is another layer's."""
        path = self.links / link_name(f"sha256:{hex_id}")
        if self._read_link(path) != f"../{hex_id}/diff":
            return
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise store_error(f"removing the layer link {path}", exc) from exc

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
                self._make_link(hex_id, chain_id)  # a crash may have come between the rename and the link
                return False
            self._remove_leftovers(hex_id)
            tmp = self.dir / f".tmp-{hex_id}-{os.getpid()}"
            try:
                makedirs(tmp / "diff", 0o755)
                archive.unpack_layer(str(blob_path), compression, str(tmp / "diff"), expected_diff_id=diff_id, rootless=rootless, on_note=on_note)
                # Not durable on its own (no fsyncs of its own): the syncfs below flushes it with the files.
                atomic_write_json(tmp / "layer.json", {"chain_id": chain_id, "diff_id": diff_id, "size": tree_size(tmp / "diff")},
                                  durable=False)
                _syncfs(tmp)
                os.rename(tmp, self.dir / hex_id)
            except OSError as exc:
                _rmtree(tmp)
                raise store_error(f"unpacking layer {diff_id}", exc) from exc
            except BaseException:
                _rmtree(tmp)
                raise
            self._make_link(hex_id, chain_id)  # after the rename: a link never names a missing layer
        return True

    def adopt(self, chain_id: str, diff_id: str, directory: Path | str) -> bool:
        """Make `directory` (a layer's files as overlay keeps them: a build step's upper directory, on
        this filesystem) the layer, moved in rather than unpacked again from its blob. False when the
        layer exists already, or the directory is on another filesystem (then the caller unpacks)."""
        hex_id = digestmod.hex_of(chain_id)
        makedirs(self.dir)
        with locked(self.dir / f"{hex_id}.lock"):
            if self.exists(chain_id):
                self._make_link(hex_id, chain_id)
                return False
            self._remove_leftovers(hex_id)
            tmp = self.dir / f".tmp-{hex_id}-{os.getpid()}"
            try:
                makedirs(tmp, 0o755)
                try:
                    os.rename(directory, tmp / "diff")
                except OSError as exc:
                    if exc.errno == errno.EXDEV:
                        _rmtree(tmp)
                        return False
                    raise
                atomic_write_json(tmp / "layer.json", {"chain_id": chain_id, "diff_id": diff_id, "size": tree_size(tmp / "diff")})
                _syncfs(tmp)
                os.rename(tmp, self.dir / hex_id)
            except OSError as exc:
                _rmtree(tmp)
                raise store_error(f"storing layer {diff_id}", exc) from exc
            self._make_link(hex_id, chain_id)
        return True

    def _remove_leftovers(self, hex_id: str) -> None:
        """Remove temporary directories of unpacks that died (we hold the layer's lock)."""
        for name in os.listdir(self.dir):
            if name.startswith(f".tmp-{hex_id}-") or name.startswith(f".del-{hex_id}-"):
                _rmtree(self.dir / name)

    def remove(self, chain_id: str) -> None:
        """Delete a layer: its link first, then the layer, renamed away so that it vanishes atomically."""
        hex_id = digestmod.hex_of(chain_id)
        with locked(self.dir / f"{hex_id}.lock"):
            self._remove_link(hex_id)
            gone = self.dir / f".del-{hex_id}-{os.getpid()}"
            try:
                os.rename(self.dir / hex_id, gone)
            except FileNotFoundError:
                return
            _rmtree(gone)

    def all(self) -> set[str]:
        try:
            return {f"sha256:{n}" for n in os.listdir(self.dir) if len(n) == 64 and (self.dir / n).is_dir()}
        except FileNotFoundError:
            return set()
