"""Rootless: secrets owned as asked inside the user namespace, and overlay's mount program chosen
with --storage-opt. Run under `flock /tmp/pyctr-rootless-tests.lock` as the other rootless tests."""

from __future__ import annotations

import shutil

from tests.test_rootless import fuse_for_users, rootless  # noqa: F401 (fixtures)


def test_secrets_rootless(rootless, registry):  # noqa: F811
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    rootless.run(["sh", "-c", f"printf hunter2 > {rootless.base}/data/secret.txt"])
    rootless.pyctr("secret", "create", "db", rootless.base / "data" / "secret.txt")
    try:
        out = rootless.pyctr("run", "--rm", "--secret", "db,uid=1000,gid=1000,mode=0440", image,
                             "sh", "-c", "cat /run/secrets/db; echo; ls -ln /run/secrets/db").stdout.split("\n")
        assert out[0] == "hunter2"
        assert out[1].split()[0] == "-r--r-----" and out[1].split()[2:4] == ["1000", "1000"]
        assert rootless.pyctr("run", "--rm", "--secret", "db,type=env,target=PW", image, "sh", "-c", "echo $PW").stdout == "hunter2\n"
    finally:
        rootless.pyctr("secret", "rm", "db", check=False)


def test_storage_opt_mount_program(rootless, registry, fuse_for_users):  # noqa: F811
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    program = shutil.which("fuse-overlayfs")
    out = rootless.pyctr("--storage-opt", f"overlay.mount_program={program}", "run", "--rm", image,
                         "sh", "-c", "grep ' / ' /proc/mounts | cut -d' ' -f3").stdout
    assert out == "fuse.fuse-overlayfs\n"
    assert rootless.pyctr("run", "--rm", image, "sh", "-c", "grep ' / ' /proc/mounts | cut -d' ' -f3").stdout == "overlay\n"
