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
