"""Digests, chain IDs and platform selection (pure logic)."""

import hashlib

import pytest

from pyctr import digest
from pyctr.image import oci
from pyctr.errors import DigestMismatch, InvalidArgument, NoMatchingPlatform


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_chain_ids_follow_the_oci_definition():
    a, b, c = sha(b"a"), sha(b"b"), sha(b"c")
    ab = sha(f"{a} {b}".encode())
    assert digest.chain_ids([a, b, c]) == [a, ab, sha(f"{ab} {c}".encode())]


def test_validate_rejects_other_algorithms_and_garbage():
    for bad in ["md5:abc", "sha256:XYZ", "sha256:" + "a" * 63, None, "sha512:" + "a" * 128]:
        with pytest.raises(InvalidArgument):
            digest.validate(bad)


def test_verifier_checks_size_and_digest():
    v = digest.Verifier(sha(b"hello"), 5)
    v.update(b"hel")
    v.update(b"lo")
    v.check("blob")
    short = digest.Verifier(sha(b"hello"), 6)
    short.update(b"hello")
    with pytest.raises(DigestMismatch, match="size 5"):
        short.check("blob")
    wrong = digest.Verifier(sha(b"other"))
    wrong.update(b"hello")
    with pytest.raises(DigestMismatch, match="digest"):
        wrong.check("blob")


def _index(*platforms):
    return {
        "manifests": [
            {"mediaType": oci.OCI_MANIFEST, "digest": sha(str(p).encode()), "size": 1, "platform": p}
            for p in platforms
        ]
    }


def test_select_manifest_by_platform():
    index = _index(
        {"os": "linux", "architecture": "amd64"},
        {"os": "linux", "architecture": "arm64", "variant": "v8"},
        {"os": "linux", "architecture": "arm", "variant": "v7"},
    )
    assert oci.select_manifest(index, oci.Platform.parse("linux/arm64")).platform.architecture == "arm64"
    assert oci.select_manifest(index, oci.Platform.parse("linux/amd64")).platform.architecture == "amd64"
    assert oci.select_manifest(index, oci.Platform.parse("linux/arm/v7")).platform.variant == "v7"


def test_exact_variant_wins():
    index = _index({"os": "linux", "architecture": "arm"}, {"os": "linux", "architecture": "arm", "variant": "v7"})
    assert oci.select_manifest(index, oci.Platform.parse("linux/arm/v7")).platform.variant == "v7"


def test_no_matching_platform_names_the_available_ones():
    index = _index({"os": "linux", "architecture": "amd64"})
    with pytest.raises(NoMatchingPlatform) as err:
        oci.select_manifest(index, oci.Platform.parse("linux/s390x"))
    assert "linux/amd64" in err.value.hint


def test_platform_parse_accepts_kernel_names_and_rejects_garbage():
    assert oci.Platform.parse("linux/x86_64").architecture == "amd64"
    for bad in ["linux", "linux/", "a/b/c/d"]:
        with pytest.raises(InvalidArgument):
            oci.Platform.parse(bad)
