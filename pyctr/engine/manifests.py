"""engine.manifests: manifest lists (`manifest create|add|annotate|remove|rm|exists|inspect|push`).

Policy here: what a name given to `add` means (containers-storage:NAME a local image, docker://REF
a registry's; a plain name the local image when there is one, else the registry's), how a list
goes out (its entries first, each under its digest, then the list under the tag). The list's
storage is pyctr.image.manifests; its registry side pyctr.image.manifestremote.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Callable, Iterator

from pyctr.errors import Conflict, ImageNotFound, InvalidArgument, InvalidReference, NotFound, PyctrError
from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.engine.services import Services
    from pyctr.image.index import ImageRecord
    from pyctr.image.manifests import Instance

# containers-transports(5) names that `manifest add` and `push` do not speak.
_OTHER_TRANSPORTS = ("dir", "docker-archive", "docker-daemon", "oci", "oci-archive", "sif", "ostree")


@value
class ListInfo:
    """A local list: its record and its entries."""

    record: "ImageRecord"
    instances: list


@value
class ListPush:
    digest: str  # the list's digest in the registry
    destination: str


@value
class ListRemoval:
    """`manifest rm`: what was untagged and deleted, what failed, and podman's exit code."""

    untagged: list
    deleted: list
    errors: list
    exit_code: int = 0


@value
class Platform:
    """--arch, --os, --variant, --os-version, --os-features, --features, --annotation of add and annotate."""

    arch: str | None = None
    os_name: str | None = None
    variant: str | None = None
    os_version: str | None = None
    os_features: list | None = None
    features: list | None = None
    annotations: list | None = None

    def apply(self, instance: "Instance") -> None:
        from pyctr.image.manifests import override

        override(instance, arch=self.arch, os_name=self.os_name, variant=self.variant, os_version=self.os_version,
                 os_features=self.os_features, features=self.features, annotations=self.annotations)


class Manifests:
    def __init__(self, services: "Services"):
        self._s = services

    # -- local lists -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _edit(self) -> Iterator[dict]:
        """The image records, for one atomic change, with a gc lease (no new blob is collected
        before the record that names it is saved)."""
        from pyctr.linux.fsutil import locked, makedirs

        svc = self._s.images
        makedirs(svc.config.root)
        with locked(svc.config.root / "gc.lock", shared=True), svc.index.edit() as images:
            yield images

    def _list(self, name: str, images: dict | None = None) -> "ImageRecord":
        from pyctr.image import manifests

        record = self._s.images.index.resolve(name, images)
        if not manifests.is_list(record):
            raise manifests.NotAManifestList(f"{name}: image is not a manifest list")
        return record

    def create(self, name: str, images: list[str] | None = None, *, all_instances: bool = False, amend: bool = False,
               **registry) -> str:
        """A new empty list named `name` (with `amend`, the existing list of that name), then
        `images` added to it -> the list's ID. `registry`: tls_verify, authfile, credentials, cert_dir."""
        from pyctr.image import manifests, reference

        try:
            full = str(reference.local_name(name))
        except InvalidReference as exc:  # podman says "normalizing name" once here (twice for tag)
            raise InvalidReference(str(exc).replace(f'normalizing name "{name}": ', "", 1), hint=exc.hint) from None
        entries = [inst for image in images or [] for inst in self._resolve(image, all_instances, registry)]
        with self._edit() as records:
            owner = next((r for r in records.values() if full in r.names), None)
            if owner is not None and not (amend and manifests.is_list(owner)):
                raise Conflict(f'creating image to hold manifest list: image name "{full}" is already associated with '
                               f'image "{owner.id}": that name is already in use')
            record = owner or manifests.new_record(full)
            current = manifests.instances_of(self._s.images.content, record) if owner else []
            manifests.store(self._s.images.content, record, _merge(current, entries))
            records[record.id] = record
        return record.id

    def add(self, name: str, images: list[str], *, all_instances: bool = False, platform: Platform | None = None,
            **registry) -> str:
        """Add the manifests `images` name to the list `name` -> the list's ID."""
        from pyctr.image import manifests

        self._list(name)  # fail before any registry is asked
        entries = [inst for image in images for inst in self._resolve(image, all_instances, registry)]
        for inst in entries:
            if platform:
                platform.apply(inst)
        with self._edit() as records:
            record = self._list(name, records)
            current = manifests.instances_of(self._s.images.content, record)
            manifests.store(self._s.images.content, record, _merge(current, entries, keep_annotations=platform is None
                                                                   or not platform.annotations))
        return record.id

    def annotate(self, name: str, digest: str, platform: Platform) -> str:
        """Change an entry's platform and annotations -> the list's ID."""
        from pyctr.image import manifests

        with self._edit() as records:
            record = self._list(name, records)
            current = manifests.instances_of(self._s.images.content, record)
            try:
                entry = manifests.find_instance(current, digest)
            except NotFound as exc:
                raise type(exc)(f'no Docker manifest matching digest "{digest}" was found in list: no image instance '
                                "matching the specified digest was found in the list or index") from None
            platform.apply(entry)
            manifests.store(self._s.images.content, record, current)
        return record.id

    def remove(self, name: str, digest: str) -> str:
        """Drop an entry from a list -> the list's ID."""
        from pyctr.image import manifests

        with self._edit() as records:
            record = self._list(name, records)
            current = manifests.instances_of(self._s.images.content, record)
            try:
                gone = manifests.find_instance(current, digest)
            except PyctrError as exc:
                raise type(exc)(f"removing from manifest list {name}: {exc}") from None
            manifests.store(self._s.images.content, record, [i for i in current if i is not gone])
        return record.id

    def rm(self, names: list[str]) -> ListRemoval:
        """Remove lists (never an image that is not a list). podman's exit code: 1 when one was not found."""
        result = ListRemoval([], [], [])
        for name in names:
            try:
                record = self._list(name)
                report = self._s.images.remove(record.id, force=True)
            except ImageNotFound as exc:
                result.errors.append(exc)
                result.exit_code = result.exit_code or 1
                continue
            except PyctrError as exc:
                result.errors.append(exc)
                result.exit_code = exc.exit_code
                continue
            result.untagged += report.untagged
            result.deleted += report.deleted
        if len(result.errors) > 1:
            result.exit_code = 125  # as podman: several errors are one error
        return result

    def exists(self, name: str) -> bool:
        """True for a list; False when nothing has the name; an image that is not a list is an error."""
        try:
            self._list(name)
        except ImageNotFound:
            return False
        return True

    def get(self, name: str) -> ListInfo:
        from pyctr.image import manifests

        record = self._list(name)
        return ListInfo(record, manifests.instances_of(self._s.images.content, record))

    def inspect(self, name: str, *, tls_verify: bool | None = None, authfile: str | None = None,
                credentials: str | None = None, cert_dir: str | None = None,
                warn: Callable[[str], None] | None = None) -> dict:
        """What podman prints for `manifest inspect`: a local list, else (no such local list) the
        manifest the registry has for `name`. A single image's manifest comes with a warning."""
        from pyctr.image import manifestremote, manifests

        try:
            return manifests.inspect_view(self.get(name).instances)
        except (ImageNotFound, manifests.NotAManifestList):
            pass
        ref = _remote_reference(name)
        _, body, media_type = manifestremote.fetch(ref, tls_verify=tls_verify, authfile=authfile,
                                                   credentials=_credentials(credentials), cert_dir=cert_dir)
        from pyctr.image import oci

        if media_type not in oci.INDEX_TYPES and warn:
            warn(f"The manifest type {media_type} is not a manifest list but a single image.")
        return manifests.remote_view(body, media_type)

    # -- what a name given to add means -----------------------------------------------------------

    def _resolve(self, image: str, all_instances: bool, registry: dict) -> list["Instance"]:
        from pyctr.image import manifestremote

        transport, sep, rest = image.partition(":")
        if sep and transport == "containers-storage":
            return self._local(rest, all_instances)
        if sep and transport == "docker" and rest.startswith("//"):
            ref = _remote_reference(rest[2:])
        elif sep and transport in _OTHER_TRANSPORTS:
            raise InvalidArgument(f"adding images from the {transport} transport is not supported: "
                                  "use a local image (containers-storage:NAME) or a registry (docker://REF)")
        else:
            try:
                return self._local(image, all_instances)
            except ImageNotFound:
                ref = _remote_reference(image)
        opts = dict(registry)
        opts["credentials"] = _credentials(opts.get("credentials"))
        return manifestremote.instances(ref, all_instances=all_instances, **opts)

    def _local(self, name: str, all_instances: bool) -> list["Instance"]:
        """The entry a local image makes: its stored manifest (written when the image has none).
        A local list gives its entries: all of them with `all_instances`, else the host's."""
        from pyctr import digest as digestmod
        from pyctr.image import manifests, oci
        from pyctr.image.push import manifest_bytes

        svc = self._s.images
        record = svc.index.resolve(name)
        if manifests.is_list(record):
            entries = manifests.instances_of(svc.content, record)
            if not all_instances:
                host = oci.Platform.host()
                entries = [i for i in entries if host.matches(oci.Platform(i.platform.get("os", ""),
                           i.platform.get("architecture", ""), i.platform.get("variant") or None))][:1]
                if not entries:
                    raise ImageNotFound(f"{name}: the manifest list has no entry for {host}")
            return [manifests.Instance.from_json(i.to_json()) for i in entries]
        config = svc.config_of(record)
        if record.manifest_digest and svc.content.exists(record.manifest_digest):
            body = svc.content.read(record.manifest_digest)
            digest, media_type = record.manifest_digest, record.manifest_media_type
        else:
            raw = svc.content.read(record.config_digest)
            body = manifest_bytes(oci.OCI_MANIFEST, record.config_digest, len(raw), list(record.layers))
            digest, media_type = digestmod.of_bytes(body), oci.OCI_MANIFEST
        return [manifests.Instance(digest=digest, size=len(body), media_type=media_type,
                                   platform=manifests.platform_of_config(config),
                                   source=f"{manifests.LOCAL}{record.id}")]

    # -- push ---------------------------------------------------------------------------------------

    def push(self, name: str, destination: str | None = None, *, all_instances: bool = True, fmt: str | None = None,
             remove: bool = False, tls_verify: bool | None = None, authfile: str | None = None,
             credentials: str | None = None, cert_dir: str | None = None, compression: str | None = None,
             progress=None) -> ListPush:
        """Push the list (with `all_instances`, its entries first, each under its digest) to
        `destination` (default: the list's name); `remove`: drop the local list once pushed."""
        from pyctr import events
        from pyctr.image import manifests, oci
        from pyctr.image.push import TransferEvent

        emit = progress or (lambda event: None)
        formats = {None: None, "oci": oci.OCI_INDEX, "v2s2": oci.DOCKER_LIST, "docker": oci.DOCKER_LIST}
        if fmt not in formats:
            raise InvalidArgument(f"unknown format {fmt!r}: use oci or v2s2")
        if compression is not None and compression not in ("gzip", "zstd"):
            raise InvalidArgument(f"unsupported compression format {compression!r}: use gzip or zstd")
        info = self.get(name)
        target = destination or (info.record.names[0] if info.record.names else name)
        transport, sep, rest = target.partition(":")
        if sep and transport == "docker" and rest.startswith("//"):
            target = rest[2:]
        elif sep and transport in _OTHER_TRANSPORTS + ("containers-storage",):
            raise InvalidArgument(f"pushing a manifest list to the {transport} transport is not supported")
        dest = _remote_reference(target)
        registry = {"tls_verify": tls_verify, "authfile": authfile, "credentials": _credentials(credentials),
                    "cert_dir": cert_dir}
        instances = [manifests.Instance.from_json(i.to_json()) for i in info.instances]
        emit(TransferEvent("list-start"))
        if all_instances:
            emit(TransferEvent("list-count", state=f"{len(instances)} of {len(instances)}"))
            for n, inst in enumerate(instances, 1):
                emit(TransferEvent("list-image", digest=inst.digest, state=f"({n}/{len(instances)})"))
                self._push_instance(inst, dest, fmt, compression, registry, emit)
        else:
            emit(TransferEvent("list-count", state=f"0 of {len(instances)}"))
        body, media_type = manifests.serialize(instances, formats[fmt] or info.record.manifest_media_type)
        emit(TransferEvent("list-manifest"))
        from pyctr.image import manifestremote

        with manifestremote.client(dest, **registry) as client:
            client.want_push()
            client.put_manifest(dest.digest or dest.tag, body, media_type)
        emit(TransferEvent("list-signatures"))
        from pyctr import digest as digestmod

        digest = digestmod.of_bytes(body)
        events.emit(self._s.config, "image", "push", id=info.record.id, name=str(dest))
        if remove:
            self._s.images.remove(info.record.id, force=True)
        return ListPush(digest=digest, destination=str(dest))

    def _push_instance(self, inst: "Instance", dest, fmt: str | None, compression: str | None, registry: dict,
                       emit) -> None:
        """One entry to dest's repository, under its digest; a local image that goes out changed
        (another format or compression) changes the entry."""
        from pyctr.image import manifestremote, manifests, reference
        from pyctr.image.push import Pusher

        svc = self._s.images
        record = None
        if inst.source.startswith(manifests.LOCAL):
            record = svc.index.load().get(inst.source[len(manifests.LOCAL):])
        if record is None:  # from a registry, or the local image is gone: one of the store with its digest
            record = next((r for r in svc.index.load().values()
                           if r.manifest_digest == inst.digest and not manifests.is_list(r)), None)
        if record is not None:
            pushed = Pusher(svc.content, svc.layers).push(
                record, reference.Reference(dest.registry, dest.repository, digest=inst.digest), compression=compression,
                fmt=fmt, progress=emit, by_digest=True, **registry)
            if pushed != inst.digest:
                with manifestremote.client(dest.with_digest(pushed), **registry) as client:
                    body, media_type = client.get_manifest(pushed)
                inst.digest, inst.size, inst.media_type = pushed, len(body), media_type or inst.media_type
            return
        if not inst.source.startswith(manifests.REMOTE):
            raise ImageNotFound(f"{inst.digest}: the image of this list entry is not in local storage")
        source = _remote_reference(inst.source[len(manifests.REMOTE):])
        manifestremote.copy_instance(svc.content, source, dest.with_digest(inst.digest), emit, **registry)


def _merge(current: list, added: list, *, keep_annotations: bool = True) -> list:
    """`added` into `current`: an entry of the same digest is replaced where it stands, as podman."""
    out = list(current)
    for inst in added:
        for n, old in enumerate(out):
            if old.digest == inst.digest:
                if keep_annotations and not inst.annotations:
                    inst.annotations = old.annotations
                out[n] = inst
                break
        else:
            out.append(inst)
    return out


def _remote_reference(text: str):
    from pyctr.image import reference

    return reference.parse(text)


def _credentials(creds) -> tuple[str, str] | None:
    if creds is None or isinstance(creds, tuple):
        return creds
    from pyctr.engine.images import _credentials as parse

    return parse(creds)


def dump(document: dict) -> str:
    """As podman prints a manifest: Go's json.Indent with four spaces (and its escapes of <, >, &)."""
    text = json.dumps(document, indent=4, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
