"""A tiny Docker token server for the registry's `auth: token` mode.

The registry answers an unauthenticated request with
`WWW-Authenticate: Bearer realm=<issuer>/token,service=...,scope=...`; the client then
asks this issuer for a JWT (`GET /token?service=&scope=&account=`, optionally with HTTP
basic credentials) and retries with `Authorization: Bearer <jwt>`.

Policy (deliberately small, so tests can predict it):
- anonymous callers may pull repositories under `public/`, nothing else;
- the test user (username/password given at construction) gets every action it asks for;
- a wrong password or unknown user gets 401, like a real issuer.

The registry verifies the JWT's signature through the `x5c` header: the signing
certificate must chain to the `rootcertbundle` file in the registry's config, and the
registry checks the certificate's validity period, so the certificate is self-signed,
valid from a day ago, and the bundle is that certificate itself.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

TOKEN_LIFETIME = 300  # seconds; what `expires_in` announces
PUBLIC_PREFIX = "public/"


@dataclass(frozen=True)
class SigningKey:
    """A throwaway RSA key with a self-signed certificate, generated once per run."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def x5c(self) -> list[str]:
        """The JWT `x5c` header: standard base64 (not URL-safe) DER, leaf first."""
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return [base64.b64encode(der).decode("ascii")]

    def sign_rs256(self, data: bytes) -> bytes:
        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def make_signing_key(common_name: str = "pyctr-test-issuer") -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # Backdated so that small clock differences never make it "not yet valid".
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return SigningKey(key, certificate)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_jwt(key: SigningKey, claims: dict) -> str:
    header = {"typ": "JWT", "alg": "RS256", "x5c": key.x5c()}
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = key.sign_rs256(signing_input.encode("ascii"))
    return f"{signing_input}.{_b64url(signature)}"


def decode_jwt_claims(token: str) -> dict:
    """The claims of a JWT, unverified (for tests that inspect what was granted)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@dataclass(frozen=True)
class Scope:
    """`repository:test/busybox:pull,push`; names may contain ':' (never the type)."""

    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> "Scope":
        type_, _, rest = text.partition(":")
        name, _, actions = rest.rpartition(":")
        return cls(type_, name, tuple(a for a in actions.split(",") if a))


@dataclass
class TokenIssuer:
    """The token server; `start()` binds a free loopback port and serves in a thread."""

    key: SigningKey
    service: str
    issuer: str
    username: str
    password: str
    requests: int = 0  # every /token request, granted or not
    log: list[dict] = field(default_factory=list)  # one record per request, for debugging
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def url(self) -> str:
        """The realm: the URL clients GET tokens from."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/token"

    def start(self) -> "TokenIssuer":
        handler = type("Handler", (_TokenHandler,), {"issuer": self})
        # Binding port 0 here is race-free: the socket stays open for the server's life.
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        thread = threading.Thread(target=self._server.serve_forever, name="token-issuer", daemon=True)
        thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- policy -----------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> tuple[bool, str]:
        """(ok, subject): no credentials is ok and anonymous; bad credentials are not ok."""
        if not authorization:
            return True, ""
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False, ""
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False, ""
        ok = secrets.compare_digest(user, self.username) and secrets.compare_digest(password, self.password)
        return ok, user if ok else ""

    def grant(self, subject: str, scope: Scope) -> dict | None:
        """The access entry granted for one requested scope, or None for nothing."""
        if subject == self.username:
            allowed = scope.actions
        elif scope.type == "repository" and scope.name.startswith(PUBLIC_PREFIX):
            allowed = tuple(a for a in scope.actions if a == "pull")
        else:
            allowed = ()
        if not allowed:
            return None
        return {"type": scope.type, "name": scope.name, "actions": list(allowed)}

    def issue(self, subject: str, scopes: list[Scope]) -> dict:
        access = [entry for scope in scopes if (entry := self.grant(subject, scope))]
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + TOKEN_LIFETIME,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        token = encode_jwt(self.key, claims)
        issued_at = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        return {
            "token": token,
            "access_token": token,
            "expires_in": TOKEN_LIFETIME,
            "issued_at": issued_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def record(self, entry: dict) -> None:
        with self._lock:
            self.requests += 1
            self.log.append(entry)


class _TokenHandler(BaseHTTPRequestHandler):
    issuer: TokenIssuer  # set on the subclass made by TokenIssuer.start()

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        self._answer(url.path, self.headers.get("Authorization"), query)

    def do_POST(self) -> None:  # noqa: N802
        # OAuth2 password grant (docker login --identity-token style clients use POST).
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        authorization = self.headers.get("Authorization")
        if form.get("grant_type") == ["password"]:
            pair = f"{form.get('username', [''])[0]}:{form.get('password', [''])[0]}"
            authorization = "Basic " + base64.b64encode(pair.encode()).decode()
        self._answer(urllib.parse.urlsplit(self.path).path, authorization, form)

    def _answer(self, path: str, authorization: str | None, params: dict[str, list[str]]) -> None:
        issuer = self.issuer
        scopes = [Scope.parse(s) for value in params.get("scope", []) for s in value.split(" ") if s]
        ok, subject = issuer.authenticate(authorization)
        entry = {
            "path": path,
            "service": params.get("service", [""])[0],
            "account": params.get("account", [""])[0],
            "scopes": [f"{s.type}:{s.name}:{','.join(s.actions)}" for s in scopes],
            "subject": subject,
            "authenticated": ok,
        }
        issuer.record(entry)
        if path != "/token":
            return self._send(404, {"errors": [{"code": "NOT_FOUND", "message": path}]})
        if not ok:
            return self._send(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]},
                              {"WWW-Authenticate": 'Basic realm="pyctr-test-issuer"'})
        if entry["service"] and entry["service"] != issuer.service:
            return self._send(400, {"errors": [{"code": "DENIED", "message": "unknown service"}]})
        self._send(200, issuer.issue(subject, scopes))

    def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass  # never write to the test runner's stderr; `issuer.log` has the details
