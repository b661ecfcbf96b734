"""`make bench`: start-up figures for pyctr, side by side with podman and bare runc.

Not a test: it prints medians of repeated runs. Everything runs against a
registry started here on loopback, with private stores in a temporary
directory. podman (Debian's 4.3) is installed by the Makefile target and is
given what it needs on this kind of host: runc, cgroupfs, no default ulimits.
The network rows (tests/harness/benchnet.py) run both tools' `run --rm` interleaved,
as root and as a temporary user.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.harness import benchnet
from tests.harness.images import busybox_image, push
from tests.harness.registry import start_registry

RUNS = 15


def median_ms(argv: list[str], runs: int = RUNS, env: dict | None = None) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def row(label: str, value: str) -> None:
    print(f"  {label:<46} {value}")


def ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:7.1f} ms"


def runc_bundle(tmp: Path, rootfs: Path) -> Path:
    bundle = tmp / "runc-bundle"
    bundle.mkdir()
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"].update(terminal=False, args=["true"])
    spec["root"] = {"path": str(rootfs), "readonly": True}
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pyctr-bench-") as tmpdir:
        tmp = Path(tmpdir)
        pyctr = [sys.executable, "-m", "pyctr", "--root", f"{tmp}/root", "--runroot", f"{tmp}/run"]
        registry = start_registry(tmp / "registry")
        try:
            push(registry, "bench/busybox", "latest", busybox_image())
            image = f"{registry.host}/bench/busybox:latest"
            subprocess.run([*pyctr, "pull", "-q", image], check=True, stdout=subprocess.DEVNULL)
            print(f"median of {RUNS} runs each")
            row("python -c pass (interpreter floor)", ms(median_ms([sys.executable, "-c", "pass"])))
            row("pyctr --version", ms(median_ms([*pyctr, "--version"])))
            row("pyctr images", ms(median_ms([*pyctr, "images"])))
            row("pyctr pull (already present)", ms(median_ms([*pyctr, "pull", "-q", image], runs=5)))
            podman_images(tmp, image)
            mounted = subprocess.run([*pyctr, "image", "mount", image], check=True, capture_output=True, text=True).stdout.strip()
            rootfs = tmp / "runc-rootfs"
            shutil.copytree(mounted, rootfs, symlinks=True)
            subprocess.run([*pyctr, "image", "unmount", image], check=True, stdout=subprocess.DEVNULL)
            for mountpoint in ("proc", "sys", "dev"):
                (rootfs / mountpoint).mkdir(exist_ok=True)
            bundle = runc_bundle(tmp, rootfs)
            row("runc run (bare, same files)", ms(median_ms(["runc", "--root", f"{tmp}/runc", "run", "--bundle", str(bundle), "bench"])))
            row("idle shim RSS, one alone (PSS: speed table)", shim_rss(pyctr, image, tmp))
            row("pyctr ps -a with 200 containers", ps_with_many(pyctr, image))
            subprocess.run([*pyctr, "rm", "-f", "--all"], check=True, stdout=subprocess.DEVNULL)
            from tests.harness.benchservice import service_rows  # (the optional Docker API service)

            service_rows(pyctr, image, tmp, RUNS, median_ms, row, ms)
            network_rows(pyctr, image, tmp)
        finally:
            subprocess.run([*pyctr, "rm", "-f", "--all"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            registry.stop()


def podman_images(tmp: Path, image: str) -> None:
    if not shutil.which("podman"):
        return
    conf = tmp / "containers.conf"
    conf.write_text(benchnet.PODMAN_CONF)
    env = {"CONTAINERS_CONF": str(conf), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp)}
    podman = ["podman", "--root", f"{tmp}/podman-root", "--runroot", f"{tmp}/podman-run", "--storage-driver", "overlay"]
    subprocess.run([*podman, "pull", "-q", "--tls-verify=false", image], check=True, stdout=subprocess.DEVNULL, env=env)
    row("podman images", ms(median_ms([*podman, "images"], env=env)))


def network_rows(pyctr: list[str], image: str, tmp: Path) -> None:
    if not shutil.which("podman"):
        print("podman is missing: no network rows")
        return
    print(f"run --rm IMAGE true: pyctr and podman interleaved, median of {RUNS} pairs")
    print(f"  {'':<46} {'pyctr':>10} {'podman':>10} {'pyctr/podman':>12}")
    benchnet.print_pairs(benchnet.root_pairs(pyctr, image, tmp, RUNS))
    benchnet.print_pairs(benchnet.rootless_pairs(image, RUNS))


def shim_rss(pyctr: list[str], image: str, tmp: Path) -> str:
    cid = subprocess.run([*pyctr, "run", "-d", image, "sleep", "60"], check=True, capture_output=True, text=True).stdout.strip()
    time.sleep(1.5)
    pid = (tmp / "run" / "containers" / cid / "shim.pid").read_text().strip()
    rss = next(line.split()[1] for line in open(f"/proc/{pid}/status") if line.startswith("VmRSS:"))
    subprocess.run([*pyctr, "rm", "-f", cid], stdout=subprocess.DEVNULL)
    return f"{int(rss) / 1024:7.1f} MiB"


def ps_with_many(pyctr: list[str], image: str, count: int = 200) -> str:
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: subprocess.run([*pyctr, "create", image, "true"], check=True, stdout=subprocess.DEVNULL), range(count)))
    return ms(median_ms([*pyctr, "ps", "-a"], runs=5))


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)  # so that every `finally` undoes what it started


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    main()
