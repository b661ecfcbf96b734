"""Quadlet: `*.container`, `*.volume`, `*.network`, `*.kube` files as systemd units (pyctr.quadlet).

Pure tests of the parser and the converters; `pyctr quadlet --dryrun` and the installed generator;
`systemd-analyze verify` of what is generated; and the acceptance under a real systemd user manager
(tests/harness/systemd_user.py), as root and as the rootless test user (that one under
`flock /tmp/pyctr-rootless-tests.lock`, as test_rootless).

What podman 4.4's quadlet writes for `[Container] Image=IMG` (from its source and documentation; podman
4.3.1, the reference here, has no quadlet), and pyctr's adaptation:
    ExecStart=/usr/bin/podman run --name=systemd-%N --cidfile=%t/%N.cid --replace --rm \
        --log-driver passthrough --runtime /usr/bin/crun --cgroups=split --sdnotify=conmon -d IMG
    pyctr: the same without `--runtime /usr/bin/crun --cgroups=split` (runc; no split cgroups yet).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pyctr.quadlet import container, generator, install, kube, network, volume
from pyctr.quadlet.common import Context
from pyctr.quadlet.unitfile import UnitFile, UnitFileError, join_words, split_words
from tests.conftest import REPO_ROOT, fetch, free_port, wait_for

PYCTR = ["/usr/bin/pyctr"]
BASE_RUN = ("/usr/bin/pyctr run --name=systemd-%N --cidfile=%t/%N.cid --replace --rm --log-driver passthrough "
            "--sdnotify=conmon -d")


def unit(text: str, filename: str = "web.container", path: str = "/etc/containers/systemd/web.container") -> UnitFile:
    return UnitFile.parse(textwrap.dedent(text), filename, path)


def convert(text: str, filename: str = "web.container", user: bool = False, names: dict | None = None) -> UnitFile:
    module = {".container": container, ".volume": volume, ".network": network, ".kube": kube}[
        os.path.splitext(filename)[1]]
    return module.convert(unit(text, filename, f"/q/{filename}"), Context(PYCTR, user, names))


def service_keys(service: UnitFile, key: str, group: str = "Service") -> list[str]:
    return [e.value for e in service.entries(group, key)]


def exec_start(text: str, **kw) -> str:
    return service_keys(convert(text, **kw), "ExecStart")[-1]


def error_of(text: str, filename: str = "web.container", **kw) -> str:
    with pytest.raises(UnitFileError) as info:
        convert(text, filename, **kw)
    return str(info.value)


# -- the unit-file syntax ------------------------------------------------------------------

def test_words_are_split_and_quoted_as_systemd_does():
    assert split_words(r"""a "b c" 'd  e' f\ g "h\"i" x\x41 "" end""") == ["a", "b c", "d  e", "f g", 'h"i', "xA", "", "end"]
    assert split_words("  ") == []
    assert split_words('A="one two"') == ["A=one two"]
    with pytest.raises(ValueError):
        split_words(r"\q")
    words = ["plain", "two words", 'quo"te', "back\\slash", "it's", "", "tab\there", "%N", "$HOME"]
    assert split_words(join_words(words)) == words
    # % specifiers and $ variables are systemd's: left as they are.
    assert join_words(["%t/%N.cid", "$X"]) == "%t/%N.cid $X"


def test_continuations_comments_and_line_numbers():
    u = unit("""\
        # a comment
        [Container]
        Image=img
        Exec=sh -c \\
        # skipped inside a continuation
          "echo hi"
        ; another comment
        Label=a=1
        """)
    assert u.value("Container", "Exec") == 'sh -c    "echo hi"'
    assert [(e.key, e.line) for e in u.entries("Container")] == [("Image", 3), ("Exec", 4), ("Label", 8)]
    assert u.text().startswith("# a comment\n\n[Container]\nImage=img\n")


@pytest.mark.parametrize("text, message", [
    ("Image=x\n", "web.container:1: assignment outside of any group: Image"),
    ("[Container]\nImage\n", "web.container:2: not a Key=Value assignment: Image"),
    ("[Container\nImage=x\n", "web.container:1: invalid group header: [Container"),
])
def test_syntax_errors_name_the_line(text, message):
    with pytest.raises(UnitFileError) as info:
        UnitFile.parse(text, "web.container", "web.container")
    assert str(info.value) == message


def test_an_empty_value_resets_a_list():
    u = unit("[Container]\nVolume=/a:/a\nVolume=\nVolume=/b:/b\n")
    assert [e.value for e in u.values("Container", "Volume")] == ["/b:/b"]


# -- .container ------------------------------------------------------------------------------

def test_a_minimal_container_unit():
    service = convert("[Container]\nImage=localhost/test/web\n")
    assert service.filename == "web.service"
    assert service_keys(service, "ExecStart") == [f"{BASE_RUN} localhost/test/web"]
    for key, value in (("Type", "notify"), ("NotifyAccess", "all"), ("KillMode", "mixed"), ("SyslogIdentifier", "%N")):
        assert service_keys(service, key) == [value], key
    assert service_keys(service, "Environment") == ["PODMAN_SYSTEMD_UNIT=%n"]
    assert service_keys(service, "ExecStop") == ["/usr/bin/pyctr stop --ignore --cidfile=%t/%N.cid"]
    assert service_keys(service, "SuccessExitStatus") == ["143"]  # the container ended by ExecStop's SIGTERM
    assert service_keys(service, "ExecStopPost") == ["-/usr/bin/pyctr rm -v -f -i --cidfile=%t/%N.cid",
                                                     "-rm -f %t/%N.cid"]
    assert service_keys(service, "SourcePath", "Unit") == ["/q/web.container"]
    # The Container group stays, renamed so that systemd ignores it.
    assert service.has_group("X-Container") and not service.has_group("Container")


def test_the_keys_of_a_container():
    line = exec_start(r"""
        [Container]
        Image=img
        ContainerName=web1
        Exec=httpd -f -p 80 -h "/www dir"
        PublishPort=8080:80
        PublishPort=0.0.0.0:8443:443/tcp
        PublishPort=[::1]:9000:90
        ExposeHostPort=7000-7001
        Environment=B=2 "A=one two"
        Environment=C=3
        Label=app=web
        Annotation=note=yes
        EnvironmentFile=web.env
        User=1000
        Group=100
        AddCapability=NET_ADMIN sys_time
        DropCapability=ALL
        AddDevice=/dev/fuse
        ReadOnly=yes
        NoNewPrivileges=true
        RunInit=yes
        Timezone=UTC
        Tmpfs=/run
        HostName=www
        PodmanArgs=--memory 64m
        """)
    assert line == (
        "/usr/bin/pyctr run --name=web1 --cidfile=%t/%N.cid --replace --rm --log-driver passthrough --tz=UTC --init "
        "--sdnotify=conmon -d --security-opt=no-new-privileges --device=/dev/fuse --cap-drop=all --cap-add=net_admin "
        "--cap-add=sys_time --read-only --user 1000:100 --expose=7000-7001 --publish 8080:80 --publish 8443:443/tcp "
        '--publish [::1]:9000:90 --env "A=one two" --env B=2 --env C=3 --label app=web --annotation note=yes '
        "--env-file /q/web.env --hostname=www --tmpfs=/run --memory 64m img httpd -f -p 80 -h \"/www dir\"")


def test_every_option_the_converter_writes_is_a_pyctr_run_option():
    from tests.test_podman_options import accepted, pyctr_commands

    run_options = accepted(pyctr_commands()["run"])
    special = {"Image": "img", "Environment": "A=1", "Label": "a=1", "Annotation": "a=1", "PublishPort": "80",
               "ExposeHostPort": "80", "RemapUsers": "manual", "RemapUid": "0:1:1", "RemapGid": "0:1:1",
               "GlobalArgs": "", "PodmanArgs": "", "Exec": "true", "Rootfs": ""}
    skipped = {"RemapUidSize", "UserNS", "ReadOnlyTmpfs"}  # RemapUsers given; ReadOnlyTmpfs below
    for extra in ("", "ReadOnlyTmpfs=no\n"):
        text = "[Container]\n" + extra + "".join(f"{key}={special.get(key, 'yes')}\n"
                                                 for key in sorted(container.KEYS - skipped))
        args = split_words(exec_start(text))
        flags = {a.partition("=")[0] for a in args[1:args.index("img")] if a.startswith("-")}
        assert flags - run_options == set()
        assert len(flags) > 40


def test_volume_and_network_references_add_dependencies():
    service = convert("""
        [Container]
        Image=img
        Volume=data.volume:/data:ro
        Volume=named.volume:/named
        Volume=/srv:/srv
        Volume=/anonymous
        Network=lan.network:ip=10.89.0.5
        Network=host
        """, names={"named.volume": "my-vol"})
    args = service_keys(service, "ExecStart")[0]
    assert "-v systemd-data:/data:ro -v my-vol:/named -v /srv:/srv -v /anonymous" in args
    assert "--network=systemd-lan:ip=10.89.0.5 --network=host" in args
    assert service_keys(service, "Requires", "Unit") == ["lan-network.service", "data-volume.service", "named-volume.service"]
    assert service_keys(service, "After", "Unit") == service_keys(service, "Requires", "Unit")
    assert "/srv" in service_keys(service, "RequiresMountsFor", "Unit")


def test_service_settings_pass_through_and_some_are_checked():
    service = convert("""
        [Unit]
        Description=web
        [Container]
        Image=img
        [Service]
        Restart=on-failure
        SyslogIdentifier=mine
        KillMode=control-group
        [Install]
        WantedBy=default.target
        """)
    assert service_keys(service, "Restart") == ["on-failure"]
    assert service_keys(service, "SyslogIdentifier") == ["mine"]
    assert service_keys(service, "KillMode") == ["control-group"]
    assert service_keys(service, "Description", "Unit") == ["web"]
    assert service_keys(service, "WantedBy", "Install") == ["default.target"]
    oneshot = exec_start("[Container]\nImage=img\n[Service]\nType=oneshot\n")
    assert "--sdnotify" not in oneshot and " -d " not in oneshot
    assert "--sdnotify=container -d" in exec_start("[Container]\nImage=img\nNotify=yes\n")


@pytest.mark.parametrize("text, message", [
    ("[Container]\nImage=img\n\nFoo=bar\n", '/q/web.container:4: unsupported key "Foo" in group "Container"'),
    ("[Container]\nExec=true\n", "/q/web.container: no Image key specified"),
    ("[Container]\nImage=img\n[Service]\nKillMode=none\n", '/q/web.container:4: invalid KillMode "none"'),
    ("[Container]\nImage=img\n[Service]\nType=simple\n", '/q/web.container:4: invalid service Type "simple"'),
    ("[Container]\nImage=img\nPublishPort=80:http\n", '/q/web.container:3: invalid port format "http"'),
    ("[Container]\nImage=img\nExposeHostPort=x\n", '/q/web.container:3: invalid port format "x"'),
    ("[Container]\nImage=img\nReadOnly=maybe\n", "/q/web.container:3: invalid boolean for ReadOnly: 'maybe'"),
    ("[Container]\nImage=img\nExec=a \\q\n", "/q/web.container:3: invalid escape \\q"),
    ("[Container]\nImage=img\nRemapUsers=keep-id\n",
     "/q/web.container:3: RemapUsers=keep-id is unsupported for system units"),
    ("[Container]\nImage=img\nRemapUsers=auto\n",
     "/q/web.container:3: RemapUsers=auto needs --userns=auto, which pyctr has not built yet"),
    ("[Container]\nImage=img\nRemapUid=0:1000:1\n", "/q/web.container:3: RemapUid set without RemapUsers"),
])
def test_errors_name_the_file_and_line(text, message):
    assert error_of(text) == message


def test_user_namespaces():
    assert "--userns=keep-id" in exec_start("[Container]\nImage=img\nRemapUsers=keep-id\n", user=True)
    assert "--uidmap=0:1000:1 --gidmap=0:100:1" in exec_start(
        "[Container]\nImage=img\nRemapUsers=manual\nRemapUid=0:1000:1\nRemapGid=0:100:1\n")
    assert "--userns=nomap" in exec_start("[Container]\nImage=img\nUserNS=nomap\n")


def test_global_args_go_to_every_pyctr_command():
    service = convert("[Container]\nImage=img\nGlobalArgs=--root /x --runroot /y\n")
    assert service_keys(service, "ExecStart")[0].startswith("/usr/bin/pyctr --root /x --runroot /y run ")
    assert service_keys(service, "ExecStopPost")[0] == "-/usr/bin/pyctr --root /x --runroot /y rm -v -f -i --cidfile=%t/%N.cid"


# -- .volume, .network, .kube --------------------------------------------------------------------

def test_a_volume_unit():
    service = convert("[Volume]\nUser=1000\nGroup=100\nLabel=a=1 b=2\n", "data.volume")
    assert service.filename == "data-volume.service"
    assert service_keys(service, "ExecStart") == [
        "/usr/bin/pyctr volume create --ignore --opt o=uid=1000,gid=100 --label a=1 --label b=2 systemd-data"]
    assert [service_keys(service, k) for k in ("Type", "RemainAfterExit")] == [["oneshot"], ["yes"]]
    assert service_keys(convert("[Volume]\nVolumeName=v1\nDevice=tmpfs\nType=tmpfs\nOptions=size=1m\n", "d.volume"),
                        "ExecStart") == [
        "/usr/bin/pyctr volume create --ignore --opt device=tmpfs --opt type=tmpfs --opt o=size=1m v1"]
    assert error_of("[Volume]\nUser=bob\n", "d.volume") == "/q/d.volume:2: User must be a numeric ID: 'bob'"


def test_a_network_unit():
    service = convert("""
        [Network]
        Subnet=10.89.7.0/24
        Gateway=10.89.7.1
        IPRange=10.89.7.128/25
        Internal=yes
        DisableDNS=true
        Label=tier=back
        Options=mtu=1400
        """, "lan.network")
    assert service.filename == "lan-network.service"
    assert service_keys(service, "ExecStart") == [
        "/usr/bin/pyctr network create --ignore --disable-dns --subnet=10.89.7.0/24 --gateway=10.89.7.1 "
        "--ip-range=10.89.7.128/25 --internal --opt mtu=1400 --label tier=back systemd-lan"]
    assert error_of("[Network]\nGateway=10.0.0.1\n", "lan.network") == \
        "/q/lan.network:2: cannot set gateway or range without subnet"


def test_a_kube_unit():
    service = convert("[Kube]\nYaml=app.yaml\nPublishPort=8000:80\nConfigMap=cm.yaml\nNetwork=lan.network\n", "app.kube")
    assert service.filename == "app.service"
    assert service_keys(service, "ExecStart") == [
        "/usr/bin/pyctr kube play --replace --network=systemd-lan --configmap /q/cm.yaml --publish 8000:80 /q/app.yaml"]
    assert service_keys(service, "ExecStop") == ["/usr/bin/pyctr kube down /q/app.yaml"]
    assert service_keys(service, "Type") == ["oneshot"]
    assert error_of("[Kube]\nPublishPort=80\n", "app.kube") == "/q/app.kube: no Yaml key specified"


def test_network_create_ignore_as_podman_4_4(pyctr, store):
    """What .network units run: `network create --ignore` of an existing network prints its name, 0."""
    net = ["--network-config-dir", str(store.tmp / "networks"), "network", "create"]
    for _ in range(2):
        assert pyctr(*net, "--ignore", "--subnet", "10.123.250.0/24", "qnet").stdout == "qnet\n"
    again = pyctr(*net, "qnet", check=False)
    assert (again.returncode, again.stderr) == (125, "Error: network name qnet already used: network already exists\n")


# -- the generator ------------------------------------------------------------------------------

def _write(directory: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(textwrap.dedent(text))


@pytest.fixture
def quadlet_dirs(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    monkeypatch.setenv("QUADLET_UNIT_DIRS", f"{first}:{second}")
    return first, second


def test_the_generator_writes_good_files_and_reports_bad_ones(quadlet_dirs, tmp_path):
    first, second = quadlet_dirs
    _write(first, {
        "web.container": "[Container]\nImage=img\nVolume=data.volume:/data\n[Install]\nWantedBy=default.target\n",
        "web.container.d/10-tz.conf": "[Container]\nTimezone=UTC\n",
        "data.volume": "[Volume]\nVolumeName=shared\n",
        "bad.container": "[Container]\nImage=img\nFoo=1\n",
        "notes.txt": "not a quadlet file",
    })
    _write(second, {"web.container": "[Container]\nImage=other\n", "lan.network": "[Network]\n"})
    out = tmp_path / "out"
    result = generator.generate(user=True, pyctr=PYCTR)
    generator.write(result, str(out), "test")
    assert result.errors == [f'{first}/bad.container:3: unsupported key "Foo" in group "Container"']
    assert sorted(p.name for p in out.iterdir()) == ["data-volume.service", "default.target.wants",
                                                    "lan-network.service", "web.service"]
    web = (out / "web.service").read_text()
    assert "--tz=UTC" in web and "-v shared:/data img" in web  # the drop-in; the first web.container; VolumeName
    link = out / "default.target.wants" / "web.service"
    assert os.readlink(link) == "../web.service" and link.resolve() == (out / "web.service").resolve()


def test_install_links_for_aliases_templates_and_required_by(quadlet_dirs, tmp_path):
    first, _ = quadlet_dirs
    _write(first, {
        "db.container": "[Container]\nImage=img\n[Install]\nAlias=database.service\nRequiredBy=app.target\n",
        "worker@.container": "[Container]\nImage=img\nExec=work %i\n[Install]\nWantedBy=multi-user.target\n"
                             "DefaultInstance=one\n",
        "idle@.container": "[Container]\nImage=img\n[Install]\nWantedBy=multi-user.target\n",
    })
    out = tmp_path / "out"
    result = generator.generate(user=False, pyctr=PYCTR)
    generator.write(result, str(out), "test")
    assert result.errors == []
    links = {str(p.relative_to(out)): os.readlink(p) for p in out.rglob("*") if p.is_symlink()}
    assert links == {"database.service": "db.service", "app.target.requires/db.service": "../db.service",
                     "multi-user.target.wants/worker@one.service": "../worker@.service"}
    assert "img work %i" in (out / "worker@.service").read_text()  # the instance is systemd's to fill in


def test_user_and_system_directories(monkeypatch, tmp_path):
    monkeypatch.delenv("QUADLET_UNIT_DIRS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert generator.unit_dirs(user=True) == [f"{tmp_path}/containers/systemd", f"/etc/containers/systemd/users/{os.getuid()}",
                                              "/etc/containers/systemd/users"]
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", "/home/u")
    assert generator.unit_dirs(user=True)[0] == "/home/u/.config/containers/systemd"
    assert generator.unit_dirs(user=False) == ["/etc/containers/systemd", "/usr/share/containers/systemd"]


def test_dryrun_prints_the_units(pyctr, quadlet_dirs):
    first, _ = quadlet_dirs
    _write(first, {"web.container": "[Container]\nImage=img\n"})
    env = {"QUADLET_UNIT_DIRS": os.environ["QUADLET_UNIT_DIRS"]}
    result = pyctr("quadlet", "--dryrun", "--user", env=env)
    head, _, body = result.stdout.partition("\n")
    assert head == "---web.service---"
    assert body.startswith("# Automatically generated by pyctr quadlet\n#\n\n[X-Container]\nImage=img\n")
    assert "\nExecStart=" in body and result.stderr == ""
    _write(first, {"bad.container": "[Container]\nImage=img\nFoo=1\n"})
    result = pyctr("quadlet", "--dryrun", env=env, check=False)
    assert (result.returncode, result.stderr) == (1, f'Error: {first}/bad.container:3: unsupported key "Foo" in group "Container"\n')
    assert "---web.service---" in result.stdout  # the good file still is


@pytest.mark.parametrize("args, message", [
    ((), "Error: quadlet needs one of --dryrun, --install or --uninstall\n"),
    (("--dryrun", "--install"), "Error: --dryrun and --install cannot be used together\n"),
    (("--install", "--user"), "Error: --user is for --dryrun (the installed generator serves both system and user units)\n"),
])
def test_bad_option_combinations(pyctr, args, message):
    result = pyctr("quadlet", *args, check=False)
    assert (result.returncode, result.stderr) == (125, message)


def test_install_writes_small_generators_that_work(tmp_path, quadlet_dirs):
    first, _ = quadlet_dirs
    _write(first, {"web.container": "[Container]\nImage=img\n"})
    system_dir, user_dir = tmp_path / "system-generators", tmp_path / "user-generators"
    paths = install.install(["/opt/pyctr"], str(system_dir), str(user_dir), check_root=False)
    assert paths == [str(system_dir / "pyctr-system-generator"), str(user_dir / "pyctr-user-generator")]
    for path in paths:
        out = tmp_path / f"out-{os.path.basename(path)}"
        # As systemd runs it: three directories, a bare environment (no PYTHONPATH, no HOME).
        result = subprocess.run([path, str(out), str(tmp_path / "early"), str(tmp_path / "late")], capture_output=True,
                                text=True, env={"QUADLET_UNIT_DIRS": os.environ["QUADLET_UNIT_DIRS"]})
        assert (result.returncode, result.stderr) == (0, "")
        assert "ExecStart=/opt/pyctr run --name=systemd-%N" in (out / "web.service").read_text()
    # The generator's path never loads the command line (typer), for a quick boot and daemon-reload.
    probe = subprocess.run([sys.executable, "-c", "import sys, pyctr.quadlet.generator, pyctr.quadlet.container; "
                            "print('typer' in sys.modules, 'click' in sys.modules)"], capture_output=True, text=True,
                           cwd=REPO_ROOT)
    assert probe.stdout == "False False\n"
    (system_dir / "other-generator").write_text("#!/bin/sh\n")
    assert install.uninstall(str(system_dir), str(user_dir), check_root=False) == paths
    assert sorted(os.listdir(system_dir)) == ["other-generator"] and not user_dir.exists()  # emptied: removed


def test_install_leaves_a_generator_of_someone_else_alone(tmp_path):
    from pyctr.errors import Conflict

    (tmp_path / "pyctr-system-generator").write_text("#!/bin/sh\n")
    with pytest.raises(Conflict):
        install.install(PYCTR, str(tmp_path), str(tmp_path / "u"), check_root=False)
    assert install.uninstall(str(tmp_path), str(tmp_path / "u"), check_root=False) == []
    assert (tmp_path / "pyctr-system-generator").exists()


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_generated_units_pass_systemd_analyze_verify(tmp_path, quadlet_dirs):
    first, _ = quadlet_dirs
    (tmp_path / "app.yaml").write_text("apiVersion: v1\nkind: Pod\n")
    _write(first, {
        "web.container": """
            [Unit]
            Description=web
            [Container]
            Image=img
            Exec=httpd -f -p 80 -h "/www dir"
            Environment="A=one two"
            Volume=data.volume:/data
            Network=lan.network
            PublishPort=8080:80
            [Service]
            Restart=on-failure
            [Install]
            WantedBy=default.target
            """,
        "data.volume": "[Volume]\nUser=1000\n",
        "lan.network": "[Network]\nSubnet=10.89.7.0/24\n",
        "app.kube": f"[Kube]\nYaml={tmp_path}/app.yaml\n",
    })
    out = tmp_path / "out"
    result = generator.generate(user=True, pyctr=[str(REPO_ROOT / ".venv" / "bin" / "pyctr")
                                                  if (REPO_ROOT / ".venv" / "bin" / "pyctr").exists() else "/bin/true"])
    generator.write(result, str(out), "test")
    assert result.errors == []
    units = sorted(str(p) for p in out.glob("*.service"))
    assert len(units) == 4
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    for mode in ("--system", "--user"):
        verify = subprocess.run(["systemd-analyze", "verify", mode, *units], capture_output=True, text=True,
                                env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)}, cwd=out)
        # verify exits 0 on warnings too: what it prints is the verdict.
        assert (verify.returncode, verify.stdout + verify.stderr) == (0, ""), mode


# -- acceptance: a real systemd user manager -------------------------------------------------------

WEB_CONTAINER = """\
[Unit]
Description=The test web server

[Container]
Image={image}
Exec=httpd -f -p 80 -h /www
PublishPort={port}:80
RunInit=yes
{extra}
[Service]
TimeoutStartSec=120
Restart=on-failure
"""


def _systemd_available() -> bool:
    from tests.harness import systemd_user

    return systemd_user.available()


@pytest.fixture
def installed_generator():
    """The real generators in /etc/systemd/*-generators (`pyctr quadlet --install`), for one test."""
    argv = [sys.executable, "-m", "pyctr", "quadlet"]
    installed = subprocess.run([*argv, "--install"], capture_output=True, text=True)
    assert (installed.returncode, installed.stdout, installed.stderr) == (
        0, f"{install.SYSTEM_GENERATORS}/pyctr-system-generator\n{install.USER_GENERATORS}/pyctr-user-generator\n", "")
    try:
        yield
    finally:
        removed = subprocess.run([*argv, "--uninstall"], capture_output=True, text=True)
        assert removed.stdout == installed.stdout
        assert not os.path.exists(install.USER_GENERATORS) or os.listdir(install.USER_GENERATORS)


def _serve_web_through_quadlet(sd, image: str, port: int, pyctr_argv: list[str], extra: str = "") -> None:
    from tests.harness.images import WEB_PAGE

    quadlet_dir = sd.config_home / "containers" / "systemd"
    quadlet_dir.mkdir(parents=True, exist_ok=True)
    (quadlet_dir / "web.container").write_text(WEB_CONTAINER.format(image=image, port=port, extra=extra))
    for path in (sd.config_home / "containers", quadlet_dir, *quadlet_dir.iterdir()):
        os.chown(path, sd.uid, sd.pw.pw_gid)
    sd.daemon_reload()
    assert " run --name=systemd-%N " in sd.systemctl("cat", "web.service", check=True).stdout
    started = sd.systemctl("start", "web.service")
    assert started.returncode == 0, started.stderr + sd.diagnostics("web.service")
    try:
        assert sd.is_active("web.service"), sd.diagnostics("web.service")
        assert wait_for(lambda: fetch(f"http://127.0.0.1:{port}/", timeout=2) == WEB_PAGE, timeout=30), \
            sd.diagnostics("web.service")
        names = sd.run([*pyctr_argv, "ps", "--format", "{{.Names}} {{.Labels}}"], check=True).stdout
        assert "systemd-web" in names and "PODMAN_SYSTEMD_UNIT:web.service" in names
        # The shim is the main process (it said MAINPID and READY=1: --sdnotify=conmon).
        main_pid = int(sd.show("web.service", "MainPID"))
        assert b"pyctr.shim" in Path(f"/proc/{main_pid}/cmdline").read_bytes(), sd.diagnostics("web.service")
        # The container killed: the unit fails and Restart=on-failure brings it back, a new container.
        pid = sd.run([*pyctr_argv, "inspect", "--format", "{{.State.Pid}}", "systemd-web"], check=True).stdout.strip()
        os.kill(int(pid), 9)
        assert wait_for(lambda: sd.show("web.service", "NRestarts") == "1" and sd.is_active("web.service"), timeout=60), \
            sd.diagnostics("web.service")
        assert int(sd.show("web.service", "MainPID")) != main_pid
        assert wait_for(lambda: fetch(f"http://127.0.0.1:{port}/", timeout=2) == WEB_PAGE, timeout=30), \
            sd.diagnostics("web.service")
    finally:
        sd.systemctl("stop", "web.service")
    # The init passed ExecStop's SIGTERM on: a clean stop, not a failure.
    assert sd.show("web.service", "ActiveState") == "inactive", sd.diagnostics("web.service")
    assert sd.run([*pyctr_argv, "ps", "-a", "-q"], check=True).stdout == ""  # the container is gone
    assert fetch(f"http://127.0.0.1:{port}/", timeout=2) is None


@pytest.mark.skipif(not _systemd_available(), reason="no systemd user manager can run here")
def test_a_quadlet_container_as_a_root_user_service(registry, store, installed_generator):
    """Root's containers are on a network of a `.network` file of the test's own (its unit is pulled
    in by the container's): the default network's subnet may be taken on this host by another
    engine's bridge, and the test must not depend on what else runs here."""
    import random

    from tests.harness.systemd_user import UserManager

    port = free_port()
    # The test's own store and network definitions (GlobalArgs), not root's /var/lib/pyctr and /etc/pyctr.
    networks = store.tmp / "networks"
    store_args = ["--root", str(store.root), "--runroot", str(store.runroot), "--network-config-dir", str(networks)]
    global_args = f"GlobalArgs={' '.join(store_args)}\n"
    pyctr_argv = [sys.executable, "-m", "pyctr", *store_args]
    with UserManager(env={"PYTHONPATH": str(REPO_ROOT)}) as sd:
        quadlet_dir = sd.config_home / "containers" / "systemd"
        quadlet_dir.mkdir(parents=True)
        (quadlet_dir / "qt.network").write_text(f"[Network]\nSubnet=10.89.{random.randrange(100, 250)}.0/24\n{global_args}")
        try:
            _serve_web_through_quadlet(sd, f"{registry.host}/test/web", port, pyctr_argv,
                                       f"{global_args}Network=qt.network\n")
            assert sd.is_active("qt-network.service")  # pulled in by the container's unit, and stays
            assert "systemd-qt" in sd.run([*pyctr_argv, "network", "ls", "-q"], check=True).stdout
        finally:
            sd.run([*pyctr_argv, "network", "rm", "-f", "systemd-qt"])


@pytest.mark.skipif(not _systemd_available(), reason="no systemd user manager can run here")
def test_a_quadlet_container_as_a_rootless_user_service(registry, installed_generator, request):
    from tests.harness.systemd_user import UserManager

    user = request.getfixturevalue("rootless")
    request.getfixturevalue("tun_for_users")  # slirp4netns opens /dev/net/tun as the user
    port = free_port()
    refused = user.pyctr("quadlet", "--install", check=False)
    assert (refused.returncode, refused.stderr) == (
        125, "Error: quadlet --install: only root can change /etc/systemd (the generators are for every user)\n")
    with UserManager(user=user.name, runtime_dir=user.runtime, env=user.env()) as sd:
        try:
            _serve_web_through_quadlet(sd, f"{registry.host}/test/web", port, [sys.executable, "-m", "pyctr"])
        finally:
            user.stop_everything()


from tests.test_rootless import rootless, tun_for_users  # noqa: E402,F401  (fixtures)
