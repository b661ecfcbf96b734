"""The harness itself, against the real registry: if these fail, nothing else can be trusted."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from tests.harness import images
from tests.harness.images import MediaType, sha256_digest
from tests.harness.ocilayout import umoci_compatible, write_oci_layout
from tests.harness.tokenissuer import decode_jwt_claims

# The registry answers 404 for an OCI manifest if Accept lacks OCI types, and rewrites a
# Docker schema2 manifest as schema1 if Accept lacks the schema2 type: always send all.
ACCEPT_ALL = ", ".join([MediaType.OCI_INDEX, MediaType.OCI_MANIFEST,
                        MediaType.DOCKER_LIST, MediaType.DOCKER_MANIFEST])
REGISTRY_FIXTURES = ["registry", "registry_basic", "registry_token"]


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, params = header.partition(" ")
    pairs = (item.split("=", 1) for item in params.split('",'))
    return scheme, {key.strip(): value.strip().strip('"') for key, value in pairs}


def manifest_url(registry, repo: str, ref: str) -> str:
    return f"{registry.url}/v2/{repo}/manifests/{ref}"


# -- the three registries ---------------------------------------------------------------------

@pytest.mark.parametrize("fixture, status, scheme", [
    ("registry", 200, None),
    ("registry_basic", 401, "Basic"),
    ("registry_token", 401, "Bearer"),
])
def test_each_variant_starts_on_a_loopback_port(request, fixture, status, scheme):
    registry = request.getfixturevalue(fixture)
    assert registry.host.startswith("127.0.0.1:")
    assert registry.process.poll() is None
    response = httpx.get(f"{registry.url}/v2/")
    assert response.status_code == status
    if scheme:
        assert response.headers["WWW-Authenticate"].startswith(scheme + " ")


def test_anonymous_registry_serves_manifest_and_blob(registry):
    image = registry.pushed["test/busybox:latest"]
    response = httpx.get(manifest_url(registry, "test/busybox", "latest"), headers={"Accept": ACCEPT_ALL})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == MediaType.DOCKER_MANIFEST
    assert response.content == image.manifest_bytes
    assert response.headers["Docker-Content-Digest"] == image.manifest_digest

    layer = image.layers[0]
    blob = httpx.get(f"{registry.url}/v2/test/busybox/blobs/{layer.digest}", follow_redirects=True)
    assert blob.status_code == 200
    assert sha256_digest(blob.content) == layer.digest


def test_basic_registry_wants_the_right_password(registry_basic):
    url = manifest_url(registry_basic, "test/busybox", "latest")
    anonymous = httpx.get(url, headers={"Accept": ACCEPT_ALL})
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="pyctr-test"'
    wrong = httpx.get(url, headers={"Accept": ACCEPT_ALL}, auth=(registry_basic.username, "wrong"))
    assert wrong.status_code == 401
    right = httpx.get(url, headers={"Accept": ACCEPT_ALL},
                      auth=(registry_basic.username, registry_basic.password))
    assert right.status_code == 200
    assert right.headers["Docker-Content-Digest"] == registry_basic.pushed["test/busybox:latest"].manifest_digest


def test_token_registry_challenge_issuer_bearer_flow(registry_token):
    issuer = registry_token.issuer
    url = manifest_url(registry_token, "test/busybox", "latest")

    challenge = httpx.get(url, headers={"Accept": ACCEPT_ALL})
    assert challenge.status_code == 401
    scheme, params = parse_challenge(challenge.headers["WWW-Authenticate"])
    assert scheme == "Bearer"
    assert params == {"realm": issuer.url, "service": "pyctr-test-registry",
                      "scope": "repository:test/busybox:pull"}

    before = issuer.requests
    answer = httpx.get(params["realm"], params={"service": params["service"], "scope": params["scope"],
                                                "account": registry_token.username},
                       auth=(registry_token.username, registry_token.password))
    assert answer.status_code == 200
    body = answer.json()
    assert body["token"] == body["access_token"] and body["expires_in"] == 300
    assert issuer.requests == before + 1
    claims = decode_jwt_claims(body["token"])
    assert claims["iss"] == "pyctr-test-issuer" and claims["aud"] == "pyctr-test-registry"
    assert claims["sub"] == registry_token.username
    assert claims["access"] == [{"type": "repository", "name": "test/busybox", "actions": ["pull"]}]

    pulled = httpx.get(url, headers={"Accept": ACCEPT_ALL, "Authorization": f"Bearer {body['token']}"})
    assert pulled.status_code == 200
    assert pulled.headers["Docker-Content-Digest"] == registry_token.pushed["test/busybox:latest"].manifest_digest


def test_token_registry_lets_anonymous_pull_only_public(registry_token):
    def anonymous_get(repo: str, actions: str = "pull") -> httpx.Response:
        token = images.fetch_token(registry_token, f"repository:{repo}:{actions}", credentials=False)
        return httpx.get(manifest_url(registry_token, repo, "latest"),
                         headers={"Accept": ACCEPT_ALL, "Authorization": f"Bearer {token}"})

    assert anonymous_get("public/busybox").status_code == 200
    denied = anonymous_get("test/busybox")
    assert denied.status_code == 401
    assert 'error="insufficient_scope"' in denied.headers["WWW-Authenticate"]
    token = images.fetch_token(registry_token, "repository:public/busybox:pull,push", credentials=False)
    assert decode_jwt_claims(token)["access"] == [
        {"type": "repository", "name": "public/busybox", "actions": ["pull"]}]


def test_token_issuer_refuses_a_wrong_password(registry_token):
    answer = httpx.get(registry_token.issuer.url, params={"service": "pyctr-test-registry"},
                       auth=(registry_token.username, "wrong"))
    assert answer.status_code == 401


@pytest.mark.parametrize("fixture", REGISTRY_FIXTURES)
def test_pushed_digests_match_the_registry(request, fixture):
    registry = request.getfixturevalue(fixture)
    assert set(registry.pushed) == {"test/busybox:latest", "test/web:latest", "test/multi:latest",
                                    "test/oci:latest", "public/busybox:latest"}
    for ref, item in registry.pushed.items():
        repo, tag = ref.rsplit(":", 1)
        with images.client_for(registry, repo, "pull") as client:
            head = client.head(f"/v2/{repo}/manifests/{tag}", headers={"Accept": ACCEPT_ALL})
            assert head.status_code == 200, ref
            assert head.headers["Docker-Content-Digest"] == item.manifest_digest, ref
            assert head.headers["Content-Type"] == item.media_type, ref
            for child in item.children():
                got = client.get(f"/v2/{repo}/manifests/{child.manifest_digest}", headers={"Accept": ACCEPT_ALL})
                assert got.content == child.manifest_bytes, f"{ref} {child.platform}"


def test_multi_is_an_index_of_amd64_and_arm64(registry):
    index = registry.pushed["test/multi:latest"]
    platforms = [m["platform"] for m in index.manifest["manifests"]]
    assert platforms == [{"architecture": "amd64", "os": "linux"},
                         {"architecture": "arm64", "os": "linux", "variant": "v8"}]
    amd64 = index.image_for("amd64")
    assert [layer.compression for layer in amd64.layers] == ["gzip", "zstd", "none"]
    assert [layer.media_type for layer in amd64.layers] == [
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.v1.tar"]


def test_chunked_upload_gives_the_same_digest(registry):
    image = images.busybox_image()
    digest = images.push(registry, "harness/chunked", "latest", image, chunk_size=256 * 1024)
    assert digest == image.manifest_digest


def test_images_are_deterministic():
    entries = images.multi_features_entries()
    assert images.Layer(entries, "zstd").digest == images.Layer(entries, "zstd").digest
    assert images.Layer(entries, "gzip").blob[:2] == b"\x1f\x8b"
    assert images.Layer(entries, "zstd").blob[:4] == b"\x28\xb5\x2f\xfd"
    assert images.Image([images.busybox_layer()]).manifest_digest == images.busybox_image().manifest_digest


# -- hostile and broken cases ------------------------------------------------------------------

def test_registry_accepts_the_broken_manifests(registry):
    base = images.busybox_image(oci=True)

    wrong_size = images.with_wrong_layer_size(base, delta=1000)
    images.push(registry, "hostile/wrong-size", "latest", wrong_size)
    descriptor = images.json.loads(wrong_size.manifest_bytes)["layers"][0]
    blob = httpx.get(f"{registry.url}/v2/hostile/wrong-size/blobs/{descriptor['digest']}")
    assert len(blob.content) == descriptor["size"] - 1000

    images.push(registry, "hostile/wrong-diff-id", "latest", images.with_wrong_diff_id(base))
    images.push(registry, "hostile/not-gzip", "latest", images.with_undecompressable_layer(base))
    images.push(registry, "hostile/escaping", "latest",
                images.Image([images.busybox_layer(), images.escaping_layer()], oci=True))


def test_registry_accepts_a_signed_schema1_manifest(registry):
    manifest = images.schema1_manifest("hostile/schema1", "latest")
    digest = images.push(registry, "hostile/schema1", "latest", manifest)
    assert digest == manifest.manifest_digest != images.sha256_digest(manifest.manifest_bytes)
    got = httpx.get(manifest_url(registry, "hostile/schema1", "latest"),
                    headers={"Accept": MediaType.SCHEMA1_SIGNED})
    assert got.headers["Content-Type"] == MediaType.SCHEMA1_SIGNED


# -- OCI layout and umoci ------------------------------------------------------------------------

def umoci_unpack(layout, tag: str, bundle) -> None:
    result = subprocess.run(["umoci", "unpack", "--image", f"{layout}:{tag}", str(bundle)],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr


def test_umoci_unpacks_multi_amd64_with_whiteouts_applied(tmp_path):
    layout = write_oci_layout(umoci_compatible(images.multi_amd64_image()), tmp_path / "layout", "amd64")
    umoci_unpack(layout, "amd64", tmp_path / "bundle")
    rootfs = tmp_path / "bundle" / "rootfs"

    assert images.tree_mismatches(rootfs, images.MULTI_AMD64_EXPECTED, images.MULTI_AMD64_ABSENT) == []
    # The same facts, spelled out:
    assert not (rootfs / "opt/doomed.txt").exists()                     # whiteout removed it
    assert sorted(os.listdir(rootfs / "opt/opaque")) == ["upper.txt"]  # opaque hid the rest
    assert (rootfs / "opt/replaced.txt").read_text() == "new content\n"
    assert (rootfs / "bin/busybox").stat().st_size > 0


def test_busybox_image_runs_a_shell(tmp_path):
    layout = write_oci_layout(images.busybox_image(oci=True), tmp_path / "layout", "latest")
    umoci_unpack(layout, "latest", tmp_path / "bundle")
    result = subprocess.run(["chroot", str(tmp_path / "bundle" / "rootfs"), "/bin/sh", "-c", "id app"],
                            capture_output=True, text=True)
    assert result.stdout.strip() == "uid=1234(app) gid=1234(app) groups=1234(app)"


# -- store and pyctr fixtures ---------------------------------------------------------------------

def test_pyctr_fixture_isolates_home_and_passes_store_options(store, pyctr):
    argv = pyctr.argv("images", "-q")
    assert argv[1:] == ["-m", "pyctr", "--root", str(store.root), "--runroot", str(store.runroot),
                        "images", "-q"]
    env = store.env()
    for name in ("HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME"):
        assert env[name].startswith(f"{store.tmp}/"), name


def test_pyctr_fixture_shows_output_of_failures(pyctr):
    script = "import os, sys; print(os.environ['HOME']); sys.stderr.write('boom\\n'); sys.exit(3)"
    result = pyctr.run([sys.executable, "-c", script], check=False)
    assert (result.returncode, result.stdout.strip(), result.stderr) == (3, str(pyctr.store.home), "boom\n")
    with pytest.raises(AssertionError, match="(?s)exit status 3.*boom"):
        pyctr.run([sys.executable, "-c", script])


def test_store_teardown_unmounts_everything_under_tmp(store):
    outer, inner = store.tmp / "mnt", store.tmp / "mnt" / "inner"
    outer.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(outer)], check=True)
    inner.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(inner)], check=True)
    assert sorted(store.mounts()) == [str(outer), str(inner)]
    store.unmount_all()
    assert store.mounts() == []


def test_store_teardown_kills_leftover_processes(store):
    script = "import time; print('running', flush=True); time.sleep(300)"
    leftover = subprocess.Popen([sys.executable, "-c", script, str(store.tmp / "x")], stdout=subprocess.PIPE)
    try:
        # Popen may return before the kernel has published the new argv in /proc.
        assert leftover.stdout.readline() == b"running\n"
        store.kill_processes()
        assert leftover.wait(timeout=10) == -9
    finally:
        if leftover.poll() is None:
            leftover.kill()
        leftover.stdout.close()
