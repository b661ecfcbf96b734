"""Pods as root, with real runc and bridge networks: containers sharing an infra container's network,
IPC and UTS namespaces. The acceptance of issue 11's pods is here: a member reaches another on
localhost, the host reaches the pod's published port, the hostname is shared, and pod stop, start
and rm do what podman 4.3.1's do (its texts and exit codes, recorded below).
"""

import json
import os

import pytest

from tests.conftest import fetch, free_port, wait_for
from tests.harness.images import WEB_PAGE

HTTPD = ["httpd", "-f", "-p", "80", "-h", "/www"]
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="bridge networks as root")

# podman 4.3.1, recorded (pod and container IDs replaced by {pod}, {front}, {infra}).
PODMAN_RM_RUNNING = (
    "Error: 2 errors occurred:\n"
    "\t* removing container {front} from pod {pod}: cannot remove container {front} as it is running - running or "
    "paused containers cannot be removed without force: container state improper\n"
    "\t* removing container {infra} from pod {pod}: a container that depends on container {infra} could not be "
    "removed: container state improper\n\n\n")
PODMAN_PORTS_IN_POD = ("Error: invalid config provided: published or exposed ports must be defined when the pod is "
                       "created: network cannot be configured when it is shared with a pod\n")
PODMAN_HOSTNAME_IN_POD = ("Error: invalid config provided: cannot set hostname when joining the pod UTS namespace: "
                          "invalid configuration\n")
PODMAN_NO_SUCH_POD = "Error: no pod with name or ID {name} found: no such pod\n"
PODMAN_PS_HEADER = "POD ID        NAME        STATUS      CREATED                 INFRA ID      # OF CONTAINERS\n"


@pytest.fixture
def cleanup(pyctr):
    """Pods and containers go even when the test fails (their bridge setups are host-wide)."""
    yield
    pyctr("pod", "rm", "-af", check=False)
    pyctr("rm", "-af", check=False)








@root_only
def test_shop_acceptance(pyctr, web, cleanup):
    """issue 11: `pod create -p PORT:80 --name shop`, a front and a back in it."""
    port = free_port()
    pod_id = pyctr("pod", "create", "-p", f"{port}:80", "--name", "shop").stdout.strip()
    assert len(pod_id) == 64
    infra_id = pyctr("pod", "inspect", "shop", "--format", "{{.InfraContainerID}}").stdout.strip()
    front = pyctr("run", "-d", "--pod", "shop", "--name", "front", web, *HTTPD).stdout.strip()
    pyctr("run", "-d", "--pod", "shop", "--name", "back", web, "httpd", "-f", "-p", "8081", "-h", "/www")
    # the host reaches the pod's published port; a member reaches another on localhost
    assert wait_for(lambda: fetch(f"http://127.0.0.1:{port}/") is not None)
    assert fetch(f"http://127.0.0.1:{port}/") == WEB_PAGE
    assert wait_for(lambda: pyctr("exec", "front", "wget", "-qO-", "http://localhost:8081/", check=False).returncode == 0)
    assert pyctr("exec", "front", "wget", "-qO-", "http://localhost:8081/").stdout == WEB_PAGE
    assert pyctr("exec", "back", "wget", "-qO-", "http://127.0.0.1:80/").stdout == WEB_PAGE
    # the pod's name is every member's hostname (a shared UTS namespace)
    assert pyctr("exec", "front", "hostname").stdout == "shop\n"
    assert pyctr("exec", "back", "cat", "/etc/hostname").stdout == "shop\n"
    # the members know each other's names: each running one has a line in the shared /etc/hosts (podman's)
    hosts = pyctr("exec", "front", "cat", "/etc/hosts").stdout
    assert hosts.endswith("127.0.0.1\tfront\n127.0.0.1\tback\n") and f"\tshop {pod_id[:12]}-infra\n" in hosts
    assert pyctr("exec", "back", "wget", "-qO-", "http://front:80/").stdout == WEB_PAGE
    same = [pyctr("exec", n, "readlink", f"/proc/1/ns/{k}").stdout for n in ("front", "back") for k in ("net", "ipc", "uts")]
    assert same[:3] == same[3:]
    assert pyctr("inspect", "front", "--format", "{{.Pod}} {{.HostConfig.NetworkMode}}").stdout == \
        f"{pod_id} container:{infra_id}\n"
    out = pyctr("ps", "--pod", "--format", "{{.Names}} {{.Pod}} {{.PodName}}", "--sort", "names").stdout
    assert out.splitlines() == sorted(f"{n} {pod_id[:12]} shop" for n in (f"{pod_id[:12]}-infra", "back", "front"))
    assert pyctr("ps", "-a", "--filter", "pod=shop", "-q").stdout.count("\n") == 3
    assert pyctr("ps", "-a", "--filter", "pod=nothere", "-q").stdout == ""
    ps = pyctr("pod", "ps").stdout
    assert ps.startswith(PODMAN_PS_HEADER.split("CREATED")[0])
    assert ps.splitlines()[1].split()[:3] == [pod_id[:12], "shop", "Running"] and ps.splitlines()[1].endswith("  3")

    # pod rm without -f of a running pod: podman's error, exit 125, and the pod stays whole
    result = pyctr("pod", "rm", "shop", check=False)
    back_id = pyctr("inspect", "back", "--format", "{{.Id}}").stdout.strip()
    assert result.returncode == 125
    assert result.stderr.startswith("Error: 3 errors occurred:\n")
    assert f"cannot remove container {front} as it is running" in result.stderr
    assert f"cannot remove container {back_id} as it is running" in result.stderr
    assert f"a container that depends on container {infra_id} could not be removed" in result.stderr
    assert pyctr("pod", "ps", "--format", "{{.Status}} {{.NumberOfContainers}}").stdout == "Running 3\n"

    # stop: every container exits, the infra one last; start: all run again, the page answers
    assert pyctr("pod", "stop", "-t", "1", "shop").stdout == f"{pod_id}\n"
    assert pyctr("pod", "ps", "--format", "{{.Status}}", "--ctr-status").stdout == "Exited\n"
    assert pyctr("ps", "-a", "--filter", "pod=shop", "--format", "{{.Exited}}").stdout.split() == ["true"] * 3
    assert pyctr("pod", "start", "shop").stdout == f"{pod_id}\n"
    assert pyctr("pod", "ps", "--format", "{{.Status}}").stdout == "Running\n"
    assert wait_for(lambda: fetch(f"http://127.0.0.1:{port}/") is not None)

    # rm -f: the pod and its containers go
    assert pyctr("pod", "rm", "-f", "shop").stdout == f"{pod_id}\n"
    assert pyctr("ps", "-aq").stdout == ""
    assert pyctr("pod", "ps", "-q").stdout == ""
    assert pyctr("pod", "exists", "shop", check=False).returncode == 1


@root_only
def test_pod_lifecycle_and_errors(pyctr, image, cleanup):
    pod_id = pyctr("pod", "create", "--name", "p1", "--label", "tier=a").stdout.strip()
    assert pyctr("pod", "exists", "p1").returncode == 0
    assert pyctr("pod", "ps", "--format", "{{.Name}} {{.Status}} {{.Labels}} {{.NumberOfContainers}}").stdout == \
        "p1 Created map[tier:a] 1\n"
    # a name is taken once
    again = pyctr("pod", "create", "--name", "p1", check=False)
    assert (again.returncode, again.stderr) == (125, 'Error: adding pod to state: name "p1" is in use: pod already exists\n')
    # a member may not publish ports nor set its hostname (podman's texts)
    result = pyctr("create", "--pod", "p1", "-p", "8080:80", image, "true", check=False)
    assert (result.returncode, result.stderr) == (125, PODMAN_PORTS_IN_POD)
    result = pyctr("create", "--pod", "p1", "--hostname", "x", image, "true", check=False)
    assert (result.returncode, result.stderr) == (125, PODMAN_HOSTNAME_IN_POD)
    result = pyctr("create", "--pod", "nope", image, "true", check=False)
    assert (result.returncode, result.stderr) == (125, PODMAN_NO_SUCH_POD.format(name="nope"))
    # run --pod starts the infra container first
    pyctr("run", "-d", "--pod", "p1", "--name", "m1", image, "sleep", "100")
    assert pyctr("pod", "ps", "--format", "{{.Status}}", "--filter", "name=p1").stdout == "Running\n"
    assert pyctr("pod", "pause", "p1").stdout == f"{pod_id}\n"
    assert pyctr("pod", "ps", "--format", "{{.Status}}").stdout == "Paused\n"
    pyctr("pod", "unpause", "p1")
    assert pyctr("pod", "kill", "p1").stdout == f"{pod_id}\n"
    assert wait_for(lambda: pyctr("pod", "ps", "--format", "{{.Status}}").stdout == "Exited\n")
    pyctr("pod", "restart", "p1")
    assert pyctr("pod", "ps", "--format", "{{.Status}}").stdout == "Running\n"
    # --pod new:NAME makes the pod
    pyctr("create", "--pod", "new:p2", "--name", "m2", image, "true")
    assert pyctr("pod", "ps", "--format", "{{.Name}} {{.ContainerNames}}", "--filter", "name=p2").stdout.endswith(",m2\n")
    # missing pods: rm exits 1, stop 125; --ignore says nothing
    result = pyctr("pod", "rm", "nope", check=False)
    assert (result.returncode, result.stderr) == (1, PODMAN_NO_SUCH_POD.format(name="nope"))
    result = pyctr("pod", "stop", "nope", check=False)
    assert (result.returncode, result.stderr) == (125, PODMAN_NO_SUCH_POD.format(name="nope"))
    assert pyctr("pod", "stop", "--ignore", "nope").stdout == ""
    assert pyctr("pod", "exists", "nope", check=False).returncode == 1
    # inspect finds pods too (after containers and images), as podman's
    assert pyctr("inspect", "p1", "--format", "{{.Name}} {{.NumContainers}}").stdout == "p1 2\n"
    result = pyctr("inspect", "--type", "pod", "nope", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (125, "[]\n", "Error: inspecting object: no such pod nope\n")
    # the infra container goes only with its pod (podman's error, 125)
    infra_id = pyctr("pod", "inspect", "p1", "--format", "{{.InfraContainerID}}").stdout.strip()
    result = pyctr("rm", "-f", infra_id, check=False)
    assert (result.returncode, result.stderr) == (125, f"Error: container {infra_id} is the infra container of pod "
                                                  f"{pod_id} and cannot be removed without removing the pod\n")
    # a pod whose infra container alone runs is removed without -f (podman stops it)
    pyctr("pod", "create", "--name", "p3")
    pyctr("pod", "start", "p3")
    assert pyctr("pod", "ps", "--format", "{{.Status}}", "--filter", "name=p3").stdout == "Running\n"
    assert pyctr("pod", "rm", "p3").returncode == 0
    # prune takes the pods none of whose containers runs
    assert pyctr("pod", "prune", "-f").stdout != ""
    assert pyctr("pod", "ps", "--format", "{{.Name}}").stdout == "p1\n"
    document = json.loads(pyctr("pod", "inspect", "p1").stdout)
    assert document["Name"] == "p1" and document["SharedNamespaces"] == ["ipc", "net", "uts"]
    assert [c["Name"] for c in document["Containers"]] == [f"{pod_id[:12]}-infra", "m1"]
    # what is not built says so in one line
    for args in (["pod", "create", "--blkio-weight", "100"], ["pod", "create", "--userns", "auto"],
                 ["pod", "clone", "--uidmap", "0:1:1", "p1"]):
        result = pyctr(*args, check=False)
        assert result.returncode == 125 and result.stderr.count("\n") == 1 and "not built" in result.stderr


def test_pod_status_words():
    from pyctr.engine.pods import pod_status

    assert pod_status([]) == "Created"
    assert pod_status(["running", "running"]) == "Running"
    assert pod_status(["running", "exited"]) == "Degraded"
    assert pod_status(["paused", "paused"]) == "Paused"
    assert pod_status(["exited", "exited"]) == "Exited"
    assert pod_status(["exited", "created"]) == "Stopped"
    assert pod_status(["created"]) == "Created"


def test_joining_a_pod_sets_the_shared_namespaces():
    from pyctr.container.spec import ContainerSpec
    from pyctr.pod.members import join
    from pyctr.pod.store import PodRecord

    pod = PodRecord("p" * 64, "shop", 0.0, {"share": ["ipc", "net", "uts"]}, infra_id="i" * 64)
    spec = ContainerSpec.for_image("busybox")
    join(spec, pod)
    assert spec.lifecycle.pod == "p" * 64
    assert spec.network.mode == spec.namespaces.ipc == spec.namespaces.uts == "container:" + "i" * 64
    assert spec.namespaces.pid == ""
    explicit = ContainerSpec.for_image("busybox")
    explicit.network.mode, explicit.namespaces.ipc = "host", "host"  # podman: an explicit mode wins
    join(explicit, pod)
    assert (explicit.network.mode, explicit.namespaces.ipc) == ("host", "host")


# podman 4.3.1's texts and exit codes for bad pod commands, recorded.
PODMAN_BAD_POD_COMMANDS = [
    (["pod", "ps", "--filter", "status=foo"], 125, "Error: foo is not a valid pod status\n"),
    (["pod", "ps", "--filter", "bad=1"], 125, "Error: bad is an invalid filter\n"),
    (["pod", "ps", "--sort", "bad"], 125, "Error: invalid option for --sort, options are: id, names, or number\n"),
    (["pod", "inspect"], 125, "Error: no names or ids specified\n"),
    (["pod", "stop"], 125, "Error: you must provide at least one name or id\n"),
    (["pod", "stop", "-a", "-l"], 125, "Error: --all and --latest cannot be used together\n"),
    (["pod", "stop", "-a", "x"], 125, "Error: no arguments are needed with --all\n"),
    (["pod", "kill", "nope"], 125, "Error: no pod with name or ID nope found: no such pod\n"),
    (["pod", "kill", "-s", "FOO", "x"], 125, "Error: invalid signal: FOO\n"),
    (["pod", "exists"], 125, "Error: accepts 1 arg(s), received 0\n"),
    (["pod", "inspect", "nope", "nope2"], 125,
     "error inspecting object: no such pod nope2\nError: inspecting object: no such pod nope\n"),
    (["pod", "start", "nope"], 125, "Error: no pod with name or ID nope found: no such pod\n"),
    (["pod", "create", "a", "b"], 125, "Error: accepts at most 1 arg(s), received 2\n"),
    (["pod", "create", "--name", "a", "b"], 125, "Error: cannot specify --name and NAME at the same time\n"),
    (["pod", "create", "--infra=false", "-p", "8080:80"], 125,
     "Error: you must have an infra container to publish port bindings to the host\n"),
    (["pod", "create", "--share", "foo"], 125,
     "Error: invalid kernel namespace to share: foo. Options are: cgroup, ipc, net, pid, uts or none\n"),
    (["pod", "create", "--infra=false", "--share", "net"], 125,
     "Error: cannot set share(net) namespaces without an infra container\n"),
    (["pod", "create", "--network", "host", "-p", "8080:80"], 125,
     "Error: PortMappings can only be used with Bridge or slirp4netns networking\n"),
    (["pod", "rm", "-f", "nope"], 0, ""),
    (["pod", "ps", "--filter", "ctr-number=x", "--noheading"], 0, ""),
]


@pytest.mark.parametrize("args, code, stderr", PODMAN_BAD_POD_COMMANDS)
def test_bad_pod_commands_as_podman(pyctr, args, code, stderr):
    result = pyctr(*args, check=False)
    assert (result.returncode, result.stderr) == (code, stderr)
    assert not pyctr("pod", "ps", "-q").stdout  # nothing was made


@root_only
def test_a_pod_answers_to_its_name_on_its_network(pyctr, web, cleanup):
    network = f"podnet{os.getpid()}"
    pyctr("network", "create", network)
    try:
        pyctr("pod", "create", "--name", "named", "--network", network)
        pyctr("run", "-d", "--pod", "named", "--name", "inside", web, *HTTPD)
        # (the server in the pod may take a moment to listen)
        assert wait_for(lambda: pyctr("run", "--rm", "--network", network, web, "wget", "-qO-", "http://named/",
                                      check=False).stdout == WEB_PAGE, timeout=30)
        assert pyctr("pod", "ps", "--format", "{{.Networks}}").stdout == f"{network}\n"
    finally:
        pyctr("pod", "rm", "-af", check=False)
        pyctr("network", "rm", "-f", network, check=False)


@root_only
def test_the_engine_api(store, image):
    """engine.pods, as a Python caller uses it."""
    from pyctr import ContainerSpec, Engine, PodSpec

    engine = Engine(store.root, store.runroot)
    pod = engine.pods.create(PodSpec(name="api", labels={"app": "x"}, infra_name="api-infra"))
    try:
        spec = ContainerSpec.for_image(image, ["sleep", "100"])
        spec.lifecycle.pod, spec.lifecycle.name = "api", "api-member"
        engine.containers.run(spec)
        [info] = engine.pods.list(filters=["label=app=x"])
        assert (info.id, info.status, [m.name for m in info.containers]) == (pod.id, "Running", ["api-infra", "api-member"])
        assert engine.containers.get("api-member") and engine.pods.exists(pod.id[:10])
    finally:
        assert all(r.ok for r in engine.pods.remove(["api"], force=True))
    assert engine.pods.list() == [] and not engine.containers.exists("api-infra")


@root_only
def test_system_reset_takes_pods(pyctr, image, store):
    pyctr("run", "-d", "--pod", "new:gone", image, "sleep", "100")
    pyctr("system", "reset", "-f")
    assert pyctr("pod", "ps", "-q").stdout == "" and pyctr("ps", "-aq").stdout == ""
    assert not (store.root / "pods").exists()
