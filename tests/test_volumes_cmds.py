"""`volume` commands as podman 4.3.1's: create --driver/--opt (a tmpfs or bind device mounted at
use, o=uid=,gid=), ls --filter/--noheading/--format, inspect --all, prune --filter, rm --time.
Error texts recorded from podman 4.3.1 on this machine."""

from __future__ import annotations

import json
import os

from tests.conftest import wait_for


def test_volume_create_options_and_errors(pyctr, store):
    bad = pyctr("volume", "create", "--driver", "foo", "vx", check=False)
    assert (bad.returncode, bad.stderr.strip()) == (125, "Error: volume vx uses volume plugin foo but it could not be "
                                                    "retrieved: no volume plugin with name foo available: required plugin missing")
    bad = pyctr("volume", "create", "-o", "foo=bar", "vy", check=False)
    assert (bad.returncode, bad.stderr.strip()) == (125, "Error: invalid mount option foo for driver 'local': invalid argument")
    pyctr("volume", "create", "-o", "o=uid=1000,gid=1000", "owned")
    (doc,) = json.loads(pyctr("volume", "inspect", "owned").stdout)
    assert doc["Options"] == {"GID": "1000", "UID": "1000", "o": "uid=1000,gid=1000"}  # as podman
    assert (doc["UID"], doc["GID"]) == (1000, 1000)
    info = os.stat(doc["Mountpoint"])
    assert (info.st_uid, info.st_gid) == (1000, 1000)


def test_tmpfs_and_bind_volumes_are_mounted_at_use(pyctr, image, store, tmp_path):
    pyctr("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=uid=1000", "--label", "a=b", "scratch")
    out = pyctr("run", "--rm", "-v", "scratch:/t", image, "sh", "-c", "grep ' /t ' /proc/mounts; stat -c %u /t").stdout
    assert out.startswith("tmpfs /t tmpfs") and "uid=1000" in out and out.endswith("1000\n")
    device = tmp_path / "device"
    device.mkdir()
    (device / "kept.txt").write_text("kept\n")
    pyctr("volume", "create", "-o", "type=bind", "-o", f"device={device}", "bound")
    assert pyctr("run", "--rm", "-v", "bound:/b", image, "cat", "/b/kept.txt").stdout == "kept\n"
    pyctr("volume", "rm", "bound", "scratch")
    assert (device / "kept.txt").read_text() == "kept\n"  # unmounted before the volume's directory went
    assert not [m for m in store.mounts() if "/volumes/" in m]


def test_volume_ls_filters_and_inspect_all(pyctr, image):
    pyctr("volume", "create", "--label", "team=a", "-o", "type=tmpfs", "-o", "device=tmpfs", "va")
    pyctr("volume", "create", "vb")
    pyctr("create", "--name", "user", "-v", "vb:/data", image, "true")
    ls = lambda *f: pyctr("volume", "ls", "-q", *[a for x in f for a in ("--filter", x)]).stdout.split()
    assert ls() == ["va", "vb"]
    assert ls("name=a") == ["va"]
    assert ls("label=team=a") == ["va"] and ls("label=team=b") == []
    assert ls("opt=type=tmpfs") == ["va"]
    assert ls("driver=local") == ["va", "vb"]
    assert ls("dangling=true") == ["va"] and ls("dangling=false") == ["vb"]
    assert ls("until=2000-01-01T00:00:00Z") == []
    bad = pyctr("volume", "ls", "--filter", "foo=bar", check=False)
    assert (bad.returncode, bad.stderr.strip()) == (125, 'Error: "foo" is an invalid volume filter')
    # Nothing listed: not even the heading, as podman.
    assert pyctr("volume", "ls", "--filter", "name=zzz").stdout == ""
    assert pyctr("volume", "ls", "--noheading", "--filter", "name=va").stdout.split() == ["local", "va"]
    assert pyctr("volume", "ls", "--format", "{{.Name}} {{.Options}}", "--filter", "name=va").stdout == \
        "va map[device:tmpfs type:tmpfs]\n"
    assert [d["Name"] for d in json.loads(pyctr("volume", "inspect", "--all").stdout)] == ["va", "vb"]
    assert pyctr("volume", "prune", "-f", "--filter", "label=team=b").stdout == ""
    assert pyctr("volume", "prune", "-f", "--filter", "label=team=a").stdout == "va\n"
    pyctr("volume", "rm", "-f", "-t", "0", "vb")
    assert ls() == []


def test_volume_export_import_mount(pyctr, store, tmp_path):
    import io
    import subprocess
    import tarfile

    pyctr("volume", "create", "src")
    data = pyctr("volume", "mount", "src").stdout.strip()
    os.makedirs(os.path.join(data, "sub"))
    open(os.path.join(data, "sub", "a"), "w").write("a\n")
    pyctr("volume", "export", "-o", tmp_path / "v.tar", "src")
    assert sorted(tarfile.open(tmp_path / "v.tar").getnames()) == ["sub", "sub/a"]  # no "./", as podman
    pyctr("volume", "create", "dst")
    pyctr("volume", "import", "dst", tmp_path / "v.tar")
    exported = subprocess.run(pyctr.argv("volume", "export", "dst"), capture_output=True, env=store.env(), check=True).stdout
    assert sorted(tarfile.open(fileobj=io.BytesIO(exported)).getnames()) == ["sub", "sub/a"]
    for args, message in {("volume", "export", "nosuch", "-o", tmp_path / "x"): "Error: no such volume nosuch",
                          ("volume", "import", "dst", "nosuch.tar"): "Error: open nosuch.tar: no such file or directory"}.items():
        bad = pyctr(*args, check=False)
        assert (bad.returncode, bad.stderr.strip()) == (125, message)
    pyctr("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "mem")
    point = pyctr("volume", "mount", "mem").stdout.strip()
    assert point in store.mounts()
    assert pyctr("volume", "unmount", "mem").stdout == "mem\n" and point not in store.mounts()


def test_tmpfs_volume_is_mounted_only_while_used(pyctr, image, store, tmp_path):
    # podman 4.3.1 counts the users of a volume with options (MountCount): mounted at a container's
    # start, unmounted when the last one ends; the second run below sees an empty tmpfs.
    pyctr("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "tv")
    point = json.loads(pyctr("volume", "inspect", "tv").stdout)[0]["Mountpoint"]
    assert point not in store.mounts()  # not at create
    pyctr("run", "--rm", "-v", "tv:/t", image, "sh", "-c", "echo hi > /t/f")
    assert point not in store.mounts()
    assert pyctr("run", "--rm", "-v", "tv:/t", image, "ls", "/t").stdout == ""
    pyctr("run", "-d", "--name", "holder", "-v", "tv:/t", image, "sleep", "60")
    assert pyctr("volume", "inspect", "--format", "{{.MountCount}}", "tv").stdout == "1\n"
    # volume mount/unmount count too; unmount with no user left does nothing (and prints the name).
    assert pyctr("volume", "mount", "tv").stdout.strip() == point
    assert pyctr("volume", "inspect", "--format", "{{.MountCount}}", "tv").stdout == "2\n"
    pyctr("volume", "unmount", "tv")
    pyctr("stop", "-t", "0", "holder")
    assert wait_for(lambda: point not in store.mounts())  # the container's cleanup, after its exit
    assert pyctr("volume", "unmount", "tv").stdout == "tv\n"
    # export/import mount it for themselves and leave it as they found it.
    pyctr("volume", "export", "-o", tmp_path / "tv.tar", "tv")
    pyctr("volume", "import", "tv", tmp_path / "tv.tar")
    assert point not in store.mounts()
    pyctr("rm", "holder")


def test_volume_prune_asks_first(pyctr):
    # podman 4.3.1: the volumes that would go, then the question; none: no question; EOF: `Error: EOF`, 125.
    warning = ("WARNING! This will remove all volumes not used by at least one container. "
               "The following volumes will be removed:\n")
    pyctr("volume", "create", "--label", "k=v", "pa")
    pyctr("volume", "create", "pb")
    eof = pyctr("volume", "prune", check=False)
    assert (eof.returncode, eof.stdout, eof.stderr) == (
        125, warning + "pa\npb\nAre you sure you want to continue? [y/N] ", "Error: EOF\n")
    assert pyctr("volume", "prune", input="n\n").stdout.endswith("[y/N] ")
    assert pyctr("volume", "prune", "--filter", "label=nosuch").stdout == warning + "No dangling volumes found\n"
    bad = pyctr("volume", "prune", "--filter", "foo=bar", check=False)
    assert (bad.returncode, bad.stderr) == (125, 'Error: "foo" is an invalid volume filter\n')
    assert pyctr("volume", "prune", "--filter", "label=k", input="y\n").stdout.endswith("[y/N] pa\n")
    assert pyctr("volume", "ls", "-q").stdout == "pb\n"
    # container prune shares the question (podman: 125 on EOF).
    eof = pyctr("container", "prune", check=False)
    assert (eof.returncode, eof.stderr) == (125, "Error: EOF\n")


def test_volume_inspect_shows_what_it_found(pyctr):
    # podman 4.3.1: the volumes found, then an error per missing one (125).
    pyctr("volume", "create", "va")
    out = pyctr("volume", "inspect", "va", "missing", check=False)
    assert [d["Name"] for d in json.loads(out.stdout)] == ["va"]
    assert (out.returncode, out.stderr) == (125, "Error: inspecting object: no such volume missing\n")
    bad = pyctr("volume", "inspect", check=False)
    assert bad.stderr == "Error: provide one or more volume names or use --all\n"
    assert pyctr("volume", "inspect", "--format", "{{.Name}} {{.MountCount}}", "--all").stdout == "va 0\n"


def test_a_killed_volume_rm_is_swept_up(pyctr, store):
    # What `volume rm` renamed away before it was killed goes at the next create, rm or prune.
    leftover = store.root / "volumes" / ".removing-old-999999"
    (leftover / "_data").mkdir(parents=True)
    (leftover / "_data" / "file").write_text("x")
    pyctr("volume", "create", "fresh")
    assert not leftover.exists()
    assert pyctr("volume", "ls", "-q").stdout == "fresh\n"
