"""pyctr build: a Containerfile using every instruction, compared with podman 4.3.1's build of it
(tests/golden/build/podman-4.3.1.json, recorded by tests/scripts/record_build_golden.py); the build
cache; errors; heredocs, ADD of a URL, directives and the smaller options.

Two differences from podman's layers are deliberate: a directory removed and made again in one RUN
is stored as overlay has it, opaque (`.wh..wh..opq`), where buildah lists a whiteout per old entry
(both mean the same to every unpacker); and RUN steps do not leave an empty /run behind (buildah's
comes from the /run/.containerenv it mounts, which pyctr's containers do not have)."""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from tests.buildview import view
from tests.conftest import wait_for

GOLDEN = Path(__file__).parent / "golden" / "build"


def expected_view() -> dict:
    golden = json.loads((GOLDEN / "podman-4.3.1.json").read_text())
    for layer in golden["layers"]:
        if "home/.wh.app file 0000 0:0 0 e3b0c44298fc1c14" in layer:
            layer.remove("home/.wh.app file 0000 0:0 0 e3b0c44298fc1c14")
            layer.append("home/.wh..wh..opq file 0000 0:0 0 e3b0c44298fc1c14")
            layer.remove("run dir 0755 0:0")
            layer.sort()
    return golden


def build_view(pyctr, name: str, base: str, tmp_path: Path) -> dict:
    layout = tmp_path / f"{name.replace('/', '_')}-oci"
    pyctr("save", "-q", "--format", "oci-dir", "-o", layout, name)
    base_layers = len(json.loads(pyctr("image", "inspect", base).stdout)[0]["RootFS"]["Layers"])
    return view(layout, base_layers=base_layers, base_name=base)


def context_copy(tmp_path: Path) -> Path:
    context = tmp_path / "context"
    shutil.copytree(GOLDEN / "context", context, symlinks=True)
    return context


def test_every_instruction_as_podman_builds_it(image, pyctr, tmp_path):
    context = context_copy(tmp_path)
    result = pyctr("build", "--secret", f"id=token,src={GOLDEN / 'token'}", "--build-arg", f"BASE={image}",
                   "-t", "allinst", context)
    lines = result.stdout.splitlines()
    assert lines[0] == f"[1/3] STEP 1/12: FROM {image} AS builder"  # numbered as podman's: [3/3] is the third
    assert "[3/3] STEP 21/21: CMD [\"cat /app/out.txt\"]" in lines
    assert lines[-4:-1] == ["[3/3] COMMIT allinst", f"--> {lines[-1][:11]}", "Successfully tagged localhost/allinst:latest"]
    assert not any("unused" in line for line in lines)  # a stage nothing needs is skipped
    assert "WARNING: HEALTHCHECK is not supported for OCI image format" in result.stderr
    assert build_view(pyctr, "allinst", image, tmp_path) == expected_view()
    assert pyctr("run", "--rm", "allinst").stdout == "hello from amd64\n"
    checks = pyctr("run", "--rm", "--user", "0", "allinst", "cat /var/spool/app/whoami /checks/secret-len.txt /opt/pkg/link").stdout
    assert checks == "as user 1234 in /app\n6\nfrom the archive\n"
    # The steps' upper directories are the layers as run sees them: a whiteout, an opaque directory.
    assert pyctr("run", "--rm", "allinst", "ls /home; ls /bin/awk || echo gone").stdout == "fresh\ngone\n"
    assert pyctr.store.mounts() == []  # every step's mounts are gone
    assert list((pyctr.store.root / "build").iterdir()) == []


CACHED = """\
ARG BASE
FROM $BASE
ENV A=1
COPY one.txt /one.txt
RUN cat /one.txt > /copy.txt
COPY two.txt /two.txt
CMD ["cat", "/copy.txt", "/two.txt"]
"""


def _steps(output: str) -> list[str]:
    """Per step after FROM: 'cache' or 'built'."""
    kinds, lines = [], output.splitlines()
    for n, line in enumerate(lines):
        if re.match(r"(\[\d+/\d+\] )?STEP ", line) and not line.split(": ", 1)[1].startswith("FROM"):
            kinds.append("cache" if n + 1 < len(lines) and lines[n + 1].startswith("--> Using cache") else "built")
    return kinds


def test_the_cache(image, pyctr, tmp_path):
    context = tmp_path / "cached"
    context.mkdir()
    (context / "Containerfile").write_text(CACHED)
    (context / "one.txt").write_text("one\n")
    (context / "two.txt").write_text("two\n")
    build = functools.partial(pyctr, "build", "--build-arg", f"BASE={image}", "-t", "cached", context)
    first = build()
    assert _steps(first.stdout) == ["built"] * 5
    second = build()
    assert _steps(second.stdout) == ["cache"] * 5
    assert second.stdout.splitlines()[-1] == first.stdout.splitlines()[-1]  # the very same image
    (context / "one.txt").write_text("changed\n")
    third = build()
    assert _steps(third.stdout) == ["cache", "built", "built", "built", "built"]
    assert pyctr("run", "--rm", "cached").stdout == "changed\ntwo\n"
    (context / "two.txt").write_text("second change\n")
    assert _steps(build().stdout) == ["cache", "cache", "cache", "built", "built"]
    assert _steps(pyctr("build", "--build-arg", f"BASE={image}", "--no-cache", context).stdout) == ["built"] * 5
    quiet = pyctr("build", "-q", "--build-arg", f"BASE={image}", "-t", "cached", context)
    assert len(quiet.stdout.split()) == 1 and len(quiet.stdout.strip()) == 64


def test_a_failing_run_and_a_missing_file(image, pyctr, tmp_path):
    context = tmp_path / "bad"
    context.mkdir()
    (context / "Containerfile").write_text(f"FROM {image}\nRUN echo out; echo err >&2; exit 3\n")
    failed = pyctr("build", "-t", "bad", context, check=False)
    assert failed.returncode == 3
    assert failed.stdout.splitlines()[-1] == "out" and "err\n" in failed.stderr
    assert failed.stderr.endswith('Error: building at STEP "RUN echo out; echo err >&2; exit 3": '
                                  'while running runtime: exit status 3\n')
    (context / "Containerfile").write_text(f"FROM {image}\nENV A=1\n\nCOPY app.py /\n")
    missing = pyctr("build", "-t", "bad", context, check=False)
    assert (missing.returncode, missing.stderr) == (125, "Error: Containerfile:4: COPY: no such file: app.py\n")
    (context / "Containerfile").write_text(f"FROM {image}\nFROB x\n")
    unknown = pyctr("build", context, check=False)
    assert (unknown.returncode, unknown.stderr) == (125, "Error: Containerfile:2: unknown instruction: FROB\n")
    assert "localhost/bad" not in pyctr("images", "--format", "{{.Repository}}").stdout  # nothing half-built is named
    assert pyctr.store.mounts() == []
    assert list((pyctr.store.root / "build").iterdir()) == []


def test_heredocs_directives_and_options(image, pyctr, tmp_path):
    context = tmp_path / "more"
    context.mkdir()
    (context / "Dockerfile").write_text(f"""\
# escape=`
FROM {image} AS first
RUN <<EOF
echo from a heredoc > /h1
echo second line >> /h1
EOF
COPY <<EOF /etc/greeting
hello $HOSTNAME-less
EOF
RUN cat <<-END > /h2
	tabs stripped
	END
RUN echo one `
    two > /joined
FROM first AS second
RUN cat /h1 /etc/greeting /h2 /joined > /all
FROM second AS third
RUN echo never built > /third
""")
    iid = tmp_path / "iid"
    pyctr("build", "--target", "second", "--iidfile", iid, "-t", "more", context)
    out = pyctr("run", "--rm", "more", "cat", "/all").stdout
    assert out == "from a heredoc\nsecond line\nhello -less\ntabs stripped\none two\n"
    image_id = json.loads(pyctr("image", "inspect", "more").stdout)[0]["Id"]
    assert iid.read_text() == f"sha256:{image_id}"
    assert pyctr("run", "--rm", "more", "ls", "/third", check=False).returncode != 0
    piped = pyctr("build", "-q", "-f", "-", context, input=f"FROM {image}\nLABEL piped=yes\n")
    assert json.loads(pyctr("image", "inspect", piped.stdout.strip()).stdout)[0]["Labels"]["piped"] == "yes"


def test_add_of_a_url_and_docker_format_onbuild(image, pyctr, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "file.txt").write_text("downloaded\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        context = tmp_path / "url"
        context.mkdir()
        (context / "Containerfile").write_text(
            f"FROM {image}\nADD http://127.0.0.1:{server.server_port}/file.txt /fetched/\n"
            "ONBUILD RUN echo triggered > /triggered\nHEALTHCHECK --interval=5s --retries=2 CMD true\n")
        pyctr("build", "--format", "docker", "-t", "parent", context)
    finally:
        server.shutdown()
    assert pyctr("run", "--rm", "parent", "cat", "/fetched/file.txt").stdout == "downloaded\n"
    assert pyctr("run", "--rm", "parent", "stat", "-c", "%a", "/fetched/file.txt").stdout == "600\n"
    child = tmp_path / "child"
    child.mkdir()
    (child / "Containerfile").write_text("FROM localhost/parent\n")
    pyctr("build", "-t", "child", child)
    assert pyctr("run", "--rm", "child", "cat", "/triggered").stdout == "triggered\n"


def test_options_not_built_fail_with_one_line(pyctr, tmp_path):
    result = pyctr("build", "--ssh", "default", tmp_path, check=False)
    assert (result.returncode, result.stderr) == (125, "Error: build --ssh (SSH agent forwarding) is not supported by pyctr yet\n")
    result = pyctr("build", tmp_path, check=False)
    assert result.returncode == 125 and "no Containerfile or Dockerfile specified or found" in result.stderr


@pytest.mark.parametrize("words", [["build"], ["image", "build"]])
def test_help(pyctr, words):
    assert "Build an image from a Containerfile" in pyctr(*words, "--help").stdout


def _runc_states(store) -> list[str]:
    return [str(p) for p in store.runroot.rglob("state.json")]


def _start_sleeping_build(pyctr, image, tmp_path) -> subprocess.Popen:
    context = tmp_path / "sleepy"
    context.mkdir(exist_ok=True)
    (context / "Containerfile").write_text(f"FROM {image}\nRUN sleep 60\n")
    proc = subprocess.Popen(pyctr.argv("build", "--no-cache", "-t", "sleepy", context), env=pyctr.store.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    for line in proc.stdout:
        if line.startswith("STEP 2/2"):
            break
    assert wait_for(lambda: any(p.name == "state.json" for p in pyctr.store.runroot.rglob("state.json")))
    return proc


def test_an_interrupted_build_leaves_nothing(image, pyctr, tmp_path):
    import signal

    proc = _start_sleeping_build(pyctr, image, tmp_path)
    proc.send_signal(signal.SIGTERM)  # as Ctrl-C (SIGINT) does
    assert proc.wait(timeout=30) == 130
    assert pyctr.store.mounts() == [] and _runc_states(pyctr.store) == []
    assert list((pyctr.store.root / "build").iterdir()) == []
    # Killed outright, it cannot clean up: the next build does.
    proc = _start_sleeping_build(pyctr, image, tmp_path)
    proc.kill()
    proc.wait(timeout=30)
    assert pyctr.store.mounts() != []
    pyctr("build", "-q", "-f", "-", tmp_path, input=f"FROM {image}\nLABEL after=kill\n")
    assert pyctr.store.mounts() == [] and _runc_states(pyctr.store) == []
    assert list((pyctr.store.root / "build").iterdir()) == []
    assert "localhost/sleepy" not in pyctr("images", "--format", "{{.Repository}}").stdout


def test_copy_rules_as_podman(image, pyctr, tmp_path):
    """Where COPY puts things (podman 4.3.1 printed the same listing for this Containerfile): the
    context less .containerignore's names, a directory's contents, into an existing directory, a
    new directory from a trailing slash, a named symlink followed."""
    context = tmp_path / "rules"
    (context / "d" / "sub").mkdir(parents=True)
    (context / "f.txt").write_text("f\n")
    (context / "d" / "sub" / "g").write_text("g\n")
    (context / "link").symlink_to("f.txt")
    (context / "x.txt").write_text("x\n")
    (context / ".containerignore").write_text("x.txt\n")
    (context / "Containerfile").write_text(f"""\
FROM {image}
COPY . /all/
COPY f.txt /etc
COPY f.txt /newdir/
COPY f.txt /renamed
COPY d /etc/
COPY link /l
RUN find /all /newdir /renamed /etc/f.txt /etc/sub /l | sort; ls -l /l | cut -c1-10
""")
    out = pyctr("build", context).stdout.splitlines()
    listing = out[out.index("STEP 8/8: RUN find /all /newdir /renamed /etc/f.txt /etc/sub /l | sort; ls -l /l | cut -c1-10") + 1:
                  out.index("COMMIT")]
    assert listing == ["/all", "/all/.containerignore", "/all/Containerfile", "/all/d", "/all/d/sub", "/all/d/sub/g",
                       "/all/f.txt", "/all/link", "/etc/f.txt", "/etc/sub", "/etc/sub/g", "/l", "/newdir",
                       "/newdir/f.txt", "/renamed", "-rw-r--r--"]


def test_run_steps_etc_files_and_network(image, pyctr, tmp_path):
    context = tmp_path / "etc"
    context.mkdir()
    (context / "Containerfile").write_text(f"FROM {image}\nRUN cat /etc/hosts /etc/resolv.conf; ip -o link | cut -d: -f2\n")
    out = pyctr("build", "--no-cache", "--add-host", "foo:1.2.3.4", "--dns", "9.9.9.9", "--dns-search", "ex.com",
                "--network", "none", context).stdout.splitlines()
    assert "1.2.3.4\tfoo" in out and "nameserver 9.9.9.9" in out and "search ex.com" in out
    assert [line.strip() for line in out if line.startswith(" ")] == ["lo"]  # --network none: loopback only
    bridged = pyctr("build", "--no-cache", context).stdout
    assert " eth0@" in bridged  # a RUN step is on the default network, as a container


def test_run_steps_take_containers_limits_and_privileges(image, pyctr, tmp_path):
    context = tmp_path / "limits"
    context.mkdir()
    (context / "Containerfile").write_text(f"FROM {image}\nRUN grep CapEff /proc/self/status; ulimit -n; "
                                           "df -k /dev/shm | tail -1\n")
    out = pyctr("build", "--cap-drop", "all", "--ulimit", "nofile=1000:1000", "--shm-size", "8m", context).stdout
    assert "CapEff:\t0000000000000000\n1000\n" in out and " 8192 " in out
    default = pyctr("build", "--no-cache", context).stdout
    assert "CapEff:\t00000000800405fb\n" in default  # a container's default capabilities
    refused = pyctr("build", "--memory", "1k", context, check=False)
    assert (refused.returncode, refused.stderr) == (125, "Error: minimum memory limit allowed is 6MB\n")
