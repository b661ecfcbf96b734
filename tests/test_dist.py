"""The one-file build (issue 14): `make dist` writes one executable file that runs on Debian's python3
alone, and every process pyctr starts of its own (the shim, the cleanup helper) is that same file.

Built once per session into the session's tmp dir (the real Makefile target); run with a PATH
without the virtualenv, no PYTHONPATH, from `/`, on a store of its own. The rootless test runs
under `flock /tmp/pyctr-rootless-tests.lock`, as test_rootless (it creates a user).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, wait_for
from tests.test_rootless import rootless  # noqa: F401  (fixture: a user with subordinate ids)

DEBIAN_PYTHON = "/usr/bin/python3"  # the Makefile's $(PYTHON): what the file's #! line names
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture(scope="session")
def dist_file(tmp_path_factory) -> Path:
    if shutil.which("make") is None:
        pytest.skip("`make dist` cannot run: no make")
    if subprocess.run([DEBIAN_PYTHON, "-c", "import venv, ensurepip"], capture_output=True).returncode != 0:
        pytest.skip(f"`make dist` cannot run: {DEBIAN_PYTHON} has no venv/ensurepip (python3-venv; `make deps`)")
    work = tmp_path_factory.mktemp("dist")
    output = work / "pyctr"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = PATH
    result = subprocess.run(["make", "-C", str(REPO_ROOT), "dist", f"DIST_FILE={output}", f"DIST_WORK={work / 'build'}"],
                            env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"make dist failed:\n{result.stdout}\n{result.stderr}"
    return output


@pytest.fixture(scope="session")
def dist_cache(tmp_path_factory) -> Path:
    """Where the root tests' file unpacks (once for the session)."""
    return tmp_path_factory.mktemp("dist-cache")


def _env(home: Path, **extra: str) -> dict[str, str]:
    """What a bare machine's root shell has: no virtualenv on PATH, no PYTHONPATH."""
    return {"PATH": PATH, "HOME": str(home), "LANG": "C.UTF-8", **extra}


class OneFile:
    def __init__(self, path: Path, store, env: dict[str, str]):
        self.path, self.store, self.env = path, store, env

    def __call__(self, *args, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
        argv = [str(self.path), "--root", str(self.store.root), "--runroot", str(self.store.runroot), *map(str, args)]
        result = subprocess.run(argv, env={**self.env, **(env or {})}, cwd="/", capture_output=True, text=True,
                                timeout=120, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result


@pytest.fixture
def one_file(dist_file, dist_cache, store) -> OneFile:
    return OneFile(dist_file, store, _env(store.home, PYCTR_DIST_CACHE=str(dist_cache)))


def _shim_argv(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def test_the_file_is_a_zip_with_a_python_line(dist_file):
    import zipfile

    assert dist_file.read_bytes().startswith(f"#!{DEBIAN_PYTHON} -IS\n".encode())
    assert stat.S_IMODE(dist_file.stat().st_mode) == 0o755
    with zipfile.ZipFile(dist_file) as archive:
        assert sorted(archive.namelist()) == ["__main__.py", "payload.zip", "pyctrboot.py", "pyctrboot.pyc"]


def test_pull_run_logs_and_the_shim_from_the_one_file(one_file, registry):
    image = f"{registry.host}/test/busybox"
    one_file("pull", "-q", image)
    assert one_file("run", "--rm", image, "echo", "ok").stdout == "ok\n"
    one_file("run", "-d", "--name", "dist-bg", image, "sh", "-c", "echo hello; sleep 60")
    assert wait_for(lambda: one_file("logs", "dist-bg").stdout == "hello\n")
    shim = int(one_file("inspect", "-f", "{{.State.ConmonPid}}", "dist-bg").stdout)
    argv = _shim_argv(shim)
    if "--" in argv:  # gone idle (pyctr.shim.idle): the full shim it comes back as follows "--"
        assert argv[1:4] == ["-I", "-S", "-c"] and Path(argv[5]).parents[2] == Path(one_file.env["PYCTR_DIST_CACHE"])
        argv = argv[argv.index("--") + 1:]
    assert os.path.realpath(argv[0]) == os.path.realpath(DEBIAN_PYTHON)
    assert argv[1:5] == ["-IS", str(one_file.path), "__module", "pyctr.shim"] and argv[5] in ("--config-fd", "--resume")
    one_file("rm", "-f", "-t", "0", "dist-bg")
    # --rm of a detached container: the shim's cleanup helper (the same file again) removes it.
    one_file("run", "-d", "--rm", "--name", "dist-gone", image, "true")
    assert wait_for(lambda: one_file("ps", "-a", "-q").stdout == "", timeout=20)


def test_its_modules_come_from_the_payload_alone(one_file, dist_cache):
    # `python -m site` through the internal entry prints the path the file's processes import from.
    shown = subprocess.run([str(one_file.path), "__module", "site"], env=one_file.env, cwd="/",
                           capture_output=True, text=True, check=True).stdout
    path = [line.strip().strip("',") for line in shown.split("sys.path = [", 1)[1].split("]", 1)[0].splitlines()]
    path = [p for p in path if p]
    assert Path(path[0]).parent == dist_cache
    assert all(p.startswith("/usr/lib/python3") for p in path[1:]), path  # the standard library, no site-packages
    assert not any(str(REPO_ROOT) in p for p in path)


def test_units_run_the_file(one_file, registry):
    image = f"{registry.host}/test/busybox"
    one_file("create", "--name", "dist-unit", image, "sleep", "60")
    unit = one_file("generate", "systemd", "--new", "dist-unit").stdout
    assert f"ExecStart={one_file.path} \\" in unit.splitlines()
    one_file("rm", "dist-unit")


def test_first_runs_unpack_once_even_together(dist_file, tmp_path):
    cache = tmp_path / "xdg-cache"  # the default place: $XDG_CACHE_HOME/pyctr/dist/BUILD
    env = _env(tmp_path, XDG_CACHE_HOME=str(cache))
    runs = [subprocess.Popen([str(dist_file), "version"], env=env, cwd="/", stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0 and "Version:" in out, err
    builds = os.listdir(cache / "pyctr" / "dist")
    assert len(builds) == 1 and not builds[0].startswith(".")  # no half-unpacked leftovers
    unpacked = cache / "pyctr" / "dist" / builds[0]
    # Code that others could change is not run: one line, pyctr's exit code for its own failures.
    os.chmod(unpacked, 0o777)
    refused = subprocess.run([str(dist_file), "version"], env=env, cwd="/", capture_output=True, text=True)
    assert refused.returncode == 125
    assert refused.stderr.startswith(f"Error: {unpacked} belongs to uid 0 (mode 777), not to this user")
    assert len(refused.stderr.splitlines()) == 1


def test_rootless_from_the_one_file(rootless, registry, dist_file):  # noqa: F811
    # A copy where the user can read it (the session's tmp dir is root's alone); it unpacks into
    # the user's own cache.
    copy = rootless.base / "pyctr"
    shutil.copy(dist_file, copy)
    os.chmod(copy, 0o755)
    cache = rootless.data / "cache"
    env = {"PATH": PATH, "HOME": rootless.pw.pw_dir, "USER": rootless.name, "XDG_DATA_HOME": str(rootless.data),
           "XDG_RUNTIME_DIR": str(rootless.runtime), "XDG_CACHE_HOME": str(cache)}

    def run(*args) -> subprocess.CompletedProcess:
        full = ["runuser", "-u", rootless.name, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()),
                str(copy), *map(str, args)]
        result = subprocess.run(full, capture_output=True, text=True, timeout=120, cwd="/", stdin=subprocess.DEVNULL)
        assert result.returncode == 0, f"{' '.join(map(str, args))} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result

    image = f"{registry.host}/test/busybox"
    run("pull", "-q", image)
    assert run("run", "--rm", image, "echo", "ok").stdout == "ok\n"
    run("run", "-d", "--name", "dist-rl", image, "sh", "-c", "echo hello; sleep 60")
    assert wait_for(lambda: run("logs", "dist-rl").stdout == "hello\n")
    argv = _shim_argv(int(run("inspect", "-f", "{{.State.ConmonPid}}", "dist-rl").stdout))
    assert argv[1:5] == ["-IS", str(copy), "__module", "pyctr.shim"]
    assert (cache / "pyctr" / "dist").stat().st_uid == rootless.pw.pw_uid
    run("rm", "-f", "-t", "0", "dist-rl")
    run("rmi", image)


def test_quadlet_generators_run_from_the_file(dist_file, dist_cache, tmp_path):
    # `quadlet --install` from the file writes generators that load pyctr from it, not from a package.
    system, user, units, out = (tmp_path / name for name in ("system", "user", "units", "out"))
    units.mkdir()
    out.mkdir()
    (units / "web.container").write_text("[Container]\nImage=localhost/web\nExec=sleep 60\n")
    env = _env(tmp_path, PYCTR_DIST_CACHE=str(dist_cache))
    install = (f"import sys; sys.path.insert(0, {str(dist_file)!r}); import pyctrboot; pyctrboot.setup({str(dist_file)!r}); "
               "from pyctr.quadlet import generator, install; "
               f"install.install(generator.default_pyctr(), {str(system)!r}, {str(user)!r}, check_root=False)")
    subprocess.run([DEBIAN_PYTHON, "-IS", "-c", install], env=env, cwd="/", check=True, capture_output=True)
    generator = system / "pyctr-system-generator"
    assert generator.read_text().startswith(f"#!{DEBIAN_PYTHON} -IS\n")
    subprocess.run([str(generator), out, out, out], env={**env, "QUADLET_UNIT_DIRS": str(units)}, cwd="/",
                   check=True, capture_output=True)
    service = (out / "web.service").read_text()
    assert f"ExecStart={dist_file} run --name=systemd-%N" in service


def test_the_service_from_the_one_file(one_file, tmp_path):
    # The file carries the service extra (aiohttp): `system service` answers the Docker API.
    sock = tmp_path / "api.sock"
    argv = [str(one_file.path), "--root", str(one_file.store.root), "--runroot", str(one_file.store.runroot),
            "system", "service", "--time", "0", f"unix://{sock}"]
    proc = subprocess.Popen(argv, env=one_file.env, cwd="/", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(sock.exists, timeout=30), proc.stderr.read1().decode() if proc.poll() is not None else ""
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(sock))
            client.sendall(b"GET /v1.41/version HTTP/1.0\r\nHost: d\r\n\r\n")
            answer = b"".join(iter(lambda: client.recv(65536), b""))
        head, body = answer.split(b"\r\n\r\n", 1)
        assert head.split(b" ")[1] == b"200" and json.loads(body)["ApiVersion"] == "1.41"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_make_install_puts_everything_under_the_prefix(dist_file, tmp_path):
    # `-o dist`: the session's file is the one to install (no second build).
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    subprocess.run(["make", "-s", "-C", str(REPO_ROOT), "-o", "dist", "install", f"DIST_FILE={dist_file}",
                    f"DESTDIR={tmp_path}", "PREFIX=/usr"], env=env, check=True, capture_output=True, timeout=120)
    usr = tmp_path / "usr"
    assert (usr / "bin" / "pyctr").read_bytes() == dist_file.read_bytes()
    assert stat.S_IMODE((usr / "bin" / "pyctr").stat().st_mode) == 0o755
    assert (usr / "share" / "man" / "man1" / "pyctr-generate-systemd.1").is_file()
    assert (usr / "share" / "bash-completion" / "completions" / "pyctr").is_file()
    for manager in ("system", "user"):
        for unit in ("pyctr.socket", "pyctr.service"):
            assert (usr / "lib" / "systemd" / manager / unit).read_text().startswith("#")
