"""Rootless: an ordinary user created by the tests, with a subordinate id range, runs pyctr.

Real user namespaces (newuidmap/newgidmap), the kernel's rootless overlay
(userxattr) and runc inside pyctr's user namespace.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, free_port

USER = "pyctr-rootless"
NO_RANGE_USER = "pyctr-norange"
SUBIDS = "300000-365535"


def _ensure_user(name: str) -> bool:
    """Create the user unless it exists; returns whether it was created (and so is ours to remove)."""
    try:
        pwd.getpwnam(name)
        return False
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True, capture_output=True)
        return True


def _remove_user(name: str) -> None:
    """userdel, with its home; its processes (the pause process, shims) were stopped first."""
    subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
    subprocess.run(["userdel", "--remove", "--force", name], check=True, capture_output=True)


def _has_range(path: str, name: str) -> bool:
    with open(path) as f:
        return any(line.split(":")[0] == name for line in f)


def _grant_traverse(paths: list[Path]) -> list[tuple[Path, int]]:
    """o+x on every ancestor the user must pass through (e.g. /root holding pyenv); undone later."""
    changed = []
    for path in paths:
        for parent in [path, *path.parents]:
            mode = parent.stat().st_mode
            if parent.is_dir() and not mode & stat.S_IXOTH:
                os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)
                changed.append((parent, stat.S_IMODE(mode)))
    return changed


class RootlessUser:
    def __init__(self, name: str, base: Path):
        self.name = name
        self.pw = pwd.getpwnam(name)
        self.base = base
        self.data = base / "data"
        self.runtime = base / "runtime"
        for directory, mode in ((self.data, 0o755), (self.runtime, 0o700)):
            directory.mkdir(mode=mode)
            os.chown(directory, self.pw.pw_uid, self.pw.pw_gid)

    def env(self) -> dict[str, str]:
        return {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": self.pw.pw_dir,
            "USER": self.name,
            "XDG_DATA_HOME": str(self.data),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "PYTHONPATH": str(REPO_ROOT),
        }

    def run(self, argv: list[str], check: bool = True, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
        env_args = [f"{k}={v}" for k, v in {**self.env(), **(env or {})}.items()]
        full = ["runuser", "-u", self.name, "--", "env", "-i", *env_args, *argv]
        result = subprocess.run(full, capture_output=True, text=True, timeout=timeout, cwd="/", stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def pyctr(self, *args, check: bool = True, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
        return self.run([sys.executable, "-m", "pyctr", *map(str, args)], check=check, timeout=timeout, env=env)

    def stop_everything(self) -> None:
        self.pyctr("rm", "-f", "--all", check=False)
        pid_file = self.runtime / "pyctr" / "pause.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass


@pytest.fixture(scope="module")
def rootless():
    created = _ensure_user(USER)
    added_range = not _has_range("/etc/subuid", USER)
    if added_range:
        subprocess.run(["usermod", "--add-subuids", SUBIDS, "--add-subgids", SUBIDS, USER], check=True)
    changed = _grant_traverse([REPO_ROOT, Path(os.path.realpath(sys.executable)).parent])
    base = Path(tempfile.mkdtemp(prefix="pyctr-rootless-"))
    os.chmod(base, 0o755)
    user = RootlessUser(USER, base)
    try:
        yield user
    finally:
        user.stop_everything()
        shutil.rmtree(base, ignore_errors=True)
        for path, mode in reversed(changed):
            os.chmod(path, mode)
        # What this run added goes away with it: the user (and so its ranges), or just the range.
        if created:
            _remove_user(USER)
        elif added_range:
            subprocess.run(["usermod", "--del-subuids", SUBIDS, "--del-subgids", SUBIDS, USER], check=True)


def test_run_as_uid_0_in_the_user_namespace(rootless, registry):
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("pull", "-q", image)
    assert rootless.pyctr("run", "--rm", image, "id", "-u").stdout == "0\n"
    uid_map = [line.split() for line in rootless.pyctr("run", "--rm", image, "cat", "/proc/self/uid_map").stdout.splitlines()]
    sub_start = next(int(line.split(":")[1]) for line in open("/etc/subuid") if line.startswith(f"{USER}:"))
    assert uid_map == [["0", str(rootless.pw.pw_uid), "1"], ["1", str(sub_start), uid_map[1][2]]]
    info = rootless.pyctr("info", "--format", "{{.Host.Rootless}} {{.Store.GraphRoot}}").stdout.split()
    assert info == ["true", str(rootless.data / "pyctr")]
    assert rootless.pyctr("unshare", "id", "-u").stdout == "0\n"


def test_layers_keep_their_owners(rootless, registry):
    image = f"{registry.host}/test/multi"
    rootless.pyctr("pull", "-q", image)
    out = rootless.pyctr("run", "--rm", "-u", "1234", image, "sh", "-c", "id -u; ls -ln /opt/owned.txt").stdout.split("\n")
    assert out[0] == "1234"
    assert out[1].split()[2:4] == ["1234", "1234"]
    # On the host the file belongs to the matching subordinate id.
    sub_start = next(int(line.split(":")[1]) for line in open("/etc/subuid") if line.startswith(f"{USER}:"))
    owners = {p.stat().st_uid for p in (rootless.data / "pyctr" / "layers").glob("*/diff/opt/owned.txt")}
    assert owners == {sub_start + 1234 - 1}


def test_detached_lifecycle(rootless, registry):
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("run", "-d", "--name", "bg", image, "sh", "-c", "while true; do echo tick; sleep 0.2; done")
    assert "bg" in rootless.pyctr("ps", "--format", "{{.Names}}").stdout
    assert "PID" in rootless.pyctr("exec", "bg", "ps").stdout
    rootless.pyctr("stop", "-t", "1", "bg", timeout=30)
    assert "tick" in rootless.pyctr("logs", "bg").stdout
    assert rootless.pyctr("inspect", "-f", "{{.State.ExitCode}}", "bg").stdout.strip() == "137"
    rootless.pyctr("rm", "bg")
    rootless.pyctr("rmi", "-f", image)


def test_stores_are_separate(rootless, store):
    mode = stat.S_IMODE((rootless.data / "pyctr").stat().st_mode)
    assert mode & 0o077 == 0
    store.root.mkdir(parents=True, exist_ok=True)
    assert rootless.run(["ls", str(store.root)], check=False).returncode != 0


def test_no_subordinate_range_is_one_clear_error(tmp_path):
    created = _ensure_user(NO_RANGE_USER)
    for path, flag in (("/etc/subuid", "--del-subuids"), ("/etc/subgid", "--del-subgids")):
        for line in open(path).read().splitlines():
            name, start, count = line.split(":")
            if name == NO_RANGE_USER:
                subprocess.run(["usermod", flag, f"{start}-{int(start) + int(count) - 1}", NO_RANGE_USER], check=True)
    base = Path(tempfile.mkdtemp(prefix="pyctr-norange-"))
    os.chmod(base, 0o755)
    try:
        changed = _grant_traverse([REPO_ROOT, Path(os.path.realpath(sys.executable)).parent])
        try:
            result = RootlessUser(NO_RANGE_USER, base).pyctr("images", check=False)
        finally:
            for path, mode in reversed(changed):
                os.chmod(path, mode)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if created:
            _remove_user(NO_RANGE_USER)
    assert result.returncode == 125
    assert result.stderr.startswith(f"Error: no subordinate ids for {NO_RANGE_USER} in /etc/subuid")
    assert "Traceback" not in result.stderr


@pytest.fixture
def tun_for_users():
    """/dev/net/tun is 0600 here; slirp4netns needs it as the user (restored afterwards)."""
    mode = stat.S_IMODE(os.stat("/dev/net/tun").st_mode)
    os.chmod("/dev/net/tun", 0o666)
    yield
    os.chmod("/dev/net/tun", mode)


def _httpd_image(registry) -> str:
    from tests.harness import images as timages

    layer = timages.Layer([timages.directory("bin"), timages.symlink("bin/httpd", "busybox"), timages.directory("www"),
                           timages.file("www/index.html", "hello from a rootless container\n")])
    timages.push(registry, "test/httpd", "latest", timages.Image([timages.busybox_layer(), layer]))
    return f"{registry.host}/test/httpd"




def test_published_port_and_outbound_network(rootless, registry, tun_for_users):
    import urllib.request

    image = _httpd_image(registry)
    port = free_port()
    rootless.pyctr("run", "-d", "--name", "web", "-p", f"{port}:80", image, "httpd", "-f", "-p", "80", "-h", "/www")
    try:
        deadline = 50
        while True:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
                break
            except OSError:
                deadline -= 1
                if not deadline:
                    raise
                import time

                time.sleep(0.1)
        assert body == "hello from a rootless container\n"
        assert f"0.0.0.0:{port}->80/tcp" in rootless.pyctr("ps", "--format", "{{.Ports}}").stdout
        # The container has a real interface (slirp4netns' tap0), not only loopback.
        assert "10.0.2.100" in rootless.pyctr("exec", "web", "ip", "-4", "addr").stdout
    finally:
        rootless.pyctr("rm", "-f", "web")
    assert not list((rootless.runtime / "pyctr" / "netns").glob("*"))


def test_publishing_without_tun_access_is_a_clear_error(rootless, registry):
    if os.stat("/dev/net/tun").st_mode & 0o006 == 0o006:
        pytest.skip("/dev/net/tun is open to every user on this machine")
    result = rootless.pyctr("run", "--rm", "-p", f"{free_port()}:80", f"{registry.host}/test/busybox", "true", check=False)
    assert result.returncode == 125
    assert "/dev/net/tun" in result.stderr and "Traceback" not in result.stderr


def test_image_user_and_ids_beyond_the_range(rootless, registry):
    from tests.harness import images as timages

    layer = timages.Layer([timages.directory("data", uid=1234, gid=1234),
                           timages.file("data/owned", "mine\n", uid=1234, gid=1234)])
    image = timages.Image([timages.busybox_layer(), layer], config_extra={"User": "1234"})
    timages.push(registry, "test/user1234", "latest", image)
    out = rootless.pyctr("run", "--rm", f"{registry.host}/test/user1234", "sh", "-c", "id -u; ls -ln /data").stdout.split("\n")
    assert out[0] == "1234" and out[2].split()[2:4] == ["1234", "1234"]

    big = timages.Layer([timages.file("far", "x\n", uid=200000, gid=200000)])
    timages.push(registry, "test/bigid", "latest", timages.Image([timages.busybox_layer(), big]))
    result = rootless.pyctr("pull", f"{registry.host}/test/bigid", check=False)
    assert result.returncode == 125
    assert "beyond the ids this user namespace maps" in result.stderr and "/etc/subuid" in result.stderr


@pytest.fixture
def fuse_for_users():
    """/dev/fuse is 0600 here; fuse-overlayfs needs it as the user (restored afterwards)."""
    if not shutil.which("fuse-overlayfs"):
        pytest.fail("fuse-overlayfs is missing: make test installs it")
    mode = stat.S_IMODE(os.stat("/dev/fuse").st_mode)
    os.chmod("/dev/fuse", 0o666)
    yield
    os.chmod("/dev/fuse", mode)


def test_fuse_overlayfs_where_the_kernel_overlay_is_not_used(rootless, registry, fuse_for_users):
    image = f"{registry.host}/test/multi"
    rootless.pyctr("pull", "-q", image)
    fuse = {"PYCTR_OVERLAY": "fuse"}
    out = rootless.pyctr("run", "--rm", image, "sh", "-c",
                         "grep ' / ' /proc/mounts | cut -d' ' -f3; cat /opt/replaced.txt; ls /opt/opaque; "
                         "ls /opt/doomed.txt 2>&1 | grep -c 'No such'", env=fuse).stdout.split()
    assert out == ["fuse.fuse-overlayfs", "new", "content", "upper.txt", "1"]


def test_125_layers_on_the_kernels_overlay(rootless, registry):
    from tests.harness import images as timages

    image = timages.push_many_layers(registry)
    rootless.pyctr("pull", "-q", image)
    assert {"bin", "etc", "stack"} <= set(rootless.pyctr("run", "--rm", image, "ls", "/").stdout.split())
    out = rootless.pyctr("run", "--rm", image, "sh", "-c",
                         "grep ' / ' /proc/mounts | cut -d' ' -f3; ls /stack | wc -l; cat /stack/top").stdout.split()
    assert out == ["overlay", str(timages.MANY_LAYERS), str(timages.MANY_LAYERS - 1)]
    mounted = rootless.pyctr("image", "mount", image).stdout.strip()
    try:  # the mount lives in the user's mount namespace
        assert rootless.pyctr("unshare", "cat", f"{mounted}/stack/top").stdout == f"{timages.MANY_LAYERS - 1}\n"
    finally:
        rootless.pyctr("image", "unmount", image)


def test_125_layers_on_fuse_overlayfs(rootless, registry, fuse_for_users):
    from tests.harness import images as timages

    image = timages.push_many_layers(registry)
    rootless.pyctr("pull", "-q", image)
    out = rootless.pyctr("run", "--rm", image, "sh", "-c", "grep ' / ' /proc/mounts | cut -d' ' -f3; ls /stack | wc -l; cat /stack/top",
                         env={"PYCTR_OVERLAY": "fuse"}).stdout.split()
    assert out == ["fuse.fuse-overlayfs", str(timages.MANY_LAYERS), str(timages.MANY_LAYERS - 1)]


def test_limits_are_skipped_with_a_warning(rootless, registry):
    result = rootless.pyctr("run", "--rm", "--memory", "64m", f"{registry.host}/test/busybox", "echo", "ran")
    assert result.stdout == "ran\n"
    assert "not applied to rootless containers" in result.stderr
    # No cgroup rootless on cgroup v1 (as podman): no default pids limit, and no warning without --pids-limit.
    quiet = rootless.pyctr("run", "--rm", f"{registry.host}/test/busybox", "echo", "ran")
    assert quiet.stdout == "ran\n" and "not applied" not in quiet.stderr
    asked = rootless.pyctr("run", "--rm", "--pids-limit", "100", f"{registry.host}/test/busybox", "echo", "ran")
    assert asked.stdout == "ran\n" and "(--pids-limit) are not applied to rootless containers" in asked.stderr


def test_a_device_is_bind_mounted_rootless(rootless, registry):
    out = rootless.pyctr("run", "--rm", "--device", "/dev/null:/dev/mynull", f"{registry.host}/test/busybox", "sh", "-c",
                         "grep -c ' /dev/mynull ' /proc/mounts; ls -l /dev/mynull | cut -c1; echo x > /dev/mynull && echo written")
    assert out.stdout.split() == ["1", "c", "written"]
    missing = rootless.pyctr("run", "--rm", "--device", "/dev/no-such-device", f"{registry.host}/test/busybox", "true", check=False)
    assert missing.returncode == 125 and missing.stderr == "Error: stat /dev/no-such-device: no such file or directory\n"


def test_relative_paths_mean_the_users_directory(rootless, registry):
    home = Path(rootless.pw.pw_dir)
    work = home / "work"
    rootless.run(["mkdir", "-p", str(work)])
    result = rootless.run(["sh", "-c", f"cd {work} && echo from-home > in.txt && {sys.executable} -m pyctr run --rm "
                           f"-v ./:/w {registry.host}/test/busybox cat /w/in.txt && {sys.executable} -m pyctr unshare pwd"])
    assert result.stdout.split() == ["from-home", str(work)]


def test_a_runtime_dir_prepared_by_someone_else_is_refused(rootless, tmp_path):
    shared = Path(tempfile.mkdtemp(prefix="pyctr-shared-"))
    os.chmod(shared, 0o777)  # e.g. made by another user in /tmp
    try:
        result = rootless.run([sys.executable, "-m", "pyctr", "images"], check=False, env={"XDG_RUNTIME_DIR": str(shared)})
        assert result.returncode == 125
        assert "must be a directory owned by you with mode 0700" in result.stderr
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_the_readme_python_api_script_runs_rootless(rootless, registry):
    from tests.test_engine_api import readme_script

    result = rootless.run([sys.executable, "-c", readme_script(f"{registry.host}/test/busybox")])
    lines = result.stdout.splitlines()
    assert lines[0].startswith("hello from ") and lines[-1] == "exit code 0"
