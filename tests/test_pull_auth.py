"""login, logout and pulls through the registry's basic and token auth (real registry)."""

from __future__ import annotations

import base64
import json

import pytest

from pyctr.image.registries import RegistriesConf
from pyctr.errors import AuthenticationRequired
from pyctr.image.auth import check_credentials


def login(pyctr, registry, password=None, check=True):
    return pyctr("login", "-u", registry.username, "--password-stdin", registry.host,
                 input=(password or registry.password) + "\n", check=check)


def test_basic_auth_needs_login(registry_basic, pyctr, store):
    ref = f"{registry_basic.host}/test/busybox"
    denied = pyctr("pull", ref, check=False)
    assert denied.returncode == 125
    assert "authentication required" in denied.stderr and "pyctr login" in denied.stderr

    bad = login(pyctr, registry_basic, password="wrong", check=False)
    assert bad.returncode == 125 and "invalid username/password" in bad.stderr

    assert login(pyctr, registry_basic).stdout.strip() == "Login Succeeded!"
    authfile = store.xdg_runtime_dir / "containers" / "auth.json"
    entry = json.loads(authfile.read_text())["auths"][registry_basic.host]
    assert base64.b64decode(entry["auth"]).decode() == f"{registry_basic.username}:{registry_basic.password}"
    assert authfile.stat().st_mode & 0o077 == 0

    pyctr("pull", "-q", ref)
    assert pyctr("login", "--get-login", registry_basic.host).stdout.strip() == registry_basic.username

    assert pyctr("logout", registry_basic.host).stdout.strip() == f"Removed login credentials for {registry_basic.host}"
    assert pyctr("pull", ref, check=False).returncode == 125
    assert "not logged into" in pyctr("logout", registry_basic.host, check=False).stderr


def test_authfile_flag_and_docker_config_fallback(registry_basic, pyctr, store, tmp_path):
    authfile = tmp_path / "my-auth.json"
    pyctr("login", "--authfile", authfile, "-u", registry_basic.username, "-p", registry_basic.password, registry_basic.host)
    ref = f"{registry_basic.host}/test/busybox"
    pyctr("pull", "-q", "--authfile", authfile, ref)

    # Without --authfile, ~/.docker/config.json is read as podman does.
    docker_config = store.home / ".docker" / "config.json"
    docker_config.parent.mkdir()
    docker_config.write_text(authfile.read_text())
    pyctr("rmi", ref)
    pyctr("pull", "-q", ref)


def test_token_auth_anonymous_and_logged_in(registry_token, pyctr):
    issuer = registry_token.issuer
    before = issuer.requests
    pyctr("pull", "-q", f"{registry_token.host}/public/busybox")
    assert issuer.requests > before  # the bearer flow really ran

    denied = pyctr("pull", f"{registry_token.host}/test/busybox", check=False)
    assert denied.returncode == 125 and "authentication required" in denied.stderr

    assert login(pyctr, registry_token).returncode == 0
    pyctr("pull", "-q", f"{registry_token.host}/test/multi")
    assert login(pyctr, registry_token, password="wrong", check=False).returncode == 125


def test_check_credentials_library_call(registry_basic, registry_token):
    # The library call behind login (for the engine, not only the command line): real basic and token auth.
    for registry in (registry_basic, registry_token):
        check_credentials(registry.host, registry.username, registry.password, conf=RegistriesConf())
        with pytest.raises(AuthenticationRequired, match="invalid username/password"):
            check_credentials(registry.host, registry.username, "wrong", conf=RegistriesConf())
