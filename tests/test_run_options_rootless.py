"""run's user namespace options rootless (--userns keep-id, nomap in pyctr's own
namespace), and the warning for limits a rootless container on cgroup v1 cannot have.
Run under `flock /tmp/pyctr-rootless-tests.lock`, as test_rootless (it creates a user)."""

from __future__ import annotations

from tests.test_rootless import rootless  # noqa: F401  (fixture: a user with subordinate ids)


def test_keep_id_runs_as_the_user(rootless, registry):  # noqa: F811
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    uid, gid = rootless.pw.pw_uid, rootless.pw.pw_gid
    out = rootless.pyctr("run", "--rm", "--userns", "keep-id", image, "sh", "-c",
                         "id -u; id -g; cat /proc/self/uid_map; grep ^pyctr-rootless: /etc/passwd | cut -d: -f3").stdout
    lines = out.splitlines()
    assert lines[:2] == [str(uid), str(gid)]
    maps = [line.split() for line in lines[2:-1]]
    assert maps[0] == [str(uid), "0", "1"] and maps[1] == ["0", "1", str(uid)]  # the user is the user outside too
    assert lines[-1] == str(uid)  # and has its passwd entry, as podman adds it


def test_nomap_fails_clearly(rootless, registry):  # noqa: F811
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    result = rootless.pyctr("run", "--rm", "--userns", "nomap", image, "true", check=False)
    assert result.returncode == 125 and "--userns nomap is not built yet" in result.stderr


def test_rootless_limits_warn(rootless, registry):  # noqa: F811
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    result = rootless.pyctr("create", "--cpu-shares", "512", "--memory", "64m", image, "true")
    assert "WARNING: resource limits (--memory, --cpu-shares) are not applied to rootless containers" in result.stderr


def test_host_namespaces_rootless(rootless, registry):  # noqa: F811
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    out = rootless.pyctr("run", "--rm", "--pid", "host", "--ipc", "host", "--uts", "host", "--sysctl", "net.ipv4.ping_group_range=0 1",
                         image, "sh", "-c", "ls /proc | grep -c '^[0-9]'; hostname", check=False)
    assert out.returncode == 0, out.stderr
    count, hostname = out.stdout.split()
    assert int(count) > 5 and hostname == __import__("os").uname().nodename


def test_ipc_container_shares_dev_shm_rootless(rootless, registry):  # noqa: F811
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    rootless.pyctr("run", "-d", "--name", "g3-ipc", image, "sh", "-c", "echo hi > /dev/shm/x; sleep 60")
    try:
        out = rootless.pyctr("run", "--rm", "--ipc", "container:g3-ipc", image, "sh", "-c",
                             "for i in 1 2 3 4 5 6 7 8 9 10; do cat /dev/shm/x 2>/dev/null && break; sleep 0.2; done").stdout
        assert out == "hi\n"
    finally:
        rootless.pyctr("rm", "-f", "-t", "0", "g3-ipc")
    keep = rootless.pyctr("run", "--rm", "--group-add", "keep-groups", image, "true", check=False)
    assert keep.returncode == 125 and "--group-add keep-groups is not supported rootless with runc" in keep.stderr
