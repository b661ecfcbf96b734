"""POST /build through `pyctr system service`: docker-py's images.build (a Dockerfile alone, and a
context tar), the docker CLI's legacy builder when this machine has it, and a hostile context tar
that must not write outside its directory."""

import io
import os
import subprocess
import tarfile

import pytest

from tests.test_service import DOCKER_CLI, client, docker, service  # noqa: F401  (client, service: fixtures)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds as root here (rootless builds: test_build_rootless)")



def _tar(entries: dict) -> bytes:
    """A tar of NAME -> bytes (a file) or ("symlink", TARGET)."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            if isinstance(content, tuple):
                info.type, info.linkname = tarfile.SYMTYPE, content[1]
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return data.getvalue()


def test_docker_py_builds_a_dockerfile(image, client, pyctr):  # noqa: F811
    dockerfile = f"FROM {image}\nRUN echo built-by-run > /built\nLABEL from=api\n".encode()
    built, stream = client.images.build(fileobj=io.BytesIO(dockerfile), tag="svc-built:1", rm=True,
                                        labels={"extra": "yes"}, buildargs={"UNUSED": "x"})
    lines = "".join(m.get("stream", "") for m in stream)
    assert "STEP 2/3: RUN echo built-by-run > /built" in lines
    assert "built-by-run" not in lines.replace("echo built-by-run", "")  # (RUN wrote to a file)
    assert f"Successfully built {built.id[7:19]}" in lines and "Successfully tagged localhost/svc-built:1" in lines
    assert built.tags == ["localhost/svc-built:1"]
    assert built.labels == {"from": "api", "extra": "yes"}
    assert pyctr("run", "--rm", "svc-built:1", "cat", "/built").stdout == "built-by-run\n"


def test_docker_py_builds_a_context_with_target_and_args(image, client):  # noqa: F811
    dockerfile = (f"FROM {image} AS first\nARG WORD=default\nCOPY sub/file.txt /file.txt\n"
                  "RUN echo \"word=$WORD\"; cat /file.txt\n"
                  f"FROM {image} AS second\nRUN false\n").encode()
    context = _tar({"build/Dockerfile.alt": dockerfile, "sub/file.txt": b"from the context\n"})
    built, stream = client.images.build(fileobj=io.BytesIO(context), custom_context=True,
                                        dockerfile="build/Dockerfile.alt", target="first", tag="svc-ctx",
                                        buildargs={"WORD": "given"}, nocache=True)
    lines = "".join(m.get("stream", "") for m in stream)
    assert "word=given\nfrom the context\n" in lines
    assert built.tags == ["localhost/svc-ctx:latest"]


def test_build_errors_are_streamed_or_refused(image, client, service):  # noqa: F811
    failing = f"FROM {image}\nRUN echo before; exit 3\n".encode()
    with pytest.raises(docker.errors.BuildError) as caught:
        client.images.build(fileobj=io.BytesIO(failing), tag="svc-fails")
    assert 'building at STEP "RUN echo before; exit 3": while running runtime: exit status 3' in str(caught.value)
    assert "before\n" in "".join(m.get("stream", "") for m in caught.value.build_log)
    # before the stream starts: a Docker API error
    with pytest.raises(docker.errors.APIError) as caught:
        client.images.build(fileobj=io.BytesIO(_tar({"Dockerfile": failing})), custom_context=True,
                            dockerfile="../../../etc/passwd")
    assert caught.value.response.status_code == 400 and "outside the build context" in str(caught.value)
    with pytest.raises(docker.errors.APIError) as caught:
        list(client.api.build(fileobj=io.BytesIO(_tar({"Dockerfile": failing})), custom_context=True,
                              container_limits={"memory": 1 << 30}, decode=True))
    assert "not supported" in str(caught.value)


def test_a_hostile_context_stays_in_its_directory(image, client, tmp_path):  # noqa: F811
    outside = tmp_path / "outside"
    outside.mkdir()
    context = _tar({
        "Dockerfile": f"FROM {image}\nCOPY . /ctx/\nRUN find /ctx | sort\n".encode(),
        "../escaped": b"x", f"{outside}/absolute": b"x",
        "link": ("symlink", str(outside)), "link/through-link": b"x",
    })
    built, stream = client.images.build(fileobj=io.BytesIO(context), custom_context=True, tag="svc-hostile")
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "escaped").exists()
    lines = "".join(m.get("stream", "") for m in stream)
    assert "/ctx/Dockerfile" in lines


@pytest.mark.skipif(not DOCKER_CLI, reason="the docker CLI is not installed")
def test_docker_cli_legacy_build(image, service, pyctr, tmp_path):  # noqa: F811
    project = tmp_path / "project"
    project.mkdir()
    (project / "Dockerfile").write_text(f"FROM {image}\nCOPY hello.txt /\nCMD [\"cat\", \"/hello.txt\"]\n")
    (project / "hello.txt").write_text("hello from the cli's context\n")
    env = {**pyctr.store.env(), "DOCKER_HOST": service.uri, "DOCKER_BUILDKIT": "0",
           "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    result = subprocess.run([DOCKER_CLI, "build", "-t", "svc-cli", "."], cwd=project, env=env, text=True,
                            capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{service.output()}"
    assert "Successfully tagged localhost/svc-cli:latest" in result.stdout
    quiet = subprocess.run([DOCKER_CLI, "build", "-q", "-t", "svc-cli", "."], cwd=project, env=env, text=True,
                           capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    assert quiet.returncode == 0, quiet.stderr
    ident = pyctr("images", "--no-trunc", "--format", "{{.ID}}", "svc-cli").stdout.strip()
    assert quiet.stdout.strip() == ident
    assert pyctr("run", "--rm", "svc-cli").stdout == "hello from the cli's context\n"
