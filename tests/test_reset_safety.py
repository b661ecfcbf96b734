"""`system reset` never deletes what is not pyctr's: a directory that holds only dot entries
(a .git, a .env) is refused, and a --root or --runroot that is a mount point of its own (a disk
at /var/lib/pyctr, a tmpfs at /run/pyctr) is emptied but stays, mounted.

podman 4.3.1 for comparison (as root, `--root M` where M is a tmpfs mount point, after a pull):
`podman system reset -f` empties M, keeps it mounted, logs
`level=error msg="unlinkat M: device or resource busy"` and exits 125; with a plain directory
it removes the directory itself and exits 0. It has no check of what the directory holds.
pyctr empties both kinds, keeps the directory (the next command makes what it needs) and exits 0.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import wait_for


def _reset(pyctr, root, runroot):
    return pyctr.run([*pyctr.argv()[:3], "--root", str(root), "--runroot", str(runroot),
                      "system", "reset", "-f"], check=False)


@pytest.mark.parametrize("entries, shown", [
    ({".git/": None, ".env": "s\n"}, ".env"),
    ({".git/": None}, ".git"),
    ({".images.json.tmp-1-0123abcd/": None}, ".images.json.tmp-1-0123abcd"),  # a directory: not atomic_write's
    ({".removing-abc.1/": None}, ".removing-abc.1"),  # pyctr's only inside containers/, never at the top
    ({"containers": "a file\n"}, "containers"),  # pyctr's containers/ is a directory
])
def test_reset_refuses_a_directory_of_dot_entries_or_misfit_names(pyctr, store, entries, shown):
    mine = store.tmp / "mine"
    mine.mkdir()
    for name, text in entries.items():
        if text is None:
            (mine / name).mkdir()
        else:
            (mine / name).write_text(text)
    for root, runroot in ((mine, store.runroot), (store.root, mine)):
        result = _reset(pyctr, root, runroot)
        assert result.returncode == 125
        assert result.stderr.startswith(
            f"Error: refusing to reset {mine}: it does not look like a pyctr store (it holds {shown!r})\n")
        assert sorted(os.listdir(mine)) == sorted(n.rstrip("/") for n in entries)


def test_reset_takes_pyctrs_own_leftovers_and_keeps_the_emptied_directories(pyctr, store, image):
    leftover = store.root / ".images.json.tmp-123-0123abcd"  # fsutil.atomic_write's, left by a crash
    leftover.write_text("{}\n")
    done = pyctr("system", "reset", "-f")
    assert (done.returncode, done.stderr) == (0, "")
    assert os.listdir(store.root) == [] and os.listdir(store.runroot) == []
    assert pyctr("images", "-q").stdout == ""
    assert pyctr("run", "--rm", image, "echo", "again").stdout.endswith("again\n")


@pytest.mark.parametrize("runroot_where", ["apart", "inside"])
def test_reset_empties_mounted_roots_and_keeps_their_mounts(pyctr, store, registry, runroot_where):
    root = store.tmp / "disk"
    runroot = root / "run" if runroot_where == "inside" else store.tmp / "tmpfs"
    for point in (root, runroot):
        point.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "r1test", point], check=True)

    def on(*args, **kw):
        return pyctr.run([*pyctr.argv()[:3], "--root", str(root), "--runroot", str(runroot), *map(str, args)], **kw)

    ref = f"{registry.host}/test/busybox:latest"
    on("pull", "-q", ref)
    on("run", "-d", "--name", "up", "-v", "vol:/data", ref, "sleep", "1000")
    on("image", "mount", ref)
    assert len(store.mounts()) > 2  # the rootfs, the image mount
    done = on("system", "reset", "-f", check=False)
    assert (done.returncode, done.stderr) == (0, "")
    assert sorted(store.mounts()) == sorted([str(root), str(runroot)])
    assert os.listdir(runroot) == []
    assert os.listdir(root) == (["run"] if runroot_where == "inside" else [])
    assert on("run", "--rm", "-v", "vol:/data", ref, "echo", "again").stdout.endswith("again\n")
    assert on("images", "--format", "{{.Repository}}").stdout == f"{registry.host}/test/busybox\n"
    assert wait_for(lambda: on("ps", "-aq").stdout == "")
