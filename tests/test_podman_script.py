"""A shell script written for podman runs unchanged with `podman` replaced by `pyctr` (issue 9).

tests/scripts/podman-web.sh was run with podman 4.3.1 on the reference machine; what it printed is
PODMAN_OUTPUT below. pyctr's run must print the same lines, save for IDs, the port and what depends
on the store (other images and containers)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import free_port

SCRIPT = Path(__file__).parent / "scripts" / "podman-web.sh"

# podman 4.3.1, image localhost:5050/test/busybox:latest, port 18080 (IDs vary).
PODMAN_OUTPUT = """\
== ps
web localhost:5050/test/busybox:latest
== images
localhost:5050/test/busybox:latest
== start --all
42ee1bebf4ac2b4436f7f0999e1b9879eda87344d4c2738d8044f4cf00c5dc30
0
== logs
job done
== health
unhealthy
not yet healthy
healthy now
== stats
1 container: web
== port
80/tcp -> 0.0.0.0:18080
== system df
Images 1
Containers 5
Local Volumes 0
== events
create
init
start
died
cleanup
"""




def _normalise(text: str, image: str, port: int) -> list[str]:
    """IDs become <id>; the image and port become the reference's; the counts of `system df`
    depend on the store, so only its row names are kept."""
    lines = []
    for line in text.replace(image, "localhost:5050/test/busybox:latest").replace(f":{port}", ":18080").splitlines():
        if len(line) == 64 and all(c in "0123456789abcdef" for c in line):
            line = "<id>"
        if line.startswith(("Images ", "Containers ", "Local Volumes ")):
            line = line.rsplit(" ", 1)[0]
        lines.append(line)
    return lines


def test_the_podman_script_runs_unchanged(pyctr, image, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "pyctr"
    wrapper.write_text("#!/bin/sh\nexec " + " ".join(f"'{a}'" for a in pyctr.argv()) + ' "$@"\n')
    wrapper.chmod(0o755)
    script = tmp_path / "pyctr-web.sh"
    script.write_text(SCRIPT.read_text().replace("podman", "pyctr"))
    port = free_port()
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}

    result = pyctr.run(["sh", str(script), image, str(port)], env=env, check=False, timeout=180)

    assert result.returncode == 0, result.stdout + result.stderr
    assert _normalise(result.stdout, image, port) == _normalise(PODMAN_OUTPUT, "localhost:5050/test/busybox:latest", 18080)
