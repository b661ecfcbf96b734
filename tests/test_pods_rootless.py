"""Pods rootless: the infra container in slirp4netns (the default rootless network), published ports,
members on localhost. Run under `flock /tmp/pyctr-rootless-tests.lock`, as test_rootless (it creates a user)."""

import os

import pytest

from tests.conftest import fetch, free_port, wait_for
from tests.harness.images import WEB_PAGE
from tests.test_pods import HTTPD
from tests.test_rootless import rootless, tun_for_users  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="runs pyctr as another user, set up as root")


def test_a_rootless_pod(rootless, registry, tun_for_users):  # noqa: F811
    web = f"{registry.host}/test/web"
    rootless.pyctr("pull", "-q", web)
    port = free_port()
    try:
        pod_id = rootless.pyctr("pod", "create", "--name", "rlshop", "-p", f"127.0.0.1:{port}:80").stdout.strip()
        rootless.pyctr("run", "-d", "--pod", "rlshop", "--name", "rlfront", web, *HTTPD)
        rootless.pyctr("run", "-d", "--pod", "rlshop", "--name", "rlback", web, "httpd", "-f", "-p", "8081", "-h", "/www")
        assert wait_for(lambda: fetch(f"http://127.0.0.1:{port}/") is not None)
        assert fetch(f"http://127.0.0.1:{port}/") == WEB_PAGE
        assert rootless.pyctr("exec", "rlfront", "wget", "-qO-", "http://localhost:8081/").stdout == WEB_PAGE
        assert rootless.pyctr("exec", "rlback", "hostname").stdout == "rlshop\n"
        assert rootless.pyctr("pod", "stop", "-t", "1", "rlshop").stdout == f"{pod_id}\n"
        assert rootless.pyctr("pod", "ps", "--format", "{{.Status}}").stdout == "Exited\n"
        assert rootless.pyctr("pod", "rm", "rlshop").stdout == f"{pod_id}\n"
        assert rootless.pyctr("ps", "-aq").stdout == ""
    finally:
        rootless.pyctr("pod", "rm", "-af", check=False)
