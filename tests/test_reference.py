"""References as users write them, normalised as docker and podman do."""

import pytest

from pyctr.image import reference
from pyctr.errors import InvalidReference


@pytest.mark.parametrize(
    "text, expected",
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("user/app", "docker.io/user/app:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest"),
        ("localhost/app", "localhost/app:latest"),
        ("localhost:5000/test/multi:v1", "localhost:5000/test/multi:v1"),
        ("127.0.0.1:5000/a/b/c", "127.0.0.1:5000/a/b/c:latest"),
        ("quay.io/podman/stable:v4.3", "quay.io/podman/stable:v4.3"),
        ("[::1]:5000/app", "[::1]:5000/app:latest"),
        ("busybox@sha256:" + "a" * 64, "docker.io/library/busybox@sha256:" + "a" * 64),
        ("busybox:tag@sha256:" + "b" * 64, "docker.io/library/busybox@sha256:" + "b" * 64),
    ],
)
def test_normalises(text, expected):
    assert str(reference.parse(text)) == expected


@pytest.mark.parametrize(
    "text",
    ["", " busybox", "Busybox", "busybox:", "busybox@sha256:zz", "a//b", "-app", "app:tag with space", "x:" + "t" * 200, "UPPER.io/App"],
)
def test_rejects(text):
    with pytest.raises(InvalidReference):
        reference.parse(text)


def test_endpoint_of_docker_hub():
    assert reference.parse("busybox").endpoint == "registry-1.docker.io"
    assert reference.parse("localhost:5000/x").endpoint == "localhost:5000"


@pytest.mark.parametrize(
    "registry, loopback",
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.9.8.7", True),
        ("[::1]:5000", True),
        ("registry.example.com", False),
        ("10.0.0.1:5000", False),
        ("127.0.0.1.example.com", False),
    ],
)
def test_loopback(registry, loopback):
    assert reference.is_loopback_registry(registry) is loopback
