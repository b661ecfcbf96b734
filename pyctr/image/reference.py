"""Image references as users write them, normalised the way docker does.

`busybox` is `docker.io/library/busybox:latest`; `localhost:5000/a/b@sha256:..`
names a digest on a local registry.
"""

from __future__ import annotations

import re

from pyctr.errors import InvalidReference
from pyctr.values import value

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
# Where docker.io is really served.
DOCKER_HUB_ENDPOINT = "registry-1.docker.io"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_RE = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$"
)
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")


@value(frozen=True)
class Reference:
    """An image reference, normalised: registry, repository, and a tag or a digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """registry/repository, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        if self.digest:
            return f"{self.name}@{self.digest}"
        return f"{self.name}:{self.tag or DEFAULT_TAG}"

    def with_tag(self, tag: str) -> "Reference":
        return Reference(self.registry, self.repository, tag=tag)

    def with_digest(self, digest: str) -> "Reference":
        return Reference(self.registry, self.repository, digest=digest)

    @property
    def endpoint(self) -> str:
        """host[:port] to speak HTTP to."""
        return DOCKER_HUB_ENDPOINT if self.registry == DEFAULT_REGISTRY else self.registry


def split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first, rest
    return DEFAULT_REGISTRY, name


def parse(text: str) -> Reference:
    """Parse and normalise a reference; raises InvalidReference."""
    original = text
    if not text or text != text.strip():
        raise InvalidReference(f"invalid reference format: {original!r}")
    digest = None
    if "@" in text:
        text, digest = text.rsplit("@", 1)
        if not _DIGEST_RE.match(digest):
            raise InvalidReference(f"invalid reference format: bad digest in {original!r}")
    tag = None
    # A colon after the last slash separates the tag (a colon before it is a port).
    last = text.rsplit("/", 1)[-1]
    if ":" in last:
        text, tag = text.rsplit(":", 1)
        if not _TAG_RE.match(tag):
            raise InvalidReference(f"invalid reference format: bad tag in {original!r}")
    registry, path = split_domain(text)
    if not _DOMAIN_RE.match(registry):
        raise InvalidReference(f"invalid reference format: bad registry in {original!r}")
    if registry == "index.docker.io":
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    if not _PATH_RE.match(path):
        raise InvalidReference(
            f"invalid reference format: {original!r}",
            hint="repository names must be lowercase letters, digits and separators",
        )
    if len(registry) + 1 + len(path) > 255:
        raise InvalidReference(f"invalid reference format: name too long in {original!r}")
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(registry, path, tag=tag, digest=digest)


def local_name(text: str) -> Reference:
    """A name given to a local image (tag, untag), as podman 4.3.1 normalises it: without a
    registry it is `localhost/NAME` (no `library/`), `docker.io/NAME` is `docker.io/library/NAME`."""
    try:
        ref = parse(text)
    except InvalidReference as exc:
        path = text.split("@")[0].rpartition(":")[0] if ":" in text.rpartition("/")[2] else text.split("@")[0]
        why = "repository name must be lowercase" if path != path.lower() and path.lower() != path.upper() \
            and looks_like_reference(text.lower()) else "invalid reference format"
        raise InvalidReference(f"normalizing name \"{text}\": normalizing name \"{text}\": {why}") from exc
    if split_domain(text)[0] != DEFAULT_REGISTRY or text.startswith(("docker.io/", "index.docker.io/")):
        return ref  # a registry was named
    repository = ref.repository.removeprefix("library/") if "/" not in text.split("@")[0].split(":")[0] else ref.repository
    return Reference("localhost", repository, tag=ref.tag, digest=ref.digest)


def looks_like_reference(text: str) -> bool:
    try:
        parse(text)
    except InvalidReference:
        return False
    return True


def is_loopback_registry(registry: str) -> bool:
    """localhost, 127.0.0.0/8 and ::1 are spoken to over plain HTTP, as docker does."""
    host = registry
    if host.startswith("["):
        host = host[1 : host.index("]")]
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if host == "localhost" or host.endswith(".localhost"):
        return True
    if host == "::1":
        return True
    parts = host.split(".")
    return len(parts) == 4 and parts[0] == "127" and all(p.isdigit() and int(p) < 256 for p in parts)
