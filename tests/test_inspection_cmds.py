"""port, diff, history, top, mount/unmount, init and update, held against podman 4.3.1's output
(recorded below from the same commands on this machine) with real runc and overlay mounts."""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.conftest import wait_for
from tests.harness.images import (Image, Layer, _make_config, busybox_layer, directory, file, opaque, push,
                                  whiteout)

# podman 4.3.1: `podman diff` of a busybox container that ran
#   sh -c 'mkdir -p /tmp/x; echo > /newfile; rm /bin/ls; echo >> /etc/passwd; sleep 1000'
PODMAN_DIFF = """\
C /bin
D /bin/ls
C /etc
C /etc/passwd
A /newfile
C /tmp
A /tmp/x
"""
PODMAN_DIFF_JSON = {"changed": ["/bin", "/etc", "/etc/passwd", "/tmp"], "added": ["/newfile", "/tmp/x"],
                    "deleted": ["/bin/ls"]}
# podman 4.3.1: `podman top CTR` and `podman top CTR pid user args etime comm group ...` (header lines)
PODMAN_TOP_HEADER = "USER        PID         PPID        %CPU        ELAPSED       TTY         TIME        COMMAND"
PODMAN_TOP_ALL_HEADER = ("PID USER COMMAND ELAPSED COMMAND GROUP HGROUP HPID HUSER LABEL NI %CPU PPID RGROUP RUSER "
                         "SECCOMP STATE STIME TIME TTY VSZ")
ALL_DESCRIPTORS = ("pid user args etime comm group hgroup hpid huser label nice pcpu ppid rgroup ruser seccomp "
                   "state stime time tty vsz").split()
CHANGES = "mkdir -p /tmp/x; echo > /newfile; rm /bin/ls; echo >> /etc/passwd"


def test_port(pyctr, image):
    pyctr("create", "--name", "h6p", "-p", "18081:80", "-p", "127.0.0.1:18082:81/udp", image, "true")
    pyctr("create", "--name", "h6n", image, "true")
    # podman 4.3.1, the same container:
    assert pyctr("port", "h6p").stdout == "80/tcp -> 0.0.0.0:18081\n81/udp -> 127.0.0.1:18082\n"
    assert pyctr("port", "h6p", "80").stdout == "0.0.0.0:18081\n"
    assert pyctr("container", "port", "h6p", "81/udp").stdout == "127.0.0.1:18082\n"
    cid = pyctr("inspect", "--format", "{{.Id}}", "h6p").stdout.strip()
    assert pyctr("port", "--all").stdout == f"{cid[:12]}\t80/tcp -> 0.0.0.0:18081\n{cid[:12]}\t81/udp -> 127.0.0.1:18082\n"
    assert pyctr("port", "h6n").stdout == ""
    errors = {("h6p", "82"): 'Error: failed to find published port "82"',
              ("h6p", "80/udp"): 'Error: failed to find published port "80/udp"',
              ("nonexist",): 'Error: no container with name or ID "nonexist" found: no such container',
              (): "Error: you must supply a running container name or id",
              ("-a", "h6p"): "Error: no arguments are needed with --all"}
    for args, message in errors.items():
        result = pyctr("port", *args, check=False)
        assert (result.returncode, result.stderr.strip()) == (125, message)


def test_container_diff(pyctr, image):
    pyctr("run", "--name", "h6d", image, "sh", "-c", CHANGES)
    assert pyctr("diff", "h6d").stdout == PODMAN_DIFF
    assert pyctr("container", "diff", "h6d").stdout == PODMAN_DIFF
    assert json.loads(pyctr("diff", "--format", "json", "h6d").stdout) == PODMAN_DIFF_JSON
    assert pyctr("diff", "--latest").stdout == PODMAN_DIFF
    pyctr("create", "--name", "h6e", image, "true")
    assert pyctr("diff", "h6e").stdout == ""
    for args, message in {("--format", "{{.Path}}", "h6d"): "Error: only supported value for '--format' is 'json'",
                          ("nonexist",): "Error: nonexist not found: layer not known",
                          (): 'Error: "pyctr diff" requires a name, id, or the "--latest" flag'}.items():
        result = pyctr("diff", *args, check=False)
        assert (result.returncode, result.stderr.strip()) == (125, message)


@pytest.fixture
def layered(registry, pyctr) -> str:
    """Three layers and an empty ENV step: the second deletes /bin/cat, the third replaces /app (opaque)."""
    layers = [busybox_layer(),
              Layer([directory("app"), file("app/a", "a\n"), file("app/b", "b\n"), whiteout("bin/cat")], comment="add app"),
              Layer([directory("app"), opaque("app"), file("app/new", "new\n")], comment="/bin/sh -c replace app " + "x" * 40)]
    config = _make_config(layers, "amd64", "linux", None, ["sh"], ["PATH=/bin"], {})
    config["history"].insert(2, {"created": config["created"], "created_by": "/bin/sh -c #(nop) ENV X=1",
                                 "empty_layer": True})
    push(registry, "test/h6layered", "latest", Image(layers, oci=True, config=config))
    ref = f"{registry.host}/test/h6layered:latest"
    pyctr("pull", "-q", ref)
    return ref


def test_image_diff_and_history(pyctr, layered):
    assert pyctr("image", "diff", layered).stdout == "C /app\nD /app/a\nD /app/b\nA /app/new\n"
    assert pyctr("diff", layered).stdout == "C /app\nD /app/a\nD /app/b\nA /app/new\n"
    image_id = pyctr("images", "-q", "--no-trunc", layered).stdout.strip().removeprefix("sha256:")
    lines = pyctr("history", layered).stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["ID", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
    rows = [re.split(r"\s{2,}", line.rstrip()) for line in lines[1:]]
    # newest first; the image's ID on top, podman's <missing> below; CREATED BY cut at 45 characters
    assert [r[0] for r in rows] == [image_id[:12], "<missing>", "<missing>", "<missing>"]
    assert rows[0][2] == ("/bin/sh -c replace app " + "x" * 40)[:42] + "..."
    assert rows[1][2:] == ["/bin/sh -c #(nop) ENV X=1", "0 B"]
    assert rows[3][2] == "busybox base"
    assert pyctr("image", "history", "-q", layered).stdout.split() == [image_id[:12]] + ["<missing>"] * 3
    full = pyctr("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", layered).stdout.splitlines()
    assert full[0] == f"{image_id}|/bin/sh -c replace app {'x' * 40}"
    docs = json.loads(pyctr("history", "--format", "json", layered).stdout)
    assert [d["id"] for d in docs] == [image_id, "<missing>", "<missing>", "<missing>"]
    assert docs[1]["size"] == 0 and docs[2]["size"] > 0 and set(docs[0]) >= {"created", "CreatedBy", "size", "Created"}
    exact = pyctr("history", "--human=false", "--format", "{{.Created}}", layered).stdout.split()
    assert exact == ["2023-11-14T22:13:20Z"] * 4  # the harness's CREATED, as the config has it
    result = pyctr("history", "nonexist", check=False)
    assert (result.returncode, result.stderr.strip()) == (125, "Error: nonexist: image not known")


def test_top(pyctr, image):
    pyctr("run", "-d", "--name", "h6t", image, "sleep", "1000")
    lines = pyctr("top", "h6t").stdout.splitlines()
    # (the ELAPSED column is as wide as its value: podman's width was 12 characters of "2.731968104s")
    assert re.split(r"\s+", lines[0]) == re.split(r"\s+", PODMAN_TOP_HEADER)
    assert lines[0].startswith("USER        PID         PPID        %CPU        ELAPSED ")
    row = lines[1].split()
    assert row[:3] == ["root", "1", "0"] and row[5:] == ["?", "0s", "sleep", "1000"]
    assert re.fullmatch(r"[\d.]+(ms|s|µs)|[\dm.]+s", row[4])
    both = pyctr("container", "top", "h6t", *ALL_DESCRIPTORS).stdout.splitlines()
    assert both[0].split() == PODMAN_TOP_ALL_HEADER.split()
    assert pyctr("top", "h6t", "pid,user").stdout == "PID         USER\n1           root\n"
    assert pyctr("top", "h6t", "hpid").stdout.splitlines()[1].strip().isdigit()
    assert pyctr("top", "h6t", "capeff").stdout.splitlines()[1] != "none"
    # podman 4.3.1 `top CTR rss vsz pid comm`: "RSS         VSZ         PID         COMMAND" / "1104 2268 1 sleep"
    rss = pyctr("top", "h6t", "rss", "vsz", "pid", "comm").stdout.splitlines()
    assert rss[0].split() == ["RSS", "VSZ", "PID", "COMMAND"]
    assert rss[1].split()[0].isdigit() and int(rss[1].split()[0]) > 0 and rss[1].split()[2:] == ["1", "sleep"]
    # ps options: the container's own ps (busybox's here)
    ps = pyctr("top", "h6t", "-ef").stdout
    assert ps.splitlines()[0].split() == ["PID", "USER", "COMMAND"] and "sleep 1000" in ps
    pyctr("create", "--name", "h6u", image, "true")
    for args, message in {("h6u",): "Error: top can only be used on running containers",
                          ("nonexist",): 'Error: unable to look up requested container: no container with name or ID '
                                         '"nonexist" found: no such container'}.items():
        result = pyctr("top", *args, check=False)
        assert (result.returncode, result.stderr.strip()) == (125, message)
    pyctr("rm", "-f", "h6t")


def test_mount_counts_and_survives_the_containers_own_stop(pyctr, image, store):
    cid = pyctr("create", "--name", "h6m", image, "true").stdout.strip()
    point = pyctr("mount", "h6m").stdout.strip()
    assert point.endswith("/merged") and os.path.exists(os.path.join(point, "bin", "sh"))
    assert pyctr("container", "mount", "h6m").stdout.strip() == point  # counted twice now
    assert pyctr("mount").stdout == f"{cid[:12]}  {point}\n"
    assert pyctr("mount", "--no-trunc").stdout == f"{cid}  {point}\n"
    assert json.loads(pyctr("mount", "--format", "json").stdout) == [{"id": cid, "Names": ["h6m"], "mountpoint": point}]
    assert pyctr("umount", "h6m").stdout == "h6m\n"
    assert point in store.mounts()  # one mount left
    # the container runs and ends: the user's mount stays
    pyctr("start", "h6m")
    assert wait_for(lambda: "Exited" in pyctr("ps", "-a").stdout)
    assert point in store.mounts()
    assert pyctr("container", "unmount", "h6m").stdout == "h6m\n"
    assert point not in store.mounts()
    assert pyctr("unmount", "h6m").stdout == "h6m\n"  # not mounted: nothing to do, as podman
    for args, message in {("nonexist",): 'Error: no container with name or ID "nonexist" found: no such container',
                          (): "Error: you must provide at least one name or id"}.items():
        result = pyctr("unmount", *args, check=False)
        assert (result.returncode, result.stderr.strip()) == (125, message)
    # a running container's own mount is not the user's to take away
    run_id = pyctr("run", "-d", "--name", "h6r", image, "sleep", "1000").stdout.strip()
    result = pyctr("unmount", "h6r", check=False)
    assert result.returncode == 125 and result.stderr.strip() == (
        f"Error: cannot unmount storage for container {run_id} as it is running or paused: container state improper")
    # rm takes every mount with it
    pyctr("mount", "h6m")
    pyctr("rm", "-f", "h6m", "h6r")
    assert store.mounts() == []


def test_update_applies_and_records_limits(pyctr, image, store):
    cid = pyctr("run", "-d", "--name", "h6up", image, "sleep", "1000").stdout.strip()
    assert pyctr("update", "--memory", "64m", "--cpu-shares", "512", "h6up").stdout.strip() == cid
    assert _memory_limit(pyctr, "h6up") == str(64 * 1024 * 1024)
    recorded = json.loads((store.root / "containers" / cid / "container.json").read_text())["spec"]["resources"]
    assert (recorded["memory"], recorded["cpu_shares"]) == (64 * 1024 * 1024, 512)
    pyctr("restart", "h6up")  # kept for the next run
    assert _memory_limit(pyctr, "h6up") == str(64 * 1024 * 1024)
    # a stopped container: recorded for its next start
    pyctr("create", "--name", "h6up2", image, "true")
    pyctr("container", "update", "--cpus", "0.5", "h6up2")
    result = pyctr("update", "--memory", "64m", "nonexist", check=False)
    assert (result.returncode, result.stderr.strip()) == (
        125, 'Error: no container with name or ID "nonexist" found: no such container')
    # the spec's own rules (those of run) hold for update too: one line, nothing applied
    result = pyctr("update", "--cpus", "0.5", "--cpu-quota", "1000", "h6up", check=False)
    assert result.returncode == 125 and result.stderr.count("\n") == 1 and "cannot be set together" in result.stderr
    pyctr("rm", "-f", "h6up")


def _memory_limit(pyctr, name: str) -> str:
    """The memory limit of the container's cgroup (v1 or v2)."""
    pid = pyctr("inspect", "--format", "{{.State.Pid}}", name).stdout.strip()
    cgroups = dict(line.split(":", 2)[1:] for line in open(f"/proc/{pid}/cgroup").read().splitlines())
    memory = next((f"/sys/fs/cgroup/{c}{path}/memory.limit_in_bytes" for c, path in cgroups.items()
                   if "memory" in c.split(",")), f"/sys/fs/cgroup{cgroups.get('', '')}/memory.max")
    return open(memory).read().strip()


def test_init_then_start(pyctr, image, store):
    cid = pyctr("create", "--name", "h6i", image, "sh", "-c", "echo started").stdout.strip()
    assert pyctr("init", "h6i").stdout == "h6i\n"
    # as podman 4.3.1: state "initialized", ps says "Initialized", nothing ran yet
    assert pyctr("inspect", "--format", "{{.State.Status}}", "h6i").stdout.strip() == "initialized"
    assert "Initialized" in pyctr("ps", "-a", "--filter", "name=h6i").stdout
    assert pyctr("logs", "h6i").stdout == ""
    result = pyctr("container", "init", "h6i", check=False)
    assert (result.returncode, result.stderr.strip()) == (
        125, f"Error: container {cid} has already been created in runtime: container state improper")
    assert pyctr("start", "h6i").stdout == "h6i\n"
    assert wait_for(lambda: pyctr("logs", "h6i").stdout == "started\n")
    assert wait_for(lambda: "Exited (0)" in pyctr("ps", "-a", "--filter", "name=h6i").stdout)
    # an initialized container is removed without --force (its process never ran)
    other = pyctr("create", "--name", "h6j", image, "sleep", "100").stdout.strip()
    assert sorted(pyctr("init", "--all").stdout.split()) == sorted([other, cid])  # both had not run (any more)
    assert pyctr("rm", "h6j").stdout == "h6j\n"
    assert pyctr("ps", "-a", "--filter", "name=h6j", "-q").stdout == ""
    result = pyctr("init", "nonexist", check=False)
    assert (result.returncode, result.stderr.strip()) == (
        125, 'Error: no container with name or ID "nonexist" found: no such container')
    pyctr("rm", "-f", "h6i")
    assert store.mounts() == []


# -- pure logic ------------------------------------------------------------------------------

def test_changes_of_an_upper_dir(tmp_path):
    from pyctr.snapshot.diff import CONTAINER_MOUNTS, Change, changes

    lower, upper = tmp_path / "lower", tmp_path / "upper"
    for path in ("bin/ls", "bin/sh", "etc/passwd", "opt/x/old", "opt/y"):
        (lower / path).parent.mkdir(parents=True, exist_ok=True)
        (lower / path).write_text("lower\n")
    for path in ("bin/.wh.ls", "etc/passwd", "new/file", "opt/x/.wh..wh..opq", "opt/x/fresh", "etc/hostname"):
        (upper / path).parent.mkdir(parents=True, exist_ok=True)
        (upper / path).write_text("")
    found = changes(str(upper), [str(lower)], skip=CONTAINER_MOUNTS)
    assert found == [Change("C", "/bin"), Change("D", "/bin/ls"), Change("C", "/etc"), Change("C", "/etc/passwd"),
                     Change("A", "/new"), Change("A", "/new/file"), Change("C", "/opt"), Change("C", "/opt/x"),
                     Change("A", "/opt/x/fresh"), Change("D", "/opt/x/old")]
    # a path deleted in a higher lower layer is not "in the lower"
    upper2 = tmp_path / "upper2"
    (upper2 / "bin").mkdir(parents=True)
    (upper2 / "bin" / "ls").write_text("again")
    top = tmp_path / "top"
    (top / "bin").mkdir(parents=True)
    (top / "bin" / ".wh.ls").write_text("")
    assert changes(str(upper2), [str(top), str(lower)]) == [Change("C", "/bin"), Change("A", "/bin/ls")]


def test_history_matches_entries_to_layers():
    from pyctr.image.history import history

    config = {"history": [{"created": "t1", "created_by": "base"},
                          {"created": "t2", "created_by": "ENV", "empty_layer": True},
                          {"created": "t3", "created_by": "RUN x", "comment": "c"}]}
    sizes = {"c1": 10, "c2": 20}
    entries = history("img", config, ["c1", "c2"], sizes.__getitem__, {"c1": ("base-img", ["base:1"])})
    assert [(e.id, e.created_by, e.size, e.comment) for e in entries] == [
        ("img", "RUN x", 20, "c"), ("", "ENV", 0, ""), ("base-img", "base", 10, "")]
    assert entries[2].tags == ["base:1"]


def test_top_skips_a_process_that_exited_while_read(tmp_path):
    import subprocess

    from pyctr.container import top

    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its /proc entry is gone, as for a process that exits mid-read
    rows = top.rows([os.getpid(), gone.pid], ["pid", "rss", "args"], str(tmp_path), read_file=lambda root, path: "")
    assert len(rows) == 1 and rows[0][1].isdigit() and int(rows[0][1]) > 0


def test_top_descriptors_and_units():
    from pyctr.container import top

    assert top.descriptors([]) == list(top.DEFAULT)
    assert top.descriptors(["pid,user", "%C"]) == ["pid", "user", "pcpu"]
    assert top.descriptors(["-ef"]) is None and top.descriptors(["aux"]) is None
    assert top.header(["pcpu", "etime", "nice", "capamb"]) == ["%CPU", "ELAPSED", "NI", "AMBIENT CAPS"]
    from pyctr.units import go_duration

    assert [go_duration(int(s * 1e9)) for s in (0, 2.731968104, 62.5, 3600, 0.0015)] == ["0s", "2.731968104s", "1m2.5s", "1h0m0s", "1.5ms"]
    assert top._caps("0000000000000000") == "none"
    assert top._caps("00000000a80425fb") == ("AUDIT_WRITE,CHOWN,DAC_OVERRIDE,FOWNER,FSETID,KILL,MKNOD,NET_BIND_SERVICE,"
                                            "NET_RAW,SETFCAP,SETGID,SETPCAP,SETUID,SYS_CHROOT")
    assert top._caps("000001ffffffffff") == "full"
    assert top._tty(0) == "?" and top._tty(os.makedev(136, 3)) == "pts/3"


def test_update_merges_and_maps_resources():
    from pyctr.container.spec import ResourceSpec
    from pyctr.container.update import linux_resources, merged
    from pyctr.errors import InvalidArgument

    base = ResourceSpec(memory=1 << 30, cpu_quota=50000, cpu_period=100000)
    new = merged(base, {"cpus": 0.5, "memory": None, "cpu_shares": 512, "device_read_iops": []})
    assert (new.memory, new.cpus, new.cpu_quota, new.cpu_period, new.cpu_shares) == (1 << 30, 0.5, None, None, 512)
    assert linux_resources(new) == {"memory": {"limit": 1 << 30}, "cpu": {"shares": 512, "quota": 50000, "period": 100000}}
    with pytest.raises(InvalidArgument):
        merged(base, {"pids_limit": 5})
