"""`cp` and `volume import` keep the container's rules and the host's safety: a copy is not an
image layer (`.wh.` names are plain files, never whiteouts or opaque markers), symlinks resolve
from the container's `/`, and read-only mounts, read-only root filesystems and mounted files are
never written. The error texts are podman 4.3.1's, recorded side by side on this machine (only the
"copying to container" line of podman's two-error report: pyctr's errors are one line)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile

import pytest


def _tar(entries: list[tuple[str, str, bytes | str]]) -> bytes:
    """(name, kind "f"/"d"/"l", data or link target) in that order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            if kind == "d":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind == "l":
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _cp_stdin(pyctr, payload: bytes, dest: str) -> subprocess.CompletedProcess:
    return subprocess.run(pyctr.argv("cp", "-", dest), input=payload, capture_output=True, text=False,
                          env=pyctr.store.env(), cwd=pyctr.store.tmp, timeout=60)


def _overlay_xattrs(path) -> list[str]:
    return [x for x in os.listxattr(path, follow_symlinks=False) if ".overlay." in x]


@pytest.fixture
def ctr(pyctr, image):
    pyctr("run", "-d", "--name", "wh", image, "sleep", "120")
    yield "wh"
    pyctr("rm", "-f", "-t", "0", "wh", check=False)


def test_whiteout_names_out_to_the_host_are_plain_files(pyctr, ctr, tmp_path):
    # Before: the host's Documents was deleted for a 0:0 device, and the host directory made overlay-opaque.
    pyctr("exec", ctr, "sh", "-c", "mkdir /y && touch /y/.wh.Documents /y/.wh..wh..opq /y/plain")
    home = tmp_path / "home"
    (home / "Documents" / "deep").mkdir(parents=True)
    (home / "Documents" / "deep" / "f").write_text("x\n")
    pyctr("cp", f"{ctr}:/y/.", str(home))
    assert (home / "Documents" / "deep" / "f").read_text() == "x\n"
    assert stat.S_ISREG(os.lstat(home / ".wh.Documents").st_mode)
    assert stat.S_ISREG(os.lstat(home / ".wh..wh..opq").st_mode)
    assert _overlay_xattrs(home) == []
    # The same as a tar stream on stdout: the names as they are.
    out = subprocess.run(pyctr.argv("cp", f"{ctr}:/y", "-"), capture_output=True, env=pyctr.store.env(), timeout=60)
    assert sorted(tarfile.open(fileobj=io.BytesIO(out.stdout)).getnames()) == [
        "y", "y/.wh..wh..opq", "y/.wh.Documents", "y/plain"]


def test_whiteout_names_into_the_container_are_plain_files(pyctr, ctr, tmp_path):
    # Before: /etc/passwd in the container was deleted ("layer 4: entry '.wh.passwd': Operation not permitted").
    passwd = pyctr("exec", ctr, "cat", "/etc/passwd").stdout
    src = tmp_path / "hd"
    src.mkdir()
    (src / ".wh.passwd").write_text("")
    (src / ".wh..wh..opq").write_text("")
    (src / "ok").write_text("hi\n")
    pyctr("cp", f"{src}/.", f"{ctr}:/etc/")
    assert pyctr("exec", ctr, "cat", "/etc/passwd").stdout == passwd
    listing = pyctr("exec", ctr, "sh", "-c", "cd /etc && stat -c '%F %n' .wh.passwd .wh..wh..opq ok").stdout
    assert listing == "regular empty file .wh.passwd\nregular empty file .wh..wh..opq\nregular file ok\n"
    # A tar stream whose whiteout follows what it would delete, and an aufs bookkeeping directory.
    payload = _tar([("keep", "f", b"k\n"), (".wh.keep", "f", b""), (".wh..wh.plnk", "d", b""),
                    (".wh..wh.plnk/x", "f", b"x\n")])
    pyctr("exec", ctr, "mkdir", "/tmp/dd")
    assert _cp_stdin(pyctr, payload, f"{ctr}:/tmp/dd").returncode == 0
    found = pyctr("exec", ctr, "sh", "-c", "cd /tmp/dd && cat keep .wh..wh.plnk/x && stat -c '%F' .wh.keep").stdout
    assert found == "k\nx\nregular empty file\n"


def test_volume_import_whiteout_names_are_plain_files(pyctr, store):
    pyctr("volume", "create", "whvol")
    data = pyctr("volume", "mount", "whvol").stdout.strip()
    payload = _tar([("keep", "f", b"k\n"), (".wh.keep", "f", b""), ("sub", "d", b""), ("sub/a", "f", b"a\n"),
                    ("sub/.wh..wh..opq", "f", b"")])
    imported = subprocess.run(pyctr.argv("volume", "import", "whvol", "-"), input=payload, capture_output=True,
                              env=store.env(), timeout=60)
    assert imported.returncode == 0, imported.stderr
    assert open(os.path.join(data, "keep")).read() == "k\n"
    assert stat.S_ISREG(os.lstat(os.path.join(data, ".wh.keep")).st_mode)
    assert sorted(os.listdir(os.path.join(data, "sub"))) == [".wh..wh..opq", "a"]
    assert _overlay_xattrs(os.path.join(data, "sub")) == []


def test_symlinks_in_a_streamed_archive_resolve_in_the_container(pyctr, ctr):
    # Before: lnk/x landed in /tmp/dd/tmp/rv/x (the link resolved under the destination).
    pyctr("exec", ctr, "mkdir", "-p", "/tmp/rv", "/tmp/dd")
    payload = _tar([("lnk", "l", "/tmp/rv"), ("lnk/x", "f", b"via link\n"),
                    ("up", "l", "../../../../../../etc"), ("up/y", "f", b"via up\n")])
    assert _cp_stdin(pyctr, payload, f"{ctr}:/tmp/dd").returncode == 0
    assert pyctr("exec", ctr, "cat", "/tmp/rv/x", "/etc/y").stdout == "via link\nvia up\n"
    assert pyctr("exec", ctr, "find", "/tmp/dd").stdout.split() == ["/tmp/dd", "/tmp/dd/up", "/tmp/dd/lnk"]
    # Parents the archive does not list are made, but never through a dangling link (podman 4.3.1's words).
    pyctr("exec", ctr, "mkdir", "/tmp/dp")
    payload = _tar([("a/b/c", "f", b"abc\n"), ("lnk", "l", "/nonexist/deep"), ("lnk/x", "f", b"deep\n")])
    result = _cp_stdin(pyctr, payload, f"{ctr}:/tmp/dp")
    assert (result.returncode, result.stderr.decode().strip()) == (125, (
        'Error: copier: put: error creating "/tmp/dp/lnk/x": copier: put: error opening file "/tmp/dp/lnk/x" '
        'for writing: open /tmp/dp/lnk/x: no such file or directory'))
    assert pyctr("exec", ctr, "cat", "/tmp/dp/a/b/c").stdout == "abc\n"
    assert pyctr("exec", ctr, "test", "-e", "/nonexist", check=False).returncode == 1


ERROR_PREFIX = "Error: copier: put: error creating "


def _refused(pyctr, src: str, dest: str) -> str:
    result = pyctr("cp", src, dest, check=False)
    assert result.returncode == 125, (src, dest, result.stderr)
    return result.stderr.strip()


def test_read_only_mounts_secrets_and_mounted_files(pyctr, image, tmp_path):
    ro = tmp_path / "rodir"
    ro.mkdir()
    (ro / "old").write_text("old\n")
    single = tmp_path / "single.txt"
    single.write_text("single\n")
    (tmp_path / "secret.txt").write_text("sec\n")
    (tmp_path / "f.txt").write_text("data\n")
    (tmp_path / "etc").mkdir()
    pyctr("secret", "create", "cpsec", str(tmp_path / "secret.txt"))
    mounts = ["-v", f"{ro}:/ro:ro", "-v", f"{single}:/single.txt", "--secret", "cpsec"]
    pyctr("run", "-d", "--name", "r", *mounts, image, "sleep", "120")
    pyctr("run", "-d", "--name", "rof", "--read-only", "-v", f"{ro}:/ro:ro", image, "sleep", "120")
    pyctr("create", "--name", "idle", "-v", f"{ro}:/ro:ro", image, "true")
    try:
        expected = {  # podman 4.3.1, same commands
            ("f.txt", "r:/ro/x"): '"/ro/x": copier: put: error opening file "/ro/x" for writing: open /ro/x: read-only file system',
            ("f.txt", "r:/ro/"): '"/ro/f.txt": copier: put: error opening file "/ro/f.txt" for writing: open /ro/f.txt: read-only file system',
            ("f.txt", "r:/ro/old"): '"/ro/old": copier: put: error removing item to be overwritten "/ro/old": unlinkat /ro/old: read-only file system',
            ("f.txt", "r:/run/secrets/cpsec"): '"/run/secrets/cpsec": copier: put: error removing item to be overwritten "/run/secrets/cpsec": unlinkat /run/secrets/cpsec: device or resource busy',
            ("f.txt", "r:/single.txt"): '"/single.txt": copier: put: error removing item to be overwritten "/single.txt": unlinkat //single.txt: device or resource busy',
            ("f.txt", "rof:/etc/"): '"/etc/f.txt": copier: put: error opening file "/etc/f.txt" for writing: open /etc/f.txt: read-only file system',
            ("f.txt", "rof:/etc/passwd"): '"/etc/passwd": copier: put: error removing item to be overwritten "/etc/passwd": unlinkat /etc/passwd: read-only file system',
            ("f.txt", "rof:/etc/hosts"): '"/etc/hosts": copier: put: error removing item to be overwritten "/etc/hosts": unlinkat /etc/hosts: read-only file system',
            (str(ro), "rof:/etc/"): '"/etc/rodir": mkdir /etc/rodir: read-only file system',
            # podman 4.3.1 writes through to the host here (the container does not run): pyctr refuses as when it runs.
            ("f.txt", "idle:/ro/x"): '"/ro/x": copier: put: error opening file "/ro/x" for writing: open /ro/x: read-only file system',
        }
        for (src, dest), message in expected.items():
            assert _refused(pyctr, src, dest) == ERROR_PREFIX + message, (src, dest)
        # An existing directory on a read-only filesystem, merged into (podman's words).
        assert _refused(pyctr, str(tmp_path / "etc"), "rof:/") == (
            'Error: copier: put: error setting ownership of "/etc" to 0:0: lchown /etc: read-only file system')
        assert sorted(os.listdir(ro)) == ["old"] and single.read_text() == "single\n"
        assert pyctr("exec", "r", "cat", "/run/secrets/cpsec").stdout == "sec\n"
        # The tmpfs mounts of a running --read-only container take copies, as podman's, and cp sees them.
        pyctr("cp", "f.txt", "rof:/tmp/")
        pyctr("cp", "f.txt", "rof:/run/in.txt")
        assert pyctr("exec", "rof", "cat", "/tmp/f.txt", "/run/in.txt").stdout == "data\ndata\n"
        pyctr("exec", "rof", "sh", "-c", "echo made > /tmp/made")
        pyctr("cp", "rof:/tmp/made", "made.txt")
        assert (tmp_path / "made.txt").read_text() == "made\n"
        # Reading from read-only mounts is fine.
        pyctr("cp", "r:/ro/old", "old.txt")
        assert (tmp_path / "old.txt").read_text() == "old\n"
    finally:
        pyctr("rm", "-f", "-t", "0", "r", "rof", "idle", check=False)
        pyctr("secret", "rm", "cpsec", check=False)


def test_a_reused_pid_never_leads_to_the_hosts_root(tmp_path):
    """The tmpfs mounts of a running container are reached through its init's /proc/PID/root,
    only if that is the container's root: here the pid is ours, whose root is the host's."""
    from pyctr.container.ctrpath import ContainerFS

    rootfs = tmp_path / "rootfs"
    (rootfs / "tmp").mkdir(parents=True)
    fs = ContainerFS(str(rootfs), [{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": []}],
                     read_only_root=True, pid=os.getpid())
    assert fs.mount_at("/tmp") is None
    assert fs.place("/tmp/x").base == str(rootfs) and fs.read_only("/tmp/x")
