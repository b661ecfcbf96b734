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
from pyctr.image.registries import RegistriesConf
from pyctr.errors import AuthenticationRequired, BlobUnknown, ManifestUnknown, NotFound, RegistryError
from pyctr.image.auth import check_credentials
from pyctr.image.reference import parse
from pyctr.image.registry import RegistryClient, basic_header

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
    assert str(err.value) == ('pinging container registry registry.example: Get "https://registry.example/v2/": '
                              'http: server gave HTTP response to HTTPS client')  # podman 4.3.1's words
    schemes.clear()
    insecure = RegistryClient(parse("registry.example/app"), tls_verify=False, transport=httpx.MockTransport(handler), sleep=lambda s: None)
    with insecure:
        insecure.get_manifest("latest")
    assert schemes[-1] == "http"


def test_basic_header_matches_httpx_public_basic_auth():
    # What httpx.BasicAuth puts on a request, read through its public auth_flow.
    for user, password in [("u", "p"), ("alice", "pä:ss wörd"), ("", "")]:
        flow = httpx.BasicAuth(user, password).auth_flow(httpx.Request("GET", "http://registry.example/v2/"))
        assert basic_header(user, password) == next(flow).headers["Authorization"]


def test_no_private_httpx_attributes_in_the_package():
    import re
    from pathlib import Path

    import pyctr

    # httpx.Something(...)._private or httpx._module: both break on an httpx upgrade.
    private = re.compile(r"httpx\.(?:\w+\.)*_[a-z]|httpx\.\w+\([^)]*\)\._[a-z]")
    hits = [f"{path}: {line.strip()}" for path in Path(pyctr.__file__).parent.rglob("*.py")
            for line in path.read_text().splitlines() if private.search(line)]
    assert not hits


def test_blob_404_is_blob_unknown_and_manifest_404_is_manifest_unknown(tmp_path):
    def handler(request):
        if request.url.path == "/v2/":
            return httpx.Response(200)
        code = "BLOB_UNKNOWN" if "/blobs/" in request.url.path else "MANIFEST_UNKNOWN"
        return httpx.Response(404, json={"errors": [{"code": code, "message": code.lower().replace("_", " ")}]})

    store = ContentStore(tmp_path)
    with client_for(handler) as client, store.writer(BLOB_DIGEST, len(BLOB)) as w:
        with pytest.raises(BlobUnknown, match=f"fetching blob {BLOB_DIGEST}: blob unknown") as err:
            client.fetch_blob(DESC, w)
        assert not isinstance(err.value, ManifestUnknown) and isinstance(err.value, NotFound) and err.value.status == 404
        with pytest.raises(ManifestUnknown, match="manifest unknown") as err:
            client.get_manifest("latest")
        assert not isinstance(err.value, BlobUnknown) and isinstance(err.value, NotFound)
    assert not store.exists(BLOB_DIGEST)


def test_blob_404_without_an_error_body(tmp_path):
    def handler(request):
        return httpx.Response(200) if request.url.path == "/v2/" else httpx.Response(404)

    with client_for(handler) as client, ContentStore(tmp_path).writer(BLOB_DIGEST, len(BLOB)) as w:
        with pytest.raises(BlobUnknown, match="not found"):
            client.fetch_blob(DESC, w)


def registry_with_basic_auth(seen: list):
    good = "Basic " + base64.b64encode("alice:s3cr\u00e9t".encode()).decode()

    def handler(request):
        seen.append((request.url.scheme, request.url.path, request.headers.get("Authorization")))
        if request.url.path != "/v2/":
            return httpx.Response(404)
        if request.headers.get("Authorization") == good:
            return httpx.Response(200, json={})
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})

    return httpx.MockTransport(handler)


def test_check_credentials_accepts_good_and_refuses_bad_credentials():
    seen = []
    transport = registry_with_basic_auth(seen)
    check_credentials("localhost:5000", "alice", "s3cr\u00e9t", conf=RegistriesConf(), transport=transport)
    assert seen[-1][1:] == ("/v2/", "Basic " + base64.b64encode("alice:s3cr\u00e9t".encode()).decode())
    with pytest.raises(AuthenticationRequired, match="logging in to localhost:5000: invalid username/password"):
        check_credentials("localhost:5000", "alice", "wrong", conf=RegistriesConf(), transport=transport)
    # What a user types as the registry: a URL or a repository path names the same host.
    seen.clear()
    check_credentials("https://localhost:5000/some/repo", "alice", "s3cr\u00e9t", conf=RegistriesConf(), transport=transport)
    assert {path for _, path, _ in seen} == {"/v2/"}


def test_check_credentials_needs_https_for_a_remote_registry_unless_told():
    seen = []
    transport = registry_with_basic_auth(seen)

    def https_refused(request):
        if request.url.scheme == "https":
            raise httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number")
        return transport.handle_request(request)

    with pytest.raises(RegistryError) as err:
        check_credentials("registry.example", "alice", "s3cr\u00e9t", conf=RegistriesConf(), transport=httpx.MockTransport(https_refused))
    assert not isinstance(err.value, AuthenticationRequired) and "--tls-verify=false" in (err.value.hint or "")
    check_credentials("registry.example", "alice", "s3cr\u00e9t", tls_verify=False, conf=RegistriesConf(), transport=httpx.MockTransport(https_refused))
    assert seen[-1][0] == "http"


def test_check_credentials_on_something_that_is_not_a_registry():
    def handler(request):
        return httpx.Response(404)

    with pytest.raises(RegistryError) as err:
        check_credentials("localhost:5000", "alice", "x", conf=RegistriesConf(), transport=httpx.MockTransport(handler))
    assert not isinstance(err.value, NotFound)  # not "manifest unknown": there is no registry here


def test_the_auth_file_is_never_readable_by_others(tmp_path):
    """login writes it 0600, and a logout that keeps other registries' credentials too."""
    import stat

    from pyctr.image import auth

    path = tmp_path / "auth.json"
    auth.store("one.example", "alice", "secret", str(path))
    auth.store("two.example", "bob", "secret", str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert auth.remove("one.example", str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert auth.lookup("two.example", None, str(path)) == ("bob", "secret")
