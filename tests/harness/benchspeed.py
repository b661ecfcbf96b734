"""The speed table of issue 14: pyctr and podman side by side, in one run, each ratio against its target.

Called by `make bench` (tests/harness/bench.py), or alone: `python -m tests.harness.benchspeed`
(it then starts its own registry and stores). The paired rows run the two tools alternately,
so that a busy machine slows both alike; the figures are medians. Both tools run containers
with `--network none` here (the network rows are benchnet's), and `rm`/`stop` with `-t 0`
(podman's `rm -f` otherwise waits the stop timeout for a `sleep` that ignores SIGTERM).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

QUIET = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}


def pyctr_command() -> list[str]:
    """pyctr as users run it: $BENCH_PYCTR (e.g. dist/pyctr, the one file), else the console
    script beside this interpreter (else python -m pyctr)."""
    if os.environ.get("BENCH_PYCTR"):
        return [os.path.abspath(os.environ["BENCH_PYCTR"])]
    script = Path(sys.executable).with_name("pyctr")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pyctr"]


def timed(argv: list[str], env: dict | None = None, check: bool = True) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=check, **QUIET)
    return time.perf_counter() - start


def paired(mine: list[str], theirs: list[str], env: dict, runs: int) -> tuple[float, float]:
    """Medians (seconds) of `runs` runs of each, alternately."""
    a, b = [], []
    for _ in range(runs):
        a.append(timed(mine))
        b.append(timed(theirs, env))
    return statistics.median(a), statistics.median(b)


def line(label: str, mine: str, theirs: str, ratio: str, target: str, ok: bool | None) -> None:
    verdict = "" if ok is None else ("ok" if ok else "OVER")
    print(f"  {label:<44} {mine:>10} {theirs:>10} {ratio:>7} {target:>10}  {verdict}")


def ratio_row(label: str, mine: float, theirs: float, target: float) -> None:
    ratio = mine / theirs
    line(label, f"{mine * 1000:.1f} ms", f"{theirs * 1000:.1f} ms", f"{ratio:.2f}", f"<= {target}", ratio <= target)


def start_many(tool: list[str], image: str, count: int, env: dict | None = None, prefix: str = "bench") -> None:
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: subprocess.run([*tool, "run", "-d", "--network", "none", "--name", f"{prefix}{n}",
                                                image, "sleep", "1000"], env=env, check=True, **QUIET), range(count)))


def pss_mib(pid: int | str) -> float:
    for entry in open(f"/proc/{pid}/smaps_rollup"):
        if entry.startswith("Pss:"):
            return int(entry.split()[1]) / 1024
    raise ValueError(f"no Pss for {pid}")


def speed_rows(pyctr: list[str], podman: list[str], env: dict, image: str, runroot: Path, runs: int = 15,
               many: int = 1000) -> None:
    """Every row of the table. `pyctr`/`podman`: the commands with their stores; `env`: podman's
    environment; `runroot`: pyctr's (where the shims' pid files are); `many`: containers for ps."""
    print(f"speed (issue 14): pyctr and podman alternately, medians of {runs}")
    line("", "pyctr", "podman", "ratio", "target", None)
    subprocess.run([*pyctr, "create", "--name", "bench-c", image, "true"], check=True, **QUIET)
    subprocess.run([*podman, "create", "--network", "none", "--name", "bench-c", image, "true"], env=env, check=True, **QUIET)
    for args in (["ps", "-a"], ["images"], ["inspect", "bench-c"], ["version"], ["container", "exists", "bench-c"]):
        ratio_row(" ".join(args), *paired([*pyctr, *args], [*podman, *args], env, runs), 1.2)
    fast_path, typer_path = paired([*pyctr, "ps", "-a"], [*pyctr, "ps", "-a"], {**os.environ, "PYCTR_FAST": "0"}, runs)
    line("ps -a: typer path (PYCTR_FAST=0) / fast path", f"{typer_path * 1000:.1f} ms", f"{fast_path * 1000:.1f} ms",
         f"{typer_path / fast_path:.2f}", "", None)
    run = ["run", "--rm", "--network", "none", image, "true"]
    ratio_row("run --rm --network none IMAGE true", *paired([*pyctr, *run], [*podman, *run], env, runs), 0.8)
    for args, label in ((["stop", "-a", "-t", "0"], "stop -a -t 0, 20 running"), (["rm", "-fa", "-t", "0"], "rm -fa -t 0, 20 running")):
        mine, theirs = [], []
        for _ in range(3):
            start_many(pyctr, image, 20)
            start_many(podman, image, 20, env)
            mine.append(timed([*pyctr, *args]))
            theirs.append(timed([*podman, *args], env))
            subprocess.run([*pyctr, "rm", "-fa"], **QUIET)
            subprocess.run([*podman, "rm", "-fa", "-t", "0"], env=env, **QUIET)
        ratio_row(label + " (median of 3)", statistics.median(mine), statistics.median(theirs), 1.0)
    shim_row(pyctr, podman, env, image, runroot)
    run_d_row(pyctr, image)
    ps_many_row(pyctr, image, many)


def shim_row(pyctr: list[str], podman: list[str], env: dict, image: str, runroot: Path, count: int = 50) -> None:
    """The median PSS of an idle shim with `count` containers running, and of conmon with 10 of podman's."""
    start_many(pyctr, image, count)
    start_many(podman, image, 10, env)
    time.sleep(2)  # the shims are idle
    mine = statistics.median(pss_mib(path.read_text().strip()) for path in runroot.glob("containers/*/shim.pid"))
    conmons = subprocess.run([*podman, "ps", "-q", "--no-trunc"], env=env, check=True, capture_output=True, text=True).stdout.split()
    pids = [subprocess.run([*podman, "inspect", "-f", "{{.State.ConmonPid}}", cid], env=env, check=True,
                           capture_output=True, text=True).stdout.strip() for cid in conmons]
    theirs = statistics.median(pss_mib(pid) for pid in pids)
    line(f"idle shim PSS, {count} running (podman: conmon)", f"{mine:.1f} MiB", f"{theirs:.1f} MiB",
         f"{mine / theirs:.1f}", "<= 4 MiB", mine <= 4)
    subprocess.run([*pyctr, "rm", "-fa"], **QUIET)
    subprocess.run([*podman, "rm", "-fa", "-t", "0"], env=env, **QUIET)


def run_d_row(pyctr: list[str], image: str, count: int = 100) -> None:
    """`count` `run -d` in a row: the last 20 against the first 20 (no slowing down: about 1). Judged
    by CPU time (pyctr's and what it waits for), which others' load on the machine disturbs less."""
    import resource

    walls, cpus = [], []
    for _ in range(count):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        walls.append(timed([*pyctr, "run", "-d", "--network", "none", image, "true"]))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    wall = statistics.median(walls[-20:]) / statistics.median(walls[:20])
    cpu = statistics.median(cpus[-20:]) / statistics.median(cpus[:20])
    line(f"{count} run -d in a row: last 20 / first 20", f"{statistics.median(walls[-20:]) * 1000:.1f} ms",
         f"{statistics.median(walls[:20]) * 1000:.1f} ms", f"{wall:.2f}", "<= 1.2", None)
    line("  the same, CPU time", f"{statistics.median(cpus[-20:]) * 1000:.1f} ms",
         f"{statistics.median(cpus[:20]) * 1000:.1f} ms", f"{cpu:.2f}", "<= 1.2", cpu <= 1.2)
    subprocess.run([*pyctr, "rm", "-fa"], **QUIET)


def ps_many_row(pyctr: list[str], image: str, count: int) -> None:
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: subprocess.run([*pyctr, "create", image, "true"], check=True, **QUIET), range(count)))
    took = statistics.median(timed([*pyctr, "ps", "-a"]) for _ in range(5))
    line(f"ps -a with {count} containers", f"{took * 1000:.1f} ms", "", "", "< 200 ms", took < 0.2)
    subprocess.run([*pyctr, "rm", "-fa"], **QUIET)


def tools(tmp: Path) -> tuple[list[str], list[str], dict]:
    """pyctr and podman, each with a store of its own under `tmp`, and podman's environment."""
    from tests.harness import benchnet

    pyctr = [*pyctr_command(), "--root", f"{tmp}/root", "--runroot", f"{tmp}/run"]
    conf = tmp / "containers.conf"
    conf.write_text(benchnet.PODMAN_CONF)
    env = {"CONTAINERS_CONF": str(conf), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp)}
    podman = ["podman", "--root", f"{tmp}/podman-root", "--runroot", f"{tmp}/podman-run", "--storage-driver", "overlay"]
    return pyctr, podman, env


def main() -> None:
    from tests.harness.benchpull import pull_rows
    from tests.harness.images import busybox_image, push
    from tests.harness.registry import start_registry

    if not shutil.which("podman"):
        sys.exit("podman is missing (make bench installs it)")
    many = int(os.environ.get("BENCH_MANY", "1000"))
    with tempfile.TemporaryDirectory(prefix="pyctr-speed-") as tmpdir:
        tmp = Path(tmpdir)
        pyctr, podman, env = tools(tmp)
        registry = start_registry(tmp / "registry")
        try:
            push(registry, "bench/busybox", "latest", busybox_image())
            image = f"{registry.host}/bench/busybox:latest"
            subprocess.run([*pyctr, "pull", "-q", image], check=True, **QUIET)
            subprocess.run([*podman, "pull", "-q", "--tls-verify=false", image], env=env, check=True, **QUIET)
            speed_rows(pyctr, podman, env, image, tmp / "run", many=many)
            # Last: its stores' removal (thousands of files) would slow what follows.
            pull_rows(pyctr, podman, env, registry, tmp, runs=int(os.environ.get("BENCH_PULL_RUNS", "5")))
        finally:
            subprocess.run([*pyctr, "rm", "-fa"], **QUIET)
            subprocess.run([*podman, "rm", "-fa", "-t", "0"], env=env, **QUIET)
            registry.stop()


if __name__ == "__main__":
    main()
