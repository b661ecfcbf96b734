"""engine.images' new images: commit (a container's changes as a layer over its image) and
import (a tarball as a one-layer image). The work is pyctr.image.newimage's; the config policy,
as podman's, is here."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from pyctr.errors import InvalidArgument

if TYPE_CHECKING:
    from pyctr.engine.services import Services
    from pyctr.image.push import Progress

_DROPPED = ("rootfs", "history", "created", "author", "comment", "container", "container_config", "docker_version")


def _emit_copy(progress, record) -> None:
    """podman's lines for writing the new image to its storage."""
    from pyctr.image.push import TransferEvent

    if progress is None:
        return
    progress(TransferEvent("start"))
    for diff_id in record.diff_ids:
        progress(TransferEvent("blob", digest=diff_id))
    progress(TransferEvent("config", digest=record.config_digest))
    progress(TransferEvent("manifest"))
    progress(TransferEvent("signatures"))


def _maker(services: "Services"):
    from pyctr.image.newimage import ImageMaker

    svc = services.images
    return ImageMaker(svc.content, svc.layers, svc.index, rootless=svc.config.rootless)


def _register(services: "Services", record, name: str | None) -> None:
    from pyctr.image import reference
    from pyctr.image.load import Loader

    svc = services.images
    names = [str(reference.local_name(name))] if name else []
    Loader(svc.content, svc.layers, svc.index, rootless=svc.config.rootless).register(record, names)


def commit(services: "Services", container: str, image: str | None = None, *, changes: list[str] | None = None,
           message: str | None = None, author: str | None = None, pause: bool = False, squash: bool = False,
           fmt: str = "oci", include_volumes: bool = False, progress: "Progress | None" = None) -> str:
    """The container's changes (its overlay upper directory) as a new layer over its image, with a
    config from the container's (environment, command, user, working directory, labels) and
    `changes`; named `image` if given. -> the new image's ID."""
    from pyctr import events
    from pyctr.image import changes as changesmod
    from pyctr.image import layertar, reference
    from pyctr.image.newimage import now_rfc3339
    from pyctr.linux.fsutil import locked, makedirs

    if fmt not in ("oci", "docker"):
        raise InvalidArgument(f"unrecognized image type {fmt!r}: use oci or docker")
    if message and fmt != "docker":
        raise InvalidArgument("messages are only compatible with the docker image format (-f docker)")
    if image:
        reference.local_name(image)  # a bad name fails before any work
    record = services.containers.resolve(container)
    base = services.images.get(record.image_id)
    base_config = services.images.config_of(base)
    section = dict(base_config.get("config") or {})
    section["Env"] = list(record.env)
    spec = record.spec
    if spec.process.entrypoint is not None:
        section["Entrypoint"] = list(spec.process.entrypoint)
    if spec.process.command:
        section["Cmd"] = list(spec.process.command)
    if record.user:
        section["User"] = record.user
    section["WorkingDir"] = record.workdir or "/"
    if record.labels:
        section["Labels"] = dict(record.labels)
    if include_volumes:
        volumes = dict(section.get("Volumes") or {})
        volumes.update({m.destination: {} for m in spec.storage.mounts if m.type == "volume"})
        section["Volumes"] = volumes
    section = changesmod.apply(section, changes or [])
    created = now_rfc3339()
    config = {k: v for k, v in base_config.items() if k not in _DROPPED}
    config["created"] = created
    if author:
        config["author"] = author
    if message:
        config["comment"] = message
    config["config"] = section
    entry = {"created": created, "created_by": " ".join(record.args) or "/bin/sh"}
    if author:
        entry["author"] = author
    entry["comment"] = message or f"FROM {record.image_name}"
    config["history"] = ([] if squash else list(base_config.get("history") or [])) + [entry]  # squash: as podman

    paused = False
    if pause and services.containers.status(record.id).state == "running":
        services.tasks.pause(record)
        paused = True
    upper = services.containers.path(record.id) / "overlay" / "upper"
    makedirs(services.config.root)
    try:
        with locked(services.config.root / "gc.lock", shared=True):  # gc keeps the new layer until it is recorded
            maker = _maker(services)
            if squash:  # the whole tree as one layer
                from pyctr.build.squashing import whole_tree_layer

                desc, diff_id, chain_id = whole_tree_layer(services, maker, upper, list(base.chain_ids))
                new = maker.image(config, [desc], [diff_id], [chain_id], oci_format=fmt == "oci")
            else:
                desc, diff_id, chain_id = maker.layer(
                    lambda out: layertar.write_layer(str(upper), out) if upper.is_dir() else _empty_tar(out),
                    base.chain_ids[-1] if base.chain_ids else None)
                new = maker.image(config, list(base.layers) + [desc], base.diff_ids + [diff_id],
                                  base.chain_ids + [chain_id], oci_format=fmt == "oci")
            _register(services, new, image)
    finally:
        if paused:
            services.tasks.unpause(record)
    _emit_copy(progress, new)
    events.container(services.config, "commit", record)
    return new.id


def _empty_tar(out) -> None:
    import tarfile

    tarfile.open(fileobj=out, mode="w|").close()


def import_image(services: "Services", source: "str | BinaryIO", name: str | None = None, *,
                 changes: list[str] | None = None, message: str | None = None, arch: str | None = None,
                 os_name: str | None = None, variant: str | None = None, progress: "Progress | None" = None) -> str:
    """A one-layer image from a tarball (a path, an http(s) URL or a stream; gzip, zstd, bzip2 or xz
    compressed, or not) with a config of `changes` only, as podman's. -> the new image's ID."""
    import os

    from pyctr import events
    from pyctr.image import changes as changesmod
    from pyctr.image import oci, reference
    from pyctr.image.newimage import now_rfc3339
    from pyctr.linux.fsutil import locked, makedirs

    if name:
        reference.local_name(name)
    section = changesmod.apply({}, changes or [])
    host = oci.Platform.host()
    if isinstance(source, str) and not source.startswith(("http://", "https://")) and not os.path.exists(source):
        raise InvalidArgument(f"{source}: no such file or directory")
    makedirs(services.config.root)
    with locked(services.config.root / "gc.lock", shared=True):
        maker = _maker(services)
        desc, diff_id, chain_id = maker.layer(lambda out: _copy_tarball(source, out), None)
        created = now_rfc3339()
        config = {"created": created, "architecture": arch or host.architecture, "os": os_name or host.os}
        if variant or (not arch and host.variant):
            config["variant"] = variant or host.variant
        config["config"] = section
        entry = {"created": created, "created_by": f"/bin/sh -c #(nop) ADD file:{diff_id.split(':')[1]} in /"}
        if message:
            entry["comment"] = message
        config["history"] = [entry]
        new = maker.image(config, [desc], [diff_id], [chain_id])
        _register(services, new, name)
    _emit_copy(progress, new)
    events.emit(services.config, "image", "import", id=new.id, name=name or new.id)
    return new.id


def _copy_tarball(source, out) -> None:
    """The tarball, decompressed, to `out`."""
    import bz2
    import gzip
    import lzma
    import shutil

    from pyctr.image.archive import _Prefixed

    if isinstance(source, str) and source.startswith(("http://", "https://")):
        from pyctr.image.registry import fetch_url  # httpx only in the registry client

        fetch_url(source, lambda stream: _copy_tarball(stream, out))
        return
    raw = open(source, "rb") if isinstance(source, str) else source
    try:
        head = raw.read(6)
        stream = _Prefixed(head, raw)
        if head[:2] == b"\x1f\x8b":
            stream = gzip.GzipFile(fileobj=stream, mode="rb")
        elif head[:4] == b"\x28\xb5\x2f\xfd":
            import zstandard

            stream = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
        elif head[:3] == b"BZh":
            stream = bz2.BZ2File(stream)
        elif head == b"\xfd7zXZ\x00":
            stream = lzma.LZMAFile(stream)
        shutil.copyfileobj(stream, out, 1 << 20)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        from pyctr.errors import UnsafeArchive

        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise UnsafeArchive(f"importing: corrupt compressed data ({exc})") from None
    finally:
        if isinstance(source, str):
            raw.close()
