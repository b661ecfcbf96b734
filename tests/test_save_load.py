"""save and load: docker-archive, oci-archive, oci-dir and docker-dir both ways, archives podman
4.3.1 wrote (recorded in tests/golden: a tiny image built FROM scratch with one file), podman
loading ours (when podman is installed), and hostile archives refused with the store left clean."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, Pyctr, Store

GOLDEN = REPO_ROOT / "tests" / "golden"
# What podman 4.3.1 recorded for the tiny image (podman build of `FROM scratch`, `COPY hello /hello`).
TINY_ID = "d585c21ea89d17563f75c8d5c065754a98b3db3bda2fe45e1ebc2c554bda31c7"
TINY_NAME = "localhost/itiny:1"
TINY_FILE = "hello from podman\n"
SAVE_LINES = ["Copying blob sha256:{layer}", "Copying config sha256:{config}", "Writing manifest to image destination",
              "Storing signatures"]


def other_store(tmp_path, name: str = "other") -> Pyctr:
    (tmp_path / name).mkdir()
    return Pyctr(Store.create(tmp_path / name))


def inspect(pyctr, name: str) -> dict:
    return json.loads(pyctr("image", "inspect", name).stdout)[0]


def members(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path) as tar:
        return {m.name: m for m in tar.getmembers()}


def test_save_docker_archive_as_podman_writes_it(image, pyctr, tmp_path):
    out = tmp_path / "a.tar"
    result = pyctr("save", "-o", out, image)
    info = inspect(pyctr, image)
    layer = info["RootFS"]["Layers"][0].split(":")[1]
    assert result.stderr.splitlines() == [line.format(layer=layer, config=info["Id"]) for line in SAVE_LINES]
    found = members(out)
    assert {f"{layer}.tar", f"{info['Id']}.json", "manifest.json", "repositories"} <= set(found)
    assert all(m.mtime == 0 and m.uid == 0 and (m.issym() or m.mode == 0o444) for m in found.values())
    with tarfile.open(out) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        layer_bytes = tar.extractfile(f"{layer}.tar").read()
    assert manifest == [{"Config": f"{info['Id']}.json", "RepoTags": [image], "Layers": [f"{layer}.tar"]}]
    assert "sha256:" + hashlib.sha256(layer_bytes).hexdigest() == info["RootFS"]["Layers"][0]  # uncompressed, as podman
    # The same archive on stdout when it is not a terminal; the same bytes every time.
    again = subprocess.run(pyctr.argv("save", "-q", image), env=pyctr.store.env(), capture_output=True, check=True)
    assert again.stdout == out.read_bytes()


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive", "oci-dir", "docker-dir"])
def test_save_then_load_into_an_empty_store(fmt, image, pyctr, tmp_path):
    out = tmp_path / ("saved" if fmt.endswith("dir") else "saved.tar")
    pyctr("save", "-q", "--format", fmt, "-o", out, image)
    other = other_store(tmp_path)
    loaded = other("load", "-i", out)
    before = inspect(pyctr, image)
    if fmt == "docker-dir":  # the dir transport keeps no name
        assert loaded.stdout == f"Loaded image: sha256:{before['Id']}\n"
        name = before["Id"]
    else:
        assert loaded.stdout == f"Loaded image: {image}\n"
        name = image
    assert loaded.stderr.splitlines()[0] == "Getting image source signatures"
    after = inspect(other, name)
    assert after["Id"] == before["Id"] and after["RootFS"] == before["RootFS"]
    if fmt == "oci-archive":  # the pulled blobs as they were: the layer's digest is kept
        with tarfile.open(out) as tar:
            index = json.load(tar.extractfile("index.json"))
        assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == image


def test_loaded_image_runs_and_load_reads_stdin(image, pyctr, tmp_path):
    out = tmp_path / "a.tar"
    pyctr("save", "-q", "-o", out, image)
    other = other_store(tmp_path)
    with open(out, "rb") as f:
        loaded = subprocess.run(other.argv("load"), stdin=f, env=other.store.env(), capture_output=True, text=True)
    assert loaded.returncode == 0 and loaded.stdout == f"Loaded image: {image}\n", loaded.stderr
    assert other("run", "--rm", image, "echo", "loaded").stdout == "loaded\n"


def test_multi_image_archive(image, pyctr, registry, tmp_path):
    second = f"{registry.host}/test/multi:latest"
    pyctr("pull", "-q", second)
    out = tmp_path / "m.tar"
    pyctr("save", "-q", "-m", "-o", out, image, second)
    other = other_store(tmp_path)
    assert other("load", "-q", "-i", out).stdout == f"Loaded image: {image}\nLoaded image: {second}\n"
    # Without -m the second name is another tag of the first image, as podman does it.
    pyctr("tag", image, "localhost/extra:1")
    pyctr("save", "-q", "-o", tmp_path / "t.tar", image, "localhost/extra:1")
    with tarfile.open(tmp_path / "t.tar") as tar:
        assert json.load(tar.extractfile("manifest.json"))[0]["RepoTags"] == [image, "localhost/extra:1"]


@pytest.mark.parametrize("archive", ["docker-archive", "oci-archive"])
def test_load_an_archive_podman_saved(archive, pyctr):
    loaded = pyctr("load", "-i", GOLDEN / f"podman-4.3.1-save-tiny-{archive}.tar")
    assert loaded.stdout == f"Loaded image: {TINY_NAME}\n"
    info = inspect(pyctr, TINY_NAME)
    assert info["Id"] == TINY_ID
    data = json.loads(pyctr("image", "inspect", "--format", "{{json .GraphDriver.Data}}", TINY_NAME).stdout)
    assert Path(data["LowerDir"], "hello").read_text() == TINY_FILE


@pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed")
def test_podman_loads_what_pyctr_saved(image, pyctr, tmp_path):
    conf = tmp_path / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n')
    with tempfile.TemporaryDirectory(prefix="pm", dir="/tmp") as runroot:  # podman's: at most 50 characters
        for fmt in ("docker-archive", "oci-archive"):
            out = tmp_path / f"{fmt}.tar"
            pyctr("save", "-q", "--format", fmt, "-o", out, image)
            result = subprocess.run(["podman", "--root", tmp_path / "pm-root", "--runroot", runroot,
                                     "--storage-driver", "vfs", "load", "-q", "-i", out],
                                    env={**pyctr.store.env(), "CONTAINERS_CONF": str(conf)}, capture_output=True,
                                    text=True)
            assert result.returncode == 0 and result.stdout == f"Loaded image: {image}\n", result.stderr


# -- hostile archives ---------------------------------------------------------------------------

def _tar(entries: list[tuple], path: Path) -> Path:
    """entries: (name, bytes) for files, (name, "symlink", target) for links."""
    with tarfile.open(path, "w") as tar:
        for entry in entries:
            ti = tarfile.TarInfo(entry[0])
            if len(entry) == 3:
                ti.type, ti.linkname = tarfile.SYMTYPE, entry[2]
                tar.addfile(ti)
            else:
                ti.size = len(entry[1])
                tar.addfile(ti, io.BytesIO(entry[1]))
    return path


def _layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _docker_archive(layer: bytes, diff_id: str | None = None, layer_name: str = "layer.tar") -> list[tuple]:
    diff = diff_id or "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff]}}).encode()
    manifest = json.dumps([{"Config": "config.json", "RepoTags": ["localhost/evil:1"], "Layers": [layer_name]}]).encode()
    return [("config.json", config), (layer_name, layer), ("manifest.json", manifest)]


def _hostile(tmp_path) -> dict[str, list[tuple]]:
    good = _layer({"ok": b"fine"})
    gz = gzip.compress(good, mtime=0)
    oci_blob = b"not what the name says"
    wrong = "sha256:" + "0" * 64
    oci_manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": wrong,
                                          "size": len(oci_blob)}, "layers": []}).encode()
    manifest_digest = "sha256:" + hashlib.sha256(oci_manifest).hexdigest()
    index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                            "digest": manifest_digest, "size": len(oci_manifest)}]}).encode()
    return {
        "traversal": [("../evil.json", b"{}")] + _docker_archive(good),
        "absolute": [("/etc/evil", b"x")] + _docker_archive(good),
        "symlink": [("config.json", "symlink", "/etc/passwd")] + _docker_archive(good)[1:],
        "layer with a wrong diff_id": _docker_archive(good, diff_id="sha256:" + "1" * 64),
        "gzip layer with a wrong diff_id": _docker_archive(gz, diff_id="sha256:" + "2" * 64),
        "missing layer": _docker_archive(good)[:1] + _docker_archive(good)[2:],
        "huge manifest": [("manifest.json", b"[" + b" " * (9 << 20) + b"]")],
        "oci blob with a wrong digest": [("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'), ("index.json", index),
                                         (f"blobs/sha256/{manifest_digest[7:]}", oci_manifest),
                                         (f"blobs/sha256/{wrong[7:]}", oci_blob)],
        "not an archive": [],
    }


def _layers(pyctr) -> set[str]:
    """The unpacked layers (lock files stay behind, as after a pull)."""
    return {n for n in os.listdir(pyctr.store.root / "layers") if not n.endswith(".lock")}


def test_hostile_archives_are_refused_and_leave_the_store_clean(image, pyctr, tmp_path):
    before = pyctr("images", "-q", "--no-trunc").stdout
    blobs_before = set(os.listdir(pyctr.store.root / "blobs" / "sha256"))
    layers_before = _layers(pyctr)
    for what, entries in _hostile(tmp_path).items():
        path = tmp_path / f"{what.replace(' ', '-')}.tar"
        if entries:
            _tar(entries, path)
        else:
            path.write_bytes(b"plain text, not a tar\n" * 100)
        result = pyctr("load", "-q", "-i", path, check=False)
        assert result.returncode == 125, (what, result.stdout, result.stderr)
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, (what, result.stderr)
        assert not (tmp_path.parent / "escaped").exists() and not Path("/escaped").exists()
        assert pyctr("images", "-q", "--no-trunc").stdout == before, what
        assert set(os.listdir(pyctr.store.root / "blobs" / "sha256")) == blobs_before, what
        assert _layers(pyctr) == layers_before, what
        assert not [n for n in os.listdir(pyctr.store.root / "ingest") if not n.endswith(".lock")], what


def test_save_and_load_errors(image, pyctr, tmp_path):
    cases = [
        (["save", "-o", tmp_path / "x.tar", "nosuch"], "nosuch: image not known"),
        (["save", "--format", "tar", "-o", tmp_path / "x.tar", image], "unknown format"),
        (["save", "-m", "--format", "oci-archive", "-o", tmp_path / "x.tar", image], "docker-archive"),
        (["load", "-i", tmp_path / "nonexistent"], "no such file or directory"),
    ]
    for argv, text in cases:
        result = pyctr(*argv, check=False)
        assert result.returncode == 125 and result.stderr.startswith("Error: ") and text in result.stderr, (argv, result.stderr)
        assert result.stderr.count("\n") == 1
    assert not (tmp_path / "x.tar").exists()


def test_a_layer_entry_climbing_out_is_kept_inside_as_in_pulls(pyctr, tmp_path):
    """The layer itself goes through the pull's unpacker: `../..` is clamped at the layer's root."""
    path = _tar(_docker_archive(_layer({"../../escaped": b"out"})), tmp_path / "climb.tar")
    assert pyctr("load", "-q", "-i", path).stdout == "Loaded image: localhost/evil:1\n"
    data = json.loads(pyctr("image", "inspect", "--format", "{{json .GraphDriver.Data}}", "localhost/evil:1").stdout)
    assert Path(data["LowerDir"], "escaped").read_bytes() == b"out"
    assert not (tmp_path / "escaped").exists() and not (pyctr.store.root / "escaped").exists()
