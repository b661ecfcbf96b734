"""Test images built in memory from /bin/busybox and pushed through the registry HTTP API.

Building blocks, smallest first:
    file() / directory() / symlink() / hardlink() / whiteout() / opaque()   -> Entry
    Layer(entries, compression="gzip"|"zstd"|"none")    a deterministic tarball + its blob
    Image(layers, oci=..., architecture=...)             config + manifest (OCI or Docker schema2)
    Index(images, oci=...)                               OCI index or Docker manifest list
    push(registry, repo, tag, image_or_index)            blobs, child manifests, then the tag
    populate(registry)                                   pushes standard_images()

Everything is deterministic (fixed mtimes, empty user/group names, sorted entries, gzip
without timestamp), so digests are stable from run to run on the same busybox binary.
Manifests and configs are serialised with a 3-space indent, as Docker does: an engine that
re-serialises JSON instead of keeping the registry's bytes will get a different digest.
"""

from __future__ import annotations

import base64
import copy
import functools
import gzip
import hashlib
import io
import json
import os
import stat
import subprocess
import tarfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Union

import httpx
import zstandard

BUSYBOX = Path("/bin/busybox")
FIXED_MTIME = 1_700_000_000  # 2023-11-14T22:13:20Z: any constant keeps digests stable
CREATED = "2023-11-14T22:13:20Z"
DEFAULT_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
APP_UID = APP_GID = 1234

# Applets linked into /bin of every busybox image (each must be in `busybox --list`).
APPLETS = [
    "sh", "ash", "ls", "cat", "echo", "env", "id", "sleep", "true", "false", "test",
    "mkdir", "rm", "rmdir", "touch", "cp", "mv", "ln", "chmod", "chown", "stat",
    "ps", "kill", "wc", "head", "tail", "grep", "sed", "awk", "find", "xargs",
    "uname", "hostname", "whoami", "date", "mount", "umount", "readlink", "printf",
    "pwd", "tr", "cut", "sort", "uniq", "tee", "dd", "df", "du", "top", "nc",
    "wget", "ping", "ip", "ifconfig", "nslookup", "timeout", "seq", "yes", "tar",
    "gzip", "vi", "less", "md5sum", "sha256sum",
]

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    f"app:x:{APP_UID}:{APP_GID}:app:/home/app:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP = f"root:x:0:\napp:x:{APP_GID}:\nnogroup:x:65534:\n"


class MediaType:
    OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
    OCI_INDEX = "application/vnd.oci.image.index.v1+json"
    OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
    OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"  # + "+gzip" / "+zstd"
    DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
    DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
    DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
    DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"  # + ".gzip" / ".zstd"
    SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: dict) -> bytes:
    return json.dumps(obj, indent=3).encode()


# -- tar entries ------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One tar entry. `path` is relative to the rootfs ("bin/sh"); `target` is a
    symlink's target or a hardlink's source path (also rootfs-relative)."""

    path: str
    kind: str  # "file" | "dir" | "symlink" | "hardlink"
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    data: bytes = b""
    target: str = ""
    xattrs: tuple[tuple[str, str], ...] = ()


def file(path: str, data: bytes | str, mode: int = 0o644, uid: int = 0, gid: int = 0,
         xattrs: dict[str, str] | None = None) -> Entry:
    data = data.encode() if isinstance(data, str) else data
    return Entry(path, "file", mode, uid, gid, data, xattrs=tuple(sorted((xattrs or {}).items())))


def directory(path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Entry:
    return Entry(path, "dir", mode, uid, gid)


def symlink(path: str, target: str) -> Entry:
    return Entry(path, "symlink", 0o777, target=target)


def hardlink(path: str, target: str) -> Entry:
    return Entry(path, "hardlink", target=target)


def whiteout(path: str) -> Entry:
    """Deletes `path` of the lower layers (OCI/AUFS whiteout file `.wh.NAME`)."""
    parent, name = os.path.split(path)
    return file(os.path.join(parent, ".wh." + name), b"")


def opaque(directory_path: str) -> Entry:
    """Hides everything the lower layers had in `directory_path`."""
    return file(os.path.join(directory_path, ".wh..wh..opq"), b"")


_TAR_TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE,
              "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}


def tar_bytes(entries: Iterable[Entry], sort: bool = True) -> bytes:
    """A PAX tarball of `entries`; sorted by path unless `sort=False` (hostile layers
    need their exact order). Sorting puts a directory before its content."""
    entries = sorted(entries, key=lambda e: e.path) if sort else list(entries)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path)
            info.type = _TAR_TYPES[entry.kind]
            info.mode, info.uid, info.gid = entry.mode, entry.uid, entry.gid
            info.uname = info.gname = ""
            info.mtime = FIXED_MTIME
            info.linkname = entry.target
            info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in entry.xattrs}
            info.size = len(entry.data) if entry.kind == "file" else 0
            tar.addfile(info, io.BytesIO(entry.data) if entry.kind == "file" else None)
    return buffer.getvalue()


# -- layers, images, indexes ----------------------------------------------------------

_COMPRESSORS = {
    "none": lambda data: data,
    "gzip": lambda data: gzip.compress(data, compresslevel=6, mtime=0),
    "zstd": lambda data: zstandard.ZstdCompressor(level=3).compress(data),
}
_SUFFIX = {"none": "", "gzip": "gzip", "zstd": "zstd"}


class Layer:
    def __init__(self, entries: Iterable[Entry], compression: str = "gzip", sort: bool = True,
                 comment: str = ""):
        if compression not in _COMPRESSORS:
            raise ValueError(f"compression must be one of {sorted(_COMPRESSORS)}")
        self.entries = list(entries)
        self.compression = compression
        self.comment = comment  # becomes the config's history "created_by"
        self.tar = tar_bytes(self.entries, sort=sort)
        self._compress()

    def _compress(self) -> None:
        self.blob = _COMPRESSORS[self.compression](self.tar)
        self.digest = sha256_digest(self.blob)
        self.diff_id = sha256_digest(self.tar)
        self.size = len(self.blob)

    def recompressed(self, compression: str) -> "Layer":
        """The same tarball (same diff_id) with another compression."""
        layer = copy.copy(self)
        layer.compression = compression
        layer._compress()
        return layer

    def __repr__(self) -> str:
        return f"Layer({self.comment or 'unnamed'}, {self.compression}, {self.digest[:19]})"

    @property
    def media_type(self) -> str:
        """The OCI media type; see media_type_for() for Docker manifests."""
        return self.media_type_for(oci=True)

    def media_type_for(self, oci: bool) -> str:
        suffix = _SUFFIX[self.compression]
        if oci:
            return MediaType.OCI_LAYER + (f"+{suffix}" if suffix else "")
        return MediaType.DOCKER_LAYER + (f".{suffix}" if suffix else "")

    def descriptor(self, oci: bool) -> dict:
        return {"mediaType": self.media_type_for(oci), "size": self.size, "digest": self.digest}


class Image:
    """An image config + manifest over `layers`. `config` replaces the generated config
    entirely (for hostile cases); otherwise the keyword arguments describe it."""

    def __init__(self, layers: list[Layer], *, oci: bool = False, architecture: str = "amd64",
                 os: str = "linux", variant: str | None = None, cmd: list[str] | None = None,
                 env: list[str] | None = None, config_extra: dict | None = None,
                 config: dict | None = None):
        self.layers = list(layers)
        self.oci = oci
        self.config = config if config is not None else _make_config(
            self.layers, architecture, os, variant,
            cmd if cmd is not None else ["sh"], env if env is not None else DEFAULT_ENV,
            config_extra or {})
        self.config_bytes = canonical_json(self.config)
        self.config_digest = sha256_digest(self.config_bytes)
        self.media_type = MediaType.OCI_MANIFEST if oci else MediaType.DOCKER_MANIFEST
        self.manifest = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": {
                "mediaType": MediaType.OCI_CONFIG if oci else MediaType.DOCKER_CONFIG,
                "size": len(self.config_bytes),
                "digest": self.config_digest,
            },
            "layers": [layer.descriptor(oci) for layer in self.layers],
        }
        self.manifest_bytes = canonical_json(self.manifest)
        self.manifest_digest = sha256_digest(self.manifest_bytes)

    def __repr__(self) -> str:
        kind = "oci" if self.oci else "docker"
        return f"Image({kind}, {self.config.get('architecture')}, {self.manifest_digest[:19]})"

    @property
    def platform(self) -> dict:
        keys = ("architecture", "os", "variant")
        return {k: self.config[k] for k in keys if k in self.config}

    def blobs(self) -> list[bytes]:
        return [self.config_bytes] + [layer.blob for layer in self.layers]

    def children(self) -> list:
        return []

    def descriptor(self) -> dict:
        return {"mediaType": self.media_type, "size": len(self.manifest_bytes),
                "digest": self.manifest_digest}


def _make_config(layers, architecture, os_, variant, cmd, env, extra) -> dict:
    config = {"created": CREATED, "architecture": architecture, "os": os_}
    if variant:
        config["variant"] = variant
    config["config"] = {"Env": list(env), "Cmd": list(cmd), **extra}
    config["rootfs"] = {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]}
    config["history"] = [
        {"created": CREATED, "created_by": layer.comment or "pyctr test harness"} for layer in layers
    ]
    return config


class Index:
    """An OCI image index or a Docker manifest list of `images` (platforms from configs)."""

    def __init__(self, images: list[Image], *, oci: bool = True):
        self.images = list(images)
        self.oci = oci
        self.media_type = MediaType.OCI_INDEX if oci else MediaType.DOCKER_LIST
        self.manifest = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "manifests": [{**image.descriptor(), "platform": image.platform} for image in self.images],
        }
        self.manifest_bytes = canonical_json(self.manifest)
        self.manifest_digest = sha256_digest(self.manifest_bytes)

    def __repr__(self) -> str:
        return f"Index({'oci' if self.oci else 'docker'}, {self.images}, {self.manifest_digest[:19]})"

    def image_for(self, architecture: str, os: str = "linux") -> Image:
        return next(i for i in self.images
                    if i.config["architecture"] == architecture and i.config["os"] == os)

    def blobs(self) -> list[bytes]:
        return []

    def children(self) -> list[Image]:
        return self.images


@dataclass
class RawManifest:
    """Arbitrary manifest bytes (hostile cases): pushed as-is after `blobs` and `children`."""

    media_type: str
    manifest_bytes: bytes
    blob_list: list[bytes] = field(default_factory=list)
    child_list: list = field(default_factory=list)
    digest_override: str | None = None  # schema1: the registry digests the unsigned payload

    @property
    def manifest_digest(self) -> str:
        """The digest the registry reports (and pull-by-digest uses)."""
        return self.digest_override or sha256_digest(self.manifest_bytes)

    def blobs(self) -> list[bytes]:
        return self.blob_list

    def children(self) -> list:
        return self.child_list


Pushable = Union[Image, Index, RawManifest]


# -- the standard images -----------------------------------------------------------------

def busybox_entries() -> list[Entry]:
    """The base rootfs: busybox, applet symlinks, users root and app (1234:1234)."""
    available = set(subprocess.run([str(BUSYBOX), "--list"], check=True, capture_output=True,
                                   text=True).stdout.split())
    missing = [a for a in APPLETS if a not in available]
    if missing:
        raise RuntimeError(f"{BUSYBOX} lacks applets {missing}")
    return [
        directory("bin"),
        file("bin/busybox", BUSYBOX.read_bytes(), mode=0o755),
        *(symlink(f"bin/{applet}", "busybox") for applet in APPLETS),
        directory("etc"),
        file("etc/passwd", PASSWD),
        file("etc/group", GROUP),
        directory("home"),
        directory("home/app", uid=APP_UID, gid=APP_GID),
        directory("root", mode=0o700),
        directory("tmp", mode=0o1777),
        directory("var"),
    ]


@functools.cache
def busybox_layer() -> Layer:
    return Layer(busybox_entries(), "gzip", comment="busybox base")


def multi_features_entries() -> list[Entry]:
    """test/multi amd64, layer 2 (zstd): ownership, modes, links, xattrs, and the
    files that layer 3 deletes, hides and replaces."""
    return [
        file("etc/platform", "linux/amd64\n"),
        directory("opt"),
        file("opt/owned.txt", "owned by app\n", uid=APP_UID, gid=APP_GID),
        file("opt/setuid", "#!/bin/sh\necho setuid\n", mode=0o4755),
        file("opt/data.txt", "shared data\n"),
        hardlink("opt/hardlink-to-data.txt", "opt/data.txt"),  # sorts after its source
        symlink("opt/relative-link", "data.txt"),
        symlink("opt/absolute-link", "/etc/passwd"),
        directory("opt/dir"),
        file("opt/dir/nested.txt", "nested\n"),
        file("opt/xattr.txt", "has an xattr\n", xattrs={"user.test": "pyctr"}),
        file("opt/doomed.txt", "deleted by layer 3\n"),
        directory("opt/opaque"),
        file("opt/opaque/lower.txt", "hidden by layer 3\n"),
        directory("opt/opaque/lower-dir"),
        file("opt/opaque/lower-dir/deep.txt", "hidden by layer 3\n"),
        file("opt/replaced.txt", "old content\n"),
    ]


def multi_changes_entries() -> list[Entry]:
    """test/multi amd64, layer 3 (uncompressed): a whiteout, an opaque dir, a replacement."""
    return [
        whiteout("opt/doomed.txt"),                  # opt/.wh.doomed.txt
        directory("opt/opaque"),
        opaque("opt/opaque"),                        # opt/opaque/.wh..wh..opq
        file("opt/opaque/upper.txt", "new in layer 3\n"),
        file("opt/replaced.txt", "new content\n"),
    ]


# The /opt (and /etc/platform) of test/multi amd64 after applying all three layers.
# Hardlink entries mean "same inode as target". Everything else is the busybox base.
MULTI_AMD64_EXPECTED = [
    file("etc/platform", "linux/amd64\n"),
    directory("opt"),
    file("opt/owned.txt", "owned by app\n", uid=APP_UID, gid=APP_GID),
    file("opt/setuid", "#!/bin/sh\necho setuid\n", mode=0o4755),
    file("opt/data.txt", "shared data\n"),
    hardlink("opt/hardlink-to-data.txt", "opt/data.txt"),
    symlink("opt/relative-link", "data.txt"),
    symlink("opt/absolute-link", "/etc/passwd"),
    directory("opt/dir"),
    file("opt/dir/nested.txt", "nested\n"),
    file("opt/xattr.txt", "has an xattr\n", xattrs={"user.test": "pyctr"}),
    directory("opt/opaque"),
    file("opt/opaque/upper.txt", "new in layer 3\n"),
    file("opt/replaced.txt", "new content\n"),
]
MULTI_AMD64_ABSENT = [
    "opt/doomed.txt",                 # whited out
    "opt/.wh.doomed.txt",             # whiteout markers never reach the rootfs
    "opt/opaque/lower.txt",           # hidden by the opaque marker
    "opt/opaque/lower-dir",
    "opt/opaque/.wh..wh..opq",
]


def arm64_entries() -> list[Entry]:
    return [
        directory("bin"),
        file("bin/busybox", BUSYBOX.read_bytes(), mode=0o755),  # really amd64: only the config says arm64
        symlink("bin/sh", "busybox"),
        directory("etc"),
        file("etc/platform", "linux/arm64\n"),
    ]


@functools.cache
def busybox_image(oci: bool = False) -> Image:
    return Image([busybox_layer()], oci=oci)


@functools.cache
def multi_amd64_image() -> Image:
    layers = [
        busybox_layer(),
        Layer(multi_features_entries(), "zstd", comment="features"),
        Layer(multi_changes_entries(), "none", comment="whiteouts and replacements"),
    ]
    return Image(layers, oci=True)


@functools.cache
def multi_arm64_image() -> Image:
    return Image([Layer(arm64_entries(), "gzip", comment="arm64 marker")], oci=True,
                 architecture="arm64", variant="v8")


@functools.cache
def multi_index() -> Index:
    return Index([multi_amd64_image(), multi_arm64_image()], oci=True)


MANY_LAYERS = 125  # Docker's limit, and what pyctr must run


@functools.cache
def many_layers_image(count: int = MANY_LAYERS) -> Image:
    """`count` layers: busybox, then one small layer each that adds /stack/NNN and rewrites
    /stack/top, so that a root filesystem shows every layer and which one is on top."""
    layers = [busybox_layer()]
    for i in range(1, count):
        layers.append(Layer([directory("stack"), file(f"stack/{i:03d}", f"{i}\n"), file("stack/top", f"{i}\n")],
                            "gzip", comment=f"layer {i}"))
    return Image(layers, oci=True)


def push_many_layers(registry, count: int = MANY_LAYERS) -> str:
    """Push many_layers_image(count) as test/layers<count> (once per registry); its reference."""
    repo = f"test/layers{count}"
    if f"{repo}:latest" not in registry.pushed:
        registry.pushed[f"{repo}:latest"] = many_layers_image(count)
        try:
            push(registry, repo, "latest", registry.pushed[f"{repo}:latest"])
        except BaseException:
            del registry.pushed[f"{repo}:latest"]
            raise
    return f"{registry.host}/{repo}:latest"


WEB_PAGE = "hello from pyctr\n"


@functools.cache
def web_image() -> Image:
    """busybox with httpd and a page in /www: `httpd -f -p 80 -h /www` serves WEB_PAGE."""
    layer = Layer([symlink("bin/httpd", "busybox"), directory("www"), file("www/index.html", WEB_PAGE)],
                  "gzip", comment="httpd and a page")
    return Image([busybox_layer(), layer], oci=False, config_extra={"ExposedPorts": {"80/tcp": {}}})


def standard_images() -> dict[str, Image | Index]:
    """"repo:tag" -> what populate() pushes there."""
    return {
        "test/busybox:latest": busybox_image(oci=False),   # Docker schema2, one gzip layer
        "test/web:latest": web_image(),                    # busybox, httpd and /www/index.html
        "test/multi:latest": multi_index(),                # OCI index: amd64 (3 layers), arm64
        "test/oci:latest": busybox_image(oci=True),        # same layer, OCI media types
        "public/busybox:latest": busybox_image(oci=False),  # anonymous pull on token registry
    }


def populate(registry) -> dict[str, Image | Index]:
    pushed = standard_images()
    for ref, item in pushed.items():
        repo, tag = ref.rsplit(":", 1)
        push(registry, repo, tag, item)
    registry.pushed.update(pushed)
    return pushed


# -- pushing -------------------------------------------------------------------------------

def client_for(registry, repo: str | None = None, actions: str = "pull,push") -> httpx.Client:
    """An httpx client authenticated as the test user (bearer token scoped to `repo`)."""
    client = httpx.Client(base_url=registry.url, timeout=30.0)
    if registry.auth == "basic":
        client.auth = (registry.username, registry.password)
    elif registry.auth == "token":
        scope = f"repository:{repo}:{actions}" if repo else None
        client.headers["Authorization"] = "Bearer " + fetch_token(registry, scope)
    return client


def fetch_token(registry, scope: str | None, credentials: bool = True) -> str:
    """A JWT from a token registry's issuer, as the test user or (credentials=False)
    anonymously; `scope` like "repository:test/busybox:pull"."""
    params = {"service": registry.issuer.service}
    if scope:
        params["scope"] = scope
    auth = None
    if credentials:
        auth = (registry.username, registry.password)
        params["account"] = registry.username
    response = httpx.get(registry.issuer.url, params=params, auth=auth, timeout=10.0)
    response.raise_for_status()
    return response.json()["token"]


def push(registry, repo: str, tag: str, item: Pushable, chunk_size: int | None = None) -> str:
    """Push `item` (and its children, by digest) then tag it; returns Docker-Content-Digest.
    `chunk_size` switches blob uploads from monolithic PUT to PATCH chunks."""
    with client_for(registry, repo) as client:
        return _push_with(client, repo, tag, item, chunk_size)


def _push_with(client: httpx.Client, repo: str, ref: str, item: Pushable, chunk_size: int | None) -> str:
    for child in item.children():
        _push_with(client, repo, child.manifest_digest, child, chunk_size)
    for blob in item.blobs():
        upload_blob(client, repo, blob, chunk_size)
    response = client.put(f"/v2/{repo}/manifests/{ref}", content=item.manifest_bytes,
                          headers={"Content-Type": item.media_type})
    _expect(response, 201)
    digest = response.headers["Docker-Content-Digest"]
    if digest != item.manifest_digest:
        raise AssertionError(f"registry digested {repo}:{ref} as {digest}, expected {item.manifest_digest}")
    return digest


def upload_blob(client: httpx.Client, repo: str, data: bytes, chunk_size: int | None = None) -> str:
    digest = sha256_digest(data)
    if client.head(f"/v2/{repo}/blobs/{digest}").status_code == 200:
        return digest
    response = client.post(f"/v2/{repo}/blobs/uploads/")
    _expect(response, 202)
    location = _location(response)
    if chunk_size:
        for offset in range(0, len(data), chunk_size):
            chunk = data[offset:offset + chunk_size]
            response = client.patch(location, content=chunk, headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
            })
            _expect(response, 202)
            location = _location(response)
        body = b""
    else:
        body = data
    response = client.put(_with_query(location, digest=digest), content=body,
                          headers={"Content-Type": "application/octet-stream"})
    _expect(response, 201)
    return digest


def _location(response: httpx.Response) -> str:
    # The upload URL carries state in its query string; it may be relative.
    return urllib.parse.urljoin(str(response.request.url), response.headers["Location"])


def _with_query(url: str, **params: str) -> str:
    separator = "&" if urllib.parse.urlsplit(url).query else "?"
    return url + separator + urllib.parse.urlencode(params)


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise AssertionError(f"{response.request.method} {response.request.url}: expected {status}, "
                             f"got {response.status_code}: {response.text[:500]}")


# -- hostile and broken images -----------------------------------------------------------
# Each helper returns something push() accepts; the registry stores it without complaint
# (it only checks that referenced blobs exist), so pullers must catch the problem.

def with_wrong_layer_size(image: Image, delta: int = 1000, layer: int = -1) -> RawManifest:
    """The layer descriptor claims `delta` more bytes than the blob has (a truncated
    download, as seen by the puller); a negative delta makes the blob too long."""
    manifest = copy.deepcopy(image.manifest)
    manifest["layers"][layer]["size"] += delta
    return RawManifest(image.media_type, canonical_json(manifest), image.blobs())


def with_wrong_diff_id(image: Image, layer: int = -1) -> Image:
    """The config's rootfs.diff_ids entry does not match the uncompressed layer."""
    config = copy.deepcopy(image.config)
    config["rootfs"]["diff_ids"][layer] = sha256_digest(b"not the layer")
    return Image(image.layers, oci=image.oci, config=config)


def with_undecompressable_layer(image: Image) -> RawManifest:
    """A layer declared gzip whose (correctly digested) blob is not gzip at all."""
    garbage = b"this is not a gzip stream\n" * 10
    manifest = copy.deepcopy(image.manifest)
    manifest["layers"][-1].update(size=len(garbage), digest=sha256_digest(garbage))
    return RawManifest(image.media_type, canonical_json(manifest), [image.config_bytes, garbage])


def escaping_layer() -> Layer:
    """Entries that try to write outside the rootfs; an unpacker must refuse or contain
    them. Written in this exact order (symlinks before the paths through them)."""
    return Layer([
        file("../escaped-dotdot", "escaped via ..\n"),
        file("/escaped-absolute", "escaped via an absolute name\n"),
        symlink("evil-root", "/"),
        file("evil-root/escaped-via-symlink", "escaped via an absolute symlink\n"),
        symlink("evil-up", "../../../../../.."),
        file("evil-up/escaped-via-relative-symlink", "escaped via a relative symlink\n"),
        hardlink("evil-hardlink", "../../../../../../etc/passwd"),
    ], "gzip", sort=False, comment="escaping entries")


def schema1_manifest(repo: str, tag: str, layer: Layer | None = None) -> RawManifest:
    """A signed schema1 manifest (the registry verifies its JWS, and refuses schema1
    unless its config enables it, as ours does). Pullers should refuse schema1 with a
    clear error. `.manifest_digest` is the registry's: that of the unsigned payload."""
    layer = layer or busybox_layer()
    v1_compat = {"id": hashlib.sha256(layer.digest.encode()).hexdigest(), "created": CREATED,
                 "architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]}}
    payload = canonical_json({
        "schemaVersion": 1, "name": repo, "tag": tag, "architecture": "amd64",
        "fsLayers": [{"blobSum": layer.digest}],
        "history": [{"v1Compatibility": json.dumps(v1_compat)}],
    })
    return RawManifest(MediaType.SCHEMA1_SIGNED, _libtrust_sign(payload), [layer.blob],
                       digest_override=sha256_digest(payload))


def _libtrust_sign(payload: bytes) -> bytes:
    """Docker's "pretty JWS": the payload JSON with a `signatures` member spliced in
    before its closing brace; `protected` records where (formatLength/formatTail)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    key = ec.generate_private_key(ec.SECP256R1())
    numbers = key.public_key().public_numbers()
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    # libtrust key ID: base32 of the first 240 bits of sha256(SPKI), in groups of four.
    kid_b32 = base64.b32encode(hashlib.sha256(spki).digest()[:30]).decode()
    kid = ":".join(kid_b32[i:i + 4] for i in range(0, len(kid_b32), 4))
    jwk = {"crv": "P-256", "kid": kid, "kty": "EC",
           "x": b64url(numbers.x.to_bytes(32, "big")), "y": b64url(numbers.y.to_bytes(32, "big"))}
    format_length = payload.rindex(b"}")
    while payload[format_length - 1:format_length] in (b"\n", b" "):
        format_length -= 1
    protected = b64url(json.dumps({"formatLength": format_length,
                                   "formatTail": b64url(payload[format_length:]),
                                   "time": CREATED}).encode())
    r, s = decode_dss_signature(key.sign(f"{protected}.{b64url(payload)}".encode(),
                                         ec.ECDSA(hashes.SHA256())))
    signature = {"header": {"jwk": jwk, "alg": "ES256"},
                 "signature": b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big")),
                 "protected": protected}
    signatures = json.dumps([signature], indent=3).replace("\n", "\n   ")
    return payload[:format_length] + b',\n   "signatures": ' + signatures.encode() + payload[format_length:]


# -- checking an unpacked tree -----------------------------------------------------------

def tree_mismatches(root: Path, expected: Iterable[Entry], absent: Iterable[str] = ()) -> list[str]:
    """Differences between the rootfs at `root` and `expected` entries (kind, mode,
    owner, content, link target, xattrs; hardlinks share an inode) and `absent` paths."""
    problems = []
    for entry in expected:
        path = root / entry.path
        try:
            st = path.lstat()
        except FileNotFoundError:
            problems.append(f"{entry.path}: missing")
            continue
        problems += [f"{entry.path}: {p}" for p in _entry_mismatches(root, path, st, entry)]
    for rel in absent:
        if os.path.lexists(root / rel):
            problems.append(f"{rel}: should not exist")
    return problems


def _entry_mismatches(root: Path, path: Path, st: os.stat_result, entry: Entry) -> list[str]:
    if entry.kind == "hardlink":
        source = (root / entry.target).lstat()
        return [] if (st.st_ino, st.st_dev) == (source.st_ino, source.st_dev) else [
            f"not a hardlink of {entry.target}"]
    kind = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink"}.get(stat.S_IFMT(st.st_mode))
    if kind != entry.kind:
        return [f"is a {kind}, expected a {entry.kind}"]
    if kind == "symlink":
        target = os.readlink(path)
        return [] if target == entry.target else [f"links to {target!r}, expected {entry.target!r}"]
    problems = []
    if stat.S_IMODE(st.st_mode) != entry.mode:
        problems.append(f"mode {stat.S_IMODE(st.st_mode):o}, expected {entry.mode:o}")
    if (st.st_uid, st.st_gid) != (entry.uid, entry.gid):
        problems.append(f"owner {st.st_uid}:{st.st_gid}, expected {entry.uid}:{entry.gid}")
    if kind == "file" and path.read_bytes() != entry.data:
        problems.append(f"content {path.read_bytes()[:60]!r}, expected {entry.data[:60]!r}")
    for name, value in entry.xattrs:
        try:
            actual = os.getxattr(path, name, follow_symlinks=False).decode()
        except OSError as error:
            actual = f"<{error.strerror}>"
        if actual != value:
            problems.append(f"xattr {name}={actual!r}, expected {value!r}")
    return problems
