"""commit (a container's changes as a new layer, written by pyctr.image.layertar), import (a tarball as
an image) and the export | import round trip. What podman 4.3.1 does was compared by hand: the same
layer entries (whiteouts as .wh. files), history (`FROM IMAGE` comment, `#(nop) ADD file:DIFF in /`),
stdout (commit: the ID; import: sha256:ID) and progress lines."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import json
import subprocess
import tarfile
import threading

from tests.test_push import manifest_of, other_store


def config_of(pyctr, name: str) -> dict:
    """The image's own config document, as save writes it."""
    data = subprocess.run(pyctr.argv("save", "-q", name), env=pyctr.store.env(), capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))[0]
        return json.load(tar.extractfile(manifest["Config"]))


def test_commit_then_run_shows_the_change(image, pyctr, registry, tmp_path):
    pyctr("run", "--name", "web", image, "sh", "-c", "echo changed > /changed-file; rm /bin/awk; mkdir /data; echo x > /data/x")
    result = pyctr("commit", "-c", 'CMD ["cat", "/changed-file"]', "-c", "ENV FOO=bar", "-a", "Me <me@example.com>",
                   "web", "snap")
    image_id = result.stdout.strip()
    assert len(image_id) == 64
    lines = result.stderr.splitlines()
    assert lines[0] == "Getting image source signatures" and lines[-2:] == ["Writing manifest to image destination",
                                                                            "Storing signatures"]
    assert pyctr("run", "--rm", "snap").stdout == "changed\n"
    assert pyctr("run", "--rm", "snap", "cat", "/data/x").stdout == "x\n"
    assert pyctr("run", "--rm", "snap", "ls", "/bin/awk", check=False).returncode != 0  # the deletion is a whiteout
    config = config_of(pyctr, "localhost/snap:latest")
    assert config["config"]["Cmd"] == ["cat", "/changed-file"] and "FOO=bar" in config["config"]["Env"]
    assert config["author"] == "Me <me@example.com>"
    assert config["history"][-1]["comment"] == f"FROM {image}" and len(config["rootfs"]["diff_ids"]) == 2
    # The new layer goes out like any other: push, then pull elsewhere gives the same image.
    pyctr("push", "-q", "snap", f"{registry.host}/committed/snap:1")
    manifest, _ = manifest_of(registry, "committed/snap", "1")
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    other = other_store(tmp_path)
    other("pull", "-q", f"{registry.host}/committed/snap:1")
    assert other("run", "--rm", f"{registry.host}/committed/snap:1").stdout == "changed\n"
    assert json.loads(other("image", "inspect", f"{registry.host}/committed/snap:1").stdout)[0]["Id"] == image_id


def test_commit_options(image, pyctr):
    pyctr("create", "--name", "c2", image)
    refused = pyctr("commit", "-m", "why", "c2", "x", check=False)
    assert (refused.returncode, refused.stderr) == (
        125, "Error: messages are only compatible with the docker image format (-f docker)\n")
    pyctr("container", "commit", "-q", "-f", "docker", "-m", "why", "c2", "docker-snap")
    info = json.loads(pyctr("image", "inspect", "docker-snap").stdout)[0]
    assert info["ManifestType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert config_of(pyctr, "localhost/docker-snap:latest")["comment"] == "why"
    pyctr("commit", "-q", "--squash", "c2", "squashed")  # one layer (tests/test_build_options.py has more)
    assert len(json.loads(pyctr("image", "inspect", "squashed").stdout)[0]["RootFS"]["Layers"]) == 1
    bad = pyctr("commit", "-c", "FROBNICATE x", "c2", check=False)
    assert bad.returncode == 125 and "FROBNICATE" in bad.stderr
    assert pyctr("commit", "nosuch", check=False).returncode == 125


def _tarball() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("hello", b"hello from a tarball\n"), ("bin/tool", b"#!/bin/sh\n")):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), 1_700_000_000, 0o755
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_import_a_tarball(pyctr, tmp_path):
    data = _tarball()
    path = tmp_path / "fs.tar"
    path.write_bytes(data)
    result = pyctr("import", "-c", 'CMD ["/hello"]', "-m", "from a test", path, "imported:1")
    assert result.stdout.startswith("sha256:") and len(result.stdout.strip()) == 71
    config = config_of(pyctr, "localhost/imported:1")
    diff_id = "sha256:" + hashlib.sha256(data).hexdigest()  # the tarball is the layer, byte for byte
    assert config["rootfs"]["diff_ids"] == [diff_id]
    assert config["config"] == {"Cmd": ["/hello"]}
    assert config["history"][0]["created_by"] == f"/bin/sh -c #(nop) ADD file:{diff_id[7:]} in /"
    assert config["history"][0]["comment"] == "from a test"
    # Compressed, from stdin, and by URL: the same layer.
    (tmp_path / "fs.tar.gz").write_bytes(gzip.compress(data))
    again = pyctr("import", "-q", tmp_path / "fs.tar.gz", "imported:gz").stdout.strip()
    with open(path, "rb") as f:
        piped = subprocess.run(pyctr.argv("import", "-q", "-", "imported:stdin"), stdin=f, env=pyctr.store.env(),
                               capture_output=True, text=True)
    assert piped.returncode == 0, piped.stderr
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        by_url = pyctr("import", "-q", f"http://127.0.0.1:{server.server_port}/fs.tar", "imported:url").stdout.strip()
    finally:
        server.shutdown()
    for name in ("imported:gz", "imported:stdin", "imported:url"):
        assert config_of(pyctr, f"localhost/{name}")["rootfs"]["diff_ids"] == [diff_id]
    assert again.startswith("sha256:") and by_url.startswith("sha256:")
    missing = pyctr("import", tmp_path / "nonexistent.tar", check=False)
    assert missing.returncode == 125 and missing.stderr.count("\n") == 1


def test_export_then_import_round_trips(image, pyctr):
    pyctr("run", "--name", "exp", image, "sh", "-c", "echo kept > /kept")
    exported = pyctr.store.tmp / "exp.tar"
    pyctr("export", "-o", exported, "exp")
    pyctr("import", "-q", "-c", 'CMD ["sh"]', exported, "flat")
    assert pyctr("run", "--rm", "flat", "cat", "/kept").stdout == "kept\n"
    assert pyctr("run", "--rm", "flat", "echo", "runs").stdout == "runs\n"


def test_a_layer_without_its_blob_is_made_again_from_its_directory(image, pyctr, registry, tmp_path):
    """What a build that keeps only unpacked layers relies on: the layer tar writer gives back the
    same diff_id from the unpacked directory, so the image pushes and saves all the same."""
    pyctr("run", "--name", "nb", image, "sh", "-c", "echo gone-blob > /f; rm /bin/awk; mkdir -p /d; chmod 700 /d")
    image_id = pyctr("commit", "-q", "nb", "noblob").stdout.strip()
    record = json.loads((pyctr.store.root / "images.json").read_text())["images"][image_id]
    (pyctr.store.root / "blobs" / "sha256" / record["layers"][-1]["digest"].split(":")[1]).unlink()
    pyctr("push", "-q", "noblob", f"{registry.host}/noblob/img:1")
    other = other_store(tmp_path)
    other("pull", "-q", f"{registry.host}/noblob/img:1")
    assert json.loads(other("image", "inspect", f"{registry.host}/noblob/img:1").stdout)[0]["Id"] == image_id
    assert other("run", "--rm", f"{registry.host}/noblob/img:1", "cat", "/f").stdout == "gone-blob\n"
    pyctr("save", "-q", "-o", tmp_path / "noblob.tar", "noblob")


def test_change_instructions():
    import pytest

    from pyctr.errors import InvalidArgument
    from pyctr.image.changes import apply

    base = {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"]}
    out = apply(base, ['CMD ["run", "x"]', "ENTRYPOINT /init --flag", "ENV A=2 B=3", "ENV C four", 'LABEL "k 1"=v a=b',
                       "EXPOSE 80 53/udp", 'VOLUME ["/data"]', "VOLUME /a /b", "USER app", "WORKDIR /srv",
                       "STOPSIGNAL SIGINT", "ONBUILD RUN true", "cmd=echo hi"])
    assert out == {
        "Env": ["PATH=/bin", "A=2", "B=3", "C=four"], "Cmd": ["/bin/sh", "-c", "echo hi"],
        "Entrypoint": ["/bin/sh", "-c", "/init --flag"], "Labels": {"k 1": "v", "a": "b"},
        "ExposedPorts": {"80/tcp": {}, "53/udp": {}}, "Volumes": {"/data": {}, "/a": {}, "/b": {}},
        "User": "app", "WorkingDir": "/srv", "StopSignal": "SIGINT", "OnBuild": ["RUN true"],
    }
    assert base == {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"]}  # not changed in place
    for bad in ("RUN true", "EXPOSE http", "CMD", "ENV =x"):
        with pytest.raises(InvalidArgument):
            apply({}, [bad])
