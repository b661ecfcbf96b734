"""Secrets: the store, `secret create|ls|inspect|rm|exists`, and `run --secret`, against what
podman 4.3.1 printed for the same commands (recorded below)."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest

from pyctr.container import secrets
from pyctr.container.spec import ContainerSpec, SecretRef
from pyctr.errors import Conflict, InvalidArgument

# podman 4.3.1, `secret ls` and `secret inspect --pretty` (IDs and times vary).
PODMAN_LS = """\
ID                         NAME        DRIVER      CREATED                 UPDATED
229cd587ebba0cad0208f5276  h1s         file        Less than a second ago  Less than a second ago
"""
PODMAN_PRETTY = """\
ID:              229cd587ebba0cad0208f5276
Name:              h1s
Driver:            file
Created at:        2026-12-05 11:22:41.760803146 +0000 UTC
Updated at:        2026-12-05 11:22:41.760803146 +0000 UTC
"""
ID = re.compile(r"\b[0-9a-f]{25}\b")
TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC")


def shape(text: str) -> str:
    return TIME.sub("TIME", ID.sub("ID", text))


# -- pure parts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("flag, ref", [
    ("db", SecretRef("db")),
    ("db,type=env", SecretRef("db", type="env")),
    ("db,type=env,target=PASSWORD", SecretRef("db", type="env", target="PASSWORD")),
    ("db,target=/etc/db,mode=0400,uid=5,gid=6", SecretRef("db", target="/etc/db", mode=0o400, uid=5, gid=6)),
    ("source=db,type=env,target=X", SecretRef("db", type="env", target="X")),  # podman's other form
    ("type=env", SecretRef("type=env")),  # a lone word is a name, even with "=" (podman 4.3.1 looks it up)
])
def test_secret_flag(flag, ref):
    assert secrets.parse_flag(flag) == ref


@pytest.mark.parametrize("flag, error", [
    ("db,type=bad", "type bad is invalid: parsing secret"),
    ("db,bogus=1", "option bogus=1 invalid: parsing secret"),
    ("db,uid=x", "option uid=x invalid: parsing secret"),
    ("db,mode", "option mode must be in form option=value: parsing secret"),
    ("db,bogus", "option bogus must be in form option=value: parsing secret"),  # podman 4.3.1's text
])
def test_secret_flag_errors(flag, error):
    with pytest.raises(InvalidArgument, match=re.escape(error)):
        secrets.parse_flag(flag)


def test_env_secrets_take_no_owner_or_mode():
    spec = ContainerSpec.for_image("busybox")
    spec.storage.secrets = [SecretRef("db", type="env", mode=0o400)]
    with pytest.raises(InvalidArgument, match="UID, GID, Mode options cannot be set with secret type env"):
        spec.validate()


def test_spec_keeps_secrets_through_json():
    spec = ContainerSpec.for_image("busybox")
    spec.storage.secrets = [SecretRef("db", target="/etc/db", mode=0o400)]
    assert ContainerSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


def test_store_keeps_data_private(tmp_path):
    store = secrets.SecretStore(tmp_path)
    secret = store.create("db", b"hunter2", labels={"a": "b"})
    assert re.fullmatch(r"[0-9a-f]{25}", secret.id)
    assert store.get("db") == store.get(secret.id) == store.get(secret.id[:6]) == secret
    assert store.data("db") == b"hunter2"
    for path in (tmp_path / "secrets", tmp_path / "secrets" / "filedriver"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    for path in (tmp_path / "secrets" / "secrets.json", tmp_path / "secrets" / "filedriver" / secret.id):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"hunter2" not in (tmp_path / "secrets" / "secrets.json").read_bytes()
    with pytest.raises(Conflict, match="db: secret name in use"):
        store.create("db", b"other")
    store.remove("db")
    assert store.list() == [] and os.listdir(tmp_path / "secrets" / "filedriver") == []
    with pytest.raises(secrets.SecretNotFound, match='no secret with name or id "db": no such secret'):
        store.get("db")


@pytest.mark.parametrize("name", ["-a", "a-", "a/b", "x" * 65, ""])
def test_secret_names(tmp_path, name):
    with pytest.raises(InvalidArgument, match="invalid secret name"):
        secrets.SecretStore(tmp_path).create(name, b"data")


def test_go_time():
    from pyctr.engine.secrets import go_time

    assert go_time(1_700_000_000.5) == "2023-11-14T22:13:20.5Z"
    assert go_time(1_700_000_000, pretty=True) == "2023-11-14 22:13:20 +0000 UTC"


# -- the commands ---------------------------------------------------------------------------------

def test_secret_commands(pyctr, store, tmp_path):
    source = tmp_path / "data"
    source.write_text("hunter2")
    created = pyctr("secret", "create", "h1s", source).stdout.strip()
    assert ID.fullmatch(created)
    listed = pyctr("secret", "ls").stdout
    assert shape(listed) == shape(PODMAN_LS)
    assert pyctr("secret", "ls", "-q").stdout == f"{created}\n"
    assert pyctr("secret", "ls", "--noheading").stdout == listed.split("\n", 1)[1]
    assert pyctr("secret", "ls", "--format", "{{.ID}} {{.Name}} {{.Driver}}").stdout == f"{created} h1s file\n"
    pretty = pyctr("secret", "inspect", "--pretty", "h1s").stdout
    assert shape(pretty) == shape(PODMAN_PRETTY)
    [inspected] = json.loads(pyctr("secret", "inspect", "h1s").stdout)
    assert inspected["ID"] == created and inspected["Spec"]["Name"] == "h1s"
    assert inspected["Spec"]["Driver"] == {"Name": "file", "Options": {"path": f"{store.root}/secrets/filedriver"}}
    assert "hunter2" not in json.dumps(inspected)
    assert pyctr("secret", "inspect", "--format", "{{.Spec.Name}}", created[:8]).stdout == "h1s\n"

    # stdin, labels, --env; filters
    pyctr("secret", "create", "--label", "a=b", "other", "-", input="pw2")
    pyctr("secret", "create", "--env", "fromenv", "H1_VAR", env={"H1_VAR": "x"})
    assert pyctr("secret", "ls", "--format", "{{.Name}}", "--filter", "name=^oth").stdout == "other\n"
    assert pyctr("secret", "ls", "--format", "{{.Name}}", "--filter", f"id={created[:5]}").stdout == "h1s\n"
    result = pyctr("secret", "ls", "--filter", "label=a", check=False)
    assert (result.returncode, result.stderr) == (125, 'Error: invalid filter "label"\n')

    # podman's errors
    for args, error in [
        (("secret", "create", "h1s", source), "Error: h1s: secret name in use\n"),
        (("secret", "create", "x", tmp_path / "none"), f"Error: open {tmp_path}/none: no such file or directory\n"),
        (("secret", "create", "--driver", "foo", "x", source), "Error: invalid driver\n"),
        (("secret", "inspect", "nope"), 'Error: inspecting secret: no secret with name or id "nope": no such secret\n'),
        (("secret", "rm", "nope"), 'Error: no secret with name or id "nope": no such secret\n'),
        (("secret", "rm"), "Error: `pyctr secret rm` requires one argument, or the --all flag\n"),
    ]:
        result = pyctr(*args, check=False)
        assert (result.returncode, result.stderr) == (125, error), args
    assert pyctr("secret", "exists", "h1s", check=False).returncode == 0
    result = pyctr("secret", "exists", "nope", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "")

    assert pyctr("secret", "rm", "h1s").stdout == f"{created}\n"
    assert len(pyctr("secret", "rm", "-a").stdout.split()) == 2
    assert pyctr("secret", "ls", "-q").stdout == ""


def test_run_with_secrets(pyctr, image, tmp_path):
    source = tmp_path / "data"
    source.write_text("hunter2")
    pyctr("secret", "create", "db", source)
    out = pyctr("run", "--rm", "--secret", "db", image, "sh", "-c", "cat /run/secrets/db; ls -ln /run/secrets/db").stdout
    assert out.startswith("hunter2-r--r--r--    1 0        0 ")
    result = pyctr("run", "--rm", "--secret", "db,target=/etc/db,mode=0400,uid=5,gid=6", image,
                   "sh", "-c", "ls -ln /etc/db; echo x > /etc/db", check=False)
    assert result.stdout.startswith("-r--------    1 5        6 ")
    assert "Read-only file system" in result.stderr  # read-only, whatever the mode says
    assert pyctr("run", "--rm", "--secret", "db,type=env", image, "sh", "-c", "echo $db").stdout == "hunter2\n"
    assert pyctr("run", "--rm", "--secret", "db,type=env,target=PW", image, "sh", "-c", "echo $PW").stdout == "hunter2\n"
    result = pyctr("run", "--rm", "--secret", "nope", image, "true", check=False)
    assert (result.returncode, result.stderr) == (125, 'Error: no secret with name or id "nope": no such secret\n')
    assert pyctr("ps", "-aq").stdout == ""  # nothing half-made

    # A container keeps its copy: the secret may go (podman allows it), the container still starts.
    pyctr("create", "--name", "keeps", "--secret", "db", image, "cat", "/run/secrets/db")
    pyctr("create", "--name", "keeps-env", "--secret", "db,type=env", image, "sh", "-c", "echo $db")
    # inspect's Config.Secrets as podman 4.3.1's: the file secrets with their ID (env ones are not listed).
    secret_id = pyctr("secret", "inspect", "--format", "{{.ID}}", "db").stdout.strip()
    pyctr("create", "--name", "owned", "--secret", "db", "--secret", "db,target=/t2,uid=1,gid=2,mode=0400", image, "true")
    assert json.loads(pyctr("inspect", "--format", "{{json .Config.Secrets}}", "owned").stdout) == [
        {"Name": "db", "ID": secret_id, "UID": 0, "GID": 0, "Mode": 292},
        {"Name": "db", "ID": secret_id, "UID": 1, "GID": 2, "Mode": 256}]
    config = json.loads(pyctr("container", "inspect", "owned").stdout)[0]["Config"]
    assert list(config)[list(config).index("Secrets") - 1] == "Umask"  # where podman puts it
    assert "Secrets" not in json.loads(pyctr("container", "inspect", "keeps-env").stdout)[0]["Config"]
    pyctr("secret", "rm", "db")
    assert pyctr("start", "-a", "keeps").stdout == "hunter2"
    assert pyctr("start", "-a", "keeps-env").stdout == "hunter2\n"
    assert "hunter2" not in pyctr("inspect", "keeps", "keeps-env").stdout  # never the data
