"""`make bench` rows for the optional service: `run --rm IMAGE true` through the Docker API
(the docker CLI, when present, and docker-py), side by side with pyctr's command line."""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import time
from pathlib import Path


def service_rows(pyctr: list[str], image: str, tmp: Path, runs: int, median_ms, row, ms) -> None:
    try:
        import aiohttp  # noqa: F401
        import docker
    except ImportError:
        print("aiohttp or docker-py is missing: no service rows")
        return
    path = tmp / "bench-api.sock"
    proc = subprocess.Popen([*pyctr, "system", "service", "--time", "0", f"unix://{path}"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        row("pyctr run --rm IMAGE true", ms(median_ms([*pyctr, "run", "--rm", image, "true"], runs=runs)))
        cli = shutil.which("docker")
        if cli:
            env = {**os.environ, "DOCKER_HOST": f"unix://{path}", "DOCKER_CONFIG": str(tmp / "docker-config")}
            row("docker run --rm IMAGE true (through the service)",
                ms(median_ms([cli, "run", "--rm", image, "true"], runs=runs, env=env)))
        client = docker.DockerClient(base_url=f"unix://{path}")
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            client.containers.run(image, "true", remove=True)
            times.append((time.perf_counter() - start) * 1000)
        row("docker-py containers.run(remove=True)", ms(statistics.median(times)))
        client.close()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
