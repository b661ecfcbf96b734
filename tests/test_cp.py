"""`cp` as podman 4.3.1's: through the container's volumes and bind mounts, tar streams on
stdin/stdout, --archive ownership, --overwrite, and podman's error texts (recorded from podman
4.3.1 on this machine, same commands side by side)."""

from __future__ import annotations

import gzip
import io
import os
import tarfile

import pytest


@pytest.fixture
def box(pyctr, image, tmp_path):
    """A running container with a named volume at /tmp/volume and a bind mount at /mnt/bind."""
    bind = tmp_path / "bind"
    bind.mkdir()
    (bind / "b.txt").write_text("bound\n")
    pyctr("volume", "create", "cpvol")
    pyctr("run", "-d", "--name", "box", "-v", "cpvol:/tmp/volume", "-v", f"{bind}:/mnt/bind", image, "sleep", "60")
    (tmp_path / "f.txt").write_text("hello\n")
    yield bind
    pyctr("rm", "-f", "-t", "0", "box", check=False)


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_cp_sees_volumes_and_bind_mounts(pyctr, box, tmp_path):
    pyctr("cp", "f.txt", "box:/tmp/volume/")
    pyctr("cp", "f.txt", "box:/mnt/bind/new.txt")
    assert pyctr("exec", "box", "cat", "/tmp/volume/f.txt").stdout == "hello\n"
    assert (box / "new.txt").read_text() == "hello\n"
    pyctr("cp", "box:/mnt/bind/b.txt", "out.txt")
    assert (tmp_path / "out.txt").read_text() == "bound\n"
    # A directory that holds a mount point is copied with what is mounted there.
    pyctr("cp", "box:/tmp", "tmpcopy")
    assert (tmp_path / "tmpcopy" / "volume" / "f.txt").read_text() == "hello\n"
    # The files runc mounts (/etc/hosts, /etc/hostname) are read where the container sees them,
    # and never replaced (podman 4.3.1 is refused by the kernel: a mount point is busy).
    hostname = pyctr("exec", "box", "cat", "/etc/hostname").stdout
    pyctr("cp", "box:/etc/hostname", "hn")
    assert (tmp_path / "hn").read_text() == hostname
    hosts = pyctr("exec", "box", "cat", "/etc/hosts").stdout
    (tmp_path / "hosts").write_text("10.1.2.3 elsewhere\n")
    result = pyctr("cp", "hosts", "box:/etc/hosts", check=False)
    assert (result.returncode, result.stderr.strip()) == (125, 'Error: copier: put: error creating "/etc/hosts": copier: '
                                                          'put: error removing item to be overwritten "/etc/hosts": '
                                                          'unlinkat /etc/hosts: device or resource busy')
    assert pyctr("exec", "box", "cat", "/etc/hosts").stdout == hosts


def test_cp_into_a_stopped_containers_volume(pyctr, image, tmp_path):
    (tmp_path / "f.txt").write_text("hello\n")
    pyctr("create", "--name", "idle", "-v", "idlevol:/data", image, "true")
    pyctr("cp", "f.txt", "idle:/data/in.txt")
    volume = pyctr("volume", "inspect", "--format", "{{.Mountpoint}}", "idlevol").stdout.strip()
    assert open(os.path.join(volume, "in.txt")).read() == "hello\n"
    pyctr("cp", "idle:/data/in.txt", "back.txt")
    assert (tmp_path / "back.txt").read_text() == "hello\n"


def test_cp_error_texts_as_podman(pyctr, box):
    cases = {
        ("f.txt", "box:/tmp/volume/sub/x"): 'Error: "/tmp/volume/sub/x" could not be found on container box: no such file or directory',
        ("box:/nosuch", "out"): 'Error: "/nosuch" could not be found on container box: no such file or directory',
        ("nosuch", "box:/tmp/"): 'Error: "nosuch" could not be found on the host: no such file or directory',
        ("f.txt", "box:/nosuch/dir/"): 'Error: "/nosuch/dir/" could not be found on container box: no such file or directory',
        ("f.txt", "nosuchctr:/tmp"): 'Error: container "nosuchctr" does not exist',
        ("f.txt", "f2.txt"): "Error: name or ID cannot be empty",
        ("box:/etc/passwd", "nosuchdir/"): 'Error: "nosuchdir/" could not be found on the host: no such file or directory',
        ("box:/etc", "f.txt"): "Error: destination must be a directory when copying a directory",
    }
    for (src, dest), message in cases.items():
        result = pyctr("cp", src, dest, check=False)
        assert (result.returncode, result.stderr.strip()) == (125, message), (src, dest)


def test_cp_tar_streams(pyctr, box, tmp_path):
    pyctr("exec", "box", "mkdir", "/tmp/dd")
    import subprocess

    data = _tar({"t": b"top\n", "sub/a": b"a\n"})

    def cp_stdin(payload: bytes, dest: str) -> subprocess.CompletedProcess:
        return subprocess.run(pyctr.argv("cp", "-", dest), input=payload, capture_output=True,
                              env=pyctr.store.env(), cwd=tmp_path, timeout=60)

    assert cp_stdin(data, "box:/tmp/dd").returncode == 0
    assert cp_stdin(gzip.compress(data), "box:/tmp/volume").returncode == 0  # compressed too
    assert pyctr("exec", "box", "cat", "/tmp/dd/sub/a", "/tmp/volume/t").stdout == "a\ntop\n"
    bad = cp_stdin(b"garbage\n", "box:/tmp/dd")
    assert (bad.returncode, bad.stderr.strip()) == (125, b"Error: source must be a (compressed) tar archive when copying from stdin")
    to_file = cp_stdin(data, "box:/etc/passwd")
    assert to_file.stderr.strip() == b"Error: destination must be a directory when copying from stdin"
    # To stdout: the source under its own name (a symlink's target's name, as podman).
    out = subprocess.run(pyctr.argv("cp", "box:/tmp/dd", "-"), capture_output=True, env=pyctr.store.env(), timeout=60)
    assert sorted(tarfile.open(fileobj=io.BytesIO(out.stdout)).getnames()) == ["dd", "dd/sub", "dd/sub/a", "dd/t"]
    pyctr("exec", "box", "ln", "-s", "/etc/passwd", "/tmp/pl")
    out = subprocess.run(pyctr.argv("cp", "box:/tmp/pl", "-"), capture_output=True, env=pyctr.store.env(), timeout=60)
    assert tarfile.open(fileobj=io.BytesIO(out.stdout)).getnames() == ["passwd"]


def test_cp_archive_and_overwrite(pyctr, image, tmp_path):
    pyctr("run", "-d", "--name", "user", "--user", "1000:1000", image, "sh", "-c", "mkdir /tmp/d; touch /tmp/f; sleep 60")
    src = tmp_path / "f.txt"
    src.write_text("hello\n")
    os.chown(src, 1234, 1234)
    pyctr("cp", str(src), "user:/tmp/a1")
    pyctr("cp", "-a=false", str(src), "user:/tmp/a2")
    pyctr("cp", "--archive=false", str(src), "user:/tmp/a3")
    owners = pyctr("exec", "user", "stat", "-c", "%u:%g", "/tmp/a1", "/tmp/a2", "/tmp/a3").stdout.split()
    assert owners == ["1000:1000", "1234:1234", "1234:1234"]  # as podman: -a chowns to the container's user
    # A file does not replace a directory (nor back) without --overwrite.
    (tmp_path / "d").write_text("now a file\n")
    (tmp_path / "f").mkdir()
    result = pyctr("cp", str(tmp_path / "d"), "user:/tmp/", check=False)
    assert (result.returncode, result.stderr.strip()) == (125, 'Error: copier: put: error creating "/tmp/d": open /tmp/d: file exists')
    result = pyctr("cp", str(tmp_path / "f"), "user:/tmp/", check=False)
    assert result.stderr.strip() == 'Error: copier: put: error creating "/tmp/f": mkdir /tmp/f: file exists'
    pyctr("cp", "--overwrite", str(tmp_path / "d"), "user:/tmp/")
    pyctr("cp", "--overwrite", str(tmp_path / "f"), "user:/tmp/")
    assert pyctr("exec", "user", "sh", "-c", "test -f /tmp/d && test -d /tmp/f").returncode == 0
    # Container to container.
    pyctr("cp", "user:/tmp/d", "user:/tmp/d2")
    assert pyctr("exec", "user", "cat", "/tmp/d2").stdout == "now a file\n"
    pyctr("rm", "-f", "-t", "0", "user")


def test_cp_never_leaves_the_container(pyctr, box, tmp_path):
    # Links, absolute or with .., resolve inside the container, also across its mounts.
    pyctr("exec", "box", "sh", "-c", "ln -s ../../../../../../etc /tmp/volume/up; ln -s / /mnt/bind/root")
    pyctr("cp", "box:/tmp/volume/up/passwd", "pw")
    assert (tmp_path / "pw").read_text() == pyctr("exec", "box", "cat", "/etc/passwd").stdout
    pyctr("cp", "f.txt", "box:/mnt/bind/root/tmp/")
    assert pyctr("exec", "box", "cat", "/tmp/f.txt").stdout == "hello\n"


def test_cp_relative_paths_are_in_the_workdir(pyctr, image, tmp_path):
    (tmp_path / "f.txt").write_text("hello\n")
    pyctr("run", "-d", "--name", "wd", "-w", "/etc", image, "sleep", "60")
    pyctr("cp", "f.txt", "wd:rel.txt")  # as podman: /etc/rel.txt
    assert pyctr("exec", "wd", "cat", "/etc/rel.txt").stdout == "hello\n"
    pyctr("cp", "wd:rel.txt", "back.txt")
    assert (tmp_path / "back.txt").read_text() == "hello\n"
    pyctr("rm", "-f", "-t", "0", "wd")
