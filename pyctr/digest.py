"""Content digests (`sha256:<hex>`) and the hashing helpers around them."""

from __future__ import annotations

import re

from pyctr.errors import DigestMismatch, InvalidArgument

_SHA256_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


def validate(digest: str) -> str:
    """Return the digest if it is a well-formed sha256 digest; raise otherwise.

    Only sha256 is accepted: it is what every registry serves, and accepting
    other algorithms would let a hostile manifest pick a weak one.
    """
    if not isinstance(digest, str) or not _SHA256_RE.match(digest):
        raise InvalidArgument(f"invalid digest {digest!r}: expected sha256:<64 hex digits>")
    return digest


def hex_of(digest: str) -> str:
    return validate(digest).split(":", 1)[1]


def of_bytes(data: bytes) -> str:
    import hashlib  # OpenSSL's loading costs ~2 ms: only for commands that hash

    return "sha256:" + hashlib.sha256(data).hexdigest()


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The OCI chain IDs of a stack of layers: one per layer, bottom first."""
    result: list[str] = []
    for diff_id in diff_ids:
        validate(diff_id)
        if not result:
            result.append(diff_id)
        else:
            result.append(of_bytes(f"{result[-1]} {diff_id}".encode()))
    return result


class Verifier:
    """Hashes a stream as it passes and checks it against an expected digest and size."""

    def __init__(self, expected: str, size: int | None = None):
        self.expected = validate(expected)
        self.size = size
        import hashlib

        self._hash = hashlib.sha256()
        self.count = 0

    def update(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self.count += len(chunk)

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def check(self, what: str) -> None:
        if self.size is not None and self.count != self.size:
            raise DigestMismatch(f"{what}: size {self.count} does not match the expected {self.size}")
        if self.digest != self.expected:
            raise DigestMismatch(f"{what}: digest {self.digest} does not match the expected {self.expected}")
