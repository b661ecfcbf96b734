"""generate systemd: the units for the same containers and pod as podman 4.3.1's, side by side
(tests/golden/podman-generate-systemd.json, recorded by tests/scripts/record_generate_systemd.py),
and the pure parts (the create command a --new unit re-runs, systemd's quoting).

pyctr's units differ from podman's on purpose in three places, normalised away below: the name
(pyctr, not Podman, in Description= and Documentation=); the shim's pid file in place of conmon's;
and the global options naming the store (--root, --runroot) in every Exec line, where podman has
them only in a --new unit's ExecStart (its other lines then act on the default store).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from pyctr.systemd import cmdline, notify

GOLDEN = json.loads((Path(__file__).parent / "golden" / "podman-generate-systemd.json").read_text())
PODMAN_IMAGE = "localhost:5050/test/busybox"
EXE = "/usr/bin/pyctr"  # PYCTR_SYSTEMD_EXECUTABLE: where a packaged pyctr would be
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="creates containers and a pod as root")


# -- the pure parts -------------------------------------------------------------------------

def test_a_create_command_becomes_the_units_run():
    new = cmdline.container_command(["pyctr", "--root", "/r", "create", "--name", "web", "-p", "8080:80", "img", "httpd", "-f"])
    assert new.argv == ["--root", "/r", "run", "--cidfile=%t/%n.ctr-id", "--cgroups=no-conmon", "--rm", "--sdnotify=conmon",
                        "-d", "--replace", "--name", "web", "-p", "8080:80", "img", "httpd", "-f"]
    assert new.restart is None and new.env_names == []


def test_what_the_unit_owns_is_taken_out_of_the_create_command():
    argv = ["pyctr", "run", "-dit", "--rm=false", "--cidfile", "/c", "--cgroups=enabled", "--restart", "on-failure:3",
            "--replace=false", "-e", "FOO", "--env=BAR=1", "--pod", "p", "--name=x", "img", "sh", "-c", "--rm"]
    new = cmdline.container_command(argv, pod_id_file="%t/pod-p.pod-id")
    # -dit detaches already; --replace=false becomes --replace; the container's command keeps its --rm
    assert new.argv == ["run", "--cidfile=%t/%n.ctr-id", "--cgroups=no-conmon", "--rm", "--pod-id-file", "%t/pod-p.pod-id",
                        "--sdnotify=conmon", "--replace", "-dit", "-e", "FOO", "--env=BAR=1", "--name=x", "img", "sh", "-c",
                        "--rm"]
    assert new.restart == "on-failure" and new.env_names == ["FOO"]
    detached_false = cmdline.container_command(["pyctr", "create", "--detach=false", "--sdnotify", "ignore", "img"])
    assert detached_false.argv[-4:] == ["-d", "--sdnotify", "ignore", "img"]
    template = cmdline.container_command(["pyctr", "create", "--name", "a b", "img"], template=True)
    assert template.argv[-3:] == ["--name", '"a b"-%i', "img"]
    assert cmdline.systemd_restart("unless-stopped") == "always"
    with pytest.raises(ValueError, match="create command is too short or invalid"):
        cmdline.container_command(["pyctr", "start", "x"])


def test_systemd_quoting():
    assert cmdline.escape('echo "hi $HOME" 100% `x` \\n') == '"echo \\"hi $$HOME\\" 100%% `x` \\\\n"'
    assert cmdline.escape("x=y\\z") == "x=y\\\\z"
    assert cmdline.format_words(["/bin/rm", "-f", "%t/%n.ctr-id"]) == "/bin/rm \\\n\t-f %t/%n.ctr-id"


def test_the_run_flags_table_matches_pyctr_run():
    """cmdline.RUN_FLAGS (options without a value) is what pyctr's own `run` has."""
    import click
    import typer

    from pyctr.cli import main

    main._register_commands(["run"])
    run = typer.main.get_command(main.app).commands["run"]
    options = [p for p in run.params if isinstance(p, click.Option)]
    longs = {o for p in options if p.is_flag for o in p.opts if o.startswith("--")}
    shorts = {o[1] for p in options if p.is_flag for o in p.opts if len(o) == 2}
    assert longs == cmdline.RUN_FLAGS - {"--help"} | (longs & {"--help"})
    assert shorts == set(cmdline.RUN_SHORT_FLAGS)
    valued = {o for p in options if not p.is_flag for o in p.opts}
    assert not valued & cmdline.RUN_FLAGS


def test_notify_addresses_and_relay():
    assert notify.address("@abstract/name") == b"\0abstract/name"
    assert notify.address("/run/x") == "/run/x"
    assert notify.relay(b"MAINPID=7\nREADY=1\nSTATUS=up\n") == "READY=1\nSTATUS=up"
    assert notify.host_socket("ignore", {"NOTIFY_SOCKET": "/s"}) == ""
    assert notify.host_socket("conmon", {}) == ""
    assert notify.proxy_path("container", "/st", {"NOTIFY_SOCKET": "/s"}) == "/st/notify.sock"
    assert notify.proxy_path("conmon", "/st", {"NOTIFY_SOCKET": "/s"}) == ""


# -- side by side with podman -----------------------------------------------------------------

def _podman_to_pyctr(text: str, ids: dict[str, str], pyctr_ids: dict[str, str], store) -> str:
    """podman's unit as pyctr writes it: names, paths and IDs of pyctr's store and test image."""
    for name, podman_id in ids.items():
        text = text.replace(podman_id, pyctr_ids[name])
        text = text.replace(f"{podman_id[:12]}-infra", f"{pyctr_ids[name][:12]}-infra")
    text = text.replace("/usr/bin/podman", EXE).replace("Description=Podman ", "Description=pyctr ")
    text = text.replace("man:podman-generate-systemd(1)", "man:pyctr-generate-systemd(1)")
    text = text.replace("%t/containers", "%t/pyctr")
    text = text.replace("/tmp/pmc/root", str(store.root)).replace("/tmp/pmc/run", str(store.runroot))
    text = re.sub(r"PIDFile=\S+/overlay-containers/(\w+)/userdata/conmon.pid",
                  lambda m: f"PIDFile={store.runroot}/containers/{m.group(1)}/shim.pid", text)
    return text


def _without_store_options(text: str, store) -> str:
    text = text.replace(f" \\\n\t--root {store.root} \\\n\t--runroot {store.runroot}", "")
    return text.replace(f" --root {store.root} --runroot {store.runroot}", "")


@pytest.fixture
def golden_objects(pyctr, image, store, tmp_path):
    """The containers and pod of the recording, made by pyctr with its test image (same argv)."""
    created = {}
    for name, argv in GOLDEN["create"].items():
        argv = [image if arg == PODMAN_IMAGE else arg for arg in argv]
        argv = [f"--cidfile={tmp_path}/g-cid" if arg.startswith("--cidfile=") else arg for arg in argv]
        env = {"FOO": "from-create"} if name == "g-web2" else None
        pyctr(*argv, env=env)
        if name == "g-pod":
            created[name] = pyctr("pod", "inspect", "--format", "{{.Id}}", name).stdout.strip()
            created["g-pod-infra"] = pyctr("pod", "inspect", "--format", "{{.InfraContainerID}}", name).stdout.strip()
        else:
            created[name] = pyctr("inspect", "--format", "{{.Id}}", name).stdout.strip()
    yield created
    pyctr("pod", "rm", "-f", "g-pod", check=False)
    pyctr("rm", "-f", "--all", check=False)


@root_only
def test_units_as_podmans(pyctr, golden_objects, store, image):
    ids = {k: v for k, v in GOLDEN["ids"].items()}
    for case, recorded in GOLDEN["cases"].items():
        env = {**recorded["env"], "PYCTR_SYSTEMD_EXECUTABLE": EXE}
        out = pyctr("generate", "systemd", "--no-header", "--format", "json", *recorded["args"], env=env)
        units = json.loads(out.stdout)
        expected = {}
        for name, text in recorded["units"].items():
            text = _podman_to_pyctr(text, ids, golden_objects, store).replace(PODMAN_IMAGE, image)
            expected[_podman_to_pyctr(name, ids, golden_objects, store)] = _without_store_options(text, store)
        got = {name: _without_store_options(text, store) for name, text in units.items()}
        assert got.keys() == expected.keys(), case
        for name in got:
            assert got[name].splitlines() == expected[name].splitlines(), (case, name)


@root_only
def test_every_exec_line_names_the_store(pyctr, golden_objects, store):
    for args in (["--name", "g-web"], ["--new", "--name", "g-web"], ["--new", "--name", "g-pod"], ["--name", "g-pod"]):
        units = json.loads(pyctr("generate", "systemd", "--format", "json", *args).stdout)
        for text in units.values():
            for line in re.findall(r"^Exec\w+=(?:.*\\\n)*.*$", text, re.M):
                if "/bin/rm" not in line:
                    assert f"--root {store.root}" in line.replace(" \\\n\t", " "), line


@root_only
def test_errors_as_podmans(pyctr, golden_objects):
    for case, recorded in GOLDEN["errors"].items():
        result = pyctr("generate", "systemd", *recorded["args"], check=False)
        assert (result.returncode, result.stderr, result.stdout) == (recorded["rc"], recorded["stderr"], recorded["stdout"]), case


@root_only
def test_files_header_and_order(pyctr, golden_objects, store):
    out = pyctr("generate", "systemd", "--files", "--name", "g-pod").stdout.splitlines()
    assert out == [str(store.tmp / f"{name}.service") for name in ("pod-g-pod", "container-g-pc1", "container-g-pc2")]
    text = (store.tmp / "pod-g-pod.service").read_text()
    assert re.match(r"# pod-g-pod.service\n# autogenerated by pyctr \S+\n# \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \w+ \d{4}\n\n\[Unit\]",
                    text)
    template = pyctr("generate", "systemd", "--template", "--files", "--name", "g-web").stdout
    assert template == f"{store.tmp}/container-g-web@.service\n"
    restart_sec = pyctr("generate", "systemd", "--restart-sec", "5", "--time", "3", "g-web").stdout
    assert "\nRestart=on-failure\nRestartSec=5\nTimeoutStopSec=63\n" in restart_sec


def test_executable_is_this_pyctr(monkeypatch, tmp_path):
    from pyctr.engine import systemdunits

    script = tmp_path / "pyctr"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.delenv(systemdunits.ENV_EXECUTABLE, raising=False)
    monkeypatch.setattr("sys.argv", [str(script), "generate"])
    assert systemdunits.executable() == [str(script)]
    monkeypatch.setattr("sys.argv", ["/x/pyctr/__main__.py", "generate"])
    assert systemdunits.executable()[1:] == ["-m", "pyctr"]


@root_only
def test_pods_without_members_or_infra(pyctr, store):
    """podman 4.3.1: an empty pod's unit wants nothing (empty Wants=/Before=); no infra is an error."""
    pyctr("pod", "create", "--name", "empty")
    pyctr("pod", "create", "--infra=false", "--name", "bare")
    try:
        text = pyctr("generate", "systemd", "--no-header", "--name", "empty").stdout
        assert "\nRequiresMountsFor=" in text and "\nWants=\nBefore=\n\n[Service]\n" in text
        infra = pyctr("pod", "inspect", "--format", "{{.InfraContainerID}}", "empty").stdout.strip()
        assert pyctr("generate", "systemd", "--no-header", infra).stdout.startswith(f"# container-{infra}.service\n")
        result = pyctr("generate", "systemd", "bare", check=False)
        assert (result.returncode, result.stderr) == (125, 'Error: generating systemd unit files: Pod "bare" has no infra container\n')
    finally:
        pyctr("pod", "rm", "-f", "empty", "bare", check=False)
