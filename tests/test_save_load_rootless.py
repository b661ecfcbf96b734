"""Rootless: save, load, push and commit as an ordinary user; the owners inside the layers survive
the round trip. Run under `flock /tmp/pyctr-rootless-tests.lock` as the other rootless tests (they
create a user)."""

from __future__ import annotations

from tests.test_rootless import rootless  # noqa: F401 (fixture)


def test_save_load_and_push_rootless(rootless, registry):  # noqa: F811
    image = f"{registry.host}/test/multi"
    rootless.pyctr("pull", "-q", image)
    archive = rootless.data / "multi.tar"
    rootless.pyctr("save", "-q", "--format", "oci-archive", "-o", archive, image)
    second = ["--root", rootless.data / "second", "--runroot", rootless.runtime / "second"]
    loaded = rootless.pyctr(*second, "load", "-i", archive)
    assert loaded.stdout == f"Loaded image: {image}:latest\n"
    out = rootless.pyctr(*second, "run", "--rm", image, "ls", "-ln", "/opt/owned.txt").stdout.split()
    assert out[2:4] == ["1234", "1234"]
    rootless.pyctr(*second, "push", "-q", image, f"{registry.host}/rootless/multi:1")
    rootless.pyctr("pull", "-q", f"{registry.host}/rootless/multi:1")
    ids = rootless.pyctr("images", "--format", "{{.ID}}", "--no-trunc").stdout.split()
    assert len(set(ids)) == 1  # the pushed image is the pulled one


def test_commit_rootless(rootless, registry):  # noqa: F811
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    rootless.pyctr("run", "--name", "rlcommit", image, "sh", "-c", "echo mine > /mine; chown 1234 /mine; rm /bin/awk")
    try:
        rootless.pyctr("commit", "-q", "rlcommit", "rlsnap")
        out = rootless.pyctr("run", "--rm", "rlsnap", "sh", "-c", "ls -ln /mine; cat /mine; ls /bin/awk || echo gone").stdout
        lines = out.splitlines()
        assert lines[0].split()[2] == "1234" and lines[1:] == ["mine", "gone"]
    finally:
        rootless.pyctr("rm", "-f", "rlcommit", check=False)
