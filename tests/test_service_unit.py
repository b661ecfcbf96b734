"""Pure parts of the service: the Docker create body -> ContainerSpec, frames, URIs."""

import pytest

pytest.importorskip("aiohttp")

from pyctr.errors import InvalidArgument  # noqa: E402
from pyctr.service import server, streams  # noqa: E402
from pyctr.service.createbody import spec_from_body  # noqa: E402


def test_create_body_to_spec():
    spec = spec_from_body({
        "Image": "busybox", "Cmd": ["echo", "hi"], "Entrypoint": [""], "Env": ["A=1", "B=x=y"], "Tty": True,
        "OpenStdin": True, "WorkingDir": "/w", "User": "1:2", "Hostname": "h", "Labels": {"l": "v"},
        "ExposedPorts": {"80/tcp": {}}, "StopSignal": "SIGINT", "StopTimeout": 3,
        "HostConfig": {"AutoRemove": True, "Binds": ["/tmp:/data:ro"], "Memory": 1 << 26, "NanoCpus": 500000000,
                       "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
                       "NetworkMode": "default",
                       "LogConfig": {"Type": "json-file", "Config": {}}},
        "NetworkingConfig": {"EndpointsConfig": {"default": {}}},
    }, "web")
    assert spec.image.name == "busybox" and spec.image.pull == "never"
    assert spec.process.command == ["echo", "hi"] and spec.process.entrypoint == []
    assert spec.process.env == {"A": "1", "B": "x=y"} and spec.process.tty and spec.process.stdin
    assert (spec.process.workdir, spec.process.user, spec.network.hostname) == ("/w", "1:2", "h")
    assert spec.process.stop_signal == "SIGINT" and spec.process.stop_timeout == 3
    assert spec.lifecycle.name == "web" and spec.lifecycle.remove and spec.lifecycle.labels == {"l": "v"}
    restart = spec_from_body({"Image": "i", "HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}}},
                             None).lifecycle.restart
    assert (restart.name, restart.max_retries) == ("on-failure", 2)
    assert spec.lifecycle.log_driver == "k8s-file"
    assert [(m.type, m.source, m.destination) for m in spec.storage.mounts] == [("bind", "/tmp", "/data")]
    assert spec.resources.memory == 1 << 26 and spec.resources.cpus == 0.5
    port = spec.network.ports[0]
    assert (port.host_ip, port.host_port, port.container_port, port.protocol) == ("127.0.0.1", 8080, 80, "tcp")
    assert spec.network.mode is None and spec.network.networks == []


def test_create_body_port_without_host_port():
    """Docker's empty HostPort (testcontainers' with_exposed_ports): host port 0, which the engine
    fills with a free port."""
    spec = spec_from_body({"Image": "i", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": ""}]}}}, None)
    assert [(p.host_port, p.container_port) for p in spec.network.ports] == [(0, 80)]


def test_create_body_networks():
    spec = spec_from_body({"Image": "i", "HostConfig": {"NetworkMode": "proj_default"},
                           "NetworkingConfig": {"EndpointsConfig": {"proj_default": {"Aliases": ["web"]}}}}, None)
    assert spec.network.mode == "bridge"
    assert [(n.name, n.aliases) for n in spec.network.networks] == [("proj_default", ["web"])]
    assert spec_from_body({"Image": "i", "HostConfig": {"NetworkMode": "host"}}, None).network.mode == "host"


@pytest.mark.parametrize("body", [
    {},
    {"Image": "i", "HostConfig": {"VolumeDriver": "nfs"}},
    {"Image": "i", "HostConfig": {"LogConfig": {"Type": "syslog"}}},
])
def test_create_body_refused(body):
    with pytest.raises(InvalidArgument):
        spec_from_body(body, None)


def test_frames_and_uris():
    assert streams.frame(streams.STDERR, b"hi") == b"\x02\x00\x00\x00\x00\x00\x00\x02hi"
    assert server.parse_uri("unix:///run/x.sock") == ("unix", "/run/x.sock")
    assert server.parse_uri("tcp://127.0.0.1:2375") == ("tcp", ("127.0.0.1", 2375))
    for bad in ("unix://rel.sock", "http://x", "tcp://nohost"):
        with pytest.raises(InvalidArgument):
            server.parse_uri(bad)
    with pytest.raises(InvalidArgument) as caught:  # podman 4.3.1's words
        server.parse_uri("/tmp/x.sock")
    assert str(caught.value) == ('API Service endpoint scheme "" is not supported. '
                                 'Try tcp:///tmp/x.sock or unix://tmp/x.sock')
