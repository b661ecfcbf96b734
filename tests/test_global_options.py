"""podman's global options: what pyctr does with each, and the clear error for those it cannot honour."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pyctr.cli import main as climain
from pyctr.config import Config
from pyctr.engine import options as engopts
from pyctr.errors import InvalidArgument
from tests.conftest import wait_for


# -- the fast paths see the new options --------------------------------------------------------

@pytest.mark.parametrize("argv, split", [
    (["--runtime", "/x/runc", "--noout", "ps", "-a"], 3),
    (["-c", "conn", "--storage-opt", "a=b", "run", "img"], 4),
    (["--runtime-flag=debug", "--syslog", "-r", "ps"], 3),
    (["--hooks-dir", "/h", "--tmpdir", "/t", "volume", "ls"], 4),
])
def test_split_global_options(argv, split):
    assert climain.split_global_options(argv) == (argv[:split], argv[split:])


@pytest.mark.parametrize("argv, fast", [
    (["--noout", "--runtime", "/usr/sbin/runc", "--runtime-flag", "debug", "run", "img", "true"], True),
    (["--events-backend=none", "--cgroup-manager", "cgroupfs", "container", "run", "img"], True),
    (["--noout", "--version", "run", "img"], False),
    (["--noout", "--help", "run", "img"], False),
])
def test_options_that_still_start_a_shim_early(argv, fast):
    assert climain.runs_a_container(argv) is fast


# -- the engine's side: EngineOptions --------------------------------------------------------------

def config(tmp_path, rootless=False) -> Config:
    return Config(tmp_path / "root", tmp_path / "run", rootless)


def test_options_set_the_config(tmp_path):
    runc = tmp_path / "myrunc"
    runc.write_text("#!/bin/sh\n")
    runc.chmod(0o755)
    conf = config(tmp_path)
    engopts.EngineOptions(storage_driver="overlay", runtime=str(runc), runtime_flags=["debug", "log-format=json"],
                          cgroup_manager="cgroupfs", events_backend="none", tmpdir="tmp",
                          network_config_dir="/nets").apply(conf)
    assert (conf.runtime, conf.runtime_flags, conf.events_backend) == (str(runc), ("--debug", "--log-format=json"), "none")
    assert conf.tmpdir == os.path.abspath("tmp") and conf.networks_dir == Path("/nets")
    # The shim's cleanup gets the same choices.
    argv = engopts.config_argv(conf)
    assert argv == ["--runtime", str(runc), "--runtime-flag", "debug", "--runtime-flag", "log-format=json",
                    "--events-backend", "none", "--network-config-dir", "/nets"]
    read, rest = engopts.parse_argv([*argv, "ID"])
    again = config(tmp_path)
    read.apply(again)
    assert rest == ["ID"] and again == conf.__class__(**{**conf.__dict__, "tmpdir": None})


def test_mount_program_is_rootless_only(tmp_path):
    opts = engopts.EngineOptions(storage_opts=["overlay.mount_program=/bin/true"])
    rootless = config(tmp_path, rootless=True)
    opts.apply(rootless)
    assert rootless.mount_program == "/bin/true"
    with pytest.raises(InvalidArgument, match="used rootless only"):
        opts.apply(config(tmp_path))
    with pytest.raises(InvalidArgument, match="no such executable"):
        engopts.EngineOptions(storage_opts=["overlay.mount_program=/nonexistent"]).apply(config(tmp_path, rootless=True))


# podman 4.3.1's texts where pyctr fails as podman does; pyctr's own where podman would do what
# pyctr cannot (each names what is missing).
REFUSED = [
    (["--storage-driver", "vfs"], 'Error: storage driver "vfs" is not supported: pyctr stores images and containers with overlay only (--storage-driver overlay)'),
    (["--storage-opt", "overlay.size=10G"], "Error: storage option 'overlay.size=10G' is not supported: pyctr's overlay store takes overlay.mount_program=PATH (fuse-overlayfs, rootless) only"),
    (["--runtime", "nosuchruntime"], 'Error: default OCI runtime "nosuchruntime" not found: invalid argument'),
    (["--cgroup-manager", "foo"], "Error: configuring runtime: cgroup manager must be one of cgroupfs and systemd: invalid argument"),
    (["--cgroup-manager", "systemd"], "Error: cgroup manager systemd is not supported: pyctr has no systemd integration for cgroups yet (--cgroup-manager cgroupfs)"),
    (["--events-backend", "foo"], 'Error: configuring runtime: "foo" is not a valid events backend: invalid argument'),
    (["--events-backend", "journald"], "Error: events backend journald is not supported: pyctr records events in a file (--events-backend file) or not at all (none)"),
    (["--url", "unix:///run/x.sock"], "Error: --url: the remote API service that pyctr would connect to (podman's `system service`) does not exist yet"),
    (["-r"], "Error: --remote: the remote API service that pyctr would connect to (podman's `system service`) does not exist yet"),
    (["-c", "conn"], "Error: --connection: the remote API service that pyctr would connect to (podman's `system service`) does not exist yet"),
    (["--identity", "/id"], "Error: --identity: the remote API service that pyctr would connect to (podman's `system service`) does not exist yet"),
    (["--ssh", "native"], "Error: --ssh: the remote API service that pyctr would connect to (podman's `system service`) does not exist yet"),
    (["--conmon", "/usr/bin/conmon"], "Error: --conmon: pyctr runs containers under its own shim (pyctr.shim), not conmon"),
    (["--hooks-dir", "/h"], "Error: --hooks-dir: OCI hooks are not supported yet"),
    (["--namespace", "ns"], "Error: --namespace: libpod namespaces (separate views of containers) are not supported"),
    (["--network-cmd-path", "/x"], "Error: --network-cmd-path: pyctr runs slirp4netns from PATH; another path is not supported yet"),
    (["--volumepath", "/x"], "Error: --volumepath: volumes live under the store root (--root DIR: DIR/volumes); another place is not supported"),
]


@pytest.mark.parametrize("options, error", REFUSED, ids=[o[0] for o, _ in REFUSED])
def test_what_pyctr_cannot_honour_is_an_error(pyctr, options, error):
    result = pyctr(*options, "ps", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (125, "", error + "\n")


def test_log_levels(pyctr):
    for level in climain.LOG_LEVELS:
        assert pyctr("--log-level", level, "ps").returncode == 0
    result = pyctr("--log-level", "foo", "ps", check=False)
    # podman 4.3.1: exit 1, `Log Level "foo" is not supported, choose from: ...`
    assert (result.returncode, result.stderr) == (1, 'Error: Log Level "foo" is not supported, choose from: '
                                                      "trace, debug, info, warn, warning, error, fatal, panic\n")


def test_debug_and_info_levels_say_what_pyctr_does(pyctr, image):
    """podman's --log-level debug tells what it runs; pyctr's logs in logrus's text form."""
    debug = pyctr("--log-level", "debug", "run", "--rm", image, "true")
    assert 'level=info msg="pyctr filtering at log level debug"' in debug.stderr
    assert 'level=debug msg="running ' in debug.stderr and " delete " in debug.stderr  # runc's calls
    info = pyctr("--log-level", "info", "ps")
    assert info.stderr.count("\n") == 1 and "level=info" in info.stderr
    assert pyctr("run", "--rm", image, "true").stderr == ""  # warn, the default: nothing


def test_accepted_values(pyctr, tmp_path):
    for options in (["--storage-driver", "overlay"], ["--cgroup-manager", "cgroupfs"], ["--events-backend", "file"],
                    ["--events-backend", "none"], ["--runtime", "runc"], ["--storage-opt", "overlay.mount_program="]):
        assert pyctr(*options, "ps", "-q").returncode == 0, options
    pyctr("--tmpdir", tmp_path / "made", "ps")
    assert stat.S_IMODE((tmp_path / "made").stat().st_mode) == 0o700


def test_noout_silences_pyctr_not_the_container(pyctr, image):
    # podman 4.3.1: `podman --noout run --rm IMG echo hi` prints "hi"; `--noout run -d` prints no ID.
    assert pyctr("--noout", "run", "--rm", image, "echo", "hi").stdout == "hi\n"
    assert pyctr("--noout", "images").stdout == ""
    assert pyctr("--noout", "create", "--name", "quiet", image, "true").stdout == ""
    result = pyctr("--noout", "rm", "nope", check=False)
    assert (result.returncode, result.stdout) == (1, "")
    assert "no such container" in result.stderr


def test_runtime_and_its_flags_reach_runc_and_the_cleanup(pyctr, image, tmp_path):
    log = tmp_path / "runc.log"
    wrapper = tmp_path / "myrunc"
    real = engopts.find_runtime("runc")
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    out = pyctr("--runtime", wrapper, "--runtime-flag", "log-format=json", "run", "--rm", image, "echo", "ok").stdout
    assert out == "ok\n"
    assert wait_for(lambda: pyctr("ps", "-aq").stdout == "")  # removed by the cleanup (--rm)
    calls = log.read_text().splitlines()
    assert any({"run", "create"} & set(call.split()) for call in calls), calls  # the shim's
    assert all("--log-format=json" in call for call in calls), calls
    assert any("delete" in call.split() for call in calls), calls  # the cleanup ran our runc too


@pytest.mark.skipif(os.geteuid() != 0, reason="as root")
def test_unshare_rootless_netns_is_rootless_only(pyctr):
    result = pyctr("unshare", "--rootless-netns", "true", check=False)
    assert (result.returncode, result.stderr) == (
        125, "Error: --rootless-netns: the rootless network namespace exists only rootless\n")
