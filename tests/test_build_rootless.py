"""Rootless build: the Containerfile with every instruction, built by an ordinary user, gives the
image podman 4.3.1 builds as root (the same config, the same layer entries with their owners), and
a second build is all cache. Run under `flock /tmp/pyctr-rootless-tests.lock` as the other rootless
tests (they create a user)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.buildview import view
from tests.test_build import GOLDEN, _steps, expected_view
from tests.test_rootless import rootless  # noqa: F401 (fixture)


def test_every_instruction_rootless(rootless, registry):  # noqa: F811
    image = f"{registry.host}/test/busybox:latest"
    rootless.pyctr("pull", "-q", image)
    context = rootless.data / "context"
    shutil.copytree(GOLDEN / "context", context, symlinks=True)
    token = rootless.data / "token"
    shutil.copy(GOLDEN / "token", token)
    for path in [context, token, *context.rglob("*")]:
        os.chown(path, rootless.pw.pw_uid, rootless.pw.pw_gid, follow_symlinks=False)
    argv = ["build", "--secret", f"id=token,src={token}", "--build-arg", f"BASE={image}", "-t", "allinst", context]
    first = rootless.pyctr(*argv)
    layout = rootless.data / "oci"
    rootless.pyctr("save", "-q", "--format", "oci-dir", "-o", layout, "allinst")
    base_layers = len(json.loads(rootless.pyctr("image", "inspect", image).stdout)[0]["RootFS"]["Layers"])
    assert view(Path(layout), base_layers=base_layers, base_name=image) == expected_view()
    assert rootless.pyctr("run", "--rm", "allinst").stdout == "hello from amd64\n"
    out = rootless.pyctr("run", "--rm", "allinst", "ls /home; ls /bin/awk || echo gone; ls -ln /app/conf/app.txt").stdout
    assert out.splitlines()[:2] == ["fresh", "gone"] and out.splitlines()[2].split()[2:4] == ["1234", "2345"]
    second = rootless.pyctr(*argv)
    assert set(_steps(second.stdout)) == {"cache"}
    assert second.stdout.splitlines()[-1] == first.stdout.splitlines()[-1]
    assert list((rootless.data / "pyctr" / "build").iterdir()) == []


def test_squash_and_a_renamed_directory_rootless(rootless, registry):  # noqa: F811
    """The kernel overlay in a user namespace takes redirect_dir=off and metacopy=off too."""
    image = f"{registry.host}/test/busybox:latest"
    rootless.pyctr("pull", "-q", image)
    context = rootless.data / "squash"
    context.mkdir()
    (context / "Containerfile").write_text(f"FROM {image}\nRUN mkdir -p /dir/sub && echo f > /dir/sub/file\n"
                                           "RUN mv /dir /moved && rm /bin/true\n")
    os.chown(context, rootless.pw.pw_uid, rootless.pw.pw_gid)
    os.chown(context / "Containerfile", rootless.pw.pw_uid, rootless.pw.pw_gid)
    rootless.pyctr("build", "-q", "--squash", "-t", "squashed", context)
    info = json.loads(rootless.pyctr("image", "inspect", "squashed").stdout)[0]
    assert len(info["RootFS"]["Layers"]) == 2
    assert rootless.pyctr("run", "--rm", "squashed", "sh", "-c", "cat /moved/sub/file; test ! -e /bin/true").stdout == "f\n"
    rootless.pyctr("run", "--name", "sq", "squashed", "sh", "-c", "echo c > /c")
    rootless.pyctr("commit", "-q", "--squash", "sq", "squashed2")
    assert len(json.loads(rootless.pyctr("image", "inspect", "squashed2").stdout)[0]["RootFS"]["Layers"]) == 1
    assert rootless.pyctr("run", "--rm", "squashed2", "cat", "/c", "/moved/sub/file").stdout == "c\nf\n"
    rootless.pyctr("rm", "sq")
