"""build's --squash, --squash-all, --timestamp, --omit-history and --annotation compared with podman
4.3.1's builds of the same Containerfile (tests/golden/build/options-podman-4.3.1.json, recorded by
tests/scripts/record_build_options_golden.py); commit --squash; bare --pull; the cache key of RUN's
settings; a renamed directory with overlay's redirect_dir turned on; builds for several platforms
into a manifest list."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.buildoptions import summary

GOLDEN = Path(__file__).parent / "golden" / "build"
PODMAN_BASE = "localhost:5050/test/busybox:latest"
CASES = {"squash": ["--squash"], "squash-all": ["--squash-all"], "timestamp": ["--timestamp", "1000000000"],
         "omit-history": ["--omit-history"], "annotation": ["--annotation", "a=b", "--annotation", "c=d"]}


def _context(tmp_path: Path) -> Path:
    context = tmp_path / "options"
    shutil.copytree(GOLDEN / "options", context)
    return context


def _summary(pyctr, name: str, image: str, tmp_path: Path) -> dict:
    layout = tmp_path / f"{name}-oci"
    pyctr("save", "-q", "--format", "oci-dir", "-o", layout, name)
    base_layers = len(json.loads(pyctr("image", "inspect", image).stdout)[0]["RootFS"]["Layers"])
    found = summary(layout, base_layers)
    for entry in found["history"]:
        entry[2] = entry[2].replace(f"FROM {image}", f"FROM {PODMAN_BASE}")
    return found


@pytest.mark.parametrize("case", list(CASES))
def test_build_options_as_podman_builds_them(image, pyctr, tmp_path, case):
    context = _context(tmp_path)
    pyctr("build", "-q", "--build-arg", f"BASE={image}", *CASES[case], "-t", case, context)
    expected = json.loads((GOLDEN / "options-podman-4.3.1.json").read_text())[case]
    assert _summary(pyctr, case, image, tmp_path) == expected
    shown = json.loads(pyctr("image", "inspect", case).stdout)[0]
    assert shown["Annotations"]["org.opencontainers.image.base.name"] == image
    if case == "annotation":
        assert (shown["Annotations"]["a"], shown["Annotations"]["c"]) == ("b", "d")
    assert pyctr("run", "--rm", case, "sh", "-c", "cat /a.txt /b.txt /e/f; test ! -e /d; test ! -e /bin/true").stdout \
        == "hello\ny\nx\n"


def test_the_same_timestamp_gives_the_same_image(image, pyctr, tmp_path):
    context = _context(tmp_path)
    build = ["build", "-q", "--build-arg", f"BASE={image}", "--timestamp", "1000000000", context]
    first = pyctr(*build).stdout
    assert pyctr(*build[:2], "--no-cache", *build[2:]).stdout == first  # every step made again, the same bytes
    again = pyctr("build", "-q", "--build-arg", f"BASE={image}", "--timestamp", "1000000001", context).stdout
    assert again != first
    assert pyctr("image", "inspect", "--format", "{{.Created}}", first.strip()).stdout == "2001-09-09T01:46:40Z\n"


def test_squashed_layers_of_a_multi_stage_build_and_docker_format(image, pyctr, tmp_path):
    context = tmp_path / "multi"
    context.mkdir()
    (context / "Containerfile").write_text(f"FROM {image} AS one\nRUN echo one > /one\n"
                                           f"FROM {image}\nCOPY --from=one /one /one\nRUN rm -r /home && echo two > /two\n")
    pyctr("build", "-q", "--squash", "--format", "docker", "-t", "sqmulti", context)
    shown = json.loads(pyctr("image", "inspect", "sqmulti").stdout)[0]
    assert len(shown["RootFS"]["Layers"]) == 2 and shown["Annotations"] == {}  # docker format: no annotations
    assert pyctr("run", "--rm", "sqmulti", "sh", "-c", "cat /one /two; test ! -e /home").stdout == "one\ntwo\n"


def test_squash_options_refused_together(pyctr, tmp_path):
    result = pyctr("build", "--squash", "--squash-all", tmp_path, check=False)
    assert (result.returncode, result.stderr) == (125, "Error: cannot specify --squash with --layers and --squash-all with --squash\n")


def test_commit_squash_as_podman(image, pyctr):
    pyctr("run", "--name", "sqc", image, "sh", "-c", "echo hi > /x; rm /bin/true")
    pyctr("commit", "-q", "--squash", "sqc", "sqcommit")
    shown = json.loads(pyctr("image", "inspect", "sqcommit").stdout)[0]
    # podman 4.3.1: one layer, and only the commit's own history entry
    assert len(shown["RootFS"]["Layers"]) == 1
    assert [e.get("comment") for e in shown["History"]] == [f"FROM {image}"]
    assert pyctr("run", "--rm", "sqcommit", "sh", "-c", "cat /x; test ! -e /bin/true && ls /bin/ls").stdout == "hi\n/bin/ls\n"
    pyctr("rm", "sqc")


def test_bare_pull_means_always(image, pyctr, tmp_path):
    context = tmp_path / "pull"
    context.mkdir()
    (context / "Containerfile").write_text(f"FROM {image}\nENV A=1\n")
    pyctr("tag", image, "mine:latest")
    pyctr("rmi", image)  # the name only: the image stays as mine
    assert "image not known" in pyctr("build", "--pull=never", context, check=False).stderr
    pyctr("build", "-q", "--pull", context)  # bare: always, as podman's (pflag's no-option default "true")
    assert image in pyctr("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    # a policy must be attached: `--pull always` is --pull and a second argument, as podman reads it
    result = pyctr("build", "--pull", "always", context, check=False)
    assert (result.returncode, result.stderr) == (125, "Error: accepts at most 1 arg(s), received 2\n")


def test_run_settings_are_part_of_the_cache_key(image, pyctr, tmp_path):
    context = tmp_path / "key"
    context.mkdir()
    (context / "Containerfile").write_text(f"FROM {image}\nRUN grep CapEff /proc/self/status > /caps\n")
    pyctr("build", context)
    assert "Using cache" in pyctr("build", context).stdout
    dropped = pyctr("build", "--cap-drop", "all", "-t", "nocaps", context).stdout
    assert "Using cache" not in dropped  # another outcome: the step runs again
    assert pyctr("run", "--rm", "nocaps", "cat", "/caps").stdout == "CapEff:\t0000000000000000\n"
    assert "Using cache" not in pyctr("build", "--env", "X=1", context).stdout
    assert "Using cache" in pyctr("build", "--cap-drop", "all", context).stdout


def _layer_names(pyctr, name: str, tmp_path: Path) -> list[str]:
    import tarfile

    layout = tmp_path / f"{name}-layout"
    pyctr("save", "-q", "--format", "oci-dir", "-o", layout, name)
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_text())
    with tarfile.open(layout / "blobs/sha256" / manifest["layers"][-1]["digest"][7:]) as tar:
        return sorted(m.name for m in tar.getmembers())


PARAMS = Path("/sys/module/overlay/parameters")


@pytest.fixture
def redirect_dir_on():
    """overlay's redirect_dir and metacopy turned on as module defaults for the test (root only;
    pyctr's mounts ask for them off, so other tests' pyctr builds are unaffected meanwhile)."""
    names = [n for n in ("redirect_dir", "metacopy") if (PARAMS / n).exists()]
    if os.geteuid() != 0 or not names or not all(os.access(PARAMS / n, os.W_OK) for n in names):
        yield False
        return
    with open("/tmp/pyctr-overlay-params.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        before = {n: (PARAMS / n).read_text().strip() for n in names}
        try:
            for n in names:
                (PARAMS / n).write_text("Y")
            yield True
        finally:
            for n, old in before.items():
                (PARAMS / n).write_text(old)


def test_a_renamed_directory_keeps_its_contents_in_the_layer(image, pyctr, tmp_path, redirect_dir_on):
    context = tmp_path / "rename"
    context.mkdir()
    (context / "Containerfile").write_text(f"FROM {image}\nRUN mkdir -p /dir/sub && echo f > /dir/sub/file\n"
                                           "RUN mv /dir /moved\n")
    pyctr("build", "-q", "-t", "renamed", context)
    # with redirect_dir on, the upper directory would hold /moved as a redirect without its children
    assert _layer_names(pyctr, "renamed", tmp_path) == [".wh.dir", "moved", "moved/sub", "moved/sub/file"]
    pyctr("run", "--name", "mover", "renamed", "mv", "/moved", "/again")
    pyctr("commit", "-q", "mover", "renamed2")
    assert _layer_names(pyctr, "renamed2", tmp_path)[-3:] == ["again", "again/sub", "again/sub/file"]
    pyctr("rm", "mover")


def test_several_platforms_into_a_manifest_list(image, pyctr, tmp_path):
    context = tmp_path / "platforms"
    context.mkdir()
    (context / "Containerfile").write_text("FROM scratch\nCOPY a.txt /\nENV A=1\n")
    (context / "a.txt").write_text("a\n")
    out = pyctr("build", "--platform", "linux/amd64,linux/arm64", "--manifest", "multi", "-t", "multi-img", context).stdout
    lines = out.splitlines()
    assert lines[0] == "[linux/amd64] STEP 1/3: FROM scratch" and "[linux/arm64] COMMIT multi-img" in lines
    ids = [line for line in lines if len(line) == 64]
    assert len(ids) == 2 and ids[0] != ids[1]
    listed = json.loads(pyctr("manifest", "inspect", "multi").stdout)
    assert [(m["platform"]["os"], m["platform"]["architecture"]) for m in listed["manifests"]] == \
        [("linux", "amd64"), ("linux", "arm64")]
    arches = {pyctr("image", "inspect", "--format", "{{.Architecture}}", i).stdout.strip() for i in ids}
    assert arches == {"amd64", "arm64"}
    # --all-platforms: those of the base image's list; each image added to the list named
    (context / "Containerfile").write_text("FROM localhost/multi\nCOPY a.txt /b.txt\n")
    pyctr("build", "-q", "--pull=never", "--all-platforms", "--manifest", "multi2", context)
    listed = json.loads(pyctr("manifest", "inspect", "multi2").stdout)
    assert [m["platform"]["architecture"] for m in listed["manifests"]] == ["amd64", "arm64"]
    # --manifest alone: the host's platform, added to an existing list
    pyctr("build", "-q", "--manifest", "multi2", "--build-arg", "X=1", "--label", "l=1", context)
    assert len(json.loads(pyctr("manifest", "inspect", "multi2").stdout)["manifests"]) == 3


def test_a_platform_the_host_cannot_run(image, pyctr, tmp_path):
    from pyctr.build.platforms import host_runs

    if host_runs("linux/s390x"):
        pytest.skip("this host runs s390x programs (a binfmt_misc handler)")
    context = tmp_path / "foreign"
    context.mkdir()
    (context / "Containerfile").write_text("FROM scratch\nCOPY Containerfile /\nRUN true\n")
    result = pyctr("build", "--platform", "linux/amd64,linux/s390x", "--manifest", "foreign", context, check=False)
    assert result.returncode == 125 and result.stdout == ""  # refused before anything was built
    assert result.stderr == ("Error: building for linux/s390x: this host cannot run linux/s390x programs (no binfmt_misc "
                             "handler for them in /proc/sys/fs/binfmt_misc), and the Containerfile has RUN "
                             "instructions (line 3)\n")


def test_the_same_config_built_with_another_manifest(image, pyctr, tmp_path):
    context = tmp_path / "again"
    context.mkdir()
    (context / "Containerfile").write_text(f"FROM {image}\nENV A=1\n")
    plain = pyctr("build", "-q", "-t", "again", context).stdout
    assert pyctr("build", "-q", "--annotation", "x=y", "-t", "again", context).stdout == plain  # the same config
    shown = json.loads(pyctr("image", "inspect", "again").stdout)[0]
    assert shown["Annotations"]["x"] == "y"  # this build's manifest, as podman's newest build
    pyctr("build", "-q", "--format", "docker", "-t", "again", context)
    shown = json.loads(pyctr("image", "inspect", "again").stdout)[0]
    assert (shown["ManifestType"], shown["Annotations"]) == ("application/vnd.docker.distribution.manifest.v2+json", {})
