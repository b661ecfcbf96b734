"""Registry credentials in the files podman and docker users already have.

Read order (first match wins): --authfile, $REGISTRY_AUTH_FILE,
${XDG_RUNTIME_DIR}/containers/auth.json, $XDG_CONFIG_HOME/containers/auth.json,
~/.docker/config.json. `pyctr login` writes the first of the containers files,
after check_credentials has had the registry accept them.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from pyctr import config
from pyctr.errors import ConfigError
from pyctr.image.registries import RegistriesConf
from pyctr.linux.fsutil import atomic_write_json, locked, makedirs, read_json

DOCKER_HUB_KEY = "https://index.docker.io/v1/"


def registry_host(text: str) -> str:
    """The auth-file key for what a user typed: `host:port`, `https://host/` or `host/repo` -> host[:port]."""
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    return text.rstrip("/").split("/")[0]


def check_credentials(
    registry: str,
    username: str,
    password: str,
    *,
    tls_verify: bool | None = None,
    conf: RegistriesConf | None = None,
    transport=None,
    cert_dir: str | None = None,
) -> None:
    """Have `registry` (host[:port]) accept username and password, as `login` does before storing them.

    Raises AuthenticationRequired when the registry refuses them, RegistryError when it cannot
    be reached or answers with an error. tls_verify=None means: HTTPS, or plain HTTP for loopback
    and registries.conf's insecure entries; False allows plain HTTP and unverified certificates.
    `conf` defaults to the registries.conf files; `transport` (an httpx transport) is for tests.
    """
    from pyctr.image.reference import Reference
    from pyctr.image.registry import RegistryClient  # httpx only for commands that talk to a registry

    # The repository is a placeholder: the check is GET /v2/, which names none.
    ref = Reference(registry_host(registry), "library/login-check", tag="latest")
    conf = conf if conf is not None else RegistriesConf.load()
    with RegistryClient(ref, credentials=(username, password), tls_verify=tls_verify, conf=conf, transport=transport,
                        cert_dir=cert_dir) as client:
        client.ping_with_auth()


def _runtime_auth_path() -> Path:
    if os.environ.get("XDG_RUNTIME_DIR") or config.is_rootless():
        return config.runtime_dir() / "containers" / "auth.json"
    return Path(f"/run/containers/{os.geteuid()}/auth.json")


def write_path(authfile: str | None = None) -> Path:
    if authfile:
        return Path(authfile)
    if os.environ.get("REGISTRY_AUTH_FILE"):
        return Path(os.environ["REGISTRY_AUTH_FILE"])
    return _runtime_auth_path()


def read_paths(authfile: str | None = None) -> list[Path]:
    if authfile:
        return [Path(authfile)]
    home = Path(os.path.expanduser("~"))
    xdg_config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return [
        write_path(),
        xdg_config / "containers" / "auth.json",
        home / ".docker" / "config.json",
    ]


def _keys_for(registry: str, repository: str | None) -> list[str]:
    """Most specific key first: host/repo/path, ..., host (docker.io also by its legacy URL)."""
    keys = []
    if repository:
        parts = repository.split("/")
        for n in range(len(parts), 0, -1):
            keys.append(f"{registry}/{'/'.join(parts[:n])}")
    keys.append(registry)
    if registry == "docker.io":
        keys += [DOCKER_HUB_KEY, "index.docker.io", "registry-1.docker.io"]
    return keys


def _decode(entry: dict, path: Path) -> tuple[str, str] | None:
    encoded = entry.get("auth") if isinstance(entry, dict) else None
    if not encoded:
        return None
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"reading {path}: malformed auth entry") from exc
    return user, password


def _normalise_key(key: str) -> str:
    for prefix in ("https://", "http://"):
        if key.startswith(prefix) and key != DOCKER_HUB_KEY:
            key = key[len(prefix) :]
    return key.rstrip("/") if key != DOCKER_HUB_KEY else key


def lookup(registry: str, repository: str | None = None, authfile: str | None = None) -> tuple[str, str] | None:
    wanted = _keys_for(registry, repository)
    for path in read_paths(authfile):
        auths = (read_json(path, {}) or {}).get("auths") or {}
        by_key = {_normalise_key(k): v for k, v in auths.items()}
        for key in wanted:
            if key in by_key:
                found = _decode(by_key[key], path)
                if found:
                    return found
    return None


def store(registry: str, username: str, password: str, authfile: str | None = None) -> Path:
    path = write_path(authfile)
    makedirs(path.parent)
    with locked(path.with_name(path.name + ".lock")):
        data = read_json(path, {}) or {}
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        data.setdefault("auths", {})[registry] = {"auth": token}
        atomic_write_json(path, data, mode=0o600)  # credentials: never readable by others, not even for a moment
    return path


def remove(registry: str | None, authfile: str | None = None) -> bool:
    """Forget one registry's credentials (all when registry is None); returns whether any were removed."""
    path = write_path(authfile)
    if not path.exists():
        return False
    with locked(path.with_name(path.name + ".lock")):
        data = read_json(path, {}) or {}
        auths = data.get("auths") or {}
        if registry is None:
            removed = bool(auths)
            auths = {}
        else:
            keys = [k for k in auths if _normalise_key(k) in _keys_for(registry, None)]
            removed = bool(keys)
            for k in keys:
                del auths[k]
        data["auths"] = auths
        atomic_write_json(path, data, mode=0o600)
    return removed
