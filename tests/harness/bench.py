"""`make bench`: start-up figures for pyctr, side by side with podman and runc where installed.

Not a test: it prints medians of repeated runs. Each pyctr command runs with a
private --root/--runroot against a registry started here on loopback.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.harness.images import busybox_image, push
from tests.harness.registry import start_registry

RUNS = 15


def median_ms(argv: list[str], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def row(label: str, ms: float | None) -> None:
    print(f"  {label:<44} {'n/a' if ms is None else f'{ms:7.1f} ms'}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pyctr-bench-") as tmp:
        registry = start_registry(Path(tmp) / "registry")
        try:
            push(registry, "bench/busybox", "latest", busybox_image())
            image = f"{registry.host}/bench/busybox:latest"
            pyctr = [sys.executable, "-m", "pyctr", "--root", f"{tmp}/root", "--runroot", f"{tmp}/run"]
            subprocess.run([*pyctr, "pull", "-q", image], check=True, stdout=subprocess.DEVNULL)
            print(f"median of {RUNS} runs each")
            row("python -c pass (interpreter floor)", median_ms([sys.executable, "-c", "pass"]))
            row("pyctr --version", median_ms([*pyctr, "--version"]))
            row("pyctr images", median_ms([*pyctr, "images"]))
            row("pyctr image inspect", median_ms([*pyctr, "image", "inspect", image]))
            row("pyctr pull (already present)", median_ms([*pyctr, "pull", "-q", image], runs=5))
            if shutil.which("podman"):
                podman = ["podman", "--root", f"{tmp}/podman-root", "--runroot", f"{tmp}/podman-run"]
                row("podman images", median_ms([*podman, "images"]))
            else:
                row("podman images (podman not installed)", None)
            if shutil.which("runc"):
                row("runc --version", median_ms(["runc", "--version"]))
        finally:
            registry.stop()


if __name__ == "__main__":
    main()
