"""OCI and Docker media types, descriptors and platforms (pure values)."""

from __future__ import annotations

import os

from pyctr import digest as digestmod
from pyctr.errors import InvalidArgument, UnsupportedMediaType
from pyctr.values import value

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDIST_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
SCHEMA1_TYPES = (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED)
ACCEPT_MANIFESTS = ", ".join(INDEX_TYPES + MANIFEST_TYPES)

# Layer media type -> compression ("gzip", "zstd" or "none").
LAYER_COMPRESSION = {
    OCI_LAYER: "none",
    OCI_LAYER_NONDIST: "none",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_NONDIST_GZIP: "gzip",
    DOCKER_LAYER_GZIP: "gzip",
    DOCKER_LAYER_FOREIGN: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    OCI_LAYER_NONDIST_ZSTD: "zstd",
    "application/vnd.docker.image.rootfs.diff.tar": "none",
    # BuildKit's zstd layers when it writes Docker media types.
    "application/vnd.docker.image.rootfs.diff.tar.zstd": "zstd",
}


@value(frozen=True)
class Descriptor:
    """An OCI descriptor: what a manifest or an index says of a blob or a manifest."""

    media_type: str
    digest: str
    size: int
    platform: "Platform | None" = None

    @classmethod
    def from_json(cls, obj: dict) -> "Descriptor":
        if not isinstance(obj, dict):
            raise UnsupportedMediaType("malformed descriptor in manifest")
        size = obj.get("size")
        if not isinstance(size, int) or size < 0:
            raise UnsupportedMediaType("malformed descriptor in manifest: bad size")
        plat = obj.get("platform")
        return cls(
            media_type=str(obj.get("mediaType", "")),
            digest=digestmod.validate(obj.get("digest")),
            size=size,
            platform=Platform.from_json(plat) if isinstance(plat, dict) else None,
        )


_ARCH_ALIASES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm", "i686": "386", "i386": "386"}


@value(frozen=True)
class Platform:
    """An image's platform, as OCI indexes and configs name it (Go's names: amd64, arm64)."""

    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def from_json(cls, obj: dict) -> "Platform":
        return cls(str(obj.get("os", "")), str(obj.get("architecture", "")), obj.get("variant") or None)

    @classmethod
    def parse(cls, text: str) -> "Platform":
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidArgument(f"invalid platform {text!r}: expected OS/ARCH[/VARIANT]")
        return cls(parts[0], _ARCH_ALIASES.get(parts[1], parts[1]), parts[2] if len(parts) == 3 else None)

    @classmethod
    def host(cls) -> "Platform":
        machine = os.uname().machine
        arch = _ARCH_ALIASES.get(machine, machine)
        variant = None
        if arch == "arm64":
            variant = "v8"
        elif machine.startswith("armv7"):
            variant = "v7"
        return cls("linux", arch, variant)

    def mismatch(self, config: dict) -> str:
        """podman 4.3.1's warning when an image (its config) is not of this wanted platform; "" when it is."""
        got = Platform.from_json(config)
        got_variant = got.variant or ("v8" if got.architecture == "arm64" else None)  # an arm64 image without one is v8
        if (got.os, got.architecture) == (self.os, self.architecture) and (not self.variant or got_variant == self.variant):
            return ""
        return f"image platform ({got._go()}) does not match the expected platform ({self._go()})"

    def _go(self) -> str:
        """As podman prints a platform: Go's %v of its struct."""
        return f"{{{self.architecture} {self.os}  [] {self.variant or ''}}}"

    def matches(self, other: "Platform") -> bool:
        """Does `other` (an index entry) serve this wanted platform?"""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        if self.variant and other.variant:
            return self.variant == other.variant
        return True

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def select_manifest(index: dict, wanted: Platform) -> Descriptor:
    """Pick the index entry for a platform; an exact variant wins over a missing one."""
    from pyctr.errors import NoMatchingPlatform

    candidates = []
    for entry in index.get("manifests") or []:
        desc = Descriptor.from_json(entry)
        if desc.platform and wanted.matches(desc.platform):
            exact = desc.platform.variant == wanted.variant
            candidates.append((0 if exact else 1, desc))
    if not candidates:
        available = ", ".join(
            str(Descriptor.from_json(e).platform) for e in index.get("manifests") or [] if isinstance(e, dict) and e.get("platform")
        )
        raise NoMatchingPlatform(
            f"no image found in manifest list for platform {wanted}",
            hint=f"available: {available}" if available else None,
        )
    candidates.sort(key=lambda c: c[0])
    return candidates[0][1]
