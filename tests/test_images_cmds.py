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


def test_any_filter_may_be_negated_as_podman():
    assert listing.parse_filters(["label!=a=b", "dangling=true", "reference!=x"]) == [
        ("label", "a=b", True), ("dangling", "true", False), ("reference", "x", True)]


# podman 4.3.1: what `tag IMAGE NAME` names (images --format '{{.Repository}}:{{.Tag}}'), or its error.
PODMAN_TAG_NAMES = {
    "f3name": "localhost/f3name:latest",
    "f3repo/sub:v1": "localhost/f3repo/sub:v1",
    "docker.io/f3hub": "docker.io/library/f3hub:latest",
    "quay.io/f3q": "quay.io/f3q:latest",
    "example.com:5000/f3x": "example.com:5000/f3x:latest",
    "library/f3lib": "localhost/library/f3lib:latest",
    "Foo": 'normalizing name "Foo": normalizing name "Foo": repository name must be lowercase',
}


@pytest.mark.parametrize("name,expected", sorted(PODMAN_TAG_NAMES.items()))
def test_tag_names_as_podman(name, expected):
    from pyctr.errors import InvalidReference
    from pyctr.image.reference import local_name

    if " " in expected:
        with pytest.raises(InvalidReference) as info:
            local_name(name)
        assert str(info.value) == expected
    else:
        assert str(local_name(name)) == expected


def test_filter_and_sort_errors_as_podman():
    cases = {
        "foo=bar": 'unsupported image filter "foo"',
        "foo!=bar": 'unsupported image filter "foo"',
        "label!foo": 'invalid image filter "label!foo": must be in the format "filter=value or filter!=value"',
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
    assert out == ["localhost/alpha:2", "localhost/zeta:1"]
    out = pyctr("images", "--sort", "tag", "--format", "{{.Tag}}").stdout.split()
    assert out == ["1", "2"]
    assert pyctr("images", "-q", "--filter", "reference=zeta").stdout == image_id[:12] + "\n"
    assert pyctr("images", "-q", "--filter", "reference=nothing*").stdout == ""
    assert pyctr("images", "-q", "--filter", f"id={image_id}").stdout == image_id[:12] + "\n"
    assert pyctr("images", "-q", "--filter", "before=zeta:1").stdout == ""
    assert pyctr("images", "-q", "--filter", "until=2000-01-01T00:00:00Z").stdout == ""
    history = pyctr("images", "--history", "--format", "{{.History}}").stdout.splitlines()
    assert history[0] == f"localhost/alpha:2, localhost/zeta:1, {by_digest}"  # newest first
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


def test_image_prune_asks_first_and_negated_filters(pyctr, image):
    # podman 4.3.1: the question on stdout; EOF is `Error: EOF` (125); only an answer starting with y goes on.
    image_id = pyctr("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()
    pyctr("untag", image_id)  # dangling now
    eof = pyctr("image", "prune", check=False)
    assert (eof.returncode, eof.stdout, eof.stderr) == (
        125, "WARNING! This command removes all dangling images.\nAre you sure you want to continue? [y/N] ", "Error: EOF\n")
    no = pyctr("image", "prune", "-a", input="n\n")
    assert no.stdout == ("WARNING! This command removes all images without at least one container associated with "
                         "them.\nAre you sure you want to continue? [y/N] ") and no.returncode == 0
    assert pyctr("images", "-q").stdout.strip() == image_id[:12]
    # label!= is accepted, as podman (the image has no labels: label!=any keeps it).
    assert pyctr("images", "-q", "--filter", "label!=nosuch").stdout.strip() == image_id[:12]
    assert pyctr("images", "-q", "--filter", "dangling!=true").stdout == ""
    assert pyctr("image", "prune", "-f", "--filter", "label=nosuch").stdout == ""
    assert pyctr("image", "prune", "--filter", "label!=nosuch", input="yes\n").stdout.endswith(f"[y/N] {image_id}\n")
    assert pyctr("images", "-q").stdout == ""


def test_pull_warns_of_a_platform_the_image_is_not_of(pyctr, registry):
    # podman 4.3.1 (a single-platform image is pulled whatever --arch says):
    #   pull -q:  time="..." level=warning msg="image platform ({amd64 linux  [] }) does not match the expected platform ({arm64 linux  [] })"
    #   pull:     WARNING: image platform ({amd64 linux  [] }) does not match the expected platform ({arm64 linux  [] })
    ref = f"{registry.host}/test/busybox"
    arch = pyctr("image", "inspect", "--format", "{{.Architecture}}", pyctr("pull", "-q", ref).stdout.strip()).stdout.strip()
    other = "s390x" if arch != "s390x" else "arm64"
    warning = f"image platform ({{{arch} linux  [] }}) does not match the expected platform ({{{other} linux  [] }})"
    quiet = pyctr("pull", "-q", "--arch", other, ref)
    assert quiet.stderr.startswith("time=") and quiet.stderr.endswith(f' level=warning msg="{warning}"\n')
    loud = pyctr("pull", "--arch", other, ref)
    assert loud.stderr.splitlines()[-1] == f"WARNING: {warning}"
    assert "warning" not in pyctr("pull", "-q", "--arch", arch, ref).stderr


def test_short_names_prefer_localhost_as_podman(pyctr, image):
    # podman 4.3.1: `tag IMG NAME` is localhost/NAME; a short name finds localhost/NAME before docker.io's;
    # untag goes name by name up to the first unknown one.
    pyctr("tag", image, "docker.io/library/f3dup", "f3dup", "f3other:1")
    names = pyctr("image", "inspect", "--format", "{{range .RepoTags}}{{.}} {{end}}", "f3dup").stdout.split()
    assert names[1:] == ["docker.io/library/f3dup:latest", "localhost/f3dup:latest", "localhost/f3other:1"]
    assert pyctr("rmi", "f3dup").stdout == "Untagged: localhost/f3dup:latest\n"
    assert pyctr("rmi", "f3dup").stdout == "Untagged: docker.io/library/f3dup:latest\n"
    bad = pyctr("untag", image, "f3other:1", "f3nosuch", check=False)
    assert (bad.returncode, bad.stderr) == (125, "Error: localhost/f3nosuch:latest: tag not known\n")
    assert pyctr("images", "--format", "{{.Repository}}:{{.Tag}}").stdout == f"{image}\n"
    bad = pyctr("tag", image, "Foo", check=False)
    assert (bad.returncode, bad.stderr) == (
        125, 'Error: normalizing name "Foo": normalizing name "Foo": repository name must be lowercase\n')
