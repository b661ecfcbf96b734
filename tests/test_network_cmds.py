"""`network` commands as podman 4.3.1's: create, ls (--filter, --format, --no-trunc, -q), inspect,
rm, prune, exists, and connect/disconnect/reload on running containers (real netavark, aardvark-dns
and iptables). Outputs and error texts recorded from podman 4.3.1 on this machine (its `podman`
network is pyctr's `pyctr`).

Bridges, firewall rules and DNS entries are host-wide: the `net` fixture removes every container
and network of the test even when it fails, and subnets are given explicitly (10.123.x.0/24).
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.conftest import fetch, free_port, wait_for

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="bridge networks as root")
HTTPD = ["httpd", "-f", "-p", "80", "-h", "/www"]
WEB_PAGE = "hello from pyctr\n"
INSPECT_TEMPLATE = "{{.Name}} {{.Driver}} {{.NetworkInterface}} {{.Internal}} {{.DNSEnabled}} {{.Labels}} {{.Options}}"


@pytest.fixture
def net(pyctr):
    """pyctr, and afterwards: every container and network of the store removed, pass or fail."""
    yield pyctr
    pyctr("rm", "-fa", "-t", "0", check=False)
    names = [n for n in pyctr("network", "ls", "-q", check=False).stdout.split() if n != "pyctr"]
    if names:
        pyctr("network", "rm", "-f", *names, check=False)


def err(result) -> tuple[int, str]:
    return result.returncode, result.stderr.strip()


def ls(pyctr, *args) -> list[str]:
    return pyctr("network", "ls", "-q", *args).stdout.split()


def filtered(pyctr, *filters: str) -> list[str]:
    return ls(pyctr, *[a for f in filters for a in ("--filter", f)])


def test_create_and_inspect(net):
    assert net("network", "create", "t2a").stdout == "t2a\n"
    out = net("network", "create", "--subnet", "10.123.7.0/24", "--gateway", "10.123.7.254", "--ip-range",
              "10.123.7.128/25", "--label", "a=b", "--label", "c", "--internal", "-o", "mtu=1400", "t2b").stdout
    assert out == "t2b\n"
    text = net("network", "inspect", "t2b").stdout
    assert text.startswith('[\n     {\n          "name": "t2b",\n          "id": "')  # podman's 5-space indent
    (doc,) = json.loads(text)
    assert list(doc) == ["name", "id", "driver", "network_interface", "created", "subnets", "ipv6_enabled",
                         "internal", "dns_enabled", "labels", "options", "ipam_options"]
    assert re.fullmatch(r"[0-9a-f]{64}", doc["id"]) and re.fullmatch(r"pyctr\d+", doc["network_interface"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", doc["created"])
    assert doc["subnets"] == [{"subnet": "10.123.7.0/24", "gateway": "10.123.7.254",
                               "lease_range": {"start_ip": "10.123.7.129", "end_ip": "10.123.7.255"}}]
    assert (doc["driver"], doc["ipv6_enabled"], doc["internal"], doc["dns_enabled"]) == ("bridge", False, True, True)
    assert (doc["labels"], doc["options"], doc["ipam_options"]) == ({"a": "b", "c": ""}, {"mtu": "1400"},
                                                                   {"driver": "host-local"})
    (plain,) = json.loads(net("network", "inspect", "-f", "json", "t2a").stdout)
    assert "labels" not in plain and "options" not in plain and plain["subnets"][0]["gateway"].endswith(".1")
    # A template sees podman's types.Network: Go field names, subnets as structs.
    assert net("network", "inspect", "-f", INSPECT_TEMPLATE, "t2b", "t2a").stdout == \
        f"t2b bridge {doc['network_interface']} true true map[a:b c:] map[mtu:1400]\n" \
        f"t2a bridge {plain['network_interface']} false true map[] map[]\n"
    assert net("network", "inspect", "--format", "{{range .Subnets}}{{.Subnet}} {{.Gateway}} {{.LeaseRange}}{{end}} "
               "{{.ID}} {{.IPAMOptions}}", "t2b").stdout == \
        f"10.123.7.0/24 10.123.7.254 {{10.123.7.129 10.123.7.255}} {doc['id']} map[driver:host-local]\n"
    created = doc["created"].replace("T", " ")[:-1] + " +0000 UTC"
    assert net("network", "inspect", "-f", "{{.Created}}", "t2b").stdout == created + "\n"
    assert json.loads(net("network", "inspect", "-f", "{{json .}}", "t2b").stdout) == [doc]
    # by ID prefix too
    assert net("network", "inspect", "-f", "{{.Name}}", doc["id"][:12]).stdout == "t2b\n"
    bad = net("network", "inspect", "-f", "{{.name}}", "t2b", check=False)
    assert err(bad) == (125, 'Error: inspecting object: printing inspect output: template: inspect:1:13: executing '
                             '"inspect" at <.name>: can\'t evaluate field name in type interface {}')


def test_create_errors_and_default_names(net):
    net("network", "create", "t2a")
    assert err(net("network", "create", "t2a", check=False)) == \
        (125, "Error: network name t2a already used: network already exists")
    assert err(net("network", "create", "bad name", check=False)) == \
        (125, "Error: network name bad name invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument")
    assert err(net("network", "create", "x1", "x2", check=False)) == (125, "Error: accepts at most 1 arg(s), received 2")
    assert err(net("network", "create", "-d", "nosuch", "x1", check=False))[0] == 125
    # No name: the next free pyctrN, which is also its bridge's name (podman: podmanN).
    name = net("network", "create").stdout.strip()
    assert re.fullmatch(r"pyctr\d+", name)
    assert net("network", "inspect", "-f", "{{.NetworkInterface}}", name).stdout == name + "\n"


def test_ls_table_formats_and_filters(net):
    net("network", "create", "--subnet", "10.123.8.0/24", "--label", "team=a", "--label", "x", "t2a")
    net("network", "create", "--subnet", "10.123.9.0/24", "t2b")
    ids = {n: net("network", "inspect", "-f", "{{.ID}}", n).stdout.strip() for n in ("pyctr", "t2a", "t2b")}
    table = net("network", "ls").stdout.splitlines()
    assert table[0] == "NETWORK ID    NAME        DRIVER"
    assert table[1:] == [f"{ids[n][:12]}  {n:<10}  bridge" for n in ("pyctr", "t2a", "t2b")]
    assert net("network", "ls", "--no-trunc").stdout.splitlines()[2] == f"{ids['t2a']}  t2a         bridge"
    assert net("network", "ls", "--noheading").stdout.splitlines()[0].startswith(ids["pyctr"][:12])
    assert ls(net) == ["pyctr", "t2a", "t2b"]  # -q: names, as podman 4.3.1
    assert net("network", "list", "-q").stdout.split() == ["pyctr", "t2a", "t2b"]
    docs = json.loads(net("network", "ls", "--format", "json").stdout)
    assert [d["name"] for d in docs] == ["pyctr", "t2a", "t2b"] and docs[1]["id"] == ids["t2a"]
    assert net("network", "ls", "--format", "json").stdout.startswith('[\n  {\n    "name": "pyctr"')
    assert net("network", "ls", "--filter", "name=t2a", "--format",
               "{{.Name}} {{.ID}} {{.Labels}} {{.Options}} {{.IPAMOptions}} {{.IPv6Enabled}} {{.DNSEnabled}}").stdout \
        == f"t2a {ids['t2a'][:12]} team=a,x= map[] map[driver:host-local] false true\n"
    assert net("network", "ls", "--no-trunc", "--filter", "name=t2b", "--format", "{{.ID}}").stdout == ids["t2b"] + "\n"
    assert net("network", "ls", "--filter", "name=t2b", "--format", "{{range .Subnets}}{{.Subnet}}{{end}} "
               "{{json .Labels}} {{json .Subnets}}").stdout == \
        '10.123.9.0/24 "" [{"subnet":"10.123.9.0/24","gateway":"10.123.9.1"}]\n'
    heading = net("network", "ls", "--filter", "name=t2b", "--format",
                  "table {{.Name}} {{.ID}} {{.NetworkInterface}} {{.IPv6Enabled}} {{.DNSEnabled}} {{.IPAMOptions}}")
    assert heading.stdout.splitlines()[0].split() == ["NAME", "NETWORK", "ID", "NETWORK", "INTERFACE", "I", "PV", "6",
                                                      "ENABLED", "DNS", "ENABLED", "IPAM", "OPTIONS"]
    assert net("network", "ls", "--noheading", "--format", "table {{.Name}}").stdout.split() == ["pyctr", "t2a", "t2b"]
    bad = net("network", "ls", "--format", "{{.Nope}}", check=False)
    assert err(bad) == (125, 'Error: template: ls:1:13: executing "ls" at <.Nope>: can\'t evaluate field Nope in type '
                             'network.ListPrintReports')
    # Filters: the values of one key any, different keys all.
    assert filtered(net, "name=t2") == ["t2a", "t2b"]
    assert filtered(net, "name=t2a", "name=t2b") == ["t2a", "t2b"]
    assert filtered(net, "name=^t2a$", "id=" + ids["t2b"][:6]) == []
    assert filtered(net, "id=" + ids["t2b"][:6]) == ["t2b"]
    assert filtered(net, "driver=bridge") == ["pyctr", "t2a", "t2b"]
    assert filtered(net, "label=team") == ["t2a"] and filtered(net, "label=team=a") == ["t2a"]
    assert filtered(net, "label=team=b") == [] and filtered(net, "label!=team=a") == ["pyctr", "t2b"]
    assert filtered(net, "until=2000-01-01T00:00:00Z") == [] and filtered(net, "until=1h") == []
    # The default network is never dangling (podman's is not either).
    assert filtered(net, "dangling=true") == ["t2a", "t2b"] and filtered(net, "dangling=false") == ["pyctr"]
    # Nothing listed: the heading all the same, as podman; json: [].
    assert net("network", "ls", "--filter", "name=zzz").stdout == "NETWORK ID  NAME        DRIVER\n"
    assert net("network", "ls", "--filter", "name=zzz", "--format", "json").stdout == "[]\n"
    for item, message in (("foo=bar", 'invalid filter "foo"'), ("name!=x", 'invalid filter "name!"'),
                          ("name", "filter input must be in the form of filter=value: name is invalid"),
                          ("dangling=x", 'invalid dangling filter value "x"'),
                          ("until=x", 'failed to parse value as time or duration: "x"')):
        assert err(net("network", "ls", "--filter", item, check=False)) == (125, f"Error: {message}"), item


def test_inspect_rm_exists_errors(net):
    net("network", "create", "t2a")
    net("network", "create", "t2b")
    found = net("network", "inspect", "t2a", "nosuch", check=False)
    assert [d["name"] for d in json.loads(found.stdout)] == ["t2a"]
    assert err(found) == (125, "Error: inspecting object: network nosuch: unable to find network with name or ID "
                               "nosuch: network not found")
    none = net("network", "inspect", "nosuch", "nosuch2", check=False)
    assert none.stdout == "[]\n"
    assert err(none) == (125, "error inspecting object: network nosuch2: unable to find network with name or ID "
                              "nosuch2: network not found\nError: inspecting object: network nosuch: unable to find "
                              "network with name or ID nosuch: network not found")
    assert err(net("network", "inspect", check=False)) == (125, "Error: requires at least 1 arg(s), only received 0")
    assert net("network", "exists", "t2a").returncode == 0
    assert net("network", "exists", "nosuch", check=False).returncode == 1
    assert err(net("network", "exists", check=False)) == (125, "Error: accepts 1 arg(s), received 0")
    # rm prints each network as named (an ID prefix too); a missing one is exit 1.
    prefix = net("network", "inspect", "-f", "{{.ID}}", "t2b").stdout[:12]
    gone = net("network", "rm", "t2a", prefix, "nosuch", check=False)
    assert (gone.stdout, *err(gone)) == (f"t2a\n{prefix}\n", 1, "Error: unable to find network with name or ID "
                                                                "nosuch: network not found")
    assert ls(net) == ["pyctr"]
    assert err(net("network", "rm", "pyctr", check=False)) == (125, "Error: default network pyctr cannot be removed")
    assert err(net("network", "remove", "nosuch", check=False))[0] == 1
    assert err(net("network", "rm", check=False)) == (125, "Error: requires at least 1 arg(s), only received 0")


def test_prune_asks_then_removes(net):
    net("network", "create", "--label", "k=v", "t2a")
    net("network", "create", "t2b")
    question = ("WARNING! This will remove all networks not used by at least one container.\n"
                "Are you sure you want to continue? [y/N] ")
    no = net("network", "prune", input="n\n")
    assert no.stdout == question and ls(net) == ["pyctr", "t2a", "t2b"]
    eof = net("network", "prune", input="", check=False)
    assert (eof.stdout, *err(eof)) == (question, 125, "Error: EOF")
    # The question comes before the filters are checked, as podman's.
    bad = net("network", "prune", "--filter", "name=x", input="y\n", check=False)
    assert (bad.stdout, *err(bad)) == (question, 125, 'Error: invalid filter "name"')
    assert err(net("network", "prune", "-f", "--filter", "label", check=False)) == \
        (125, "Error: filter input must be in the form of filter=value: label is invalid")
    assert net("network", "prune", "--filter", "label=k=v", input="y\n").stdout == question + "t2a\n"
    assert net("network", "prune", "-f", "--filter", "until=2000-01-01T00:00:00Z").stdout == ""
    assert net("network", "prune", "-f", "--filter", "label!=k=v").stdout == "t2b\n"
    assert ls(net) == ["pyctr"]


def test_rm_of_a_network_in_use(net, image):
    net("network", "create", "--subnet", "10.123.10.0/24", "t2used")
    net("network", "create", "--subnet", "10.123.11.0/24", "t2free")
    net("create", "--name", "t2user", "--network", "t2used", image, "true")
    assert filtered(net, "dangling=false") == ["pyctr", "t2used"] and filtered(net, "dangling=true") == ["t2free"]
    assert err(net("network", "rm", "t2used", check=False)) == \
        (2, 'Error: "t2used" has associated containers with it. Use -f to forcibly delete containers and pods: '
            "network is being used")
    assert net("network", "prune", "-f").stdout == "t2free\n"
    assert net("network", "rm", "-f", "-t", "0", "t2used").stdout == "t2used\n"
    assert net("ps", "-aq").stdout == "" and ls(net) == ["pyctr"]


# -- running containers ----------------------------------------------------------------------




def answers(url: str) -> bool:
    return fetch(url, timeout=3) == WEB_PAGE




def ipv4(pyctr, container: str, interface: str) -> str | None:
    out = pyctr("exec", container, "ip", "-4", "-o", "addr", "show", "dev", interface, check=False).stdout
    found = re.search(r"inet (\S+)/", out)
    return found.group(1) if found else None


@root_only
def test_connect_and_disconnect_a_running_container(net, image, web):
    net("network", "create", "--subnet", "10.123.12.0/24", "t2front")
    net("network", "create", "--subnet", "10.123.13.0/24", "t2back")
    net("run", "-d", "--name", "t2web", "--network", "t2back", "--network-alias", "webby", web, *HTTPD)
    net("run", "-d", "--name", "t2app", "--network", "t2front", image, "sleep", "600")
    assert ipv4(net, "t2app", "eth1") is None
    assert net("network", "connect", "--alias", "app2", "t2back", "t2app").stdout == ""
    address = ipv4(net, "t2app", "eth1")
    assert address and address.startswith("10.123.13.") and ipv4(net, "t2app", "eth0").startswith("10.123.12.")
    networks = json.loads(net("inspect", "-f", "{{json .NetworkSettings.Networks}}", "t2app").stdout)
    assert sorted(networks) == ["t2back", "t2front"] and networks["t2back"]["IPAddress"] == address
    assert "app2" in networks["t2back"]["Aliases"]
    # The names of the second network, from its DNS server (aardvark-dns on its gateway), both ways.
    web_address = ipv4(net, "t2web", "eth0")
    lookup = net("exec", "t2app", "nslookup", "webby", "10.123.13.1").stdout
    assert f"Address: {web_address}" in lookup
    assert f"Address: {address}" in net("exec", "t2web", "nslookup", "app2").stdout
    assert net("exec", "t2app", "wget", "-qO-", f"http://{web_address}/").stdout == WEB_PAGE
    again = net("network", "connect", "t2back", "t2app", check=False)
    assert err(again)[0] == 125 and err(again)[1].endswith('is already connected to network "t2back": network is '
                                                           "already connected")
    assert err(net("network", "connect", "nosuch", "t2app", check=False)) == \
        (125, "Error: unable to find network with name or ID nosuch: network not found")
    assert err(net("network", "connect", "t2back", "nosuch", check=False)) == \
        (125, 'Error: no container with name or ID "nosuch" found: no such container')
    assert err(net("network", "connect", "t2back", check=False)) == (125, "Error: accepts 2 arg(s), received 1")
    # disconnect: the interface and the name go.
    assert net("network", "disconnect", "t2back", "t2app").stdout == ""
    assert ipv4(net, "t2app", "eth1") is None
    assert f"Address: {address}" not in net("exec", "t2web", "nslookup", "app2", check=False).stdout
    assert sorted(json.loads(net("inspect", "-f", "{{json .NetworkSettings.Networks}}", "t2app").stdout)) == ["t2front"]
    assert err(net("network", "disconnect", "t2back", "t2app", check=False)) == \
        (125, "Error: container t2app is not connected to network t2back")
    assert err(net("network", "disconnect", "nosuch", "t2app", check=False)) == \
        (125, "Error: unable to find network with name or ID nosuch: network not found")


@root_only
def test_connect_a_stopped_container_takes_effect_at_start(net, image):
    net("network", "create", "--subnet", "10.123.14.0/24", "t2one")
    net("network", "create", "--subnet", "10.123.15.0/24", "t2two")
    net("create", "--name", "t2later", "--network", "t2one", image, "sleep", "600")
    net("network", "connect", "--ip", "10.123.15.77", "t2two", "t2later")
    net("start", "t2later")
    assert ipv4(net, "t2later", "eth0").startswith("10.123.14.")
    assert ipv4(net, "t2later", "eth1") == "10.123.15.77"


@root_only
def test_connect_adds_the_network_dns_server(net, image):
    net("network", "create", "--subnet", "10.123.16.0/24", "t2one")
    net("network", "create", "--subnet", "10.123.17.0/24", "t2two")
    net("run", "-d", "--name", "t2a", "--network", "t2one", image, "sleep", "600")
    net("run", "-d", "--name", "t2b", "--network", "t2two", image, "sleep", "600")
    net("network", "connect", "t2two", "t2a")
    assert "nameserver 10.123.17.1" in net("exec", "t2a", "cat", "/etc/resolv.conf").stdout
    assert "Address: 10.123.17." in net("exec", "t2a", "nslookup", "t2b").stdout


def dnat_chains(port: int) -> list[str]:
    """The nat chains with the DNAT rule of a published host port (netavark's per-network chain)."""
    rules = subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True, check=True).stdout
    return sorted({line.split()[1] for line in rules.splitlines()
                   if line.startswith("-A ") and f"--dport {port} " in line and "-j DNAT" in line})


@root_only
def test_reload_sets_flushed_rules_up_again(net, image, web):
    net("network", "create", "--subnet", "10.123.18.0/24", "t2pub")
    port = free_port()
    web_id = net("run", "-d", "--name", "t2web", "--network", "t2pub", "-p", f"127.0.0.1:{port}:80", web,
                 *HTTPD).stdout.strip()
    url = f"http://127.0.0.1:{port}/"
    assert wait_for(lambda: answers(url))
    chains = dnat_chains(port)
    assert chains
    for chain in chains:  # only this network's chain: other tests' rules stay
        subprocess.run(["iptables", "-t", "nat", "-F", chain], check=True)
    assert not answers(url)
    assert net("network", "reload", "t2web").stdout == web_id + "\n"
    assert wait_for(lambda: answers(url))
    assert net("network", "reload", "--all").stdout == web_id + "\n"
    assert answers(url)
    stopped = net("create", "--name", "t2stopped", image, "true").stdout.strip()
    assert err(net("network", "reload", "-l", check=False)) == \
        (125, "Error: cannot reload network unless container network has been configured: container state improper")
    assert net("network", "reload", "-a").stdout == web_id + "\n"  # --all: the running ones
    both = net("network", "reload", "nosuch", "t2web", check=False)
    assert (both.stdout, *err(both)) == (web_id + "\n", 125, 'Error: no container with name or ID "nosuch" found: '
                                                             "no such container")
    assert stopped
    for args, message in ((["-a", "-l"], "--all and --latest cannot be used together"),
                          (["-a", "t2web"], "no arguments are needed with --all"),
                          (["-l", "t2web"], "--latest and containers cannot be used together"),
                          ([], "you must provide at least one name or id")):
        assert err(net("network", "reload", *args, check=False)) == (125, f"Error: {message}"), args
