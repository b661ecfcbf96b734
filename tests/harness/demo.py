"""`make demo`: pyctr's main job on a built-in default.

Starts a local registry on loopback, pushes an image built from Debian's
busybox-static to it, then pulls, lists, inspects and mounts it with pyctr,
printing each command as a user would type it; then runs containers from it.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.harness.images import busybox_image, push
from tests.harness.registry import start_registry


def run(*args: str) -> str:
    print(f"$ pyctr {shlex.join(args)}", flush=True)
    result = subprocess.run([sys.executable, "-m", "pyctr", *args], text=True, stdout=subprocess.PIPE)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        sys.exit(f"demo failed: pyctr {shlex.join(args)} exited {result.returncode}")
    return result.stdout


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pyctr-demo-") as tmp:
        registry = start_registry(Path(tmp) / "registry")
        try:
            image = f"{registry.host}/demo/busybox:latest"
            push(registry, "demo/busybox", "latest", busybox_image())
            print(f"registry on {registry.host} holds {image} (built from /bin/busybox)\n")
            run("pull", image)
            run("images")
            run("image", "inspect", "--format", "{{.Id}} {{.Os}}/{{.Architecture}} {{.Config.Cmd}}", image)
            root = run("image", "mount", image).strip()
            print(f"$ ls {root}/bin | head -5")
            print("\n".join(sorted(p.name for p in Path(root, "bin").iterdir())[:5]))
            run("image", "unmount", image)
            run("run", "--rm", image, "sh", "-c", "echo hello from a pyctr container: $(uname -s) $(id -un), pid $$")
            run("run", "-d", "--name", "pyctr-demo", "--replace", image, "sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.2; done")
            run("logs", "-f", "pyctr-demo")
            run("rm", "pyctr-demo")
        finally:
            registry.stop()


if __name__ == "__main__":
    main()
