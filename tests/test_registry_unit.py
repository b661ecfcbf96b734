"""The registry client's protocol logic against httpx's MockTransport (no network).

The same flows run against the real registry in test_pull.py; these cover what a
real registry will not do on demand: dropped connections, 503s, redirects.
"""

import base64
import hashlib

import httpx
import pytest

from pyctr.image import oci
from pyctr.image.content import ContentStore
from pyctr.errors import AuthenticationRequired, ManifestUnknown, RegistryError
from pyctr.image.reference import parse
from pyctr.image.registry import RegistryClient

BLOB = bytes(range(256)) * 4096  # 1 MiB
BLOB_DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
DESC = oci.Descriptor(oci.OCI_LAYER_GZIP, BLOB_DIGEST, len(BLOB))


class Broken(httpx.SyncByteStream):
    """A body that drops the connection after `cut` bytes."""

    def __init__(self, data: bytes, cut: int):
        self.data, self.cut = data, cut

    def __iter__(self):
        yield self.data[: self.cut]
        raise httpx.ReadError("connection reset by peer")


def client_for(handler, **kw):
    return RegistryClient(parse("localhost:5000/test/app:latest"), transport=httpx.MockTransport(handler), sleep=lambda s: None, **kw)


def test_bearer_flow_sends_credentials_to_the_realm_and_token_to_the_registry():
    seen = []

    def handler(request: httpx.Request):
        seen.append((request.url.host, request.url.path, request.headers.get("Authorization")))
        if request.url.host == "auth.example":
            assert request.url.params["scope"] == "repository:test/app:pull"
            assert request.url.params["service"] == "reg"
            expected = "Basic " + base64.b64encode(b"alice:secret").decode()
            if request.headers.get("Authorization") != expected:
                return httpx.Response(401)
            return httpx.Response(200, json={"token": "T0K"})
        if request.headers.get("Authorization") != "Bearer T0K":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.example/token",service="reg",scope="repository:test/app:pull"'})
        return httpx.Response(200, content=b'{"schemaVersion":2}', headers={"Content-Type": oci.OCI_MANIFEST})

    with client_for(handler, credentials=("alice", "secret")) as client:
        body, media_type = client.get_manifest("latest")
    assert body == b'{"schemaVersion":2}' and media_type == oci.OCI_MANIFEST
    assert ("auth.example", "/token", "Basic " + base64.b64encode(b"alice:secret").decode()) in seen
    assert seen[-1] == ("localhost", "/v2/test/app/manifests/latest", "Bearer T0K")


def test_bad_credentials_at_the_token_server_are_an_authentication_error():
    def handler(request):
        if request.url.host == "auth.example":
            return httpx.Response(401)
        return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.example/token"'})

    with client_for(handler, credentials=("alice", "wrong")) as client, pytest.raises(AuthenticationRequired):
        client.get_manifest("latest")


def test_basic_challenge():
    def handler(request):
        if request.headers.get("Authorization") == "Basic " + base64.b64encode(b"u:p").decode():
            return httpx.Response(200, content=b"{}", headers={"Content-Type": oci.OCI_MANIFEST})
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})

    with client_for(handler, credentials=("u", "p")) as client:
        assert client.get_manifest("latest")[0] == b"{}"
    with client_for(handler) as client, pytest.raises(AuthenticationRequired, match="authentication required"):
        client.get_manifest("latest")


def test_retries_5xx_and_429_but_never_404():
    calls = {"manifest": 0}

    def flaky(request):
        if request.url.path == "/v2/":
            return httpx.Response(200)
        calls["manifest"] += 1
        if calls["manifest"] == 1:
            return httpx.Response(503)
        if calls["manifest"] == 2:
            return httpx.Response(429, headers={"Retry-After": "1"})
        return httpx.Response(200, content=b"{}")

    with client_for(flaky) as client:
        client.get_manifest("latest")
    assert calls["manifest"] == 3

    calls["manifest"] = 0

    def missing(request):
        if request.url.path == "/v2/":
            return httpx.Response(200)
        calls["manifest"] += 1
        return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]})

    with client_for(missing) as client, pytest.raises(ManifestUnknown, match="manifest unknown"):
        client.get_manifest("latest")
    assert calls["manifest"] == 1


def test_interrupted_download_resumes_with_a_range_request(tmp_path):
    ranges = []

    def handler(request):
        if request.url.path == "/v2/":
            return httpx.Response(200)
        ranges.append(request.headers.get("Range"))
        if len(ranges) == 1:
            return httpx.Response(200, stream=Broken(BLOB, 300_000))
        start = int(request.headers["Range"].split("=")[1].rstrip("-"))
        return httpx.Response(206, content=BLOB[start:], headers={"Content-Range": f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"})

    store = ContentStore(tmp_path)
    with client_for(handler) as client, store.writer(BLOB_DIGEST, len(BLOB)) as w:
        client.fetch_blob(DESC, w)
    assert ranges == [None, "bytes=300000-"]
    assert store.read(BLOB_DIGEST) == BLOB


def test_resume_after_a_crash_uses_the_partial_file(tmp_path):
    store = ContentStore(tmp_path)
    with store.writer(BLOB_DIGEST, len(BLOB)) as w:
        w.write(BLOB[:500_000])  # then the process "dies": no commit
    ranges = []

    def handler(request):
        if request.url.path == "/v2/":
            return httpx.Response(200)
        ranges.append(request.headers.get("Range"))
        return httpx.Response(206, content=BLOB[500_000:], headers={"Content-Range": f"bytes 500000-{len(BLOB) - 1}/{len(BLOB)}"})

    with client_for(handler) as client, store.writer(BLOB_DIGEST, len(BLOB)) as w:
        client.fetch_blob(DESC, w)
    assert ranges == ["bytes=500000-"]
    assert store.read(BLOB_DIGEST) == BLOB


def test_server_ignoring_range_restarts_the_download(tmp_path):
    store = ContentStore(tmp_path)
    with store.writer(BLOB_DIGEST, len(BLOB)) as w:
        w.write(BLOB[:1000])

    def handler(request):
        if request.url.path == "/v2/":
            return httpx.Response(200)
        return httpx.Response(200, content=BLOB)

    with client_for(handler) as client, store.writer(BLOB_DIGEST, len(BLOB)) as w:
        client.fetch_blob(DESC, w)
    assert store.read(BLOB_DIGEST) == BLOB


def test_corrupt_blob_is_not_committed(tmp_path):
    store = ContentStore(tmp_path)

    def handler(request):
        if request.url.path == "/v2/":
            return httpx.Response(200)
        return httpx.Response(200, content=BLOB[:-1] + b"x")

    from pyctr.errors import DigestMismatch

    with client_for(handler) as client, store.writer(BLOB_DIGEST, len(BLOB)) as w, pytest.raises(DigestMismatch):
        client.fetch_blob(DESC, w)
    assert not store.exists(BLOB_DIGEST)


def test_authorization_is_not_sent_to_another_host_on_redirect(tmp_path):
    seen = {}

    def handler(request):
        if request.url.path == "/v2/":
            return httpx.Response(200)
        if request.url.host == "localhost":
            if not request.headers.get("Authorization"):
                return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
            return httpx.Response(307, headers={"Location": "https://storage.example/blob"})
        seen["storage"] = request.headers.get("Authorization")
        return httpx.Response(200, content=BLOB)

    store = ContentStore(tmp_path)
    with client_for(handler, credentials=("u", "p")) as client, store.writer(BLOB_DIGEST, len(BLOB)) as w:
        client.fetch_blob(DESC, w)
    assert seen == {"storage": None}
    assert store.exists(BLOB_DIGEST)


def test_plain_http_only_for_loopback_or_insecure():
    schemes = []

    def handler(request):
        schemes.append(request.url.scheme)
        if request.url.scheme == "https":
            raise httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number")
        return httpx.Response(200, content=b"{}")

    with client_for(handler) as client:
        client.get_manifest("latest")
    assert schemes[:2] == ["https", "http"]

    schemes.clear()
    remote = RegistryClient(parse("registry.example/app"), transport=httpx.MockTransport(handler), sleep=lambda s: None)
    with remote, pytest.raises(RegistryError) as err:
        remote.get_manifest("latest")
    assert schemes == ["https"]
    assert "--tls-verify=false" in (err.value.hint or "")
    schemes.clear()
    insecure = RegistryClient(parse("registry.example/app"), tls_verify=False, transport=httpx.MockTransport(handler), sleep=lambda s: None)
    with insecure:
        insecure.get_manifest("latest")
    assert schemes[-1] == "http"
