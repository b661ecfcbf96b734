"""engine.images: pull, list, inspect, tag, remove (with its cascade), prune, mount; registry logins."""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING

from pyctr.errors import ImageInUse, ImageNotFound, InvalidArgument, PyctrError
from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.engine.services import Services
    from pyctr.image.index import ImageRecord
    from pyctr.image.pull import Progress


@value
class ImageInfo:
    """Everything `image inspect` shows: the image's record, its OCI config, its layer directories."""

    record: "ImageRecord"
    config: dict  # the OCI image config document (architecture, os, config, history, rootfs)
    lower_dirs: list[str]  # topmost first


@value
class ImageRemoval:
    """The result of removing several images: what was untagged and deleted, what failed, and podman's exit code."""

    untagged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: list["PyctrError"] = field(default_factory=list)
    exit_code: int = 0  # 0, 1 when an image was not found, 2 when one is in use, 125 otherwise


class Images:
    def __init__(self, services: "Services"):
        self._s = services

    def pull(self, name: str, *, platform: str | None = None, tls_verify: bool | None = None,
             authfile: str | None = None, progress: "Progress | None" = None) -> "ImageRecord":
        """Pull `name` (a reference; short names resolve to docker.io) and return the local image."""
        return self._s.images.pull(name, platform=platform, tls_verify=tls_verify, authfile=authfile, progress=progress)

    def list(self, name: str | None = None) -> list["ImageRecord"]:
        """Newest first; with `name`, only the image it names (as get() finds it), if any."""
        records = self._s.images.list()
        if name:
            from pyctr.image.index import find

            match = find(name, {record.id: record for record in records})
            records = [match] if match else []
        return records

    def get(self, name: str) -> "ImageRecord":
        """By name, short name, ID or ID prefix, or digest."""
        return self._s.images.get(name)

    def exists(self, name: str) -> bool:
        try:
            self.get(name)
        except ImageNotFound:
            return False
        return True

    def inspect(self, name: str) -> ImageInfo:
        """The image's record, its OCI config and its layer directories."""
        service = self._s.images
        record = service.get(name)
        return ImageInfo(record, service.config_of(record), service.lowerdirs(record))

    def tag(self, name: str, new_names: list[str]) -> None:
        self._s.images.tag(name, new_names)

    def untag(self, name: str, names: list[str] | None = None) -> None:
        """Remove names from an image (all of them when `names` is empty)."""
        self._s.images.untag(name, list(names or []))

    def remove(self, names: list[str] | None = None, *, force: bool = False, all_images: bool = False,
               ignore: bool = False) -> ImageRemoval:
        """Remove images (or just a name, when an image has several and was named by one).
        `force` removes the containers that use an image first, as podman does. podman's exit
        codes: 1 when an image was not found, 2 when one is in use."""
        service = self._s.images
        if all_images:
            targets = [record.id for record in service.list()]
        elif names:
            targets = list(names)
        else:
            raise InvalidArgument("image name or ID must be specified")
        result = ImageRemoval()
        for name in targets:
            try:
                if force:
                    self._remove_containers_of(name)
                report = service.remove(name, force=force or all_images)
            except ImageNotFound as exc:
                if not ignore:
                    result.errors.append(exc)
                    result.exit_code = result.exit_code or 1
                continue
            except ImageInUse as exc:
                result.errors.append(exc)
                result.exit_code = 2
                continue
            except PyctrError as exc:
                result.errors.append(exc)
                result.exit_code = exc.exit_code
                continue
            result.untagged += report.untagged
            result.deleted += report.deleted
        return result

    def _remove_containers_of(self, name: str) -> None:
        try:
            image_id = self._s.images.get(name).id
        except ImageNotFound:
            return
        for record in self._s.containers.using_image(image_id):
            self._s.tasks.remove(record, force=True)

    def prune(self, *, all_images: bool = False) -> list[str]:
        """Remove dangling images (with all_images, every image no container uses); their IDs."""
        return self._s.images.prune(all_images=all_images)

    def mount(self, name: str) -> Path:
        """A read-only overlay of the image's layers; where it is mounted."""
        return self._s.images.mount(name)

    def unmount(self, names: list[str] | None = None, *, all_images: bool = False) -> list[str]:
        """Unmount images mounted by mount(); the IDs of those that were mounted."""
        service = self._s.images
        targets = [record.id for record, _ in service.mounted()] if all_images else list(names or [])
        return [service.get(name).id for name in targets if service.unmount(name) is not None]

    def mounted(self) -> list[tuple["ImageRecord", Path]]:
        return self._s.images.mounted()

    # -- registries --------------------------------------------------------------------------

    def login(self, registry: str, username: str, password: str, *, tls_verify: bool | None = None,
              authfile: str | None = None) -> None:
        """Check the credentials against the registry, then store them in the auth file."""
        from pyctr.image import auth

        host = auth.registry_host(registry)
        auth.check_credentials(host, username, password, tls_verify=tls_verify)
        auth.store(host, username, password, authfile)

    def logout(self, registry: str | None = None, *, authfile: str | None = None) -> str | None:
        """Forget the stored credentials of `registry` (of every registry when None); -> the
        registry as the auth file keys it (host[:port]). NotFound when it holds none for it."""
        from pyctr.errors import NotFound
        from pyctr.image import auth

        host = auth.registry_host(registry) if registry else None
        if not auth.remove(host, authfile) and host:
            raise NotFound(f"not logged into {host}")
        return host

    def login_user(self, registry: str, *, authfile: str | None = None) -> str:
        """The user name stored for `registry`; NotFound when there is none."""
        from pyctr.errors import NotFound
        from pyctr.image import auth

        host = auth.registry_host(registry)
        found = auth.lookup(host, None, authfile)
        if not found:
            raise NotFound(f"not logged into {host}")
        return found[0]
