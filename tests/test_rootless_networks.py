"""Rootless bridge networks: netavark and aardvark-dns inside the user's rootless network
namespace, slirp4netns giving it the way out and bringing published ports in."""

import os

import pytest

from tests.conftest import fetch, free_port, wait_for
from tests.harness.images import WEB_PAGE
from tests.test_rootless import rootless, tun_for_users  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="runs pyctr as another user, set up as root")
HTTPD = ["httpd", "-f", "-p", "80", "-h", "/www"]






def user_processes(user, name: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == user.pw.pw_uid:
                argv = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
                if argv[0].endswith(name.encode()):
                    found.append(b" ".join(argv).decode(errors="replace"))
        except OSError:
            continue
    return found


def _is_rootless_slirp(user, pid: int) -> bool:
    try:
        if os.stat(f"/proc/{pid}").st_uid != user.pw.pw_uid:
            return False
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        return False
    return argv[0].endswith(b"slirp4netns") and any(b"rootless-netns" in a for a in argv)


def test_names_resolve_and_ports_reach_containers_on_a_rootless_network(rootless, registry, tun_for_users):  # noqa: F811
    web = f"{registry.host}/test/web"
    rootless.pyctr("pull", "-q", web)
    port = free_port()
    assert rootless.pyctr("network", "create", "rlappnet").stdout == "rlappnet\n"
    try:
        rootless.pyctr("run", "-d", "--name", "rldb", "--network", "rlappnet", "--network-alias", "database", web, *HTTPD)
        out = rootless.pyctr("run", "--rm", "--network", "rlappnet", web, "wget", "-qO-", "http://rldb/", "http://database/")
        assert out.stdout == WEB_PAGE * 2
        rootless.pyctr("run", "-d", "--name", "rlpub", "--network", "rlappnet", "-p", f"127.0.0.1:{port}:80", web, *HTTPD)
        assert wait_for(lambda: fetch(f"http://127.0.0.1:{port}/") == WEB_PAGE)
        assert rootless.pyctr("port", "rlpub").stdout == f"80/tcp -> 127.0.0.1:{port}\n"
        assert any("rootless-netns" in p for p in user_processes(rootless, "slirp4netns"))
        # The bridge lives in the user's namespace, not on the host.
        bridge = rootless.pyctr("network", "inspect", "rlappnet", "--format", "{{.NetworkInterface}}").stdout.strip()
        assert f": {bridge}:" in rootless.pyctr("unshare", "--rootless-netns", "ip", "-o", "link").stdout
        assert not os.path.exists(f"/sys/class/net/{bridge}")
        # slirp4netns of the user's namespace killed: the next container brings a new one, the
        # ports published before come back, names still resolve.
        pids = [int(e) for e in os.listdir("/proc") if e.isdigit() and _is_rootless_slirp(rootless, int(e))]
        assert len(pids) == 1
        os.kill(pids[0], 9)
        assert wait_for(lambda: fetch(f"http://127.0.0.1:{port}/") is None)
        out = rootless.pyctr("run", "--rm", "--network", "rlappnet", web, "wget", "-qO-", "http://rldb/").stdout
        assert out == WEB_PAGE
        assert wait_for(lambda: fetch(f"http://127.0.0.1:{port}/") == WEB_PAGE)
    finally:
        rootless.pyctr("rm", "-fa", "-t", "0")
        rootless.pyctr("network", "rm", "rlappnet")
    # The last container gone, the user's network namespace goes too, and the port is free.
    assert not any("rootless-netns" in p for p in user_processes(rootless, "slirp4netns"))
    assert fetch(f"http://127.0.0.1:{port}/") is None
    assert not list((rootless.runtime / "pyctr" / "networks" / "netns").iterdir())
