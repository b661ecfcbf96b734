"""pod top, logs, stats and clone, pod create --infra-image/--infra-command/--infra-name and
--cgroup-parent, and the members' names in the pod's /etc/hosts, as root with real runc, compared
with podman 4.3.1 (its outputs recorded below; IDs, times and figures vary and are matched loosely).
"""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.conftest import wait_for

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="pods on bridge networks as root")

# podman 4.3.1, a pod with members front (prints one, err on stderr, two) and back (prints back1):
PODMAN_TOP_HEADER = "USER        PID         PPID        %CPU        ELAPSED       TTY         TIME        COMMAND"
PODMAN_TOP_PID_COMM = ["PID         COMMAND", "1           sleep", "1           sleep", "1           catatonit"]
PODMAN_STATS_HEADER = ("POD           CID           NAME                CPU %       MEM USAGE/ LIMIT   MEM %       "
                       "NET IO         BLOCK IO    PIDS")
PODMAN_STATS_JSON_KEYS = ["CPU", "MemUsage", "MemUsageBytes", "Mem", "NetIO", "BlockIO", "PIDS", "Pod", "CID", "Name"]
# a stopped member: every figure "--" (podman's zeros in pod stats)
PODMAN_STATS_STOPPED = "--          -- / --           --          -- / --        -- / --     --".split()

PODMAN_ERRORS = [
    (["pod", "top"], "Error: you must provide the name or id of a running pod\n"),
    (["pod", "top", "nopod"], "Error: unable to look up requested container: no pod with name or ID nopod found: no such pod\n"),
    (["pod", "top", "pr", "-ef"], "Error: '-ef': unknown descriptor\n"),
    (["pod", "top", "pr", "badd"], "Error: 'badd': unknown descriptor\n"),
    (["pod", "top", "-l", "pr"], "Error: 'pr': unknown descriptor\n"),
    (["pod", "logs"], "Error: specify at least one pod name or ID to log\n"),
    (["pod", "logs", "nopod"], "Error: no pod with name or ID nopod found: no such pod\n"),
    (["pod", "logs", "-c", "nocont", "pr"], "Error: container nocont is not in pod pr: no such container\n"),
    (["pod", "logs", "pr", "pr"], "Error: accepts at most 1 arg(s), received 2\n"),
    (["pod", "logs", "--latest", "pr"], "Error: --latest and pods cannot be used together\n"),
    (["pod", "stats", "--no-stream", "nopod"],
     "Error: unable to get list of pods: no pod with name or ID nopod found: no such pod\n"),
    (["pod", "stats", "--no-stream", "-a", "pr"], "Error: --all, --latest and arguments cannot be used together\n"),
    (["pod", "stats", "--no-stream", "--format", "{{.Foo}}", "pr"],
     'Error: template: stats:1:13: executing "stats" at <.Foo>: can\'t evaluate field Foo in type '
     "*entities.PodStatsReport\n"),
    (["pod", "clone"], "Error: accepts between 1 and 2 arg(s), received 0\n"),
    (["pod", "clone", "nopod"], "Error: no pod with name or ID nopod found: no such pod\n"),
]


@pytest.fixture
def cleanup(pyctr):
    yield
    pyctr("pod", "rm", "-af", "-t", "0", check=False)
    pyctr("rm", "-af", "-t", "0", check=False)


@pytest.fixture
def pod(pyctr, image, cleanup) -> dict:
    """Pod `pr`, running: front (one, err on stderr, two) and back (back1)."""
    pod_id = pyctr("pod", "create", "--name", "pr").stdout.strip()
    pyctr("run", "-d", "--pod", "pr", "--name", "front", image, "sh", "-c",
          "echo one; echo err >&2; sleep 0.3; echo two; exec sleep 600")
    pyctr("run", "-d", "--pod", "pr", "--name", "back", image, "sh", "-c", "sleep 0.1; echo back1; exec sleep 600")
    assert wait_for(lambda: pyctr("logs", "front").stdout == "one\ntwo\n")
    ids = {n: pyctr("inspect", "--format", "{{.Id}}", n).stdout.strip() for n in ("front", "back")}
    ids["infra"] = pyctr("pod", "inspect", "pr", "--format", "{{.InfraContainerID}}").stdout.strip()
    return {"id": pod_id, **ids}


@root_only
def test_pod_top(pyctr, pod):
    lines = pyctr("pod", "top", "pr").stdout.splitlines()
    assert lines[0] == PODMAN_TOP_HEADER
    rows = sorted(line.split() for line in lines[1:])
    assert [r[:3] + r[-2:] for r in rows] == [["0", "1", "0", "/catatonit", "-P"], ["root", "1", "0", "sleep", "600"],
                                              ["root", "1", "0", "sleep", "600"]]
    assert all(re.fullmatch(r"\d+\.\d{3}", r[3]) and re.fullmatch(r"[\d.]+(m|µ)?s", r[4]) for r in rows)
    # columns as asked; the rows of each running container, in the order of their IDs (podman's)
    out = pyctr("pod", "top", "pr", "pid", "comm").stdout.splitlines()
    order = [c for _, c in sorted((pod[n], "catatonit" if n == "infra" else "sleep") for n in ("front", "back", "infra"))]
    assert out == [PODMAN_TOP_PID_COMM[0]] + [f"1           {c}" for c in order]
    # a stopped member has no rows; a pod with nothing running prints nothing (podman's)
    pyctr("stop", "-t", "0", "back")
    assert len(pyctr("pod", "top", "pr").stdout.splitlines()) == 3
    pyctr("pod", "stop", "-t", "0", "pr")
    assert pyctr("pod", "top", "pr").stdout == ""


@root_only
def test_pod_logs(pyctr, pod):
    short = {n: pod[n][:12] for n in ("front", "back")}
    out = pyctr("pod", "logs", "pr")
    # every container's lines, prefixed by its short ID (or name), stderr to stderr
    assert sorted(out.stdout.splitlines()) == sorted([f"{short['front']} one", f"{short['front']} two",
                                                      f"{short['back']} back1"])
    assert out.stdout.index(" one") < out.stdout.index(" two")
    assert out.stderr == f"{short['front']} err\n"
    named = pyctr("pod", "logs", "--names", "pr").stdout
    assert sorted(named.splitlines()) == ["back back1", "front one", "front two"]
    # one container: no prefix, even with --names (podman's)
    one = pyctr("pod", "logs", "-c", "front", "--names", "pr")
    assert (one.stdout, one.stderr) == ("one\ntwo\n", "err\n")
    tail = pyctr("pod", "logs", "--tail", "1", "-t", "pr").stdout.splitlines()
    assert len(tail) == 2 and all(re.fullmatch(r"[0-9a-f]{12} \d{4}-\d\d-\d\dT[\d:.]+Z (two|back1)", t) for t in tail)
    assert pyctr("pod", "logs", "--since", "1h", "--until", "1s", "-c", "back", "pr").stdout == ""
    assert pyctr("pod", "logs", "--since", "2000-01-01T00:00:00Z", "-c", "back", "pr").stdout == "back1\n"
    colored = pyctr("pod", "logs", "--color", "-c", "back", "pr").stdout
    assert colored.startswith("\033[") and colored.endswith("back1\033[0m\n")
    # -f follows until the containers end
    pyctr("pod", "kill", "pr")
    assert pyctr("pod", "logs", "-f", "-c", "front", "pr", timeout=30).stdout == "one\ntwo\n"


@root_only
def test_pod_stats(pyctr, pod):
    lines = pyctr("pod", "stats", "--no-stream", "pr").stdout.splitlines()
    assert lines[0].split() == PODMAN_STATS_HEADER.split()
    rows = [line.split() for line in lines[1:]]
    ordered = sorted(pod[n] for n in ("front", "back", "infra"))
    assert [r[:2] for r in rows] == [[pod["id"][:12], i[:12]] for i in ordered]
    assert all(r[3].endswith("%") and r[-1] == "1" for r in rows)
    document = json.loads(pyctr("pod", "stats", "--no-stream", "--format", "json", "pr").stdout)
    assert [list(d) for d in document] == [PODMAN_STATS_JSON_KEYS] * 3
    assert {d["Name"] for d in document} == {"front", "back", f"{pod['id'][:12]}-infra"}
    # a template without "table" has a heading too (podman's pod stats)
    out = pyctr("pod", "stats", "--no-stream", "--format", "{{.Name}} {{.PIDS}}", "pr").stdout.splitlines()
    assert out[0] == "NAME PIDS" and sorted(out[1:]) == sorted(f"{n} 1" for n in ("front", "back", f"{pod['id'][:12]}-infra"))
    # no names: every pod; a stopped member's figures are "--"
    pyctr("stop", "-t", "0", "back")
    rows = {line.split()[2]: line.split()[3:] for line in pyctr("pod", "stats", "--no-stream").stdout.splitlines()[1:]}
    assert rows["back"] == PODMAN_STATS_STOPPED
    assert pyctr("pod", "stats", "--no-stream", "-l", "--format", "{{.Name}}").stdout.count("\n") == 4


@root_only
@pytest.mark.parametrize("args, stderr", PODMAN_ERRORS)
def test_pod_read_errors_as_podman(pyctr, image, cleanup, args, stderr):
    pyctr("pod", "create", "--name", "pr")
    result = pyctr(*args, check=False)
    assert (result.returncode, result.stderr) == (125, stderr)


@root_only
def test_pod_clone(pyctr, pod):
    # podman's names: POD-clone, and each container's NAME-clone, then -clone1, -clone2 ...
    first = pyctr("pod", "clone", "pr").stdout.strip()
    assert len(first) == 64
    out = pyctr("pod", "ps", "--ctr-names", "--format", "{{.Name}} {{.Status}} {{.ContainerNames}}", "--filter", "name=pr-clone").stdout
    infra = f"{pod['id'][:12]}-infra"
    assert out == f"pr-clone Created {infra}-clone,front-clone,back-clone\n"
    pyctr("pod", "clone", "--name", "pr2", "--start", "-l", "a=b", "--infra-name", "pr2-infra", "pr")
    out = pyctr("pod", "ps", "--ctr-names", "--format", "{{.Status}} {{.ContainerNames}} {{.Labels}}", "--filter", "name=pr2").stdout
    assert out == "Running pr2-infra,front-clone1,back-clone1 map[a:b]\n"
    # the copies share their new pod's namespaces, not the old one's
    new_infra = pyctr("pod", "inspect", "pr2", "--format", "{{.InfraContainerID}}").stdout.strip()
    assert pyctr("inspect", "--format", "{{.HostConfig.NetworkMode}}", "front-clone1").stdout == f"container:{new_infra}\n"
    assert pyctr("exec", "front-clone1", "hostname").stdout == "pr2\n"
    assert pyctr("logs", "front-clone1").stdout.startswith("one\n")
    # --destroy: the original goes
    pyctr("pod", "clone", "--destroy", "pr", "pr3")
    names = pyctr("pod", "ps", "--format", "{{.Name}}", "--sort", "name").stdout
    assert names == "pr-clone\npr2\npr3\n"
    names = pyctr("ps", "-a", "--filter", "pod=pr3", "--format", "{{.Names}}").stdout.split()
    assert sorted(names) == sorted([f"{infra}-clone1", "back-clone2", "front-clone2"])  # (pr2 named its infra container)


@root_only
def test_infra_image_command_and_name(pyctr, image, cleanup, tmp_path):
    pidfile = tmp_path / "infra.pid"
    pyctr("pod", "create", "--name", "pi", "--infra-image", image, "--infra-command", "sleep 1000",
          "--infra-name", "pi-infra", "--infra-conmon-pidfile", pidfile)
    pyctr("run", "-d", "--pod", "pi", "--name", "pi-member", image, "sleep", "600")
    out = pyctr("ps", "--pod", "--format", "{{.Names}} {{.Command}} {{.PodName}}", "--sort", "names").stdout
    assert out == "pi-infra sleep 1000 pi\npi-member sleep 600 pi\n"  # (both running)
    assert pyctr("exec", "pi-member", "hostname").stdout == "pi\n"
    shim = int(pidfile.read_text())  # the infra container's shim (pyctr's conmon)
    assert os.path.exists(f"/proc/{shim}")


@root_only
def test_pod_cgroup_parent(pyctr, image, cleanup):
    parent = f"/pyctr-test-pod-{os.getpid()}"
    try:
        pyctr("pod", "create", "--name", "pc", "--cgroup-parent", parent)
        pyctr("run", "-d", "--pod", "pc", "--name", "pc-member", image, "sleep", "600")
        cgroups = pyctr("exec", "pc-member", "cat", "/proc/self/cgroup").stdout
        assert f":memory:{parent}/pyctr-" in cgroups or f"::{parent}/pyctr-" in cgroups
    finally:
        pyctr("pod", "rm", "-af", "-t", "0", check=False)
        for controller in os.listdir("/sys/fs/cgroup"):
            try:
                os.rmdir(f"/sys/fs/cgroup/{controller}{parent}")
            except OSError:
                pass


@root_only
def test_members_names_in_the_pods_hosts(pyctr, image, cleanup):
    """podman's: a member's line `127.0.0.1 NAME` while it runs, in the hosts file they share."""
    pyctr("pod", "create", "--name", "ph")
    pyctr("run", "-d", "--pod", "ph", "--name", "ph-a", image, "sleep", "600")
    pyctr("run", "-d", "--pod", "ph", "--name", "ph-b", image, "sleep", "600")
    hosts = pyctr("exec", "ph-a", "cat", "/etc/hosts").stdout
    assert hosts.endswith("127.0.0.1\tph-a\n127.0.0.1\tph-b\n")
    assert pyctr("exec", "ph-b", "cat", "/etc/hosts").stdout == hosts
    pyctr("stop", "-t", "0", "ph-b")
    assert pyctr("exec", "ph-a", "cat", "/etc/hosts").stdout.endswith("\n127.0.0.1\tph-a\n")
    pyctr("start", "ph-b")
    assert pyctr("exec", "ph-a", "cat", "/etc/hosts").stdout.endswith("127.0.0.1\tph-a\n127.0.0.1\tph-b\n")


def test_clone_names():
    from pyctr.engine.podclone import _free

    taken = {"a-clone", "a-clone1"}
    assert _free("b-clone", taken.__contains__) == "b-clone"
    assert _free("a-clone", taken.__contains__) == "a-clone2"


def test_pod_stats_rows_as_podman():
    from pyctr.cli.podviews import stats_row
    from pyctr.container.stats import ContainerStats

    running = ContainerStats("c" * 64, "web", cpu_percent=1.26, mem_usage=2331000, mem_limit=25280000000,
                             mem_percent=0.0092, net_input=516, net_output=1460, pids=1)
    assert stats_row("p" * 64, running) == {
        "CPU": "1.26%", "MemUsage": "2.331MB / 25.28GB", "MemUsageBytes": "2.223MiB / 23.54GiB", "Mem": "0.01%",
        "NetIO": "516B / 1.46kB", "BlockIO": "-- / --", "PIDS": "1", "Pod": "p" * 12, "CID": "c" * 12, "Name": "web"}
    stopped = stats_row("p" * 64, ContainerStats("c" * 64, "web"))
    assert [stopped[k] for k in ("CPU", "MemUsage", "Mem", "NetIO", "BlockIO", "PIDS")] == \
        ["--", "-- / --", "--", "-- / --", "-- / --", "--"]


# podman 4.3.1's `pod inspect` of `pod create --cpus 1 --cpu-shares 512 --cpuset-cpus 0 --cpuset-mems 0
# --memory 100m --memory-swap 300m --device-read-bps /dev/vda:1mb`: its last keys
PODMAN_INSPECT_LIMITS = {
    "cpu_period": 100000, "cpu_quota": 100000, "cpu_shares": 512, "cpuset_cpus": "0", "cpuset_mems": "0",
    "device_read_bps": [{"Path": "/dev/vda", "Rate": 1048576}], "memory_limit": 104857600, "memory_swap": 314572800}


def _block_device() -> str | None:
    import stat

    for name in ("vda", "sda", "nvme0n1", "xvda", "loop0"):
        if os.path.exists(f"/dev/{name}") and stat.S_ISBLK(os.stat(f"/dev/{name}").st_mode):
            return f"/dev/{name}"
    return None


@root_only
def test_pod_resource_limits(pyctr, image, cleanup):
    """A pod cgroup with the limits (podman's, under /pyctr_parent as podman's /libpod_parent); the
    members' cgroups are in it; it goes with the pod, from every hierarchy. Inspect as podman 4.3.1's."""
    device = _block_device()
    pyctr("pod", "create", "--name", "pl", "--cpus", "1", "--cpu-shares", "512", "--cpuset-cpus", "0", "--cpuset-mems",
          "0", "--memory", "100m", "--memory-swap", "300m", *(["--device-read-bps", f"{device}:1mb"] if device else []))
    pyctr("run", "-d", "--pod", "pl", "--name", "pl-member", image, "sleep", "600")
    document = json.loads(pyctr("pod", "inspect", "pl").stdout)
    path = document["CgroupPath"]
    assert path == f"/pyctr_parent/{document['Id']}" and document["CgroupParent"] == "/pyctr_parent"
    keys = list(document)
    assert document["CreateCgroup"] is True and keys[keys.index("Hostname"):][:5] == [
        "Hostname", "CreateCgroup", "CgroupParent", "CgroupPath", "CreateInfra"]
    expected = {k: v for k, v in PODMAN_INSPECT_LIMITS.items() if device or k != "device_read_bps"}
    if device:
        expected["device_read_bps"] = [{"Path": device, "Rate": 1048576}]
    assert {k: document[k] for k in keys[keys.index("Containers") + 1:]} == expected
    assert f":memory:{path}/pyctr-" in pyctr("exec", "pl-member", "cat", "/proc/self/cgroup").stdout
    if os.path.isdir("/sys/fs/cgroup/memory"):  # (cgroup v1, as here)
        for file, value in (("memory/memory.limit_in_bytes", "104857600"), ("memory/memory.memsw.limit_in_bytes", "314572800"),
                            ("cpu/cpu.cfs_quota_us", "100000"), ("cpu/cpu.shares", "512"), ("cpuset/cpuset.cpus", "0")):
            controller, name = file.split("/")
            with open(f"/sys/fs/cgroup/{controller}{path}/{name}") as f:
                assert f.read().strip() == value, file
    pyctr("pod", "rm", "-f", "-t", "0", "pl")
    assert [d for d in os.listdir("/sys/fs/cgroup") if os.path.exists(f"/sys/fs/cgroup/{d}{path}")] == []
    for args, text in ((["--memory", "1m"], "minimum memory limit allowed is 6MB"),
                       (["--memory-swap", "100m"], "you must provide a memory limit when specifying a memory swap limit"),
                       (["--cpus", "1000"], f"range of CPUs is from 0.01 to {os.cpu_count()}.00, as there are only "
                                            f"{os.cpu_count()} CPUs available")):
        result = pyctr("pod", "create", *args, check=False)
        assert (result.returncode, result.stderr) == (125, f"Error: {text}\n")
    assert pyctr("pod", "ps", "-q").stdout == ""


@root_only
def test_pod_volumes_shm_and_sysctls(pyctr, image, cleanup, tmp_path):
    """podman's: the pod's volumes are its infra container's, which every member gets (--volumes-from);
    /dev/shm and the namespaced sysctls are those of the shared namespaces. pod clone adds to them."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "f").write_text("hi\n")
    pyctr("pod", "create", "--name", "pv", "-v", f"{shared}:/data", "--shm-size", "1m", "--sysctl",
          "net.ipv4.ip_forward=1")
    out = pyctr("run", "--rm", "--pod", "pv", image, "sh", "-c",
                "cat /data/f; df -k /dev/shm | tail -1; cat /proc/sys/net/ipv4/ip_forward").stdout.splitlines()
    assert out[0] == "hi" and out[1].split()[1] == "1024" and out[2] == "1"
    pyctr("create", "--pod", "pv", "--name", "pv-member", image, "sleep", "600")
    pyctr("pod", "clone", "--destroy", "-v", f"{shared}:/more", "pv", "pv2")
    pyctr("start", "pv-member-clone")
    assert pyctr("exec", "pv-member-clone", "cat", "/data/f", "/more/f").stdout == "hi\nhi\n"
    result = pyctr("pod", "create", "--infra=false", "-v", f"{shared}:/data", check=False)
    assert result.returncode == 125 and "need one" in result.stderr


@root_only
def test_exit_policy_stop(pyctr, image, cleanup):
    """podman's --exit-policy stop: the pod stops (its infra container) once its last container exited."""
    result = pyctr("pod", "create", "--exit-policy", "bad", check=False)
    assert (result.returncode, result.stderr) == (125, 'Error: running pod create option: invalid pod exit policy: "bad"\n')
    pyctr("pod", "create", "--name", "pe", "--exit-policy", "stop")
    pyctr("pod", "create", "--name", "pk")  # (continue: the infra container stays)
    pyctr("run", "-d", "--pod", "pe", image, "sleep", "1")
    pyctr("run", "-d", "--pod", "pk", image, "sleep", "1")
    assert pyctr("pod", "inspect", "pe", "--format", "{{.ExitPolicy}}").stdout == "stop\n"
    assert wait_for(lambda: pyctr("pod", "ps", "--format", "{{.Name}} {{.Status}}", "--sort", "name").stdout ==
                    "pe Exited\npk Degraded\n", timeout=30)


@root_only
def test_pod_devices_security_opt_and_namespaces(pyctr, image, cleanup):
    """podman's: the pod's devices are every member's; --security-opt is the infra container's;
    --uts/--pid are the infra container's namespaces, which the members share (pid with --share +pid)."""
    pyctr("pod", "create", "--name", "pd", "--device", "/dev/zero:/dev/mine", "--security-opt", "no-new-privileges")
    assert pyctr("run", "--rm", "--pod", "pd", image, "ls", "/dev/mine").stdout == "/dev/mine\n"
    infra = pyctr("pod", "inspect", "pd", "--format", "{{.InfraContainerID}}").stdout.strip()
    assert pyctr("inspect", infra, "--format", "{{.HostConfig.SecurityOpt}}").stdout == "[no-new-privileges]\n"
    pyctr("pod", "create", "--name", "pu", "--uts", "host", "--pid", "host")
    out = pyctr("run", "--rm", "--pod", "pu", image, "sh", "-c", "hostname; ls /proc | grep -c '^[0-9]'").stdout.split()
    assert out[0] == os.uname().nodename and int(out[1]) < 10  # the host's name; its own PID namespace (pid not shared)
    document = json.loads(pyctr("pod", "inspect", "pu").stdout)
    assert (document["InfraConfig"]["pid_ns"], document["InfraConfig"]["uts_ns"]) == ("host", "host")
    pyctr("pod", "create", "--name", "pp", "--share", "+pid", "--pid", "host")
    assert json.loads(pyctr("pod", "inspect", "pp").stdout)["SharedNamespaces"] == ["ipc", "net", "pid", "uts"]
    count = pyctr("run", "--rm", "--pod", "pp", image, "sh", "-c", "ls /proc | grep -c '^[0-9]'").stdout
    assert int(count) > 10  # the host's processes


# podman 4.3.1: `pod create --cpus 1 --memory 100m --security-opt label=disable --pid host`, then
# `pod inspect --format PODMAN_TEMPLATE` (its Go field names) and the end of `pod inspect`
PODMAN_TEMPLATE = ("{{.InfraConfig.PidNS}} {{.InfraConfig.UtsNS}} {{.InfraConfig.UserNS}} {{.CPUPeriod}} {{.CPUQuota}} "
                   "{{.MemoryLimit}} {{.MemorySwap}} {{.SecurityOpts}} {{.InfraConfig.CPUPeriod}}")
PODMAN_TEMPLATE_OUT = "host private host 100000 100000 104857600 209715200 [label=disable] 100000\n"
PODMAN_INSPECT_TAIL = """\
     "cpu_period": 100000,
     "cpu_quota": 100000,
     "security_opt": [
          "label=disable"
     ],
     "memory_limit": 104857600,
     "memory_swap": 209715200
}
"""


@root_only
def test_pod_inspect_as_podman(pyctr, cleanup):
    pyctr("pod", "create", "--name", "pt", "--cpus", "1", "--memory", "100m", "--security-opt", "label=disable",
          "--pid", "host")
    assert pyctr("pod", "inspect", "pt", "--format", PODMAN_TEMPLATE).stdout == PODMAN_TEMPLATE_OUT
    assert pyctr("pod", "inspect", "pt").stdout.endswith(PODMAN_INSPECT_TAIL)
