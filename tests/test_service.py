"""`pyctr system service`: the Docker Engine API on a unix socket, driven by real clients
(docker-py, and the docker CLI when this machine has it), over the test's own store."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from tests.conftest import wait_for

docker = pytest.importorskip("docker")
pytest.importorskip("aiohttp")

DOCKER_CLI = shutil.which("docker")


class Service:
    """A `pyctr system service` process on a socket in the test's directory."""

    def __init__(self, pyctr, idle: int = 0):
        self.path = str(pyctr.store.tmp / "api.sock")
        self.uri = f"unix://{self.path}"
        self.log = open(pyctr.store.tmp / "service.log", "wb")
        self.proc = subprocess.Popen(pyctr.argv("system", "service", "--time", str(idle), self.uri),
                                     env=pyctr.store.env(), stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        assert wait_for(lambda: os.path.exists(self.path) or self.proc.poll() is not None, timeout=30)
        assert self.proc.poll() is None, self.output()

    def client(self):
        return docker.DockerClient(base_url=self.uri, timeout=60)

    def output(self) -> str:
        return (self.log.name and open(self.log.name, errors="replace").read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def service(pyctr):
    service = Service(pyctr)
    yield service
    service.stop()


@pytest.fixture
def client(service):
    client = service.client()
    yield client
    client.close()


def raw_request(path: str, request: bytes) -> tuple[int, bytes]:
    """One HTTP request over the socket: the status and the body."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)
        sock.connect(path)
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_ping_version_and_socket_mode(service, client):
    assert client.ping() is True
    version = client.version()
    assert version["ApiVersion"] == "1.41" and version["Os"] == "linux"
    assert oct(os.stat(service.path).st_mode & 0o777) == "0o660"
    status, _ = raw_request(service.path, b"HEAD /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
    assert status == 200


def test_pull_and_run(registry, client):
    image = client.images.pull(f"{registry.host}/test/busybox", tag="latest")
    assert f"{registry.host}/test/busybox:latest" in image.tags
    assert client.containers.run(f"{registry.host}/test/busybox:latest", "echo hi", remove=True) == b"hi\n"
    assert client.containers.list(all=True) == []


def test_detached_logs_exec_stop_remove(image, client):
    ctr = client.containers.run(image, ["sh", "-c", "echo ready; echo oops >&2; exec sleep 100"], detach=True,
                                name="svc-detached")
    assert wait_for(lambda: b"oops" in ctr.logs(), timeout=20)
    assert ctr.logs(stderr=False) == b"ready\n"
    assert ctr.logs(stdout=False) == b"oops\n"
    ctr.reload()
    assert ctr.status == "running" and ctr.name == "svc-detached"
    result = ctr.exec_run(["sh", "-c", "echo in exec; exit 3"])
    assert (result.exit_code, result.output) == (3, b"in exec\n")
    assert ctr.exec_run(["cat", "/etc/hostname"], demux=True).output == (ctr.id[:12].encode() + b"\n", None)
    ctr.stop(timeout=1)
    assert ctr.wait()["StatusCode"] == 137
    ctr.remove()
    assert client.containers.list(all=True) == []


def test_state_is_shared_with_the_command_line(image, pyctr, client):
    pyctr("run", "-d", "--name", "from-cli", image, "sleep", "100")
    assert [c.name for c in client.containers.list()] == ["from-cli"]
    client.containers.run(image, "sleep 100", detach=True, name="from-api")
    names = pyctr("ps", "--format", "{{.Names}}").stdout.split()
    assert sorted(names) == ["from-api", "from-cli"]
    pyctr("rm", "-f", "-t0", "from-cli", "from-api")
    assert client.containers.list(all=True) == []


def test_errors_as_the_docker_api(service, client, image):
    with pytest.raises(docker.errors.NotFound) as caught:
        client.containers.get("no-such-ctr")
    assert "no-such-ctr" in str(caught.value)
    with pytest.raises(docker.errors.ImageNotFound):
        client.containers.create("localhost:1/no/such:image", "true")
    client.containers.create(image, "true", name="svc-taken")
    with pytest.raises(docker.errors.APIError) as caught:
        client.containers.create(image, "true", name="svc-taken")
    assert caught.value.status_code == 409
    status, body = raw_request(service.path, b"GET /v1.41/no/such/endpoint HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
    assert status == 404 and "message" in json.loads(body)


def test_volumes_and_networks(client):
    volume = client.volumes.create("svc-vol", labels={"a": "b"})
    assert volume.name == "svc-vol" and [v.name for v in client.volumes.list()] == ["svc-vol"]
    volume.remove()
    network = client.networks.create("svc-net")
    assert "svc-net" in [n.name for n in client.networks.list()]
    network.remove()
    assert "svc-net" not in [n.name for n in client.networks.list()]


def test_archive_stats_and_follow(image, client):
    import io
    import tarfile

    ctr = client.containers.run(image, ["sh", "-c", "echo one; sleep 1; echo two; exec sleep 100"], detach=True)
    followed = ctr.logs(stream=True, follow=True)
    assert next(followed) == b"one\n" and next(followed) == b"two\n"
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"hello\n"))
    assert ctr.put_archive("/tmp", packed.getvalue())
    assert ctr.exec_run(["cat", "/tmp/hello.txt"]).output == b"hello\n"
    chunks, stat = ctr.get_archive("/tmp/hello.txt")
    assert stat["name"] == "hello.txt" and stat["size"] == 6
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        assert tar.extractfile("hello.txt").read() == b"hello\n"
    with tarfile.open(fileobj=io.BytesIO(b"".join(ctr.export()))) as tar:  # the whole filesystem
        assert tar.extractfile("tmp/hello.txt").read() == b"hello\n"
    sample = ctr.stats(stream=False)
    assert sample["id"] == ctr.id and sample["pids_stats"]["current"] >= 1
    ctr.remove(force=True)
    followed.close()


def test_tty_and_clients_that_go_away(image, client):
    assert client.containers.run(image, "echo hi", tty=True, remove=True) == b"hi\r\n"
    ctr = client.containers.run(image, "sleep 100", detach=True)
    attached = client.api.attach_socket(ctr.id, params={"stdout": 1, "stderr": 1, "stream": 1})
    followed = client.api.logs(ctr.id, stream=True, follow=True)
    attached.close()
    followed.close()
    assert client.ping()
    ctr.reload()
    assert ctr.status == "running"  # (left running by the attach that went away)
    ctr.remove(force=True)


def test_commit_save_load_diff_update(image, client):
    ctr = client.containers.run(image, ["sh", "-c", "echo x > /tmp/new; exec sleep 100"], detach=True)
    assert wait_for(lambda: {"Path": "/tmp/new", "Kind": 1} in (client.api.diff(ctr.id) or []), timeout=20)
    ctr.update(mem_limit="64m")
    ctr.reload()
    assert ctr.attrs["HostConfig"]["Memory"] == 64 << 20
    committed = ctr.commit("localhost/svc/committed", "v1")
    assert "localhost/svc/committed:v1" in committed.tags
    ctr.remove(force=True)
    archive = b"".join(client.images.get("localhost/svc/committed:v1").save(named=True))
    client.images.remove("localhost/svc/committed:v1")
    loaded = client.images.load(archive)
    assert [i.id for i in loaded] == [committed.id]
    assert client.containers.run("localhost/svc/committed:v1", "cat /tmp/new", remove=True) == b"x\n"


def test_socket_activation(pyctr):
    """A socket systemd passes (LISTEN_FDS, LISTEN_PID) is served instead of the URI's."""
    path = str(pyctr.store.tmp / "activated.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(8)
    command = " ".join(pyctr.argv("system", "service", "--time", "0", f"unix://{pyctr.store.tmp}/unused.sock"))
    proc = subprocess.Popen(["sh", "-c", f"LISTEN_PID=$$ LISTEN_FDS=1 exec {command}"], env=pyctr.store.env(),
                            stdin=subprocess.DEVNULL, pass_fds=[3],  # (kept open: close_fds runs after preexec_fn)
                            preexec_fn=lambda: os.dup2(listener.fileno(), 3), start_new_session=True)
    try:
        listener.close()
        client = docker.DockerClient(base_url=f"unix://{path}", version="1.41", timeout=30)
        assert wait_for(lambda: _pings(client), timeout=30)
        assert not os.path.exists(pyctr.store.tmp / "unused.sock")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _pings(client) -> bool:
    try:
        return client.ping()
    except Exception:
        return False


def test_two_services_and_the_command_line_at_once(image, pyctr, service):
    """Both services and the CLI create and remove containers at the same time over one store."""
    from concurrent.futures import ThreadPoolExecutor

    other = Service(pyctr)
    clients = [service.client(), other.client()]
    try:
        def through_api(i: int) -> None:
            client = clients[i % 2]
            assert client.containers.run(image, f"echo {i}", name=f"api-{i}", remove=True) == f"{i}\n".encode()
            client.containers.run(image, "sleep 100", name=f"keep-{i}", detach=True)

        def through_cli(i: int) -> None:
            assert pyctr("run", "--rm", "--name", f"cli-{i}", image, "echo", str(i)).stdout == f"{i}\n"

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda job: job[0](job[1]), [(through_api, i) for i in range(4)] + [(through_cli, i) for i in range(2)]))
        for client in clients:
            assert sorted(c.name for c in client.containers.list(all=True)) == [f"keep-{i}" for i in range(4)]
        clients[1].containers.prune()  # (none stopped: nothing goes)
        pyctr("rm", "-f", "-t0", *[f"keep-{i}" for i in range(4)])
        assert clients[0].containers.list(all=True) == []
    finally:
        for client in clients:
            client.close()
        other.stop()


def test_without_aiohttp_one_line(pyctr):
    argv = ["pyctr", *pyctr.argv("system", "service", "--time", "1")[3:]]  # (this test's store)
    code = f"import sys; sys.modules['aiohttp'] = None; sys.argv = {argv!r}; from pyctr.cli.main import main; main()"
    result = pyctr.run([sys.executable, "-c", code], check=False)
    assert result.returncode == 125
    assert result.stderr.startswith("Error: ") and "pyctr[service]" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_stops_when_idle(pyctr):
    service = Service(pyctr, idle=1)
    try:
        assert service.client().ping()
        assert wait_for(lambda: service.proc.poll() is not None, timeout=20)
        assert service.proc.returncode == 0 and not os.path.exists(service.path)
    finally:
        service.stop()


@pytest.mark.skipif(DOCKER_CLI is None, reason="no docker CLI on this machine")
def test_docker_cli(image, service, pyctr):
    env = {**pyctr.store.env(), "DOCKER_HOST": service.uri, "DOCKER_CONFIG": str(pyctr.store.tmp / "docker-config")}

    def docker_cli(*args, check=True):
        result = subprocess.run([DOCKER_CLI, *args], env=env, capture_output=True, text=True, timeout=60,
                                stdin=subprocess.DEVNULL)
        assert not check or result.returncode == 0, result.stderr
        return result

    assert docker_cli("run", "--rm", image, "echo", "hi").stdout == "hi\n"
    failed = docker_cli("run", "--rm", image, "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert (failed.returncode, failed.stdout, failed.stderr) == (3, "out\n", "err\n")
    docker_cli("run", "-d", "--name", "cli-web", image, "sleep", "100")
    assert "cli-web" in docker_cli("ps").stdout
    assert docker_cli("exec", "cli-web", "echo", "in").stdout == "in\n"
    assert "cli-web" in pyctr("ps").stdout
    docker_cli("rm", "-f", "cli-web")
    not_found = docker_cli("run", "--rm", image, "no-such-command", check=False)
    assert not_found.returncode == 127 and "executable file not found" in not_found.stderr
    assert docker_cli("ps", "-aq").stdout == ""  # (AutoRemove: a container that could not start goes too)
    missing = docker_cli("rm", "no-such-ctr", check=False)
    assert missing.returncode == 1 and "Error response from daemon: " in missing.stderr
    assert "Server Version" in docker_cli("info").stdout
    docker_cli("run", "-d", "--name", "cli-cp", image, "sleep", "100")
    (pyctr.store.tmp / "in.txt").write_text("data\n")
    docker_cli("cp", str(pyctr.store.tmp / "in.txt"), "cli-cp:/tmp/")
    docker_cli("cp", "cli-cp:/tmp/in.txt", str(pyctr.store.tmp / "out.txt"))
    assert (pyctr.store.tmp / "out.txt").read_text() == "data\n"
    assert "cli-cp" in docker_cli("stats", "--no-stream").stdout
    docker_cli("rm", "-f", "cli-cp")
