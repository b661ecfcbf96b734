"""`images` as podman 4.3.1's: --filter, --sort, --history, rows of digest-only images; and
the pure matching rules (what podman 4.3.1 printed for the same filters is recorded below)."""

from __future__ import annotations

import pytest

from pyctr.errors import InvalidArgument
from pyctr.image import listing

NAME = "localhost:5050/test/busybox:latest"

# podman 4.3.1, `images -q --filter reference=VALUE` against localhost:5050/test/busybox:latest.
PODMAN_REFERENCE = {
    "busybox": True, "*box*": True, "test/*": True, "test/busybox": True, "busybox:lat*": True,
    "*/busybox": True, "bus*": True, "localhost:5050/*": False, "localhost:5050/test/*": True, "busy": False,
    "*": True, "*/*": True, "*busybox:latest": True, "test/busybox:latest": True, "est/busybox": False,
    "localhost:5050/test/busybox": True, "busybox:nope": False, "*:latest": True, NAME: True,
    "busybox@sha256:167793b6076333b95af5fd0794d207ad4f96366e7d6a24e9fc64bb8b2a3ad87f": False,
}


def test_reference_filter_on_a_digest_name():
    digest = "sha256:" + "1" * 64
    assert listing.reference_matches(f"busybox@{digest}", f"localhost:5050/test/busybox@{digest}")
    assert not listing.reference_matches("busybox:latest", f"localhost:5050/test/busybox@{digest}")


@pytest.mark.parametrize("pattern,expected", sorted(PODMAN_REFERENCE.items()))
def test_reference_filter_as_podman(pattern, expected):
    assert listing.reference_matches(pattern, NAME) is expected


def test_filter_and_sort_errors_as_podman():
    cases = {
        "foo=bar": 'unsupported image filter "foo"',
        "label": 'invalid image filter "label": must be in the format "filter=value or filter!=value"',
    }
    for item, message in cases.items():
        with pytest.raises(InvalidArgument) as info:
            listing.parse_filters([item])
        assert str(info.value) == message
    with pytest.raises(InvalidArgument) as info:
        listing.boolean("dangling", "maybe")
    assert str(info.value) == ('non-boolean value "dangling" for maybe filter: strconv.ParseBool: '
                               'parsing "maybe": invalid syntax')
    with pytest.raises(InvalidArgument) as info:
        listing.sort_key("foo")
    assert str(info.value) == '"foo" is not a valid field for sorting. Choose from: created, id, repository, size, tag'


def test_images_filters_sort_and_digest_rows(pyctr, registry):
    by_tag = f"{registry.host}/test/busybox:latest"
    digest = pyctr("image", "inspect", "--format", "{{.Digest}}", pyctr("pull", "-q", by_tag).stdout.strip()).stdout.strip()
    pyctr("rmi", by_tag)
    # Pulled by digest: the repository with a <none> tag, as podman; untagged by digest: <none> <none>.
    by_digest = f"{registry.host}/test/busybox@{digest}"
    image_id = pyctr("pull", "-q", by_digest).stdout.strip()
    rows = pyctr("images", "--format", "{{.Repository}} {{.Tag}}").stdout
    assert rows == f"{registry.host}/test/busybox <none>\n"
    assert pyctr("images", "-q", "--filter", "dangling=true").stdout == ""
    pyctr("untag", image_id, by_digest)
    assert pyctr("images", "--format", "{{.Repository}} {{.Tag}}").stdout == "<none> <none>\n"
    assert pyctr("images", "-q", "--filter", "dangling=true").stdout == image_id[:12] + "\n"
    pyctr("tag", image_id, "zeta:1", "alpha:2")
    out = pyctr("images", "--sort", "repository", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert out == ["docker.io/library/alpha:2", "docker.io/library/zeta:1"]
    out = pyctr("images", "--sort", "tag", "--format", "{{.Tag}}").stdout.split()
    assert out == ["1", "2"]
    assert pyctr("images", "-q", "--filter", "reference=zeta").stdout == image_id[:12] + "\n"
    assert pyctr("images", "-q", "--filter", "reference=nothing*").stdout == ""
    assert pyctr("images", "-q", "--filter", f"id={image_id}").stdout == image_id[:12] + "\n"
    assert pyctr("images", "-q", "--filter", "before=zeta:1").stdout == ""
    assert pyctr("images", "-q", "--filter", "until=2000-01-01T00:00:00Z").stdout == ""
    history = pyctr("images", "--history", "--format", "{{.History}}").stdout.splitlines()
    assert history[0] == f"docker.io/library/alpha:2, docker.io/library/zeta:1, {by_digest}"  # newest first
    table = pyctr("images", "--format", "table {{.ID}} {{.Tag}}", "--sort", "tag").stdout.splitlines()
    assert table[0].split() == ["IMAGE", "ID", "TAG"] and table[1].split() == [image_id[:12], "1"]
    bad = pyctr("images", "--filter", "before=nosuch", check=False)
    assert (bad.returncode, bad.stderr.strip()) == (
        125, 'Error: could not find local image for filter filter "before"="nosuch": nosuch: image not known')


def test_pull_options(pyctr, registry, registry_basic):
    repo = f"{registry.host}/test/multi"
    # --arch picks that platform of a multi-platform image; --platform and --arch conflict, as podman.
    arm = pyctr("pull", "-q", "--arch", "arm64", "--variant", "v8", repo).stdout.strip()
    assert pyctr("image", "inspect", "--format", "{{.Architecture}}", arm).stdout.strip() == "arm64"
    bad = pyctr("pull", "--platform", "linux/amd64", "--arch", "arm64", repo, check=False)
    assert (bad.returncode, bad.stderr.strip()) == (125, "Error: --platform option can not be specified with --arch or --os")
    # --all-tags: every tag of the repository (a tag with it is an error, as podman).
    assert pyctr("pull", "-q", "--all-tags", "--disable-content-trust", f"{registry.host}/test/busybox").stdout.strip()
    bad = pyctr("pull", "-a", f"{registry.host}/test/busybox:latest", check=False)
    assert bad.stderr.strip() == "Error: tag can't be used with --all-tags/-a"
    # --creds instead of a stored login.
    private = f"{registry_basic.host}/test/busybox"
    assert pyctr("pull", "-q", private, check=False).returncode == 125
    creds = f"{registry_basic.username}:{registry_basic.password}"
    assert pyctr("pull", "-q", "--creds", creds, private).stdout.strip()


def test_cert_dir_is_read_as_containers_image_reads_it(tmp_path):
    import subprocess

    from pyctr.image import certs

    assert certs.context("example.test:5000", str(tmp_path / "missing")) is None  # as containers/image: nothing to add
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=pyctr-test",
                    "-keyout", str(tmp_path / "client.key"), "-out", str(tmp_path / "client.cert")],
                   check=True, capture_output=True)
    (tmp_path / "ca.crt").write_bytes((tmp_path / "client.cert").read_bytes())
    ctx = certs.context("example.test:5000", str(tmp_path))
    assert any(c["subject"] == ((("commonName", "pyctr-test"),),) for c in ctx.get_ca_certs())
    (tmp_path / "client.key").unlink()
    with pytest.raises(InvalidArgument, match="missing key client.key for client certificate client.cert"):
        certs.context("example.test:5000", str(tmp_path))


def test_login_verbose_names_the_auth_file(pyctr, registry_basic, tmp_path):
    authfile = tmp_path / "auth.json"
    out = pyctr("login", "-v", "--authfile", authfile, "--cert-dir", tmp_path / "no-certs", "-u", registry_basic.username,
                "--password-stdin", registry_basic.host, input=registry_basic.password + "\n").stdout
    assert out == f"Used:  {authfile}\nLogin Succeeded!\n"  # as podman 4.3.1
    assert pyctr("logout", "--all", "--authfile", authfile).stdout == "Removed login credentials for all registries\n"
