"""The image service: pull, list, inspect, tag, remove, prune, mount."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import field
from pathlib import Path
from functools import cached_property
TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)

from pyctr.config import Config
from pyctr.image.content import ContentStore
from pyctr.errors import ImageInUse, ImageNotFound, InvalidArgument
from pyctr.linux.fsutil import locked, makedirs, try_locked
from pyctr.image.index import ImageIndex, ImageRecord
from pyctr.values import value

if TYPE_CHECKING:
    from typing import Callable, Iterator
    from pyctr.image.pull import Progress
    from pyctr.snapshot.layers import LayerStore


@value
class RemoveReport:
    untagged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


class ImageService:
    def __init__(self, config: Config, in_use: "Callable[[str], list[str]] | None" = None):
        self.config = config
        # Names of the containers using an image (they keep it from being removed).
        self._in_use = in_use or (lambda image_id: [])
        self.content = ContentStore(config.root)
        self.index = ImageIndex(config.root)
        self._gc_lock = config.root / "gc.lock"

    @cached_property
    def layers(self) -> "LayerStore":
        """Built on first use: listing images (`images`, `inspect`) needs neither the layer store
        nor the mount code it brings (ctypes, subprocess)."""
        from pyctr.snapshot.layers import LayerStore

        return LayerStore(self.config.root)

    # -- pulling -----------------------------------------------------------------------------

    def pull(
        self,
        name: str,
        *,
        platform: str | None = None,
        tls_verify: bool | None = None,
        authfile: str | None = None,
        progress: Progress | None = None,
        credentials: tuple[str, str] | None = None,
        cert_dir: str | None = None,
    ) -> ImageRecord:
        from pyctr.image import oci, reference  # (here: listing images needs neither)

        ref = reference.parse(name)
        wanted = oci.Platform.parse(platform) if platform else None
        makedirs(self.config.root)
        # A shared lease on gc.lock: garbage collection never deletes blobs or
        # layers that a running pull has fetched but not yet recorded.
        with locked(self._gc_lock, shared=True):
            pulled = self._puller().pull(ref, platform=wanted, tls_verify=tls_verify, authfile=authfile, progress=progress,
                                         credentials=credentials, cert_dir=cert_dir)
        self._event("pull", name=str(ref))  # as podman: the name, no ID
        return pulled

    def remote_tags(self, name: str, *, tls_verify: bool | None = None, authfile: str | None = None,
                    credentials: tuple[str, str] | None = None, cert_dir: str | None = None) -> list[str]:
        """The tags of the repository `name` (REGISTRY/REPO, no tag) in its registry."""
        from pyctr.image import reference

        return self._puller().tags(reference.parse(name), tls_verify=tls_verify, authfile=authfile,
                                   credentials=credentials, cert_dir=cert_dir)

    def remote_digest(self, name: str, *, tls_verify: bool | None = None, authfile: str | None = None) -> str:
        """The manifest digest the registry has for `name` on this host's platform."""
        from pyctr.image import oci, reference

        return self._puller().remote_digest(reference.parse(name), oci.Platform.host(), tls_verify=tls_verify,
                                            authfile=authfile)

    def _puller(self):
        from pyctr.image.pull import Puller  # threads and the registry client only for pulls

        return Puller(self.config.root, self.content, self.layers, self.index, rootless=self.config.rootless)

    def _event(self, status: str, **fields) -> None:
        from pyctr import events

        events.emit(self.config, "image", status, **fields)

    # -- reading -----------------------------------------------------------------------------

    def list(self) -> list[ImageRecord]:
        return sorted(self.index.load().values(), key=lambda r: -r.pulled)

    def get(self, name: str) -> ImageRecord:
        """The image `name` names; a manifest list stands for its local image of this host's platform (as podman)."""
        from pyctr.image import oci

        record = self.index.resolve(name)
        if record.manifest_media_type in oci.INDEX_TYPES:
            from pyctr.image import manifests

            return manifests.host_instance(manifests.instances_of(self.content, record), record, self.index.load())
        return record

    def config_of(self, record: ImageRecord) -> dict:
        return json.loads(self.content.read(record.config_digest))

    def lowerdirs(self, record: ImageRecord) -> list[str]:
        """The image's layer directories, topmost first (overlay's lowerdir order)."""
        return self.layers.lowerdirs(record.chain_ids)

    # -- names -------------------------------------------------------------------------------

    def tag(self, name: str, new_names: list[str]) -> None:
        from pyctr.image import reference

        refs = [reference.local_name(n) for n in new_names]  # `NAME` is localhost/NAME, as podman
        with self.index.edit() as images:
            record = self.index.resolve(name, images)
            for ref in refs:
                if ref.digest:
                    raise InvalidArgument(f"{ref}: a tag cannot be a digest")
                full = str(ref)
                for other in images.values():
                    if other.id != record.id and full in other.names:
                        other.names.remove(full)
                if full not in record.names:
                    record.names.append(full)
                record.names_history = [full] + [n for n in record.names_history if n != full]
        for given in new_names:
            self._event("tag", id=record.id, name=given)

    def untag(self, name: str, names: list[str]) -> None:
        """Remove `names` (as tag() names them) in order, up to the first one the image does not
        have (as podman, those before it are gone); all its names when `names` is empty."""
        from pyctr.image import reference

        failed, removed = None, []
        with self.index.edit() as images:
            record = self.index.resolve(name, images)
            refs = [reference.local_name(n) for n in names]
            targets = [str(r) for r in refs if not r.digest] if names else list(record.names)
            for full in targets:
                if full not in record.names:
                    failed = ImageNotFound(f"{full}: tag not known")
                    break
                record.names.remove(full)
                removed.append(full)
            # A digest name (pulled by digest) goes too; as podman, one it does not have is no error.
            if not names:
                digests = list(record.digest_names)
            else:
                digests = [] if failed else [str(r) for r in refs if r.digest]
            record.digest_names = [n for n in record.digest_names if n not in digests]
        for full in removed:
            self._event("untag", id=record.id, name=full)
        if failed:
            raise failed

    # -- removing ----------------------------------------------------------------------------

    def remove(self, name: str, *, force: bool = False) -> RemoveReport:
        """Remove one name (if the image has others and was named) or the whole image."""
        report = RemoveReport()
        with self.index.edit() as images:
            record = self.index.resolve(name, images)
            by_name = self._named(name, record)
            if by_name and len(record.names) > 1:
                record.names.remove(by_name)
                report.untagged.append(by_name)
                self._event("untag", id=record.id, name=by_name)
                return report
            if len(record.names) > 1 and not force:
                raise ImageInUse(
                    f"unable to delete image {record.id[:12]} (must force) - image is referenced in multiple repositories",
                    hint="use --force, or remove the names one by one",
                )
            users = self._in_use(record.id)
            if users:
                if not force:
                    raise ImageInUse(
                        f"image used by {', '.join(users)}: image is in use by a container",
                        hint="remove the containers first, or use --force to remove them too",
                    )
                raise ImageInUse(f"image used by {', '.join(users)}: remove the containers first")
            if self._is_mounted(record):
                if not force:
                    raise ImageInUse(f"image {record.id[:12]} is mounted", hint=f"run 'pyctr image unmount {record.id[:12]}' or use --force")
                self._unmount_record(record)
            report.untagged.extend(record.names)
            report.deleted.append(record.id)
            del images[record.id]
        for untagged in report.untagged:
            self._event("untag", id=record.id, name=untagged)
        self._event("remove", id=record.id, name=name)
        self.collect_garbage()
        return report

    @staticmethod
    def _named(name: str, record: ImageRecord) -> str | None:
        """The exact name of record that `name` refers to, or None if it was an ID or digest."""
        from pyctr.image import reference

        for candidate in record.names:
            if candidate == name:
                return candidate
        try:
            full = str(reference.parse(name))
            local = str(reference.local_name(name))
        except Exception:
            return None
        if local in record.names and local != full:  # as podman: localhost/NAME before docker.io's NAME
            return local
        if full in record.names:
            return full
        from pyctr.image.index import _short_name_matches

        ref = reference.parse(name)
        matches = [n for n in record.names if _short_name_matches(ref, n)]
        return matches[0] if len(matches) == 1 and not ref.digest else None

    def prune(self, *, all_images: bool = False, among: set[str] | None = None) -> list[str]:
        """Remove dangling images (no name); with all_images, every image (no containers yet use them)."""
        removed = []
        with self.index.edit() as images:
            for image_id, record in list(images.items()):
                if among is not None and image_id not in among:
                    continue  # left out by prune --filter
                if (all_images or not (record.names or record.digest_names)) and not self._is_mounted(record) and not self._in_use(image_id):
                    removed.append(image_id)
                    del images[image_id]
        for image_id in removed:
            self._event("remove", id=image_id, name=image_id)
        self.collect_garbage()
        return removed

    def collect_garbage(self) -> None:
        """Delete blobs and layers no image uses; skipped while a pull holds its lease."""
        if not self._gc_lock.parent.exists():
            return
        with try_locked(self._gc_lock) as got:
            if not got:
                return
            images = self.index.load()
            used_blobs: set[str] = set()
            used_layers: set[str] = set()
            for record in images.values():
                used_blobs.add(record.manifest_digest)
                used_blobs.add(record.config_digest)
                used_blobs.update(layer["digest"] for layer in record.layers)
                used_layers.update(record.chain_ids)
            for chain_id in self.layers.all() - used_layers:
                self.layers.remove(chain_id)
            for blob in self.content.all_digests() - used_blobs:
                if not self._is_index_of(blob, used_blobs):
                    self.content.delete(blob)
            self.content.remove_stale_ingests(keep=set())

    def _is_index_of(self, blob: str, used: set[str]) -> bool:
        """Keep an index blob while one of the manifests it lists is used."""
        try:
            data = json.loads(self.content.read(blob))
        except (OSError, ValueError):
            return False
        if not isinstance(data, dict) or "manifests" not in data:
            return False
        return any(isinstance(m, dict) and m.get("digest") in used for m in data.get("manifests") or [])

    # -- mounting ----------------------------------------------------------------------------

    def _mountpoint(self, record: ImageRecord) -> Path:
        return self.config.runroot / "image-mounts" / record.id

    def _is_mounted(self, record: ImageRecord) -> bool:
        from pyctr.linux import mount as mountmod

        point = self._mountpoint(record)
        return point.exists() and mountmod.is_mountpoint(str(point))

    def mount(self, name: str) -> Path:
        """A read-only overlay of the image's layers; mounting twice returns the same path."""
        from pyctr.linux import mount as mountmod

        record = self.get(name)
        point = self._mountpoint(record)
        with self._mount_lock(record):
            if self._is_mounted(record):
                return point
            if not record.chain_ids:
                raise InvalidArgument(f"image {record.id[:12]} has no layers to mount")
            makedirs(point, 0o700)
            mountmod.mount_at(self.layers.rootfs_mount(record.chain_ids, rootless=self.config.rootless), str(point))
        self._event("mount", id=record.id, name=name)
        return point

    def unmount(self, name: str) -> Path | None:
        record = self.get(name)
        with self._mount_lock(record):
            if not self._is_mounted(record):
                return None
            self._unmount_record(record)
        self._event("unmount", id=record.id, name=name)
        return self._mountpoint(record)

    def _unmount_record(self, record: ImageRecord) -> None:
        from pyctr.linux import mount as mountmod

        point = self._mountpoint(record)
        mountmod.unmount(str(point))
        with contextlib.suppress(OSError):
            os.rmdir(point)

    @contextlib.contextmanager
    def _mount_lock(self, record: ImageRecord) -> Iterator[None]:
        makedirs(self.config.runroot / "image-mounts")
        with locked(self.config.runroot / "image-mounts" / f"{record.id}.lock"):
            yield

    def mounted(self) -> list[tuple[ImageRecord, Path]]:
        return [(r, self._mountpoint(r)) for r in self.list() if self._is_mounted(r)]
