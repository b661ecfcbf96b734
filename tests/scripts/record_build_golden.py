"""Record podman 4.3.1's build of tests/golden/build/context (not run by the tests: they compare
with what this wrote). Run from the repository root with podman installed and the demo registry
(`make demo`: localhost:5050/test/busybox) running:

    CONTAINERS_CONF=/tmp/pmc/containers.conf .venv/bin/python tests/scripts/record_build_golden.py /tmp/pmc

writes tests/golden/build/podman-4.3.1.json."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.buildview import view  # noqa: E402

BASE = "localhost:5050/test/busybox:latest"


def main(store: str) -> None:
    podman = ["podman", "--root", f"{store}/root", "--runroot", f"{store}/run"]
    context = REPO / "tests/golden/build/context"
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(podman + ["build", "--no-cache", "--secret", f"id=token,src={context.parent / 'token'}",
                                 "--build-arg", f"BASE={BASE}", "-t", "pyctr-golden-build", str(context)], check=True)
        base_layers = len(json.loads(subprocess.run(podman + ["image", "inspect", BASE], check=True, text=True,
                                                    capture_output=True).stdout)[0]["RootFS"]["Layers"])
        subprocess.run(podman + ["save", "--format", "oci-dir", "-o", f"{tmp}/oci", "pyctr-golden-build"], check=True)
        result = view(Path(tmp) / "oci", base_layers=base_layers, base_name=BASE)
        subprocess.run(podman + ["rmi", "pyctr-golden-build"], check=True)
    out = REPO / "tests/golden/build/podman-4.3.1.json"
    out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    shutil.rmtree(f"{store}/tmp-unused", ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1])
