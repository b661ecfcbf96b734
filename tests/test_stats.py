"""`pyctr stats`: cgroup counters (pyctr.linux.cgroupstats), podman's units and output.

What podman 4.3.1 printed is recorded below, so that the tests need no podman.
"""

from __future__ import annotations

import json
import re

import pytest

from pyctr.cli import stats as cli_stats
from pyctr.container import stats
from pyctr.errors import InvalidArgument
from pyctr.linux import cgroupstats
from tests.conftest import wait_for
from tests.test_rootless import rootless  # noqa: F401  (the fixture)

# `podman stats --no-stream` (cgroup v1, runc, cgroupfs), two of its rows.
PODMAN_TABLE = """\
ID            NAME        CPU %       MEM USAGE / LIMIT  MEM %       NET IO          BLOCK IO    PIDS        CPU TIME      AVG CPU %
036cc8871b96  h3c         0.00%       0B / 0B            0.00%       0B / 0B         0B / 0B     0           0s            0.00%
2d3f716c88eb  h5s1        99.34%      413.7kB / 67.11MB  0.62%       472B / 1.306kB  0B / 0B     1           2.287914934s  99.34%
"""
# `podman stats --no-stream --format json h5s1`
PODMAN_JSON = """\
[
 {
  "id": "2d3f716c88eb",
  "name": "h5s1",
  "cpu_time": "6m43.907867924s",
  "cpu_percent": "99.90%",
  "avg_cpu": "99.90%",
  "mem_usage": "254kB / 67.11MB",
  "mem_percent": "0.38%",
  "net_io": "892B / 3.126kB",
  "block_io": "0B / 0B",
  "pids": "1"
 }
]
"""


def test_units_as_podman_prints_them():
    assert [cli_stats.human_size(n) for n in (0, 472, 1306, 413_696, 67_108_864, 25_276_194_816)] == \
        ["0B", "472B", "1.306kB", "413.7kB", "67.11MB", "25.28GB"]
    assert cli_stats.bytes_size(253_952) + " / " + cli_stats.bytes_size(67_108_864) == "248KiB / 64MiB"
    assert [cli_stats.go_duration(n) for n in (0, 512, 1500, 31_160_336, 2_287_914_934, 403_907_867_924, 3_605 * 10**9)] == \
        ["0s", "512ns", "1.5\u00b5s", "31.160336ms", "2.287914934s", "6m43.907867924s", "1h0m5s"]
    assert cli_stats.percent(99.3449) == "99.34%" and cli_stats.percent(0) == "0.00%"


def _sample(**fields):
    base = dict(id="2d3f716c88eb" + "5" * 52, name="h5s1")
    return stats.ContainerStats(**{**base, **fields})


def test_table_and_json_are_podmans():
    rows = [stats.ContainerStats("036cc8871b96" + "0" * 52, "h3c"),
            _sample(cpu_percent=99.344, avg_cpu=99.344, cpu_ns=2_287_914_934, mem_usage=413_696, mem_limit=67_108_864,
                    mem_percent=0.6164, net_input=472, net_output=1306, pids=1)]
    from pyctr.cli import gotemplate, reporters

    table = gotemplate.report("stats", cli_stats.DEFAULT_FORMAT,
                              reporters.STATS.rows([cli_stats.template_row(r) for r in rows]), reporters.STATS.headers)
    assert table == PODMAN_TABLE
    one = _sample(cpu_percent=99.9, avg_cpu=99.9, cpu_ns=403_907_867_924, mem_usage=254_000, mem_limit=67_108_864,
                  mem_percent=0.3785, net_input=892, net_output=3126, pids=1)
    assert json.dumps([cli_stats.json_row(one)], indent=1) + "\n" == PODMAN_JSON


def test_cgroup_v1_and_v2_counters(tmp_path):
    mountinfo = (
        "30 25 0:26 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
        "31 25 0:27 /outer /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "32 25 0:28 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    )
    v1, v2 = cgroupstats.cgroup_mounts(mountinfo)
    assert v1 == {"cpuacct": ("/sys/fs/cgroup/cpuacct", "/"), "memory": ("/sys/fs/cgroup/memory", "/outer")}
    assert v2 == ("/sys/fs/cgroup/unified", "/") and not cgroupstats.is_v2((v1, v2))
    paths = cgroupstats.process_cgroups(1, "4:memory:/outer/abc\n2:cpuacct:/abc\n0::/abc\n")
    assert paths == {"memory": "/outer/abc", "cpuacct": "/abc", "": "/abc"}
    assert cgroupstats._dir(v1["memory"], paths["memory"]) == "/sys/fs/cgroup/memory/abc"  # mount root stripped
    assert cgroupstats.is_v2(({}, ("/sys/fs/cgroup", "/")))

    memory = tmp_path / "memory"
    memory.mkdir()
    (memory / "memory.usage_in_bytes").write_text("300000\n")
    (memory / "memory.stat").write_text("cache 0\ntotal_inactive_file 50000\n")
    assert cgroupstats._v1_memory(str(memory)) == 250_000
    (memory / "blkio.throttle.io_service_bytes_recursive").write_text("8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n")
    assert cgroupstats._v1_blkio(str(memory)) == {"block_read": 4096, "block_write": 8192}
    assert cgroupstats._limit(9223372036854771712) == 0

    unified = tmp_path / "unified"
    unified.mkdir()
    (unified / "cpu.stat").write_text("usage_usec 1500\nuser_usec 1000\n")
    (unified / "memory.current").write_text("400000\n")
    (unified / "memory.stat").write_text("anon 1\ninactive_file 100000\n")
    (unified / "memory.max").write_text("max\n")
    (unified / "pids.current").write_text("3\n")
    (unified / "io.stat").write_text("8:0 rbytes=100 wbytes=200 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n")
    assert cgroupstats._read_v2(str(unified)) == cgroupstats.Counters(
        cpu_ns=1_500_000, mem_usage=300_000, mem_limit=0, pids=3, block_read=101, block_write=202)


def test_option_checks():
    with pytest.raises(InvalidArgument, match="--all, --latest and containers cannot be used together"):
        stats.check_options(["a"], True, False)
    stats.check_options([], True, False)
    stats.check_options(["a", "b"], False, False)


def test_rootless_on_cgroup_v1_is_podmans_error(monkeypatch):
    monkeypatch.setattr(cgroupstats, "is_v2", lambda mounts=None: False)
    with pytest.raises(InvalidArgument, match="^stats is not supported in rootless mode without cgroups v2$"):
        stats.check_supported(rootless=True)
    stats.check_supported(rootless=False)


# -- the command ----------------------------------------------------------------------------

def test_stats_of_a_running_container(pyctr, image):
    cid = pyctr("run", "-d", "--name", "st1", "--memory", "64m", image, "sh", "-c", "while :; do :; done").stdout.strip()
    pyctr("create", "--name", "st2", image, "true")
    assert wait_for(lambda: json.loads(pyctr("stats", "--no-stream", "--format", "json", "st1").stdout)[0]["cpu_time"] != "0s")
    [row] = json.loads(pyctr("stats", "--no-stream", "--format", "json", "st1").stdout)
    assert list(row) == ["id", "name", "cpu_time", "cpu_percent", "avg_cpu", "mem_usage", "mem_percent", "net_io",
                         "block_io", "pids"]
    assert (row["id"], row["name"], row["pids"]) == (cid[:12], "st1", "1")
    assert row["mem_usage"].endswith(" / 67.11MB")  # the cgroup's limit
    assert re.fullmatch(r"\d+\.\d\d%", row["cpu_percent"]) and float(row["avg_cpu"][:-1]) > 0
    assert re.fullmatch(r"[\d.]+(ns|\u00b5s|ms|s)", row["cpu_time"])

    # Without names: every container (podman 4.3), by ID; one not running shows zeros.
    lines = pyctr("stats", "--no-stream").stdout.splitlines()
    assert lines[0].split("  ")[0] == "ID" and re.split(r"\s{2,}", lines[0]) == \
        ["ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET IO", "BLOCK IO", "PIDS", "CPU TIME", "AVG CPU %"]
    by_name = {re.split(r"\s{2,}", line)[1]: re.split(r"\s{2,}", line) for line in lines[1:]}
    assert by_name["st2"][2:] == ["0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0", "0s", "0.00%"]
    assert pyctr("container", "stats", "--no-stream", "--no-trunc", "--format", "{{.ID}} {{.PIDS}}", "st1").stdout == f"{cid} 1\n"


@pytest.mark.parametrize("args, message", [
    (("nosuch",), 'Error: unable to get list of containers: unable to look up container nosuch: no container with name or ID "nosuch" found: no such container\n'),
    (("-a", "x"), "Error: --all, --latest and containers cannot be used together\n"),
    (("-i", "0"), "Error: invalid interval, must be a positive number greater zero\n"),
])
def test_stats_errors(pyctr, args, message):
    result = pyctr("stats", "--no-stream", *args, check=False)
    assert (result.returncode, result.stderr) == (125, message)


def test_rootless_on_cgroup_v1_fails_and_events_are_recorded(rootless, registry):  # noqa: F811
    """Run under `flock /tmp/pyctr-rootless-tests.lock` (it creates a user, as test_rootless does)."""
    if cgroupstats.is_v2():
        pytest.skip("cgroup v2 host: rootless stats are read from the delegated cgroup")
    result = rootless.pyctr("stats", "--no-stream", check=False)
    assert (result.returncode, result.stderr) == (125, "Error: stats is not supported in rootless mode without cgroups v2\n")
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("run", "--rm", "--name", "rl", image, "true")
    got = rootless.pyctr("events", "--stream=false", "--filter", "container=rl", "--format", "{{.Status}}").stdout.split()
    assert got == ["create", "init", "start", "attach", "died", "cleanup", "remove"]
    assert (rootless.runtime / "pyctr" / "events" / "events.log").exists()
