"""Start a real Docker distribution registry (Debian's `docker-registry`) for tests.

    reg = start_registry(tmp_path)                 # anonymous
    reg = start_registry(tmp_path, auth="basic")   # htpasswd, realm "pyctr-test"
    reg = start_registry(tmp_path, auth="token")   # JWTs from an in-process TokenIssuer
    ... reg.host == "127.0.0.1:PORT", reg.username, reg.password, reg.issuer
    reg.stop()

Each registry listens on its own free loopback port, stores blobs under `workdir/storage`
and logs to `workdir/registry.log`: it never writes to the test runner's stdout. Every
started registry is also stopped at interpreter exit, and dies with the process that
started it (PR_SET_PDEATHSIG), so a crashed or killed pytest leaves no stray registry.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .tokenissuer import SigningKey, TokenIssuer, make_signing_key

REGISTRY_BINARY = "docker-registry"
BASIC_REALM = "pyctr-test"
TOKEN_SERVICE = "pyctr-test-registry"
TOKEN_ISSUER = "pyctr-test-issuer"
TEST_USERNAME = "pyctr-tester"
STARTUP_TIMEOUT = 20.0  # seconds
PORT_ATTEMPTS = 5

_running: set["Registry"] = set()


@dataclass(eq=False)
class Registry:
    host: str  # "127.0.0.1:PORT"
    auth: str | None  # None, "basic" or "token"
    username: str | None
    password: str | None
    workdir: Path
    log_path: Path
    process: subprocess.Popen = field(repr=False)
    issuer: TokenIssuer | None = None  # only with auth="token"
    pushed: dict = field(default_factory=dict, repr=False)  # filled by images.populate()

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminate, wait, kill if it lingers. Idempotent."""
        _running.discard(self)
        _terminate(self.process)
        if self.issuer is not None:
            self.issuer.stop()


def start_registry(workdir: Path, auth: str | None = None) -> Registry:
    if auth not in (None, "basic", "token"):
        raise ValueError(f"unknown registry auth mode {auth!r}")
    binary = shutil.which(REGISTRY_BINARY)
    if binary is None:
        raise RuntimeError(
            f"{REGISTRY_BINARY} not found on PATH: install the Debian package "
            "`docker-registry` (make deps does it); the integration tests need a real registry"
        )
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    username, password, issuer, auth_config = _setup_auth(workdir, auth)

    last_error = ""
    for _ in range(PORT_ATTEMPTS):
        port = _free_port()
        config_path = workdir / "config.yml"
        config_path.write_text(json.dumps(_config(workdir, port, auth_config), indent=2))
        log_path = workdir / "registry.log"
        process = _spawn(binary, config_path, log_path)
        registry = Registry(f"127.0.0.1:{port}", auth, username, password, workdir, log_path, process, issuer)
        _running.add(registry)
        if _wait_until_ready(registry):
            return registry
        last_error = registry.log_tail()
        _running.discard(registry)
        _terminate(process)  # the issuer stays up for the next port
        if "address already in use" not in last_error:
            break  # a real failure, not a port race: retrying won't help
    if issuer is not None:
        issuer.stop()
    raise RuntimeError(f"docker-registry did not start (log {workdir / 'registry.log'}):\n{last_error}")


def _setup_auth(workdir: Path, auth: str | None) -> tuple[str | None, str | None, TokenIssuer | None, dict]:
    """(username, password, issuer, the config's `auth` section) for one auth mode."""
    if auth is None:
        return None, None, None, {}
    username, password = TEST_USERNAME, secrets.token_urlsafe(12)  # fresh per registry
    if auth == "basic":
        htpasswd = _write_htpasswd(workdir, username, password)
        return username, password, None, {"htpasswd": {"realm": BASIC_REALM, "path": str(htpasswd)}}
    key = make_signing_key(TOKEN_ISSUER)
    issuer = TokenIssuer(key, TOKEN_SERVICE, TOKEN_ISSUER, username, password).start()
    return username, password, issuer, {"token": {
        "realm": issuer.url,
        "service": TOKEN_SERVICE,
        "issuer": TOKEN_ISSUER,
        "rootcertbundle": str(_write_cert_bundle(workdir, key)),
    }}


def _config(workdir: Path, port: int, auth_config: dict) -> dict:
    # JSON is valid YAML, and it spares us quoting rules.
    config = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
        "storage": {
            "filesystem": {"rootdirectory": str(workdir / "storage")},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {
            "addr": f"127.0.0.1:{port}",
            "secret": secrets.token_hex(16),  # silences the "no secret" warning
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
        # Lets the hostile-image helpers push a schema1 manifest (pullers must refuse it).
        "compatibility": {"schema1": {"enabled": True}},
    }
    if auth_config:
        config["auth"] = auth_config
    return config


def _write_htpasswd(workdir: Path, username: str, password: str) -> Path:
    line = subprocess.run(
        ["htpasswd", "-Bbn", username, password], check=True, capture_output=True, text=True
    ).stdout.strip()
    path = workdir / "htpasswd"
    path.write_text(line + "\n")
    return path


def _write_cert_bundle(workdir: Path, key: SigningKey) -> Path:
    path = workdir / "token-root.pem"
    path.write_bytes(key.certificate_pem())
    return path


def _free_port() -> int:
    # Racy by nature (the port is free only when we look); start_registry retries.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the forked child must not dlopen
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM the registry when the thread that started it
    dies, even by SIGKILL, where atexit never runs."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _spawn(binary: str, config_path: Path, log_path: Path) -> subprocess.Popen:
    with open(log_path, "wb") as log:  # one attempt per log: the port-race check reads it
        return subprocess.Popen(
            [binary, "serve", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            close_fds=True,
            start_new_session=True,  # no terminal signals from pytest's session
            preexec_fn=_die_with_parent,
            cwd=config_path.parent,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )


def _wait_until_ready(registry: Registry) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if registry.process.poll() is not None:
                return False
            try:
                if client.get(f"{registry.url}/v2/").status_code in (200, 401):
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    return False


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@atexit.register
def _stop_all() -> None:
    for registry in list(_running):
        registry.stop()
