"""Lifecycle rules held against podman 4.3.1: the arguments bulk commands accept, `init`ed
containers (stop, update, --timeout, pid files), pid files that are symlinks, and system
reset/prune that never delete what is not theirs."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.conftest import wait_for

CIDFILE = "/nonexistent/cid"  # (the arguments are refused before the file is read)

# podman 4.3.1 (`podman stop ARGS`; rm, pause, unpause, restart, kill and init say the same
# where they have the options): the one line on stderr, exit code 125.
PODMAN_BULK_ERRORS = {
    ("--filter", "name=x", "C"): "--filter takes no arguments",
    ("--all", "--cidfile", CIDFILE): "--all, --latest, and --cidfile cannot be used together",
    ("--latest", "--cidfile", CIDFILE): "--all, --latest, and --cidfile cannot be used together",
    ("--all", "--latest", "--cidfile", CIDFILE): "--all, --latest, and --cidfile cannot be used together",
    ("--cidfile", CIDFILE, "--all", "C"): "--all, --latest, and --cidfile cannot be used together",
    ("--all", "C"): "no arguments are needed with --all",
    ("--latest", "C"): "--latest and containers cannot be used together",
    ("--all", "--latest"): "--all and --latest cannot be used together",
    ("--all", "--latest", "C"): "--all and --latest cannot be used together",
    ("--cidfile", CIDFILE, "C"): "no arguments are needed with --latest or --cidfile",
    (): "you must provide at least one name or id",
}
# ... and what podman accepts: --filter chooses, whatever else is given.
PODMAN_BULK_ACCEPTED = [("--all", "--filter", "name=x"), ("--latest", "--filter", "name=x"),
                        ("--filter", "name=x", "--all", "--latest")]


def _split(args: tuple) -> dict:
    """The engine's arguments for a command line of stop's options."""
    names, how, it = [], {"all_containers": False, "latest": False, "cidfiles": [], "filters": []}, iter(args)
    for word in it:
        if word == "--all":
            how["all_containers"] = True
        elif word == "--latest":
            how["latest"] = True
        elif word == "--cidfile":
            how["cidfiles"].append(next(it))
        elif word == "--filter":
            how["filters"].append(next(it))
        else:
            names.append(word)
    return {"names": names, **how}


@pytest.mark.parametrize("args", list(PODMAN_BULK_ERRORS), ids=" ".join)
def test_check_targets_refuses_as_podman(args):
    from pyctr.engine import selection
    from pyctr.errors import InvalidArgument

    how = _split(args)
    with pytest.raises(InvalidArgument) as caught:
        selection.check_targets(how.pop("names"), **how)
    assert str(caught.value) == PODMAN_BULK_ERRORS[args]


@pytest.mark.parametrize("args", PODMAN_BULK_ACCEPTED, ids=" ".join)
def test_check_targets_lets_the_filter_choose(args):
    from pyctr.engine import selection

    how = _split(args)
    selection.check_targets(how.pop("names"), **how)


@pytest.mark.parametrize("argv, message", [
    (("stop", "--filter", "name=x", "C"), "--filter takes no arguments"),
    (("rm", "--latest", "--cidfile", CIDFILE), "--all, --latest, and --cidfile cannot be used together"),
    (("pause", "--all", "--cidfile", CIDFILE), "--all, --latest, and --cidfile cannot be used together"),
    (("unpause", "--filter", "name=x", "C"), "--filter takes no arguments"),
    (("restart", "--cidfile", CIDFILE, "C"), "no arguments are needed with --latest or --cidfile"),
    (("kill", "--latest", "C"), "--latest and containers cannot be used together"),
    (("init", "--latest", "C"), "--latest and containers cannot be used together"),
    (("init", "--all", "C"), "no arguments are needed with --all"),
    (("start", "--all", "C"), "either start all containers or the container(s) provided in the arguments"),
])
def test_bulk_commands_refuse_as_podman(pyctr, argv, message):
    result = pyctr(*argv, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (125, "", f"Error: {message}\n")


def test_start_with_a_filter_and_a_name_lets_the_filter_choose(pyctr):
    """podman 4.3.1: `start --filter name=x C` starts what matches (here nothing), says nothing."""
    assert pyctr("start", "--filter", "name=nothing-here", "C").stdout == ""


# -- init ---------------------------------------------------------------------------------------

def _status(pyctr, name: str) -> str:
    return pyctr("ps", "-a", "--filter", f"name=^{name}$", "--format", "{{.Status}}").stdout.strip()


def test_an_initialized_container_stops_updates_and_starts_again(pyctr, image):
    pyctr("create", "--name", "g2init", image, "sleep", "1000")
    pyctr("init", "g2init")
    assert _status(pyctr, "g2init") == "Initialized"
    # Its shim runs already: inspect names it, as podman names conmon.
    assert int(pyctr("inspect", "--format", "{{.State.ConmonPid}}", "g2init").stdout) > 0
    # As podman: runc updates a created container; kill and pause want it running.
    pyctr("update", "--cpu-shares", "512", "g2init")
    assert pyctr("inspect", "--format", "{{.HostConfig.CpuShares}}", "g2init").stdout.strip() == "512"
    kill = pyctr("kill", "g2init", check=False)
    assert kill.returncode == 125 and "is in state initialized: container state improper" in kill.stderr
    pause = pyctr("pause", "g2init", check=False)
    assert (pause.returncode, pause.stderr) == (125, 'Error: "initialized" is not running, can\'t pause: '
                                                     "container state improper\n")
    # podman 4.3.1: `stop -t0` of an initialized container -> Exited (137)
    assert pyctr("stop", "-t0", "g2init").stdout == "g2init\n"
    assert _status(pyctr, "g2init").startswith("Exited (137)")
    pyctr("start", "g2init")
    assert _status(pyctr, "g2init").startswith("Up ")
    assert pyctr("exec", "g2init", "echo", "in").stdout == "in\n"
    pyctr("rm", "-f", "g2init")


def test_init_then_start_runs_the_timeout_from_the_start_and_writes_pid_files(pyctr, image, store):
    pidfile, conmon = store.tmp / "ctr.pid", store.tmp / "conmon.pid"
    pyctr("create", "--name", "g2timer", "--timeout", "5", "--pidfile", pidfile, "--conmon-pidfile", conmon,
          image, "sleep", "1000")
    pyctr("init", "g2timer")
    pid = pyctr("inspect", "--format", "{{.State.Pid}}", "g2timer").stdout.strip()
    assert pidfile.read_text() == pid and conmon.read_text().strip().isdigit()  # runc's and conmon's, at init
    time.sleep(6)  # longer than the timeout: it counts from `start`, not from `init`
    pyctr("start", "g2timer")
    assert pyctr("inspect", "--format", "{{.State.Running}}", "g2timer").stdout.strip() == "true"
    assert pyctr("wait", "g2timer", timeout=60).stdout == "255\n"  # as conmon reports a --timeout kill
    assert pidfile.read_text() == pid


def test_a_pidfile_that_is_a_symlink_is_replaced_not_followed(pyctr, image, store):
    victim, link = store.tmp / "victim", store.tmp / "evil.pid"
    victim.write_text("precious\n")
    link.symlink_to(victim)
    pyctr("run", "-d", "--name", "g2pid", "--pidfile", "evil.pid", image, "sleep", "1000")  # (relative: the cwd)
    assert victim.read_text() == "precious\n"
    assert not link.is_symlink()
    assert link.read_text() == pyctr("inspect", "--format", "{{.State.Pid}}", "g2pid").stdout.strip()
    pyctr("rm", "-f", "g2pid")


def test_a_pidfile_that_cannot_be_written_leaves_the_container_created(pyctr, image, store):
    """podman 4.3.1 fails before the container's process runs; the container stays Created."""
    result = pyctr("run", "-d", "--name", "g2nopid", "--pidfile", store.tmp / "missing" / "x.pid", image,
                   "sleep", "1000", check=False)
    assert result.returncode == 125 and result.stderr.startswith("Error: writing pid file ")
    assert _status(pyctr, "g2nopid") == "Created"


# -- system reset and prune ---------------------------------------------------------------------

def test_reset_under_a_symlinked_root_keeps_a_bind_volumes_files(pyctr, store, image):
    real, link, precious = store.tmp / "real", store.tmp / "l", store.tmp / "precious"
    real.mkdir()
    precious.mkdir()
    (precious / "file").write_text("keep\n")
    link.symlink_to(real)

    def linked(*args, **kw):
        return pyctr.run([*pyctr.argv()[:3], "--root", str(link / "root"), "--runroot", str(link / "run"),
                          *map(str, args)], **kw)

    linked("volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt", f"device={precious}", "v")
    linked("volume", "mount", "v")
    linked("pull", "-q", image)
    assert linked("run", "-d", "--name", "user", "-v", "v:/data", image, "sleep", "1000").returncode == 0
    assert linked("exec", "user", "cat", "/data/file").stdout == "keep\n"
    assert any(p.startswith(f"{real}/") for p in store.mounts())
    done = linked("system", "reset", "-f")
    assert (done.returncode, done.stderr) == (0, "")
    assert (precious / "file").read_text() == "keep\n"
    assert os.listdir(real / "root") == [] and os.listdir(real / "run") == []  # emptied, kept
    assert not any(p.startswith(f"{real}/") for p in store.mounts())


def test_reset_refuses_what_is_not_a_pyctr_store(pyctr, store):
    mine = store.tmp / "mine"
    mine.mkdir()
    (mine / "mine.txt").write_text("mine\n")
    for root, why in ((mine, "it does not look like a pyctr store (it holds 'mine.txt')"),
                      (store.home, f"it is {store.home}, not a pyctr store"),
                      (store.tmp, f"it is a directory above {store.home}, not a pyctr store")):
        result = pyctr.run([*pyctr.argv()[:3], "--root", str(root), "--runroot", str(store.runroot),
                            "system", "reset", "-f"], check=False)
        assert result.returncode == 125
        assert result.stderr.startswith(f"Error: refusing to reset {root}: {why}")
    assert (mine / "mine.txt").read_text() == "mine\n" and store.home.is_dir()


def test_empty_tree_never_enters_another_filesystem(tmp_path):
    from pyctr.engine.reset import empty_tree

    top = os.path.realpath(tmp_path / "top")
    mounted = os.path.join(top, "a", "mnt")
    os.makedirs(mounted)
    open(os.path.join(top, "a", "f"), "w").close()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", mounted], check=True)
    try:
        open(os.path.join(mounted, "kept"), "w").close()
        assert empty_tree(top) == [f"{mounted}: on another filesystem"]
        assert os.path.exists(os.path.join(mounted, "kept")) and not os.path.exists(os.path.join(top, "a", "f"))
    finally:
        subprocess.run(["umount", "-l", mounted], check=True)
    assert empty_tree(top) == [] and os.listdir(top) == []  # top itself stays


def test_system_prune_spares_what_runs_and_its_image(pyctr, image):
    pyctr("run", "-d", "--name", "g2up", "-v", "g2used:/data", image, "sleep", "1000")
    pyctr("run", "--name", "g2done", image, "true")
    pruned = pyctr("system", "prune", "-a", "-f", "--volumes")
    assert pruned.returncode == 0 and pruned.stderr == ""
    assert "Deleted Containers\n" in pruned.stdout and "Deleted Images" not in pruned.stdout
    assert "Deleted Volumes" not in pruned.stdout and pyctr("volume", "ls", "-q").stdout == "g2used\n"
    assert pyctr("ps", "-a", "--format", "{{.Names}}").stdout == "g2up\n"
    assert pyctr("images", "-q").stdout.strip()
    pyctr("rm", "-f", "g2up")
    assert wait_for(lambda: pyctr("ps", "-aq").stdout == "")
