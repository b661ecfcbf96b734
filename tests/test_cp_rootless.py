"""`cp` rootless: through a volume, with --archive ownership mapped in pyctr's user namespace.
Run under `flock /tmp/pyctr-rootless-tests.lock`, as test_rootless (it creates a user)."""

from __future__ import annotations

import os

from tests.test_rootless import rootless  # noqa: F401  (fixture: a user with subordinate ids)


def test_cp_rootless_through_a_volume(rootless, registry):  # noqa: F811
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    src = rootless.data / "in.txt"
    src.write_text("hello\n")
    os.chown(src, rootless.pw.pw_uid, rootless.pw.pw_gid)
    rootless.pyctr("run", "-d", "--name", "cpr", "--user", "1000:1000", "-v", "cprvol:/data", image, "sleep", "60")
    rootless.pyctr("cp", src, "cpr:/data/")
    assert rootless.pyctr("exec", "cpr", "stat", "-c", "%u:%g %n", "/data/in.txt").stdout == "1000:1000 /data/in.txt\n"
    rootless.pyctr("cp", "cpr:/data/in.txt", rootless.data / "out.txt")
    out = rootless.data / "out.txt"
    assert out.read_text() == "hello\n" and os.stat(out).st_uid == rootless.pw.pw_uid  # the caller's, as podman
    rootless.pyctr("rm", "-f", "-t", "0", "cpr")


def test_cp_rootless_keeps_read_only_mounts_and_plain_whiteout_names(rootless, registry):  # noqa: F811
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    uid, gid = rootless.pw.pw_uid, rootless.pw.pw_gid
    ro, src = rootless.data / "rodir", rootless.data / "src"
    for directory in (ro, src):
        directory.mkdir()
        os.chown(directory, uid, gid)
    for name in (".wh.passwd", ".wh..wh..opq", "f.txt"):
        (src / name).write_text("x\n")
        os.chown(src / name, uid, gid)
    rootless.pyctr("run", "-d", "--name", "cps", "--read-only", "-v", f"{ro}:/ro:ro", image, "sleep", "60")
    passwd = rootless.pyctr("exec", "cps", "cat", "/etc/passwd").stdout
    refused = rootless.pyctr("cp", src / "f.txt", "cps:/ro/", check=False)
    assert (refused.returncode, refused.stderr.strip()) == (125, 'Error: copier: put: error creating "/ro/f.txt": copier: '
                                                            'put: error opening file "/ro/f.txt" for writing: open '
                                                            '/ro/f.txt: read-only file system')
    assert os.listdir(ro) == []
    # The tmpfs of the read-only container takes the copy; `.wh.` names stay plain files there.
    rootless.pyctr("cp", f"{src}/.", "cps:/tmp/")
    listing = rootless.pyctr("exec", "cps", "sh", "-c", "cd /tmp && stat -c '%F %n' .wh.passwd .wh..wh..opq f.txt").stdout
    assert listing == "regular file .wh.passwd\nregular file .wh..wh..opq\nregular file f.txt\n"
    assert rootless.pyctr("exec", "cps", "cat", "/etc/passwd").stdout == passwd
    rootless.pyctr("rm", "-f", "-t", "0", "cps")
