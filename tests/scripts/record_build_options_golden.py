"""Record podman 4.3.1's builds of tests/golden/build/options with --squash, --squash-all,
--timestamp, --omit-history and --annotation (not run by the tests: they compare with what this
wrote). Run from the repository root with podman installed and the demo registry
(`make demo`: localhost:5050/test/busybox) running:

    CONTAINERS_CONF=/tmp/pmc/containers.conf .venv/bin/python tests/scripts/record_build_options_golden.py /tmp/pmc

writes tests/golden/build/options-podman-4.3.1.json."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.buildoptions import summary  # noqa: E402

BASE = "localhost:5050/test/busybox:latest"
CASES = {"squash": ["--squash"], "squash-all": ["--squash-all"], "timestamp": ["--timestamp", "1000000000"],
         "omit-history": ["--omit-history"], "annotation": ["--annotation", "a=b", "--annotation", "c=d"]}


def main(store: str) -> None:
    podman = ["podman", "--root", f"{store}/root", "--runroot", f"{store}/run"]
    context = REPO / "tests/golden/build/options"
    base_layers = len(json.loads(subprocess.run(podman + ["image", "inspect", BASE], check=True, text=True,
                                                capture_output=True).stdout)[0]["RootFS"]["Layers"])
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags in CASES.items():
            subprocess.run(podman + ["build", "-q", "--no-cache", "--build-arg", f"BASE={BASE}", *flags,
                                     "-t", f"pyctr-golden-{name}", str(context)], check=True)
            subprocess.run(podman + ["save", "-q", "--format", "oci-dir", "-o", f"{tmp}/{name}",
                                     f"pyctr-golden-{name}"], check=True)
            result[name] = summary(Path(tmp) / name, base_layers)
            subprocess.run(podman + ["rmi", f"pyctr-golden-{name}"], check=True, capture_output=True)
    out = REPO / "tests/golden/build/options-podman-4.3.1.json"
    out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
