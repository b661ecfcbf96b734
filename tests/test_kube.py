"""Kubernetes YAML (issue 11): `generate kube`, `kube play`, `kube down` and `play kube`.

Unit tests hold the converters (pyctr.kube.generate, pyctr.kube.play) against podman 4.3.1's output,
recorded in tests/golden/podman-4.3.1-generate-kube-shop.yaml (`podman generate kube -s kshop` of the
pod made below in PODMAN_SHOP), and against Kubernetes' own schemas (kubernetes-validate --strict).
The acceptance runs as root with real runc: a pod's YAML played into another store recreates it.
"""

import os
import random
from pathlib import Path

import pytest

from pyctr.container.create import container_args
from pyctr.container.spec import ContainerSpec, Mount, PortMapping
from pyctr.container.store import ContainerRecord
from pyctr.errors import InvalidArgument
from pyctr.kube import generate, play, yamlio
from tests.conftest import Pyctr, Store, fetch, free_port, wait_for
from tests.harness.images import WEB_PAGE

GOLDEN = Path(__file__).parent / "golden" / "podman-4.3.1-generate-kube-shop.yaml"
# How the golden file was made (podman 4.3.1, the test web image):
PODMAN_SHOP = """
podman pod create -p 18081:80 --name kshop
podman create --pod kshop --name kfront localhost:5050/test/web httpd -f -p 80 -h /www
podman create --pod kshop --name kback -e FOO=bar -w /tmp --cap-add NET_ADMIN --cap-drop CHOWN localhost:5050/test/web httpd -f -p 8081 -h /www
podman generate kube -s kshop
"""
WEB = "localhost:5050/test/web:latest"
WEB_CONFIG = {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"],
              "ExposedPorts": {"80/tcp": {}}, "User": "", "Entrypoint": [], "WorkingDir": ""}
POD_ID = "0c74a4feed168523de87ad1ace32c7f88f1080cdb008a570fb3755be632f1e77"
HTTPD = ["httpd", "-f", "-p", "80", "-h", "/www"]
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="bridge networks as root")
KUBERNETES = "1.37"  # a current Kubernetes release, whose schemas kubernetes-validate carries


def record(name: str, spec: ContainerSpec, *, created: float = 1.0, image_config=None) -> ContainerRecord:
    image_config = WEB_CONFIG if image_config is None else image_config
    return ContainerRecord(os.urandom(32).hex(), name, created, spec.to_json(), "5da1029c5f3c", WEB, [],
                           workdir=spec.process.workdir or image_config.get("WorkingDir") or "/",
                           image_config=image_config)


def shop_records() -> list[ContainerRecord]:
    front = ContainerSpec.for_image(WEB, HTTPD)
    back = ContainerSpec.for_image(WEB, ["httpd", "-f", "-p", "8081", "-h", "/www"])
    back.process.env, back.process.workdir = {"FOO": "bar"}, "/tmp"
    back.security.cap_add, back.security.cap_drop = ["NET_ADMIN"], ["CHOWN"]
    return [record("kfront", front, created=1.0), record("kback", back, created=2.0)]


def _comparable(document: dict) -> dict:
    """A document without what differs from run to run (times, IDs, random node ports)."""
    document = yamlio.load(yamlio.dump([document]))[0]
    document["metadata"].pop("creationTimestamp", None)
    for key in list(document["metadata"].get("annotations") or {}):
        if "SandboxID" in key:
            document["metadata"]["annotations"][key] = "<pod ID>"
    for port in document["spec"].get("ports") or ():
        port["nodePort"] = "<random>"
    return document


def validate(documents: list[dict]) -> None:
    import kubernetes_validate

    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES, strict=True)  # raises ValidationError


# -- generate: unit ------------------------------------------------------------------------------

def test_generate_is_podmans():
    pod = generate.pod_document("kshop", shop_records(), pod_id=POD_ID,
                                ports=[{"host_port": 18081, "container_port": 80, "protocol": "tcp", "host_ip": ""}],
                                hostname="kshop")
    service = generate.service_document(pod)
    podman = yamlio.load(GOLDEN.read_text())
    assert [_comparable(d) for d in (service, pod)] == [_comparable(d) for d in podman]


def test_generated_documents_pass_kubernetes_validate():
    pod = generate.pod_document("kshop", shop_records(), pod_id=POD_ID, ports=[PortMapping(18081, 80)], hostname="kshop")
    validate([pod, generate.service_document(pod), generate.deployment_document(pod, 3)])
    validate(yamlio.load(GOLDEN.read_text()))  # (podman's own too)


def test_generate_a_container_alone(tmp_path):
    spec = ContainerSpec.for_image(WEB, ["-c", "echo hi"])
    spec.process.entrypoint = ["/bin/sh"]
    spec.network.ports = [PortMapping(18082, 80), PortMapping(5353, 53, "udp", "127.0.0.1")]
    spec.network.hostname = "solohost"
    spec.storage.mounts = [Mount("bind", "/data", str(tmp_path), ["ro"]), Mount("volume", "/vol", "kvol"),
                           Mount("tmpfs", "/scratch")]
    spec.storage.read_only = True
    spec.process.user = "1000:1000"
    spec.resources.memory, spec.resources.cpus = 64 << 20, 0.5
    spec.lifecycle.restart.name = "on-failure"
    spec.security.privileged = True
    pod = generate.pod_document("ksolo-pod", [record("ksolo", spec)], hostname="solohost")
    validate([pod, generate.service_document(pod)])
    assert pod["metadata"]["name"] == "ksolo-pod" and pod["spec"]["restartPolicy"] == "OnFailure"
    [ctr] = pod["spec"]["containers"]
    assert ctr["command"] == ["/bin/sh"] and ctr["args"] == ["-c", "echo hi"]
    assert ctr["ports"] == [{"containerPort": 53, "hostIP": "127.0.0.1", "hostPort": 5353, "protocol": "UDP"},
                            {"containerPort": 80, "hostPort": 18082}]
    assert ctr["resources"] == {"limits": {"cpu": "500m", "memory": "64Mi"}}
    assert ctr["securityContext"] == {"capabilities": {}, "privileged": True, "readOnlyRootFilesystem": True,
                                      "runAsUser": 1000, "runAsGroup": 1000}
    host = generate.dns_label(f"{str(tmp_path).strip('/')}-host", 57)
    assert ctr["volumeMounts"] == [{"mountPath": "/data", "name": host, "readOnly": True},
                                   {"mountPath": "/vol", "name": "kvol-pvc"},
                                   {"mountPath": "/scratch", "name": "scratch-tmpfs"}]
    assert pod["spec"]["volumes"] == [
        {"name": host, "hostPath": {"path": str(tmp_path), "type": "Directory"}},
        {"name": "kvol-pvc", "persistentVolumeClaim": {"claimName": "kvol"}},
        {"name": "scratch-tmpfs", "emptyDir": {"medium": "Memory"}}]


def test_generate_names_played_volumes_and_host_network():
    spec = ContainerSpec.for_image(WEB, ["sleep", "9"])
    spec.storage.mounts = [Mount("volume", "/scratch", "web-scratch")]
    pod = generate.pod_document("web", [record("web-box", spec)], pod_id=POD_ID, host_network=True,
                                empty_dirs={"web-scratch": "scratch"})
    validate([pod])
    assert pod["spec"]["hostNetwork"] is True and pod["spec"]["containers"][0]["name"] == "box"
    assert pod["spec"]["volumes"] == [{"name": "scratch", "emptyDir": {}}]
    [pod_plan] = play.plan([pod]).pods
    assert pod_plan.pod.network_mode == "host" and pod_plan.empty_dirs == ["web-scratch"]


def test_generate_leaves_out_what_the_image_says():
    spec = ContainerSpec.for_image(WEB)  # the image's CMD, environment and working directory
    spec.process.env = {"PATH": WEB_CONFIG["Env"][0][5:], "MORE": "1"}
    [ctr] = generate.pod_document("p", [record("plain", spec)])["spec"]["containers"]
    assert "command" not in ctr and "args" not in ctr and "workingDir" not in ctr
    assert ctr["env"] == [{"name": "MORE", "value": "1"}]


def test_quantities_and_names():
    assert [generate.memory_quantity(n) for n in (64 << 20, 1 << 30, 3 << 10, 1000)] == ["64Mi", "1Gi", "3Ki", "1000"]
    assert [generate.cpu_quantity(c) for c in (0.5, 1.0, 1.25)] == ["500m", "1", "1250m"]
    assert [play.quantity(q) for q in ("64Mi", "500m", "2", "1G")] == [64 << 20, 0.5, 2, 10**9]
    assert generate.dns_label("My_Web.App") == "myweb-app"
    assert generate.container_name(record("shop-front", ContainerSpec.for_image(WEB)), "shop") == "front"
    assert yamlio.dump([{"port": "80", "tty": "true", "text": "plain"}]) == 'port: "80"\ntext: plain\ntty: "true"\n'


# -- play: unit ----------------------------------------------------------------------------------

CONFIGMAP_PLAY = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: kdata
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: kconf
data:
  GREETING: hello
  COLOR: blue
---
apiVersion: v1
kind: Pod
metadata:
  name: kcm
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: box
    image: IMAGE
    command: ["sh", "-c"]
    args: ["echo $GREETING $MYCOLOR; cat /host/file; touch /data/made /scratch/made; sleep 1000"]
    env:
    - name: MYCOLOR
      valueFrom:
        configMapKeyRef: {name: kconf, key: COLOR}
    envFrom:
    - configMapRef: {name: kconf}
    volumeMounts:
    - {name: d, mountPath: /data}
    - {name: h, mountPath: /host, readOnly: true}
    - {name: scratch, mountPath: /scratch}
  volumes:
  - name: d
    persistentVolumeClaim: {claimName: kdata}
  - name: h
    hostPath: {path: HOSTPATH, type: Directory}
  - name: scratch
    emptyDir: {}
"""


def test_play_plan():
    documents = yamlio.load(CONFIGMAP_PLAY.replace("IMAGE", WEB).replace("HOSTPATH", "/srv/h"))
    the_plan = play.plan(documents, play.PlayOptions(publish=["8080:80"]))
    assert the_plan.volumes == ["kdata"]
    [pod] = the_plan.pods
    assert pod.pod.name == "kcm" and pod.pod.hostname == "kcm" and pod.empty_dirs == ["kcm-scratch"]
    assert pod.pod.ports == [PortMapping(8080, 80)]
    assert pod.host_paths == [play.HostPath("/srv/h")]
    [box] = pod.containers
    assert box.lifecycle.name == "kcm-box" and box.lifecycle.pod == "kcm" and box.lifecycle.restart.name == "no"
    assert box.process.stop_timeout == 1
    assert box.process.entrypoint == ["sh", "-c"] and box.process.command[0].startswith("echo")
    assert box.process.env == {"GREETING": "hello", "COLOR": "blue", "MYCOLOR": "blue"}
    assert box.storage.mounts == [Mount("volume", "/data", "kdata"), Mount("bind", "/host", "/srv/h", ["ro"]),
                                  Mount("volume", "/scratch", "kcm-scratch")]
    assert play.pod_names(documents) == ["kcm"]


def test_play_of_generate_gives_the_same_containers():
    """The round trip at the spec level: what generate writes, play reads back as asked."""
    pod = generate.pod_document("kshop", shop_records(), pod_id=POD_ID, ports=[PortMapping(18081, 80)], hostname="kshop")
    [pod_plan] = play.plan(yamlio.load(yamlio.dump([pod]))).pods
    assert pod_plan.pod.ports == [PortMapping(18081, 80)] and pod_plan.pod.hostname == "kshop"
    for spec, original in zip(pod_plan.containers, shop_records()):
        want = original.spec
        assert spec.lifecycle.name == f"kshop-{original.name}"
        assert spec.image.name == WEB and spec.process.env == want.process.env
        # (podman's way: the CMD given becomes Kubernetes' command, the image having no ENTRYPOINT: same argv)
        assert container_args(WEB_CONFIG, spec.process.entrypoint, spec.process.command) == \
            container_args(WEB_CONFIG, want.process.entrypoint, want.process.command)
        assert spec.process.workdir == want.process.workdir
        assert [c.removeprefix("CAP_") for c in spec.security.cap_add] == want.security.cap_add
        assert [c.removeprefix("CAP_") for c in spec.security.cap_drop] == want.security.cap_drop
    deployment = generate.deployment_document(pod)
    assert play.pod_names([deployment]) == ["kshop-deployment-pod-0"]
    assert len(play.plan([deployment]).pods[0].containers) == 2


def test_play_podmans_yaml():
    """podman 4.3.1's own generate kube output plays as podman plays it: <pod>-<container> names."""
    the_plan = play.plan(yamlio.load(GOLDEN.read_text()))
    [pod_plan] = the_plan.pods
    assert the_plan.volumes == [] and pod_plan.pod.name == "kshop" and pod_plan.pod.ports == [PortMapping(18081, 80)]
    front, back = pod_plan.containers
    assert (front.lifecycle.name, back.lifecycle.name) == ("kshop-kfront", "kshop-kback")
    assert back.security.cap_add == ["CAP_NET_ADMIN"] and back.security.cap_drop == ["CAP_CHOWN"]
    assert back.process.env == {"FOO": "bar"} and back.process.workdir == "/tmp"
    assert front.lifecycle.restart.name == "no" and front.lifecycle.annotations == {}
    for spec in pod_plan.containers:
        spec.validate()


@pytest.mark.parametrize("text, error", [
    ("apiVersion: v1\nkind: Foo\nmetadata: {name: x}\n", "YAML document does not contain any supported kube kind"),
    ("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n", "kube kind Secret is not built yet"),
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 2, template: {spec: "
     "{containers: [{name: c, image: i}]}}}\n", "more than one replica is not built yet"),
    ("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, volumeMounts: [{name: v, mountPath: /v,"
     " subPath: x}]}], volumes: [{name: v, emptyDir: {}}]}\n", "subPath is not built yet"),
    ("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, envFrom: [{configMapRef: {name: nope}}]}]}\n",
     "configmap nope not found"),
    ("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}], volumes: [{name: v, secret: {}}]}\n",
     "secret volumes are not built yet"),
    ("kind: Pod\nmetadata: {name: p}\nspec: [\n", "unable to read YAML"),
])
def test_play_refuses_what_it_cannot_do(text, error):
    with pytest.raises(InvalidArgument, match=error):
        play.plan(yamlio.load(text))


# -- the commands, with real containers ----------------------------------------------------------

PODMAN_NOT_FOUND = 'Error: name or ID "nothere" not found\n'
# (podman 4.3.1's, with the pod named shop)
PODMAN_DOWN_MISSING = "Error: no pod with name or ID shop found: no such pod\n"
PODMAN_PLAY_AGAIN = 'Error: adding pod to state: name "shop" is in use: pod already exists\n'


@pytest.fixture
def elsewhere(tmp_path, registry):
    """A second store (another --root and --runroot) and its pyctr."""
    (tmp_path / "elsewhere").mkdir()
    store = Store.create(tmp_path / "elsewhere")
    yield Pyctr(store)
    Pyctr(store)("pod", "rm", "-af", check=False)
    store.teardown()


@pytest.fixture
def network(pyctr):
    """A network of the test's own (the default one's subnet may be routed on the host already, to
    podman's podman0); as root, networks are the host's: both stores see it."""
    name = f"kube{os.getpid()}"
    pyctr("network", "create", "--subnet", f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24", name)
    yield name
    pyctr("network", "rm", "-f", name, check=False)


@pytest.fixture
def cleanup(pyctr):
    yield
    pyctr("pod", "rm", "-af", check=False)
    pyctr("rm", "-af", check=False)


@root_only
def test_shop_round_trip(pyctr, web, elsewhere, network, cleanup, tmp_path):
    """issue 11's acceptance: the shop pod, `generate kube` of it, `kube play` into another store."""
    port = free_port()
    pyctr("pod", "create", "-p", f"{port}:80", "--name", "shop", "--network", network)
    # (--stop-timeout: httpd as PID 1 ignores SIGTERM; the YAML carries it as terminationGracePeriodSeconds)
    pyctr("run", "-d", "--pod", "shop", "--name", "front", "--stop-timeout", "1", web, *HTTPD)
    pyctr("run", "-d", "--pod", "shop", "--name", "back", "--stop-timeout", "1", web, "httpd", "-f", "-p", "8081", "-h", "/www")
    assert wait_for(lambda: pyctr("exec", "front", "wget", "-qO-", "http://localhost:8081/", check=False).stdout == WEB_PAGE)
    text = pyctr("kube", "generate", "shop").stdout
    assert text.startswith("# Save the output of this file")
    validate(yamlio.load(text))
    (tmp_path / "shop.yaml").write_text(text)
    assert pyctr("kube", "generate", "nothere", check=False).stderr == PODMAN_NOT_FOUND
    assert yamlio.load(text)[0]["spec"]["terminationGracePeriodSeconds"] == 1
    # generate kube -> kube down -> kube play (elsewhere)
    pod_id = pyctr("pod", "inspect", "shop", "--format", "{{.Id}}").stdout.strip()
    assert pyctr("kube", "down", "-", input=text).stdout == f"Pods stopped:\n{pod_id}\nPods removed:\n{pod_id}\n"
    assert pyctr("ps", "-aq").stdout == ""

    played = elsewhere("kube", "play", "--network", network, "-", input=text)
    lines = played.stdout.split("\n")
    assert lines[0] == "Pod:" and lines[2] == "Containers:" and played.stdout.endswith("\n\n") and len(lines) == 7
    pod_id, ids = lines[1], lines[3:5]
    assert elsewhere("pod", "inspect", "shop", "--format", "{{.Id}}").stdout.strip() == pod_id
    names = elsewhere("ps", "--filter", "pod=shop", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.Command}}", "--no-trunc").stdout
    assert f"{ids[0]} shop-front {web} {' '.join(HTTPD)}" in names and f"{ids[1]} shop-back {web}" in names
    assert wait_for(lambda: fetch(f"http://127.0.0.1:{port}/") == WEB_PAGE)
    assert wait_for(lambda: elsewhere("exec", "shop-front", "wget", "-qO-", "http://localhost:8081/", check=False).stdout == WEB_PAGE)
    again = elsewhere("kube", "play", "--network", network, str(tmp_path / "shop.yaml"), check=False)
    assert (again.returncode, again.stderr) == (125, PODMAN_PLAY_AGAIN)
    # generate of the played pod gives the same pod back (the names without the pod's prefix)
    regenerated = yamlio.load(elsewhere("kube", "generate", "shop").stdout)
    assert [_comparable(d) for d in regenerated][0]["spec"] == [_comparable(d) for d in yamlio.load(text)][0]["spec"]

    down = elsewhere("kube", "down", str(tmp_path / "shop.yaml"))
    assert down.stdout == f"Pods stopped:\n{pod_id}\nPods removed:\n{pod_id}\n"
    assert elsewhere("ps", "-aq").stdout == "" and elsewhere("pod", "ps", "-q").stdout == ""
    missing = elsewhere("kube", "down", str(tmp_path / "shop.yaml"), check=False)
    assert (missing.returncode, missing.stderr) == (125, PODMAN_DOWN_MISSING)
    # podman's older spelling, not started, then removed by play --down
    elsewhere("play", "kube", "--start=false", "--network", network, str(tmp_path / "shop.yaml"))
    assert elsewhere("pod", "ps", "--format", "{{.Name}} {{.Status}}").stdout == "shop Created\n"
    assert elsewhere("play", "kube", "--down", str(tmp_path / "shop.yaml")).stdout.startswith("Pods stopped:\n")
    assert elsewhere("pod", "ps", "-q").stdout == ""


@root_only
def test_configmap_claim_and_host_path(pyctr, web, cleanup, tmp_path):
    host = tmp_path / "hostdir"
    host.mkdir()
    (host / "file").write_text("from the host\n")
    path = tmp_path / "cm.yaml"
    path.write_text(CONFIGMAP_PLAY.replace("IMAGE", web).replace("HOSTPATH", str(host)))
    out = pyctr("kube", "play", "--network", "none", str(path)).stdout
    assert out.startswith("Volumes:\nkdata\nPod:\n") and "\nContainer:\n" in out
    assert wait_for(lambda: "from the host" in pyctr("logs", "kcm-box").stdout)
    assert pyctr("logs", "kcm-box").stdout == "hello blue\nfrom the host\n"
    assert wait_for(lambda: pyctr("exec", "kcm-box", "ls", "/data", "/scratch", check=False).stdout.count("made") == 2)
    volumes = pyctr("volume", "ls", "--format", "{{.Name}}").stdout.split()
    assert volumes == ["kcm-scratch", "kdata"]
    generated = yamlio.load(pyctr("kube", "generate", "kcm").stdout)
    validate(generated)
    assert {"name": "scratch", "emptyDir": {}} in generated[0]["spec"]["volumes"]
    # a ConfigMap from --configmap, and --replace keeps the claim's volume
    (tmp_path / "other.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {COLOR: red}\n")
    path.write_text(path.read_text().replace("name: kconf, key", "name: other, key"))
    pyctr("kube", "play", "--network", "none", "--replace", "--configmap", str(tmp_path / "other.yaml"), str(path))
    assert wait_for(lambda: pyctr("logs", "kcm-box").stdout.startswith("hello red\n"))
    assert "made" in pyctr("exec", "kcm-box", "ls", "/data").stdout  # the same claim's volume
    pyctr("kube", "down", str(path))
    # as podman 4.3: the claim's volume stays; the pod's emptyDir goes with it
    assert pyctr("volume", "ls", "--format", "{{.Name}}").stdout == "kdata\n"


@pytest.mark.parametrize("args, error", [
    (["kube", "play"], "Error: accepts 1 arg(s), received 0\n"),
    (["kube", "generate"], "Error: requires at least 1 arg(s), only received 0\n"),
    (["kube", "generate", "--type", "job", "x"],
     "Error: invalid generation type - only pods and deployments are currently supported\n"),
    (["kube", "play", "--build", "x.yaml"],
     "Error: kube play --build: building images is not built yet (pyctr has no build); use --build=false\n"),
    (["kube", "play", "https://example.com/x.yaml"],
     "Error: kube play https://example.com/x.yaml: YAML from a URL is not built yet: download it and give the file\n"),
    (["play", "kube", "--userns", "auto", "-"], "Error: kube play --userns: pod-level user namespaces are not built yet\n"),
])
def test_command_errors(pyctr, args, error):
    result = pyctr(*args, check=False, input="apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n")
    assert (result.returncode, result.stderr) == (125, error)
