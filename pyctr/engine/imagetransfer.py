"""engine.images' transfers: push to a registry, save to and load from archives.

Policy here (which image, which destination, which transport a name means), the work in
pyctr.image.push and pyctr.image.archive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from pyctr.errors import InvalidArgument
from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.engine.services import Services
    from pyctr.image.push import Progress

# containers-transports(5) names pyctr does not write to with push (save writes archives).
_OTHER_TRANSPORTS = ("containers-storage", "dir", "docker-archive", "docker-daemon", "oci", "oci-archive", "sif", "ostree")
SAVE_FORMATS = ("docker-archive", "oci-archive", "oci-dir", "docker-dir")


@value
class PushResult:
    digest: str  # the manifest digest in the registry
    destination: str


def push(services: "Services", image: str, destination: str | None = None, *, tls_verify: bool | None = None,
         authfile: str | None = None, credentials: tuple[str, str] | None = None, cert_dir: str | None = None,
         compression: str | None = None, fmt: str | None = None, progress: "Progress | None" = None,
         chunk_size: int | None = None) -> PushResult:
    from pyctr import events
    from pyctr.image import reference
    from pyctr.image.push import Pusher

    if compression is not None and compression not in ("gzip", "zstd"):
        raise InvalidArgument(f"unsupported compression format {compression!r}: use gzip or zstd")
    record = services.images.get(image)
    target = destination or image
    transport, sep, rest = target.partition(":")
    if sep and transport == "docker" and rest.startswith("//"):
        target = rest[2:]
    elif sep and transport in _OTHER_TRANSPORTS:
        raise InvalidArgument(f"pushing to the {transport} transport is not supported: use 'pyctr save'")
    if destination is None and reference.split_domain(image.split("@")[0])[0] == reference.DEFAULT_REGISTRY \
            and not image.startswith("docker.io/"):
        if not record.names:
            raise InvalidArgument(f"{image}: the image has no name to push to: give a DESTINATION")
        target = record.names[0] if image not in record.names else image  # `push ID` or a short name: its full name
    dest = reference.parse(target)
    digest = Pusher(services.images.content, services.images.layers).push(
        record, dest, tls_verify=tls_verify, authfile=authfile, credentials=credentials, cert_dir=cert_dir,
        compression=compression, fmt=fmt, progress=progress, chunk_size=chunk_size)
    events.emit(services.config, "image", "push", id=record.id, name=str(dest))
    return PushResult(digest=digest, destination=str(dest))


def _archive_names(record, given: str) -> list[str]:
    """The name an archive gives the image saved as `given`: that name when it is one of the
    image's (in full), none when it was named by ID."""
    from pyctr.image import reference

    for candidate in (given,):
        try:
            full = [str(reference.local_name(candidate)), str(reference.parse(candidate))]
        except Exception:
            return []
        for name in full:
            if name in record.names:
                return [name]
    return []


def save(services: "Services", images: list[str], out: "BinaryIO | str", *, fmt: str = "docker-archive",
         multi_image: bool = False, compress: bool = False, progress: "Progress | None" = None) -> None:
    """`out`: a binary stream for the archive formats, a directory path for oci-dir and docker-dir.
    Without `multi_image`, the names after the first are more names (tags) of the first image."""
    from pyctr.image import archive

    if fmt not in SAVE_FORMATS:
        raise InvalidArgument(f"unknown format {fmt!r}: use docker-archive, oci-archive, oci-dir or docker-dir")
    if multi_image and fmt != "docker-archive":
        raise InvalidArgument("--multi-image-archive can only be used with docker-archive")
    if not images:
        raise InvalidArgument("need at least 1 argument")
    saved: list[archive.SavedImage] = []
    for given in images:
        record = services.images.get(given)
        if saved and not multi_image:
            if fmt != "docker-archive":
                raise InvalidArgument(f"{fmt} takes one image: a second name ({given}) needs --format docker-archive")
            saved[0].names += [n for n in _archive_names(record, given) or [given] if n not in saved[0].names]
            continue
        saved.append(archive.SavedImage(record, _archive_names(record, given)))
    from pyctr import events

    writer = archive.Writer(services.images.content, services.images.layers, progress or (lambda event: None))
    if fmt == "docker-archive":
        writer.docker_archive(saved, out)
    elif fmt == "oci-archive":
        archive.oci_archive(writer, saved, out, uncompressed=not compress)
    elif fmt == "oci-dir":
        archive.oci_dir(writer, saved, out, uncompressed=not compress)
    else:
        writer.docker_dir(saved[0], out, compress=compress)
    for image in saved:
        events.emit(services.config, "image", "save", id=image.record.id, name=(image.names or [image.record.id])[0])


def load(services: "Services", source: "str | BinaryIO", *, progress: "Progress | None" = None) -> list[str]:
    """Load every image of the archive (a path: file or directory; or a stream) -> what was loaded,
    as podman prints it (the names, or sha256:ID for an image without one)."""
    import os
    import shutil
    import tempfile

    from pyctr import events
    from pyctr.errors import PyctrError, StoreError
    from pyctr.image import archive
    from pyctr.image.load import Loader, find_images
    from pyctr.linux.fsutil import locked, makedirs

    svc = services.images
    what = "loading image archive"
    if isinstance(source, str) and not os.path.exists(source):
        raise InvalidArgument(f"stat {source}: no such file or directory")
    makedirs(svc.content.ingest_dir)
    tmp = tempfile.mkdtemp(prefix="load-", dir=svc.content.ingest_dir)
    loaded: list[str] = []
    try:
        with locked(svc.config.root / "gc.lock", shared=True):  # as a pull: gc keeps what we store
            found = archive.extract(source, tmp, what)
            images = find_images(found, what)
            loader = Loader(svc.content, svc.layers, svc.index, rootless=svc.config.rootless)
            records = [(loader.store(image, what, progress), image.names) for image in images]
            for record, names in records:
                full = loader.register(record, names)
                loaded += full or [f"sha256:{record.id}"]
                events.emit(services.config, "image", "loadfromarchive", id=record.id, name=(full or [record.id])[0])
    except OSError as exc:
        if isinstance(exc, PyctrError):
            raise
        raise StoreError(f"{what}: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not loaded:
            svc.collect_garbage()  # what a refused archive left in the store goes
    return loaded
