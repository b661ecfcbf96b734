"""push: the distribution push protocol against the real test registry (its access log shows the
requests), with basic and token auth, cross-repository mounts, chunked uploads that resume after
a cut-off request, and other compressions; and the tar writer for layers that exist only unpacked."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile

import httpx
import pytest

from pyctr import Engine
from tests.conftest import Pyctr, Store
from tests.harness.flakyproxy import FlakyProxy

_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/1\.1" (?P<status>\d+) .*"pyctr/')


def pyctr_requests(registry, since: int = 0) -> list[tuple[str, str, int]]:
    """(method, path, status) of the requests pyctr made (by its User-Agent), from line `since` of the log."""
    lines = registry.log_path.read_text(errors="replace").splitlines()[since:]
    return [(m["method"], m["path"], int(m["status"])) for line in lines if (m := _LINE.search(line))]


def log_length(registry) -> int:
    return len(registry.log_path.read_text(errors="replace").splitlines())


def other_store(tmp_path) -> Pyctr:
    (tmp_path / "other").mkdir()
    return Pyctr(Store.create(tmp_path / "other"))


def manifest_of(registry, repo: str, tag: str, auth=None) -> tuple[dict, str]:
    accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
    response = httpx.get(f"{registry.url}/v2/{repo}/manifests/{tag}", headers={"Accept": accept}, auth=auth)
    response.raise_for_status()
    return response.json(), response.headers["Docker-Content-Digest"]


def test_push_then_pull_gives_the_same_digest_and_a_second_push_uploads_nothing(registry, image, pyctr, tmp_path):
    dest = f"{registry.host}/pushed/busybox:1"
    digestfile = tmp_path / "digest"
    start = log_length(registry)
    result = pyctr("push", "--digestfile", digestfile, image, dest)
    assert result.stderr.splitlines() == [
        "Getting image source signatures",
        f"Copying blob {_layer_digest(pyctr, image)}",
        f"Copying config sha256:{_image_id(pyctr, image)}",
        "Writing manifest to image destination",
        "Storing signatures",
    ]
    digest = digestfile.read_text()
    assert digest == _manifest_digest(pyctr, image)  # pushed as stored: the pulled manifest, byte for byte
    requests = pyctr_requests(registry, start)
    # The layer came from test/busybox in the same registry: mounted, not uploaded.
    assert any(m == "POST" and "mount=" in p and s == 201 for m, p, s in requests), requests
    assert not any(m == "PATCH" for m, _, _ in requests)

    other = other_store(tmp_path)
    other("pull", "-q", dest)
    assert json.loads(other("image", "inspect", dest).stdout)[0]["Digest"] == digest

    again = log_length(registry)
    pyctr("push", "-q", image, dest)
    blob_requests = [(m, p) for m, p, _ in pyctr_requests(registry, again) if "/blobs/" in p]
    assert blob_requests and all(m == "HEAD" for m, _ in blob_requests), blob_requests


def _image_id(pyctr, image) -> str:
    return json.loads(pyctr("image", "inspect", image).stdout)[0]["Id"]


def _manifest_digest(pyctr, image) -> str:
    return json.loads(pyctr("image", "inspect", image).stdout)[0]["Digest"]


def _layer_digest(pyctr, image) -> str:
    root = pyctr.store.root
    record = json.loads((root / "images.json").read_text())["images"][_image_id(pyctr, image)]
    return record["layers"][0]["digest"]


@pytest.mark.parametrize("auth", ["basic", "token"])
def test_push_with_auth_uploads_to_another_registry(auth, request, registry, image, pyctr, tmp_path):
    target = request.getfixturevalue(f"registry_{auth}")
    dest = f"{target.host}/mine/busybox:v1"
    denied = pyctr("push", "-q", image, dest, check=False)
    assert denied.returncode == 125
    assert denied.stderr.startswith("Error: ") and "authentication required" in denied.stderr.splitlines()[0]
    start = log_length(target)
    pyctr("push", "-q", "--creds", f"{target.username}:{target.password}", image, dest)
    requests = pyctr_requests(target, start)
    # Another registry: nothing to mount from; the blobs go up (one PUT each: they are small).
    assert any(m == "POST" and p.endswith("/blobs/uploads/") for m, p, _ in requests)
    assert any(m == "PUT" and "/manifests/v1" in p and s == 201 for m, p, s in requests)
    if auth == "token":
        scopes = [entry.get("scopes") for entry in target.issuer.log]
        assert any(s and "repository:mine/busybox:pull,push" in s for s in scopes), scopes
    other = other_store(tmp_path)
    other("pull", "-q", "--creds", f"{target.username}:{target.password}", dest)
    assert json.loads(other("image", "inspect", dest).stdout)[0]["Digest"] == _manifest_digest(pyctr, image)


def test_chunked_upload_resumes_after_a_cut_off_request(registry, store, tmp_path):
    engine = Engine(store.root, store.runroot)
    source = f"{registry.host}/test/busybox:latest"
    engine.images.pull(source)
    # The second PATCH never reaches the registry: the upload goes on from what it has.
    proxy = FlakyProxy(registry.host, drop=lambda method, path, n: method == "PATCH" and n == 2).start()
    try:
        start = log_length(registry)
        result = engine.images.push(source, f"{proxy.host}/chunked/busybox:1", chunk_size=256 << 10)
    finally:
        proxy.stop()
    assert proxy.dropped and proxy.dropped[0][0] == "PATCH"
    requests = pyctr_requests(registry, start)
    layer_uploads = [(m, p) for m, p, _ in requests if "/blobs/uploads/" in p]
    patches = [p for m, p in layer_uploads if m == "PATCH"]
    assert len(patches) >= 4  # the ~1 MB layer in 256 KiB chunks
    assert any(m == "GET" for m, _ in layer_uploads)  # asked where the upload stood
    assert sum(1 for m, p in layer_uploads if m == "POST") == 2  # config and layer: no upload started over
    other = other_store(tmp_path)
    other("pull", "-q", f"{registry.host}/chunked/busybox:1")
    assert json.loads(other("image", "inspect", f"{registry.host}/chunked/busybox:1").stdout)[0]["Digest"] == result.digest


def test_push_zstd_oci_keeps_the_diff_ids(registry, image, pyctr, tmp_path):
    dest = f"{registry.host}/zstd/busybox:1"
    pyctr("push", "-q", "--compression-format", "zstd", "--format", "oci", image, dest)
    manifest, digest = manifest_of(registry, "zstd/busybox", "1")
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert [layer["mediaType"] for layer in manifest["layers"]] == ["application/vnd.oci.image.layer.v1.tar+zstd"]
    other = other_store(tmp_path)
    other("pull", "-q", dest)
    pushed = json.loads(other("image", "inspect", dest).stdout)[0]
    assert pushed["Id"] == _image_id(pyctr, image) and pushed["Digest"] == digest
    assert other("run", "--rm", dest, "cat", "/etc/hostname", check=False).returncode == 0


def test_push_errors_are_one_line(registry, image, pyctr):
    cases = [
        (["push", "--sign-by", "KEY", image], "signing images is not supported"),
        (["push", "--compression-format", "zstd", "--format", "v2s2", image, f"{registry.host}/x/y"], "v2s2"),
        (["push", "--compression-format", "xz", image, f"{registry.host}/x/y"], "unsupported compression format"),
        (["push", "nosuchimage", f"{registry.host}/x/y"], "nosuchimage: image not known"),
        (["push", image, "oci-archive:/tmp/x.tar"], "pyctr save"),
    ]
    for argv, text in cases:
        result = pyctr(*argv, check=False)
        assert result.returncode == 125, (argv, result.stderr)
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1 and text in result.stderr, result.stderr


def test_image_push_is_the_same_command(registry, image, pyctr):
    pyctr("image", "push", "-q", image, f"{registry.host}/group/busybox:1")
    manifest_of(registry, "group/busybox", "1")


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_skopeo_sees_the_pushed_digest(registry, image, pyctr, tmp_path):
    dest = f"{registry.host}/skopeo/busybox:1"
    pyctr("push", "-q", "--digestfile", tmp_path / "d", image, dest)
    out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{dest}"], capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out)["Digest"] == (tmp_path / "d").read_text()


# -- the layer tar writer (layers without a stored blob) ----------------------------------------

def test_layer_tar_round_trips_and_is_deterministic(tmp_path):
    from pyctr.image import layertar
    from pyctr.snapshot import archive

    tree = tmp_path / "tree"
    (tree / "etc" / "gone").mkdir(parents=True)
    (tree / "etc" / "conf").write_text("x=1\n")
    os.link(tree / "etc" / "conf", tree / "etc" / "conf-link")
    os.symlink("conf", tree / "etc" / "alias")
    (tree / "bin").mkdir()
    (tree / "bin" / "tool").write_bytes(b"\x7fELF")
    os.chmod(tree / "bin" / "tool", 0o4755)
    os.mknod(tree / "etc" / "removed", stat.S_IFCHR | 0o000, os.makedev(0, 0))  # an overlay whiteout
    os.setxattr(tree / "etc" / "gone", "trusted.overlay.opaque", b"y")
    os.setxattr(tree / "bin" / "tool", "user.note", b"kept")

    first, second = io.BytesIO(), io.BytesIO()
    layertar.write_layer(str(tree), first)
    layertar.write_layer(str(tree), second)
    assert first.getvalue() == second.getvalue()

    with tarfile.open(fileobj=io.BytesIO(first.getvalue())) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert list(members)[:2] == ["bin", "bin/tool"]  # sorted, each directory before its contents
    assert members["etc/.wh.removed"].isreg() and members["etc/.wh.removed"].size == 0
    assert "etc/gone/.wh..wh..opq" in members
    assert members["etc/conf-link"].islnk() and members["etc/conf-link"].linkname == "etc/conf"
    assert members["etc/alias"].issym() and members["bin/tool"].mode == 0o4755
    assert members["bin/tool"].pax_headers.get("SCHILY.xattr.user.note") == "kept"
    assert not any("overlay" in key for m in members.values() for key in m.pax_headers)

    blob = tmp_path / "layer.tar"
    blob.write_bytes(first.getvalue())
    out = tmp_path / "out"
    out.mkdir()
    archive.unpack_layer(str(blob), "none", str(out))
    assert (out / "etc" / "conf").read_text() == "x=1\n"
    assert os.stat(out / "etc" / "conf").st_ino == os.stat(out / "etc" / "conf-link").st_ino
    removed = os.lstat(out / "etc" / "removed")
    assert stat.S_ISCHR(removed.st_mode) and removed.st_rdev == 0
    assert os.getxattr(out / "etc" / "gone", "trusted.overlay.opaque") == b"y"


def test_a_loaded_docker_archive_goes_up_gzip_compressed(registry, pyctr, tmp_path):
    """docker-archive layers are plain tars: push compresses them (the diff_ids, so the ID, stay)."""
    golden = os.path.join(os.path.dirname(__file__), "golden", "podman-4.3.1-save-tiny-docker-archive.tar")
    pyctr("load", "-q", "-i", golden)
    dest = f"{registry.host}/loaded/tiny:1"
    pyctr("push", "-q", "localhost/itiny:1", dest)
    manifest, _ = manifest_of(registry, "loaded/tiny", "1")
    assert [layer["mediaType"] for layer in manifest["layers"]] == ["application/vnd.docker.image.rootfs.diff.tar.gzip"]
    other = other_store(tmp_path)
    other("pull", "-q", dest)
    assert _image_id(other, dest) == _image_id(pyctr, "localhost/itiny:1")
