"""Networks' pure logic: --network and -p parsing, definitions, addresses, /etc files (no netavark here)."""

import ipaddress

import pytest

from pyctr.container import etcfiles, flags
from pyctr.container.spec import NetworkAttachment, PortMapping
from pyctr.errors import Conflict, InvalidArgument
from pyctr.network import config, ipam


def test_network_flag_modes_and_names():
    assert flags.networks([]) == (None, [])
    assert flags.networks(["none"]) == ("none", [])
    assert flags.networks(["pasta"]) == ("slirp4netns", [])
    assert flags.networks(["container:abc"]) == ("container:abc", [])
    mode, nets = flags.networks(["bridge"])
    assert mode == "bridge" and nets == [NetworkAttachment("")]
    mode, nets = flags.networks(["a", "b:ip=10.89.1.5,alias=x,mac=02:00:00:00:00:01,interface_name=eth7"])
    assert nets == [NetworkAttachment("a"), NetworkAttachment("b", ["x"], ["10.89.1.5"], "02:00:00:00:00:01", "eth7")]


def test_network_flag_per_network_options_go_to_the_single_network():
    mode, nets = flags.networks(["appnet"], ip="10.89.0.9", mac="02:00:00:00:00:02", aliases=["db"])
    assert nets == [NetworkAttachment("appnet", ["db"], ["10.89.0.9"], "02:00:00:00:00:02")]
    mode, nets = flags.networks([], aliases=["db"])  # the default network
    assert mode is None and nets == [NetworkAttachment("", ["db"])]
    mode, nets = flags.networks(["a", "b:alias=x"], aliases=["db"])  # aliases: on every network, as podman
    assert [n.aliases for n in nets] == [["db"], ["x", "db"]]
    assert flags.networks(["private"]) == (None, [])  # podman's: the default mode


@pytest.mark.parametrize("values,kwargs,message", [
    (["a", "b"], {"ip": "10.0.0.2"}, "--ip can only be set for a single network: invalid argument"),
    (["none", "a"], {}, "cannot set multiple networks without bridge network mode, selected mode none: invalid argument"),
    (["none"], {"aliases": ["x"]}, "--network-alias can only be set when the network mode is bridge: invalid argument"),
    (["a:color=red"], {}, "unknown bridge network option: color"),
    (["host"], {"ip": "10.0.0.2"}, "--ip can only be set when the network mode is bridge: invalid argument"),
])
def test_network_flag_errors_are_podmans(values, kwargs, message):
    with pytest.raises(InvalidArgument, match="^" + message.replace("(", r"\(") + "$"):
        flags.networks(values, **kwargs)


@pytest.mark.parametrize("text,expected", [
    ("8080:80", [PortMapping(8080, 80)]),
    ("127.0.0.1:8080:80/udp", [PortMapping(8080, 80, "udp", "127.0.0.1")]),
    ("8000-8002:80-82", [PortMapping(8000, 80), PortMapping(8001, 81), PortMapping(8002, 82)]),
    ("80", [PortMapping(0, 80)]),  # a free host port, chosen at create
    ("127.0.0.1::80", [PortMapping(0, 80, "tcp", "127.0.0.1")]),
    ("[::1]:8080:80", [PortMapping(8080, 80, "tcp", "::1")]),
])
def test_publish_forms(text, expected):
    assert flags.publish(text) == expected


@pytest.mark.parametrize("text", ["8000-8002:80", "x:80", "8080:80/icmp", "1.2.3:80:80", "90-80:90-80"])
def test_publish_errors(text):
    with pytest.raises(InvalidArgument):
        flags.publish(text)


def test_ports_text_joins_ranges_as_podman():
    from pyctr.cli.views import ports_text

    ports = flags.publish("8000-8002:80-82") + flags.publish("127.0.0.1:9000:90/udp")
    assert ports_text(ports) == "0.0.0.0:8000-8002->80-82/tcp, 127.0.0.1:9000->90/udp"


def test_new_networks_take_the_first_free_subnet_and_interface():
    taken = [ipaddress.ip_network("10.89.0.0/24"), ipaddress.ip_network("10.88.0.0/16")]
    network = config.build(config.CreateRequest("appnet"), taken, {"pyctr0", "pyctr1"})
    assert (network.subnets[0].subnet, network.subnets[0].gateway, network.interface) == ("10.89.1.0/24", "10.89.1.1", "pyctr2")
    assert network.dns_enabled and network.to_json()["ipam_options"] == {"driver": "host-local"}


def test_network_create_errors():
    with pytest.raises(InvalidArgument, match=r"^network name x! invalid: names must match"):
        config.build(config.CreateRequest("x!"), [], set())
    with pytest.raises(InvalidArgument, match="^subnet 10.89.0.0/24 is already used on the host or by another config$"):
        config.build(config.CreateRequest("a", subnets=["10.89.0.0/24"]), [ipaddress.ip_network("10.89.0.0/16")], set())
    with pytest.raises(InvalidArgument, match="gateway 10.1.0.1 not in subnet"):
        config.build(config.CreateRequest("a", subnets=["10.77.0.0/24"], gateways=["10.1.0.1"]), [], set())


def test_ip_range_is_podmans_lease_range():
    network = config.build(config.CreateRequest("a", subnets=["10.77.0.0/24"], ip_ranges=["10.77.0.128/25"]), [], set())
    assert network.subnets[0].lease_range == {"start_ip": "10.77.0.129", "end_ip": "10.77.0.255"}


def test_addresses_are_distinct_go_round_and_can_be_asked_for(tmp_path):
    network = config.build(config.CreateRequest("a", subnets=["10.77.0.0/29"]), [], set())  # .2 - .6 usable
    def allocate(owner, requested=()):
        return ipam.allocate(tmp_path, network, f"/s/{owner}", requested, alive=lambda o: o != "/s/gone")

    got = [allocate(f"c{i}")[0] for i in range(5)]
    assert got == ["10.77.0.2", "10.77.0.3", "10.77.0.4", "10.77.0.5", "10.77.0.6"]
    with pytest.raises(Conflict, match="failed to find free IP"):
        allocate("c5")
    ipam.release(tmp_path, network, "/s/c1")
    assert allocate("c6") == ["10.77.0.3"]
    with pytest.raises(Conflict, match="requested ip address 10.77.0.4 is already allocated to container ID c2"):
        allocate("c7", ["10.77.0.4"])
    assert ipam.owners(tmp_path, network) == {"/s/c0", "/s/c2", "/s/c3", "/s/c4", "/s/c6"}


def test_addresses_of_owners_gone_are_free_again(tmp_path):
    network = config.build(config.CreateRequest("a", subnets=["10.77.0.0/30"]), [], set())  # .2 only
    assert ipam.allocate(tmp_path, network, "/s/gone", alive=lambda o: True) == ["10.77.0.2"]
    assert ipam.allocate(tmp_path, network, "/s/new", alive=lambda o: o != "/s/gone") == ["10.77.0.2"]


def test_hosts_and_resolv_conf_on_a_bridge_network_as_podman_writes_them():
    names = etcfiles.BridgeNames("web", ["10.89.0.3"], "10.89.0.1", ["10.89.0.1"], ["dns.podman"])
    hosts = etcfiles.hosts_content("hh", "private", ["foo:1.2.3.4"], "127.0.0.1 localhost\n# note\n", bridge=names)
    assert hosts.splitlines()[1:] == ["1.2.3.4\tfoo", "127.0.0.1\tlocalhost", "10.89.0.1\thost.containers.internal",
                                      "10.89.0.3\thh web"]
    resolv = etcfiles.with_network_dns(etcfiles.resolv_conf_content("nameserver 9.9.9.9\nsearch example.com\n"),
                                       names.dns_servers, names.dns_search)
    assert resolv.splitlines()[1:] == ["search dns.podman example.com", "nameserver 10.89.0.1", "nameserver 9.9.9.9"]


def test_ipv6_network_gets_a_unique_local_subnet_beside_ipv4():
    network = config.build(config.CreateRequest("six", ipv6=True), [], set())
    v4, v6 = (s.network for s in network.subnets)
    assert v4 == ipaddress.ip_network("10.89.0.0/24") and v6.prefixlen == 64
    assert v6.subnet_of(ipaddress.ip_network("fd00::/8")) and network.subnets[1].gateway == str(v6.network_address + 1)
    assert network.ipv6_enabled


def test_reserved_network_names_are_refused():
    with pytest.raises(InvalidArgument, match='^cannot create network with name "host" because it conflicts with a valid network mode$'):
        config.build(config.CreateRequest("host"), [], set())


def test_ports_are_discarded_with_a_warning_without_a_network_of_its_own():
    from pyctr.container import specrules
    from pyctr.container.spec import ContainerSpec

    spec = ContainerSpec.for_image("x")
    spec.network.mode, spec.network.ports = "host", flags.publish("8080:80")
    assert specrules.warnings(spec, False) == [specrules.PORTS_DISCARDED]
    spec.network.mode = None
    assert specrules.warnings(spec, False) == []


def test_dns_search_replaces_the_network_domain_as_podman():
    names = etcfiles.BridgeNames("web", ["10.89.0.3", "10.90.0.3"], "10.89.0.1", ["10.89.0.1"], ["dns.podman"])
    resolv = etcfiles.resolv_conf_for("private", dns_search=["x.y"], bridge=names, host_resolv="/nonexistent")
    assert "search x.y\n" in resolv and "dns.podman" not in resolv and "nameserver 10.89.0.1" in resolv
    hosts = etcfiles.hosts_content("hh", bridge=names)
    assert hosts.splitlines()[-2:] == ["10.89.0.3\thh web", "10.90.0.3\thh web"]  # a line per network
