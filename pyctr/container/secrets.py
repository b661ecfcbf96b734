"""Secrets: small blobs of data kept apart from images and containers (podman's file driver).

Layout under the store root (every directory 0700, every file 0600):
    secrets/secrets.json        the records: ID -> name, driver, labels, times (never the data)
    secrets/filedriver/<ID>     each secret's data
    secrets/.lock               held while the records change
A container gets a copy of each secret it names at create (containers/<id>/secrets/<name>), so
that it keeps working once the secret is removed, as podman's do.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import asdict, field
from pathlib import Path

from pyctr.errors import Ambiguous, Conflict, InvalidArgument, NotFound
from pyctr.linux.fsutil import atomic_write, atomic_write_json, locked, makedirs, read_json
from pyctr.values import value

DRIVERS = ("file",)
MAX_NAME = 64
_NAME_RE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9_.-]*[a-zA-Z0-9])?$")
MAX_SIZE = 512_000  # podman's limit on a secret's data


class SecretNotFound(NotFound):
    """No secret has that name or ID."""


@value
class Secret:
    id: str  # 25 hex digits, as podman's
    name: str
    driver: str = "file"
    labels: dict[str, str] = field(default_factory=dict)
    created: float = 0.0
    updated: float = 0.0


def check_name(name: str) -> None:
    if len(name) > MAX_NAME or not _NAME_RE.match(name):
        raise InvalidArgument(f"only {MAX_NAME} [a-zA-Z0-9-_.] characters allowed, and the start and end "
                              f"character must be [a-zA-Z0-9]: {name}: invalid secret name")


class SecretStore:
    def __init__(self, root: Path):
        self.dir = Path(root) / "secrets"
        self.data_dir = self.dir / "filedriver"

    def _records(self) -> dict[str, dict]:
        return read_json(self.dir / "secrets.json", {}) or {}

    def list(self) -> list[Secret]:
        """Oldest first."""
        return sorted((Secret(**r) for r in self._records().values()), key=lambda s: (s.created, s.id))

    def get(self, name_or_id: str) -> Secret:
        """By name, full ID, or a unique prefix of an ID."""
        secrets = self.list()
        for secret in secrets:
            if name_or_id in (secret.name, secret.id):
                return secret
        matches = [s for s in secrets if name_or_id and s.id.startswith(name_or_id)]
        if len(matches) > 1:
            raise Ambiguous(f"more than one result secret with prefix {name_or_id}")
        if not matches:
            raise SecretNotFound(f'no secret with name or id "{name_or_id}": no such secret')
        return matches[0]

    def data(self, name_or_id: str) -> bytes:
        secret = self.get(name_or_id)
        try:
            return (self.data_dir / secret.id).read_bytes()
        except FileNotFoundError:
            raise SecretNotFound(f'no secret data with ID "{secret.id}": no such secret') from None

    def create(self, name: str, data: bytes, *, driver: str = "file", labels: dict[str, str] | None = None) -> Secret:
        check_name(name)
        if driver not in DRIVERS:
            raise InvalidArgument("invalid driver")
        if not data:
            raise InvalidArgument("secret data must be larger than 0 and less than 512000 bytes")
        if len(data) >= MAX_SIZE:
            raise InvalidArgument("secret data must be larger than 0 and less than 512000 bytes")
        makedirs(self.dir)  # 0700, as each level below it
        makedirs(self.data_dir)
        with locked(self.dir / ".lock"):
            records = self._records()
            if any(r["name"] == name for r in records.values()):
                raise Conflict(f"{name}: secret name in use")
            secret_id = os.urandom(13).hex()[:25]
            now = time.time()
            secret = Secret(secret_id, name, driver, dict(labels or {}), now, now)
            atomic_write(self.data_dir / secret_id, data, 0o600)  # the data first: a record never lacks it
            records[secret_id] = asdict(secret)
            atomic_write_json(self.dir / "secrets.json", records, 0o600)
        return secret

    def remove(self, name_or_id: str) -> Secret:
        with locked(self.dir / ".lock"):
            secret = self.get(name_or_id)
            records = self._records()
            records.pop(secret.id, None)
            atomic_write_json(self.dir / "secrets.json", records, 0o600)
            try:
                os.unlink(self.data_dir / secret.id)
            except FileNotFoundError:
                pass
        return secret


# -- a container's copies ---------------------------------------------------------------------

def container_copies(container_dir: Path) -> Path:
    return Path(container_dir) / "secrets"


def _copy_name(ref) -> str:
    """Apart for each type: one secret may be given both as a file and as a variable."""
    return ref.name if ref.type == "mount" else f".env-{ref.name}"


def copy_for_container(store: SecretStore, container_dir: Path, refs) -> None:
    """Write the data of each SecretRef into the container's directory, owned and moded as asked
    (the bind mount shows the file as it is: podman's uid=, gid=, mode=)."""
    if not refs:
        return
    target = makedirs(container_copies(container_dir))
    for ref in refs:
        path = target / _copy_name(ref)
        mode = ref.mode if ref.type == "mount" else 0o400
        atomic_write(path, store.data(ref.name), mode)
        os.chmod(path, mode)  # as asked, whatever the umask
        if ref.type == "mount" and (ref.uid or ref.gid):
            os.chown(path, ref.uid, ref.gid)


def mount_destination(ref) -> str:
    """Where a mount secret shows: /run/secrets/NAME, or its target (relative: under /run/secrets)."""
    target = ref.target or ref.name
    return target if target.startswith("/") else f"/run/secrets/{target}"


def oci_mounts_and_env(container_dir: Path, refs) -> tuple[list[dict], dict[str, str]]:
    """The bind mounts of mount secrets, and the variables of env secrets (read from the copies)."""
    mounts, env = [], {}
    copies = container_copies(container_dir)
    for ref in refs:
        source = copies / _copy_name(ref)
        if ref.type == "env":
            try:
                env[ref.target or ref.name] = source.read_bytes().decode("utf-8", "replace")
            except FileNotFoundError:
                raise SecretNotFound(f'no secret with name or id "{ref.name}": no such secret') from None
        else:
            mounts.append({"destination": mount_destination(ref), "type": "bind", "source": str(source),
                           "options": ["bind", "rprivate", "ro"]})
    return mounts, env


def parse_flag(text: str):
    """`--secret NAME[,type=mount|env][,target=T][,uid=N][,gid=N][,mode=OCTAL]` -> SecretRef; as podman,
    the name may also come as `source=NAME`, and a lone word is always a name."""
    from pyctr.container.spec import SecretRef

    parts = text.split(",")
    name, options = (text, []) if len(parts) == 1 else ("", parts)
    if options and "=" not in options[0]:
        name, options = options[0], options[1:]
    ref = SecretRef(name)
    for option in options:
        key, eq, val = option.partition("=")
        if not eq:
            raise InvalidArgument(f"option {option} must be in form option=value: parsing secret")
        try:
            if key == "source":
                ref.name = val
            elif key == "type":
                if val not in ("mount", "env"):
                    raise InvalidArgument(f"type {val} is invalid: parsing secret")
                ref.type = val
            elif key == "target":
                ref.target = val
            elif key in ("uid", "gid"):
                setattr(ref, key, int(val))
            elif key == "mode":
                ref.mode = int(val, 8)
            else:
                raise ValueError
        except ValueError:
            raise InvalidArgument(f"option {option} invalid: parsing secret") from None
    if not ref.name:
        raise InvalidArgument(f"no secret name given in {text!r}: parsing secret")
    return ref
