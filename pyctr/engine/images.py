"""engine.images: pull, list, inspect, tag, remove (with its cascade), prune, mount; registry logins."""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)

from pyctr.errors import ImageInUse, ImageNotFound, InvalidArgument, PyctrError
from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.engine.services import Services
    from pyctr.image.index import ImageRecord
    from pyctr.image.history import HistoryEntry
    from pyctr.image.listing import ImageRow
    from pyctr.image.pull import Progress
    from pyctr.snapshot.diff import Change


@value
class ImageInfo:
    """Everything `image inspect` shows: the image's record, its OCI config, its layer directories."""

    record: "ImageRecord"
    config: dict  # the OCI image config document (architecture, os, config, history, rootfs)
    lower_dirs: list[str]  # topmost first
    annotations: dict = field(default_factory=dict)  # the OCI manifest's


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
             authfile: str | None = None, progress: "Progress | None" = None, credentials: str | None = None,
             cert_dir: str | None = None, arch: str | None = None, os_name: str | None = None,
             variant: str | None = None) -> "ImageRecord":
        """Pull `name` (a reference; short names resolve to docker.io) and return the local image.
        `credentials`: USER:PASSWORD instead of the stored login; `cert_dir`: the registry's CA and
        client certificates; `arch`/`os_name`/`variant`: parts of the platform (not with `platform`)."""
        record = self._s.images.pull(name, platform=_platform(platform, arch, os_name, variant), tls_verify=tls_verify,
                                     authfile=authfile, progress=progress, credentials=_credentials(credentials),
                                     cert_dir=cert_dir)
        self._check_platform(record, platform, arch, os_name, variant, progress)
        return record

    def _check_platform(self, record: "ImageRecord", platform: str | None, arch: str | None, os_name: str | None,
                        variant: str | None, progress: "Progress | None") -> None:
        """As podman 4.3.1: a platform asked for that the pulled image is not of (a single-platform
        image is pulled whatever its platform) is a warning, reported as a PullEvent("warning")."""
        from pyctr.image import oci
        from pyctr.image.pull import PullEvent

        if progress is None or not (platform or arch or os_name or variant):
            return
        host = oci.Platform.host()
        if platform:
            wanted = oci.Platform.parse(platform)
        else:
            wanted = oci.Platform(os_name or host.os, oci.Platform.parse(f"linux/{arch}").architecture if arch else host.architecture,
                                  variant)
        message = wanted.mismatch(self._s.images.config_of(record))
        if message:
            progress(PullEvent("warning", message=message))

    def pull_all_tags(self, name: str, *, platform: str | None = None, tls_verify: bool | None = None,
                      authfile: str | None = None, progress: "Progress | None" = None, credentials: str | None = None,
                      cert_dir: str | None = None, arch: str | None = None, os_name: str | None = None,
                      variant: str | None = None) -> list["ImageRecord"]:
        """Every tagged image of the repository `name` (which names no tag), as pull --all-tags."""
        from pyctr.image import reference

        if ":" in name.rpartition("/")[2] or "@" in name:
            raise InvalidArgument("tag can't be used with --all-tags/-a")
        repo = reference.parse(name).name
        creds = _credentials(credentials)
        tags = self._s.images.remote_tags(repo, tls_verify=tls_verify, authfile=authfile, credentials=creds, cert_dir=cert_dir)
        wanted = _platform(platform, arch, os_name, variant)
        records = []
        for tag in tags:
            records.append(self._s.images.pull(f"{repo}:{tag}", platform=wanted, tls_verify=tls_verify, authfile=authfile,
                                               progress=progress, credentials=creds, cert_dir=cert_dir))
            self._check_platform(records[-1], platform, arch, os_name, variant, progress)
        return records

    def list(self, name: str | None = None, *, filters: list[str] | None = None) -> list["ImageRecord"]:
        """Newest first; with `name`, only the image it names (as get() finds it), if any;
        `filters`: podman's `images --filter KEY=VALUE` (every one must match)."""
        records = self._s.images.list()
        if name:
            from pyctr.image.index import find

            match = find(name, {record.id: record for record in records})
            records = [match] if match else []
        if filters:
            from pyctr.image import listing

            for key, value, negated in listing.parse_filters(filters):
                keep = self._image_filter(key, value)
                records = [record for record in records if keep(record) != negated]
        return records

    def rows(self, name: str | None = None, *, filters: list[str] | None = None,
             sort: str = "created") -> list["ImageRow"]:
        """`images`: a row per name of each image list() gives, sorted by `sort` (created,
        newest first; id, repository, size, tag ascending), as podman."""
        from pyctr.image import listing

        key = listing.sort_key(sort)  # a bad key fails before any work, as podman
        return sorted(listing.rows(self.list(name, filters=filters)), key=key)

    def summaries(self, rows: list["ImageRow"]) -> list[dict]:
        """`images --format json`: one document per image of `rows`, in their order (podman's fields)."""
        from pyctr.image import listing

        counts = self.container_counts()
        records = {row.record.id: row.record for row in rows}
        return [listing.summary_document(rec, self.labels(rec), counts.get(image_id, 0)) for image_id, rec in records.items()]

    def _image_filter(self, key: str, value: str):
        """A predicate over image records for one `--filter KEY=VALUE`."""
        from pyctr import filters, units
        from pyctr.image import listing

        def created(record) -> float:
            return units.parse_created(record.created) or 0.0

        if key in ("after", "since", "before"):
            try:
                point = created(self.get(value))
            except ImageNotFound as exc:
                raise ImageNotFound(f"could not find local image for filter filter \"{key}\"=\"{value}\": {exc}") from None
            return (lambda r: created(r) < point) if key == "before" else (lambda r: created(r) > point)
        if key == "until":
            limit = filters.until_time(value)
            return lambda r: created(r) < limit
        if key == "dangling":
            wanted = listing.boolean(key, value)
            return lambda r: (not r.names and not r.digest_names) == wanted
        if key in ("intermediate", "readonly"):  # pyctr keeps no intermediate images and no read-only stores
            wanted = listing.boolean(key, value)
            return lambda r: not wanted
        if key == "id":
            return lambda r: r.id == value.removeprefix("sha256:")
        if key == "reference":
            return lambda r: any(listing.reference_matches(value, n) for n in r.names + r.digest_names)
        if key == "label":
            return lambda r: filters.label_matches(self._s.images.config_of(r).get("config", {}).get("Labels") or {}, value)
        # containers: true, false, or a container's name or ID
        records = self._s.containers.all()
        if value in ("true", "false"):
            used = {c.image_id for c in records}
            return lambda r: (r.id in used) == (value == "true")
        used = {c.image_id for c in records if c.name == value or c.id.startswith(value)}
        return lambda r: r.id in used

    def labels(self, record: "ImageRecord") -> dict[str, str]:
        """The image's labels (from its config)."""
        return dict((self._s.images.config_of(record).get("config") or {}).get("Labels") or {})

    def container_counts(self) -> dict[str, int]:
        """How many containers use each image, by image ID."""
        counts: dict[str, int] = {}
        for record in self._s.containers.all():
            counts[record.image_id] = counts.get(record.image_id, 0) + 1
        return counts

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
        return ImageInfo(record, service.config_of(record), service.lowerdirs(record), _annotations(service, record))

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

    def prune(self, *, all_images: bool = False, filters: list[str] | None = None) -> list[str]:
        """Remove dangling images (with all_images, every image no container uses), of those that
        match `filters` (images --filter keys); their IDs."""
        among = {record.id for record in self.list(filters=filters)} if filters else None
        return self._s.images.prune(all_images=all_images, among=among)

    def mount(self, name: str) -> Path:
        """A read-only overlay of the image's layers; where it is mounted."""
        return self._s.images.mount(name)

    def mount_all(self) -> list[tuple["ImageRecord", Path]]:
        """`image mount --all`: every image mounted; every mounted image and where."""
        for record in self._s.images.list():
            if record.chain_ids:  # not a manifest list (it has no layers of its own)
                self._s.images.mount(record.id)
        return self.mounted()

    def unmount(self, names: list[str] | None = None, *, all_images: bool = False) -> list[str]:
        """Unmount images mounted by mount(); the IDs of those that were mounted."""
        service = self._s.images
        targets = [record.id for record, _ in service.mounted()] if all_images else list(names or [])
        return [service.get(name).id for name in targets if service.unmount(name) is not None]

    def mounted(self) -> list[tuple["ImageRecord", Path]]:
        return self._s.images.mounted()

    def history(self, name: str) -> list["HistoryEntry"]:
        """The image's history entries, newest first, each with the size of the layer it made."""
        from pyctr.image.history import history

        service = self._s.images
        record = service.get(name)
        top_of = {}
        for other in sorted(service.list(), key=lambda r: len(r.chain_ids), reverse=True):
            if other.chain_ids:
                top_of[other.chain_ids[-1]] = (other.id, list(other.names))
        layers = service.layers
        return history(record.id, service.config_of(record), list(record.chain_ids),
                       lambda chain: int(layers.info(chain).get("size") or 0), top_of)

    def diff(self, name: str) -> list["Change"]:
        """What the image's top layer changes against the layers below it."""
        from pyctr.snapshot.diff import changes

        service = self._s.images
        record = service.get(name)
        if not record.chain_ids:
            return []
        layers = service.layers
        return changes(str(layers.path(record.chain_ids[-1])), layers.lowerdirs(record.chain_ids[:-1]))

    # -- transfers (pyctr.engine.imagetransfer) -----------------------------------------------

    def push(self, image: str, destination: str | None = None, *, tls_verify: bool | None = None,
             authfile: str | None = None, credentials: str | None = None, cert_dir: str | None = None,
             compression: str | None = None, fmt: str | None = None, progress=None, chunk_size: int | None = None):
        """Push a local image to `destination` (default: its own name) -> imagetransfer.PushResult.
        `compression`: gzip or zstd instead of the layers' own; `fmt`: oci or v2s2."""
        from pyctr.engine import imagetransfer

        return imagetransfer.push(self._s, image, destination, tls_verify=tls_verify, authfile=authfile,
                                  credentials=_credentials(credentials), cert_dir=cert_dir, compression=compression,
                                  fmt=fmt, progress=progress, chunk_size=chunk_size)

    def save(self, images: list[str], out, *, fmt: str = "docker-archive", multi_image: bool = False,
             compress: bool = False, progress=None) -> None:
        """Write `images` to `out` (a binary file, or a directory path for oci-dir/docker-dir)."""
        from pyctr.engine import imagetransfer

        imagetransfer.save(self._s, images, out, fmt=fmt, multi_image=multi_image, compress=compress, progress=progress)

    def commit(self, container: str, image: str | None = None, *, changes: list[str] | None = None,
               message: str | None = None, author: str | None = None, pause: bool = False, squash: bool = False,
               fmt: str = "oci", include_volumes: bool = False, progress=None) -> str:
        """A new image of the container's changes over its image (named `image` if given) -> its ID."""
        from pyctr.engine import imagecreate

        return imagecreate.commit(self._s, container, image, changes=changes, message=message, author=author,
                                  pause=pause, squash=squash, fmt=fmt, include_volumes=include_volumes, progress=progress)

    def import_image(self, source, name: str | None = None, *, changes: list[str] | None = None,
                     message: str | None = None, arch: str | None = None, os_name: str | None = None,
                     variant: str | None = None, progress=None) -> str:
        """A one-layer image from a tarball (path, URL or stream) -> its ID."""
        from pyctr.engine import imagecreate

        return imagecreate.import_image(self._s, source, name, changes=changes, message=message, arch=arch,
                                        os_name=os_name, variant=variant, progress=progress)

    def load(self, source, *, progress=None) -> list[str]:
        """Load the images of an archive (a path or a binary stream) -> the names (or IDs) loaded."""
        from pyctr.engine import imagetransfer

        return imagetransfer.load(self._s, source, progress=progress)

    # -- registries --------------------------------------------------------------------------

    def login(self, registry: str, username: str, password: str, *, tls_verify: bool | None = None,
              authfile: str | None = None, cert_dir: str | None = None) -> Path:
        """Check the credentials against the registry (`cert_dir`: its CA and client
        certificates), then store them in the auth file; -> the auth file used."""
        from pyctr.image import auth

        host = auth.registry_host(registry)
        auth.check_credentials(host, username, password, tls_verify=tls_verify, cert_dir=cert_dir)
        return auth.store(host, username, password, authfile)

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


def _platform(platform: str | None, arch: str | None, os_name: str | None, variant: str | None) -> str | None:
    """OS/ARCH[/VARIANT] from --platform or from --os/--arch/--variant over the host's."""
    if platform and (arch or os_name):
        raise InvalidArgument("--platform option can not be specified with --arch or --os")
    if platform or not (arch or os_name or variant):
        return platform
    from pyctr.image import oci

    host = oci.Platform.host()
    parts = [os_name or host.os, arch or host.architecture]
    if variant or (not arch and host.variant):
        parts.append(variant or host.variant)
    return "/".join(parts)


def _credentials(creds: str | None) -> tuple[str, str] | None:
    """--creds USER:PASSWORD (the front end asks for a missing password)."""
    if creds is None:
        return None
    user, sep, password = creds.partition(":")
    if not user:
        raise InvalidArgument("credentials must be in the form USERNAME[:PASSWORD]")
    return user, password


def _annotations(service, record: "ImageRecord") -> dict:
    """The OCI manifest's annotations (image inspect's Annotations, as podman's)."""
    import json

    from pyctr.image import oci

    if record.manifest_media_type != oci.OCI_MANIFEST or not record.manifest_digest:
        return {}
    try:
        return dict(json.loads(service.content.read(record.manifest_digest)).get("annotations") or {})
    except (OSError, ValueError, AttributeError, PyctrError):
        return {}
