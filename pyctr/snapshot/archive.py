"""Unpack an image layer (a tar stream, maybe compressed) into an overlay lower directory.

The entry point is `unpack_layer`; `unpack_copy` is its copy mode for cp and
volume import (a copy is not a layer: no whiteouts, podman's copier's error
words, and paths maybe resolved from a container's root). A layer is untrusted input: every path
in it is resolved relative to the destination directory as if that directory
were `/` (which is what docker and containerd amount to), so that `..`,
absolute names and symlinks planted by earlier entries are clamped inside it.
Parents are resolved with openat2(2) RESOLVE_IN_ROOT on a directory fd of the
destination (or, where the kernel lacks openat2, by an equivalent walk one
component at a time with O_NOFOLLOW); the final operation is then done on a
single name relative to that parent fd, never following a symlink there.

The layer format (OCI image spec, "layer changesets"):
- `DIR/.wh.NAME` deletes NAME from the layers below: it becomes the overlayfs
  whiteout, a character device 0:0 named NAME;
- `DIR/.wh..wh..opq` hides everything below DIR: it becomes the xattr
  `trusted.overlay.opaque=y` (`user.overlay.opaque` rootless) on DIR;
- other `.wh..wh.*` names are aufs bookkeeping and are skipped.

The work is shared by `pyctr.snapshot.tarstream` (decompression, the diff_id, reading
the tar), `pyctr.snapshot.layerfs` (path resolution inside the destination) and
`pyctr.snapshot.layerwriter` (creating each entry); this module joins them up and
turns OS errors into PyctrErrors.
"""

from __future__ import annotations

import errno
import os
import posixpath
import tarfile

from pyctr.snapshot import tarstream
from pyctr.digest import validate
from pyctr.errors import DigestMismatch, PyctrError, StoreError, UnsafeArchive, UnsupportedMediaType
from pyctr.snapshot.layerwriter import LayerWriter, Note, Notes
from pyctr.snapshot.tarstream import COMPRESSIONS

# Still importable from here, where they were defined before the split.
from pyctr.snapshot.layerwriter import WHITEOUT_META_PREFIX, WHITEOUT_OPAQUE, WHITEOUT_PREFIX  # noqa: F401
from pyctr.snapshot.tarstream import CHUNK  # noqa: F401

__all__ = ["unpack_layer", "unpack_copy", "copy_error", "COMPRESSIONS"]

# errno values that say "the store is unwell", not "the layer is bad".
_STORAGE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EMFILE, errno.ENFILE, errno.ENOMEM}
)


def unpack_layer(
    blob_path: str,
    compression: str,
    dest: str,
    *,
    expected_diff_id: str | None = None,
    rootless: bool = False,
    on_note: Note | None = None,
) -> str:
    """Unpack one image layer blob into the existing empty directory `dest`; return its diff_id.

    `compression` is "gzip", "zstd", "none" or "auto" (sniffed from the magic
    bytes; neither gzip nor zstd means an uncompressed tar). The diff_id is the
    sha256 of the whole uncompressed stream, checked against `expected_diff_id`
    when given (DigestMismatch). A malformed or hostile layer raises
    UnsafeArchive; a failing store (disk full, read-only) raises StoreError.
    On any error `dest` is left as it is, half written: the caller unpacks into
    a temporary directory and removes it on failure.

    `rootless`: ownership that cannot be set, device nodes, and xattrs the
    kernel refuses are skipped with a note; whiteouts fall back to `.wh.`
    files where mknod is refused, and opaque directories use
    `user.overlay.opaque` (mount the overlay with `userxattr`).
    `on_note` receives one line per kind of thing skipped (and a count at the end).
    """
    if expected_diff_id is not None:
        validate(expected_diff_id)
    if compression not in COMPRESSIONS:
        raise UnsupportedMediaType(f"unknown layer compression {compression!r}")
    what = f"layer {os.path.basename(blob_path)}"
    notes = Notes(on_note)
    try:
        fh = open(blob_path, "rb")
    except OSError as e:
        raise StoreError(f"{what}: cannot open the blob: {e.strerror}") from None
    with fh:
        try:
            source = tarstream.open_source(fh, compression, what)
        except OSError as e:
            raise StoreError(f"{what}: cannot read the blob: {e.strerror}") from None
        try:
            writer = LayerWriter(dest, rootless=rootless, notes=notes, what=what)
            try:
                _write_entries(source, writer, what)
            finally:
                writer.close()
            source.drain()
        finally:
            source.close()
    diff_id = source.digest
    if expected_diff_id is not None and diff_id != expected_diff_id:
        raise DigestMismatch(f"{what}: uncompressed digest {diff_id} does not match the diff_id {expected_diff_id}")
    notes.finish()
    return diff_id


def unpack_copy(tar_path: str, dest: str, *, shown: str, rootless: bool = False, root=None) -> None:
    """Unpack the plain tar `tar_path` as a copy (cp, volume import), not as a layer: `.wh.`
    names are plain files, never whiteouts. Paths resolve under `dest` as under `/`, or through
    `root` (see LayerWriter). Errors are worded as podman's copier's, with `shown` (the
    destination directory as the user knows it) in place of `dest`."""
    what = "copier: put"
    try:
        fh = open(tar_path, "rb")
    except OSError as e:
        raise StoreError(f"{what}: {e.strerror}") from None
    with fh:
        source = tarstream.open_source(fh, "none", what)
        try:
            writer = LayerWriter(dest, rootless=rootless, notes=Notes(None), what=what, whiteouts=False, root=root)
            try:
                _write_entries(source, writer, what, lambda e, ti: _copy_entry_error(e, ti, shown))
            finally:
                writer.close()
        finally:
            source.close()


def copy_error(path: str, e: OSError | int, ti: tarfile.TarInfo | None = None, *, removing: bool = False) -> str:
    """podman's copier's words for a failed write of `path` (an entry `ti`, or the item it replaces)."""
    code = e if isinstance(e, int) else e.errno
    why = os.strerror(code) if code else str(e)
    why = why[:1].lower() + why[1:]  # as Go words errno values
    if removing:
        unlinked = "/" + path if posixpath.dirname(path) == "/" else path  # podman's own join: "//name"
        how = f"copier: put: error removing item to be overwritten \"{path}\": unlinkat {unlinked}: {why}"
    elif ti is None or ti.type in tarfile.REGULAR_TYPES:
        how = f"copier: put: error opening file \"{path}\" for writing: open {path}: {why}"
    elif ti.type == tarfile.DIRTYPE:
        how = f"mkdir {path}: {why}"
    elif ti.type == tarfile.SYMTYPE:
        how = f"symlink {ti.linkname} {path}: {why}"
    elif ti.type == tarfile.LNKTYPE:
        how = f"link {ti.linkname} {path}: {why}"
    else:
        how = f"mknod {path}: {why}"
    return f"copier: put: error creating \"{path}\": {how}"


def _copy_entry_error(e: OSError, ti: tarfile.TarInfo | None, shown: str) -> PyctrError:
    if ti is None:
        return StoreError(f"copier: put: setting directory times under \"{shown}\": {e.strerror or e}")
    rel = posixpath.normpath("/" + ti.name).lstrip("/")
    path = posixpath.join(shown, rel) if rel else shown
    message = copy_error(path, e, ti)
    return StoreError(message) if e.errno in _STORAGE_ERRNOS else UnsafeArchive(message)


def _write_entries(source: tarstream.Source, writer: LayerWriter, what: str, error=None) -> None:
    """Every entry of the tar stream through `writer`, then the deferred directory metadata.
    `error(OSError, TarInfo or None)`: the PyctrError to raise for a failed entry (None: layer wording)."""
    error = error or (lambda e, ti: _entry_error(e, ti.name if ti else "(directory times)", what))
    tar = tarstream.open_tar(source, what)
    last = "(start of the archive)"
    try:
        while True:
            try:
                ti = tar.next()
            except tarstream.TAR_ERRORS as e:
                raise UnsafeArchive(f"{what}: corrupt or truncated tar after {last!r} ({e})") from None
            if ti is None:
                break
            tar.members.clear()  # streaming: do not keep every header
            try:
                writer.entry(tar, ti)
            except OSError as e:
                raise error(e, ti) from None
            except (ValueError, OverflowError) as e:
                raise UnsafeArchive(f"{what}: entry {ti.name!r}: {e}") from None
            last = ti.name
        tarstream.check_end(tar, what, last)
    finally:
        tar.close()
    try:
        writer.finish()
    except OSError as e:
        raise error(e, None) from None
    except (ValueError, OverflowError) as e:  # an absurd mtime such as inf on a directory
        raise UnsafeArchive(f"{what}: directory times: {e}") from None


def _entry_error(e: OSError, name: str, what: str) -> PyctrError:
    message = f"{what}: entry {name!r}: {e.strerror or e}"
    if e.errno in _STORAGE_ERRNOS:
        return StoreError(message)
    return UnsafeArchive(message)
