"""A client for the OCI distribution API (the only module that imports httpx).

It speaks to one registry for one repository: ping, the anonymous, basic and
bearer-token flows, manifests, and streamed blob downloads that resume with a
Range request after a dropped connection.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import re
import time
from typing import Callable

import httpx

from pyctr import log
from pyctr.image import oci
from pyctr.image.registries import RegistriesConf
from pyctr.image.content import BlobWriter
from pyctr.errors import (
    AuthenticationRequired,
    BlobUnknown,
    DigestMismatch,
    ManifestUnknown,
    RegistryError,
    UnsupportedMediaType,
)
from pyctr.image.reference import Reference

MAX_MANIFEST_SIZE = 4 << 20
RETRY_STATUS = {429, 500, 502, 503, 504}
ATTEMPTS = 5
USER_AGENT = "pyctr/0.1"
UPLOAD_CHUNK = 32 << 20  # blobs above this go up in PATCHes of this size


class _Challenge:
    """A parsed WWW-Authenticate header: scheme plus its parameters."""

    _PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')

    def __init__(self, header: str):
        scheme, _, rest = header.strip().partition(" ")
        self.scheme = scheme.lower()
        self.params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in self._PARAM.finditer(rest)}


def basic_header(username: str, password: str) -> str:
    """The Authorization value of RFC 7617 Basic auth (UTF-8, as httpx and docker send it)."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class RegistryAuth(httpx.Auth):
    """Answers the registry's 401 challenge: Basic with the stored credentials, or a bearer token.

    Only the request that was challenged carries the Authorization header;
    httpx drops it on a redirect to another host (blob storage), as it must.
    """

    def __init__(self, credentials: tuple[str, str] | None, scope: str | None):
        self.credentials = credentials
        self.scope = scope
        self._header: str | None = None

    def auth_flow(self, request: httpx.Request):
        if self._header:
            request.headers["Authorization"] = self._header
        response = yield request
        if response.status_code != 401 or "WWW-Authenticate" not in response.headers:
            return
        challenge = _Challenge(response.headers["WWW-Authenticate"])
        if challenge.scheme == "basic":
            if not self.credentials:
                return
            self._header = basic_header(*self.credentials)
        elif challenge.scheme == "bearer":
            token = yield from self._fetch_token(challenge)
            if token is None:
                return
            self._header = f"Bearer {token}"
        else:
            return
        request.headers["Authorization"] = self._header
        yield request

    def _fetch_token(self, challenge: _Challenge):
        realm = challenge.params.get("realm")
        if not realm or not realm.startswith(("http://", "https://")):
            raise RegistryError(f"registry sent a bearer challenge with a bad realm {realm!r}")
        params = {}
        if challenge.params.get("service"):
            params["service"] = challenge.params["service"]
        # The challenge's scope and ours (a push asks for pull,push and, to mount, pull on the source).
        scopes = list(dict.fromkeys(filter(None, [challenge.params.get("scope"), *(self.scope or "").split(" ")])))
        if scopes:
            params["scope"] = scopes if len(scopes) > 1 else scopes[0]
        headers = {"User-Agent": USER_AGENT}
        if self.credentials:
            params["account"] = self.credentials[0]
            headers["Authorization"] = basic_header(*self.credentials)
        token_response = yield httpx.Request("GET", realm, params=params, headers=headers)
        token_response.read()
        if token_response.status_code in (401, 403):
            raise AuthenticationRequired(
                f"requesting bearer token: invalid username/password ({token_response.status_code})",
                status=token_response.status_code,
                hint="check the credentials with 'pyctr login'",
            )
        if token_response.status_code != 200:
            raise RegistryError(f"requesting bearer token from {realm}: HTTP {token_response.status_code}")
        try:
            body = token_response.json()
        except ValueError as exc:
            raise RegistryError(f"requesting bearer token from {realm}: malformed answer") from exc
        return body.get("token") or body.get("access_token")


def _retry_after(response: httpx.Response | None, attempt: int) -> float:
    """Seconds to wait before the next attempt: Retry-After when sane, else exponential backoff."""
    if response is not None and (value := response.headers.get("Retry-After")):
        try:
            return min(float(value), 10.0)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if value else None
            if parsed:
                return max(0.0, min(parsed.timestamp() - time.time(), 10.0))
    return min(0.25 * (2**attempt), 4.0)


def _range_end(header: str | None, default: int) -> int:
    """The bytes a registry holds of an upload, from its `Range: 0-N` (inclusive) header."""
    if not header:
        return default
    try:
        return int(header.rpartition("-")[2]) + 1
    except ValueError:
        return default


def _reason(exc: Exception) -> str:
    """A short why for a transport error: the innermost OS-level message."""
    inner: BaseException = exc
    # Follow the chain only through transport-level errors (not, say, an earlier
    # "image not known" that was being handled when the pull started).
    while True:
        nxt = inner.__cause__ or inner.__context__
        if nxt is None or not (isinstance(nxt, OSError) or type(nxt).__module__.split(".")[0] in ("httpx", "httpcore", "ssl")):
            break
        inner = nxt
    text = getattr(inner, "strerror", None) or str(inner) or type(inner).__name__
    return re.sub(r"^\[Errno -?\d+\]\s*", "", text)


class RegistryClient:
    def __init__(
        self,
        ref: Reference,
        *,
        credentials: tuple[str, str] | None = None,
        tls_verify: bool | None = None,
        conf: RegistriesConf | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        cert_dir: str | None = None,
    ):
        from pyctr.image import certs

        self.ref = ref
        conf = conf or RegistriesConf()
        # An explicit --tls-verify=true means HTTPS only, even for loopback or insecure registries (as podman).
        self._allow_http = tls_verify is False or (tls_verify is None and conf.allows_http(ref.registry))
        self._sleep = sleep
        self.auth = RegistryAuth(credentials, f"repository:{ref.repository}:pull")
        tls = certs.context(ref.endpoint, cert_dir) if tls_verify is not False else None
        self._client = httpx.Client(
            verify=tls or (tls_verify is not False),
            transport=transport,
            follow_redirects=True,
            timeout=httpx.Timeout(30.0, connect=10.0),
            # identity: blobs must arrive byte for byte as their digest says.
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            auth=self.auth,
        )
        self._base: str | None = None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- connection --------------------------------------------------------------------------

    def base_url(self) -> str:
        """https://host/v2, or http:// where plain HTTP is allowed and TLS is not spoken."""
        if self._base is None:
            self._base = self._ping()
        return self._base

    def _ping(self) -> str:
        host = self.ref.endpoint
        schemes = ["https", "http"] if self._allow_http else ["https"]
        last: Exception | None = None
        for scheme in schemes:
            url = f"{scheme}://{host}/v2/"
            try:
                self._send("GET", url, auth=False).close()
                return f"{scheme}://{host}/v2"
            except RegistryError as exc:
                last = exc
        assert last is not None
        if not self._allow_http and isinstance(last.__cause__, httpx.ConnectError) and "SSL" in str(last.__cause__):
            if "WRONG_VERSION_NUMBER" in str(last.__cause__):  # OpenSSL's word for a plain HTTP answer; Go's words for it
                last = RegistryError(f"pinging container registry {self.ref.registry}: Get \"https://{host}/v2/\": "
                                     "http: server gave HTTP response to HTTPS client")
            last.hint = "if the registry speaks plain HTTP or has a self-signed certificate, use --tls-verify=false"
        raise last

    def _send(self, method: str, url: str, *, headers: dict | None = None, stream: bool = False, auth: bool = True,
              content: bytes | None = None) -> httpx.Response:
        """One request with retries on 429, 5xx and dropped connections (never on 4xx)."""
        response = None
        for attempt in range(ATTEMPTS):
            try:
                request = self._client.build_request(method, url, headers=headers, content=content)
                log.debug(f"{method} {url}")
                response = self._client.send(request, stream=stream, auth=self.auth if auth else None)
            except httpx.TooManyRedirects as exc:
                raise RegistryError(f"{self.ref.registry}: too many redirects") from exc
            except httpx.TransportError as exc:
                # A refused connection will not fix itself within seconds; fail fast.
                if isinstance(exc, httpx.ConnectError) or attempt == ATTEMPTS - 1:
                    raise RegistryError(f"pinging container registry {self.ref.registry}: {_reason(exc)}") from exc
                self._sleep(_retry_after(None, attempt))
                continue
            if response.status_code in RETRY_STATUS and attempt < ATTEMPTS - 1:
                response.close()
                self._sleep(_retry_after(response, attempt))
                continue
            return response
        assert response is not None
        return response

    def _check(self, response: httpx.Response, what: str, missing: type[RegistryError] = RegistryError) -> None:
        """Raise for an error answer; a 404 becomes `missing` (ManifestUnknown, BlobUnknown, ...)."""
        status = response.status_code
        if status < 400:
            return
        detail = self._error_detail(response)
        if status == 401:
            raise AuthenticationRequired(
                f"{what}: authentication required", status=status, hint=f"run 'pyctr login {self.ref.registry}'"
            )
        if status == 403:
            raise AuthenticationRequired(f"{what}: access denied", status=status)
        if status == 404:
            raise missing(f"{what}: {detail or 'not found'}", status=status)
        raise RegistryError(f"{what}: {detail or 'HTTP ' + str(status)}", status=status)

    @staticmethod
    def _error_detail(response: httpx.Response) -> str:
        """The registry's own error message (the distribution API's errors list), if any."""
        try:
            response.read()
            errors = response.json().get("errors") or []
            return "; ".join(str(e.get("message") or e.get("code", "")).lower() for e in errors if isinstance(e, dict))
        except (ValueError, AttributeError, httpx.HTTPError):
            return ""

    # -- manifests ---------------------------------------------------------------------------

    def get_manifest(self, reference: str) -> tuple[bytes, str]:
        """Fetch a manifest or index by tag or digest; returns (bytes, media type)."""
        url = f"{self.base_url()}/{self.ref.repository}/manifests/{reference}"
        what = f"reading manifest {reference} in {self.ref.name}"
        response = self._send("GET", url, headers={"Accept": oci.ACCEPT_MANIFESTS + ", " + ", ".join(oci.SCHEMA1_TYPES)}, stream=True)
        try:
            self._check(response, what, ManifestUnknown)
            length = int(response.headers.get("Content-Length") or 0)
            if length > MAX_MANIFEST_SIZE:
                raise UnsupportedMediaType(f"{what}: manifest too large ({length} bytes)")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_MANIFEST_SIZE:
                    raise UnsupportedMediaType(f"{what}: manifest too large")
        except httpx.TransportError as exc:
            raise RegistryError(f"{what}: {_reason(exc)}") from exc
        finally:
            response.close()
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return body, media_type

    def list_tags(self) -> list[str]:
        """Every tag of the repository (GET tags/list, following its Link pages)."""
        url = f"{self.base_url()}/{self.ref.repository}/tags/list"
        tags: list[str] = []
        what = f"listing the tags of {self.ref.name}"
        while url:
            response = self._send("GET", url)
            try:
                response.read()
                self._check(response, what, ManifestUnknown)
                tags += list((response.json() or {}).get("tags") or [])
            except (ValueError, httpx.TransportError) as exc:
                raise RegistryError(f"{what}: {_reason(exc)}") from exc
            finally:
                response.close()
            link = response.links.get("next", {}).get("url")
            url = str(response.url.join(link)) if link else ""
        return tags

    # -- blobs -------------------------------------------------------------------------------

    def fetch_blob(self, desc: oci.Descriptor, writer: BlobWriter, progress: Callable[[int], None] | None = None) -> None:
        """Stream a blob into `writer`, resuming from writer.offset, and commit it verified."""
        url = f"{self.base_url()}/{self.ref.repository}/blobs/{desc.digest}"
        what = f"fetching blob {desc.digest}"
        for attempt in range(ATTEMPTS):
            headers = {"Range": f"bytes={writer.offset}-"} if writer.offset else None
            try:
                self._download(url, headers, writer, what, progress)
            except httpx.TransportError as exc:
                if attempt == ATTEMPTS - 1:
                    raise RegistryError(f"{what}: {_reason(exc)}") from exc
                self._sleep(_retry_after(None, attempt))
                continue
            break
        if desc.size is not None and writer.offset < desc.size:
            raise DigestMismatch(f"{what}: truncated at {writer.offset} of {desc.size} bytes")
        writer.commit()

    def _download(self, url: str, headers: dict | None, writer: BlobWriter, what: str, progress) -> None:
        response = self._send("GET", url, headers=headers, stream=True)
        try:
            if response.status_code == 416 and headers:
                # Our partial file is not a prefix the server knows; start over.
                writer.restart()
                raise httpx.ReadError("range not satisfiable")
            self._check(response, what, BlobUnknown)
            if headers and response.status_code != 206:
                writer.restart()  # the server ignored Range and sends everything
            elif headers and not response.headers.get("Content-Range", "").startswith(f"bytes {writer.offset}-"):
                writer.restart()
                raise httpx.ReadError("server answered a different range")
            if progress:
                progress(writer.offset)
            for chunk in response.iter_bytes():
                writer.write(chunk)
                if progress:
                    progress(writer.offset)
        finally:
            response.close()

    # -- pushing (see pyctr.image.upload) -----------------------------------------------------

    def want_push(self, mount_from: list[str] = ()) -> None:
        """Ask tokens for push on our repository (and pull on the repositories blobs are mounted from)."""
        self.auth.scope = " ".join([f"repository:{self.ref.repository}:pull,push"] +
                                   [f"repository:{repo}:pull" for repo in mount_from])

    def request(self, method: str, url: str, *, headers: dict | None = None, content: bytes | None = None,
                retry: bool = True) -> httpx.Response:
        """A read answer to one request (`url` relative to /v2/ or absolute); transport errors are
        raised as httpx.TransportError when `retry` is off, so that an upload can ask where it stands."""
        full = url if url.startswith(("http://", "https://")) else f"{self.base_url()}/{url}"
        if retry:
            response = self._send(method, full, headers=headers, content=content)
        else:
            log.debug(f"{method} {full}")
            request = self._client.build_request(method, full, headers=headers, content=content)
            response = self._client.send(request, auth=self.auth)
        try:
            response.read()
        finally:
            response.close()
        return response

    def blob_exists(self, digest: str) -> bool:
        response = self.request("HEAD", f"{self.ref.repository}/blobs/{digest}")
        if response.status_code == 404:
            return False
        self._check(response, f"checking blob {digest} in {self.ref.name}", BlobUnknown)
        return True

    def mount_blob(self, digest: str, from_repository: str) -> bool:
        """Cross-repository mount: True when the registry linked the blob without an upload."""
        response = self.request("POST", f"{self.ref.repository}/blobs/uploads/?mount={digest}&from={from_repository}")
        if response.status_code == 201:
            return True
        if response.status_code == 202 and (location := response.headers.get("Location")):
            # The registry started an ordinary upload instead: drop it, ours comes with the data.
            with contextlib.suppress(RegistryError, httpx.HTTPError):
                self.request("DELETE", str(response.url.join(location)))
        return False

    def upload_blob(self, digest: str, size: int, path: str, *, chunk_size: int = UPLOAD_CHUNK,
                    progress: Callable[[int], None] | None = None) -> None:
        """Upload the blob in the file `path`: one PUT when it fits a chunk, else PATCHes of
        `chunk_size` bytes. A PATCH cut off by the network asks the registry where the upload stands
        (GET on it) and goes on from there; an upload the registry no longer knows starts over."""
        what = f"uploading blob {digest} to {self.ref.name}"
        location = self._start_upload(what)
        offset, interruptions = 0, 0
        with open(path, "rb") as source:
            while size > chunk_size and offset < size:
                source.seek(offset)
                data = source.read(min(chunk_size, size - offset))
                headers = {"Content-Type": "application/octet-stream",
                           "Content-Range": f"{offset}-{offset + len(data) - 1}"}
                try:
                    response = self.request("PATCH", location, headers=headers, content=data, retry=False)
                except httpx.TransportError as exc:
                    interruptions += 1
                    if interruptions >= ATTEMPTS:
                        raise RegistryError(f"{what}: {_reason(exc)}") from exc
                    self._sleep(_retry_after(None, interruptions))
                    location, offset = self._upload_status(location, what)
                    continue
                if response.status_code == 416:  # our offset is not the registry's: ask it
                    location, offset = self._upload_status(location, what)
                    continue
                self._check(response, what, BlobUnknown)
                location = str(response.url.join(response.headers.get("Location", location)))
                offset = _range_end(response.headers.get("Range"), offset + len(data))
                if progress:
                    progress(offset)
            if size <= chunk_size:
                source.seek(0)
                final = source.read()
            else:
                final = b""
        url = httpx.URL(location).copy_merge_params({"digest": digest})
        response = self.request("PUT", str(url), content=final, headers={"Content-Type": "application/octet-stream"})
        self._check(response, what, BlobUnknown)
        if progress:
            progress(size)

    def _start_upload(self, what: str) -> str:
        response = self.request("POST", f"{self.ref.repository}/blobs/uploads/")
        self._check(response, what, BlobUnknown)
        if response.status_code != 202 or not response.headers.get("Location"):
            raise RegistryError(f"{what}: the registry did not start an upload (HTTP {response.status_code})")
        return str(response.url.join(response.headers["Location"]))

    def _upload_status(self, location: str, what: str) -> tuple[str, int]:
        """(where to send the rest, how many bytes the registry has) of an upload; a new upload when
        the registry dropped the old one (it does when the cut-off PATCH left part of its data)."""
        response = self.request("GET", location)
        if response.status_code in (200, 204):
            log.debug(f"resuming upload at {response.headers.get('Range')}")
            return str(response.url.join(response.headers.get("Location", location))), _range_end(response.headers.get("Range"), 0)
        log.debug(f"upload lost (HTTP {response.status_code}): starting over")
        return self._start_upload(what), 0

    def put_manifest(self, reference: str, body: bytes, media_type: str) -> None:
        what = f"writing manifest {reference} to {self.ref.name}"
        response = self.request("PUT", f"{self.ref.repository}/manifests/{reference}", content=body,
                                headers={"Content-Type": media_type})
        self._check(response, what, ManifestUnknown)

    def ping_with_auth(self) -> None:
        """Check that our credentials are accepted (for login): GET /v2/ answering its challenge."""
        self.auth.scope = None
        response = self._send("GET", f"{self.base_url()}/")
        response.read()
        if response.status_code == 401:
            raise AuthenticationRequired(
                f"logging in to {self.ref.registry}: invalid username/password", status=401
            )
        self._check(response, f"logging in to {self.ref.registry}")


class _IterStream:
    """An iterator of byte chunks as a file-like read(n)."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        while n is None or n < 0 or len(self._buf) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buf += chunk
        if n is None or n < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:n], self._buf[n:]
        return data


def fetch_url(url: str, consume: Callable[[object], None]) -> None:
    """GET a plain URL (import of a tarball by URL) and give its body to `consume` as a stream."""
    with httpx.Client(follow_redirects=True, timeout=httpx.Timeout(30.0, connect=10.0),
                      headers={"User-Agent": USER_AGENT}) as client:
        try:
            with client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise RegistryError(f"fetching {url}: HTTP {response.status_code}", status=response.status_code)
                consume(_IterStream(response.iter_bytes()))
        except httpx.TransportError as exc:
            raise RegistryError(f"fetching {url}: {_reason(exc)}") from exc
