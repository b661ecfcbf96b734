"""manifest create/add/annotate/remove/inspect/exists/rm/push against the test registry, compared
with what podman 4.3.1 printed for the same steps (tests/golden/manifest/, recorded with podman
against a registry holding the same images): local and remote entries, a remote index with --all,
pushing a list with its images, pulling it into another store, skopeo's view of what was pushed."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path


from tests.conftest import Pyctr, Store

GOLDEN = Path(__file__).parent / "golden" / "manifest"
BUSYBOX = "sha256:167793b6076333b95af5fd0794d207ad4f96366e7d6a24e9fc64bb8b2a3ad87f"  # test/busybox's manifest
MULTI_AMD64 = "sha256:9c7f1d6ce95b3bef4a05536abccc646c7344e9de2f206ff168209d32ed25a055"
MULTI_ARM64 = "sha256:1dde643ce6313a1b10dfc4b412a72369e1118f9af661cd43b644f98a4806f0df"
EMPTY_LIST = "sha256:20b959ad5960230b65a77b746bdbf5d991ade4d7a129c2554e167acdcc990531"
# podman pushes a local image with its layer compressed anew: its entry's digest and size change.
PODMAN_PUSHED_BUSYBOX = ("sha256:ca55f5ed967b551b3075cac6c670419d5d3f4a68b00bd1434a094b09d93f2547", 427)


def golden(name: str) -> str:
    return (GOLDEN / name).read_text()


def other_store(tmp_path) -> Pyctr:
    (tmp_path / "other").mkdir()
    return Pyctr(Store.create(tmp_path / "other"))


def build_list(pyctr, registry, image) -> str:
    """podman's recorded steps: create, a local image, the host's entry of test/multi, all of test/multi
    (the amd64 entry is not added twice), then an annotation; -> the list's ID."""
    list_id = pyctr("manifest", "create", "mylist").stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", list_id)
    assert pyctr("manifest", "inspect", "mylist").stdout == golden("empty.json")
    # podman 4.3.1's `images` row of an empty list: its size and digest.
    assert pyctr("images", "--format", "{{.Size}} {{.Digest}}", "mylist").stdout == f"110 B {EMPTY_LIST}\n"
    assert pyctr("manifest", "add", "mylist", f"containers-storage:{image}").stdout.strip() == list_id
    assert pyctr("manifest", "add", "mylist", f"docker://{registry.host}/test/multi:latest").stdout.strip() == list_id
    assert pyctr("manifest", "add", "--all", "mylist", f"{registry.host}/test/multi:latest").stdout.strip() == list_id
    assert pyctr("manifest", "inspect", "mylist").stdout == golden("added.json")
    annotated = pyctr("manifest", "annotate", "--os-version", "10.1", "--variant", "v9", "--arch", "arm", "--os", "freebsd",
                      "--annotation", "a=b", "--annotation", "c=d", "mylist", BUSYBOX)
    assert annotated.stdout.strip() == list_id
    assert pyctr("manifest", "inspect", "mylist").stdout == golden("annotated.json")
    return list_id


def test_create_add_annotate_remove_as_podman(registry, image, pyctr):
    list_id = build_list(pyctr, registry, image)
    assert pyctr("manifest", "remove", "mylist", MULTI_ARM64).stdout.strip() == list_id
    assert pyctr("manifest", "inspect", "mylist").stdout == golden("removed.json")
    # A list is an image: listed under its name, removed by rmi, found by `inspect` as the local
    # image of this host's platform (here test/multi's amd64 entry: not pulled, so not found).
    rows = pyctr("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout.splitlines()
    assert f"localhost/mylist:latest {list_id[:12]}" in rows
    missing = pyctr("image", "inspect", "mylist", check=False)
    assert missing.returncode == 125 and f"could not find image instance {MULTI_AMD64} of manifest list {list_id}" in missing.stderr
    assert pyctr("manifest", "exists", "mylist").returncode == 0
    assert pyctr("manifest", "exists", "nolist", check=False).returncode == 1
    assert pyctr("manifest", "rm", "mylist").stdout == golden("rm.stdout").replace("{id}", list_id).replace("engm-g", "mylist")
    assert pyctr("manifest", "exists", "mylist", check=False).returncode == 1


def test_a_plain_name_is_the_local_image_and_amend_keeps_the_list(registry, image, pyctr):
    list_id = pyctr("manifest", "create", "plain", image).stdout.strip()
    entries = json.loads(pyctr("manifest", "inspect", "plain").stdout)["manifests"]
    assert [e["digest"] for e in entries] == [BUSYBOX]
    taken = pyctr("manifest", "create", "plain", check=False)
    assert taken.returncode == 125 and "that name is already in use" in taken.stderr
    again = pyctr("manifest", "create", "--amend", "--all", "plain", f"docker://{registry.host}/test/multi").stdout.strip()
    assert again == list_id
    entries = json.loads(pyctr("manifest", "inspect", "plain").stdout)["manifests"]
    assert [e["digest"] for e in entries] == [BUSYBOX, MULTI_AMD64, MULTI_ARM64]
    # A local list given to add gives its entries: the host's, or all of them with --all.
    pyctr("manifest", "create", "copy-all", "--all", "plain")
    pyctr("manifest", "create", "copy-host", "containers-storage:plain")
    assert json.loads(pyctr("manifest", "inspect", "copy-all").stdout)["manifests"] == entries
    assert [e["digest"] for e in json.loads(pyctr("manifest", "inspect", "copy-host").stdout)["manifests"]] == [BUSYBOX]
    # The list stands for the host's image where an image is wanted: busybox is local.
    assert json.loads(pyctr("image", "inspect", "plain").stdout)[0]["Digest"] == BUSYBOX
    assert "localhost/plain:latest" in pyctr("rmi", "plain").stdout
    assert pyctr("image", "exists", image).returncode == 0  # the entry's image stays


def test_inspect_of_a_registry_reference(registry, pyctr):
    assert pyctr("manifest", "inspect", f"{registry.host}/test/multi:latest").stdout == golden("remote-index.json")
    single = pyctr("manifest", "inspect", f"{registry.host}/test/busybox:latest")
    assert single.stdout == golden("remote-single.json")
    stamp = re.compile(r'time="[^"]*"')
    assert stamp.sub("", single.stderr) == stamp.sub("", golden("remote-single.stderr"))


def test_push_with_its_images_then_pull_on_another_store(registry, image, pyctr, tmp_path):
    build_list(pyctr, registry, image)
    pyctr("manifest", "remove", "mylist", MULTI_ARM64)
    dest = f"{registry.host}/lists/pushed:1"
    pushed = pyctr("manifest", "push", "--digestfile", tmp_path / "digest", "mylist", f"docker://{dest}")
    # podman's lines, but for the local image's blob (podman compresses it anew: another digest).
    podman_lines = golden("push.stderr").splitlines()
    ours = pushed.stderr.splitlines()
    assert [line.split(" sha256:")[0] for line in ours] == [line.split(" sha256:")[0] for line in podman_lines]
    assert [line for line in ours if "Copying image" in line] == [line for line in podman_lines if "Copying image" in line]
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{dest}"],
                         capture_output=True, check=True).stdout
    digest = (tmp_path / "digest").read_text()
    import hashlib

    assert digest == "sha256:" + hashlib.sha256(raw).hexdigest()
    # Byte for byte what podman pushed, once podman's recompressed entry is put back.
    podman_raw = golden("pushed-raw.json").strip().replace(PODMAN_PUSHED_BUSYBOX[0], BUSYBOX) \
        .replace(f'"size":{PODMAN_PUSHED_BUSYBOX[1]}', '"size":527')
    assert raw.decode() == podman_raw
    # Another store pulls the host's entry: busybox is annotated freebsd/arm, so test/multi's amd64.
    other = other_store(tmp_path)
    other("pull", "-q", dest)
    assert json.loads(other("image", "inspect", dest).stdout)[0]["Digest"] == MULTI_AMD64
    # --all=false pushes the list only (the registry has its entries now); --rm drops the local list.
    pyctr("manifest", "push", "-q", "--all=false", "--rm", "mylist", f"{dest.rsplit(':', 1)[0]}:2")
    assert pyctr("manifest", "exists", "mylist", check=False).returncode == 1
    raw2 = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{dest.rsplit(':', 1)[0]}:2"],
                          capture_output=True, check=True).stdout
    assert raw2 == raw


def test_push_to_another_registry_with_auth_copies_the_remote_entries(registry, registry_basic, image, pyctr, tmp_path):
    pyctr("manifest", "create", "--all", "far", image, f"{registry.host}/test/multi:latest")
    dest = f"{registry_basic.host}/far/list:1"
    creds = f"{registry_basic.username}:{registry_basic.password}"
    denied = pyctr("manifest", "push", "-q", "far", dest, check=False)
    assert denied.returncode == 125 and "authentication required" in denied.stderr
    pyctr("manifest", "push", "-q", "--creds", creds, "far", dest)
    other = other_store(tmp_path)
    other("pull", "-q", "--creds", creds, dest)
    assert json.loads(other("image", "inspect", dest).stdout)[0]["Digest"] == BUSYBOX  # the first amd64 entry
    # The arm64 entry came from the other registry through pyctr: every blob of it is there.
    other("pull", "-q", "--creds", creds, "--platform", "linux/arm64/v8", dest)
    assert json.loads(other("image", "inspect", "--format", "json", dest).stdout)[0]["Digest"] == MULTI_ARM64


def test_concurrent_adds_all_land(registry, image, pyctr):
    pyctr("manifest", "create", "busy")
    refs = [f"containers-storage:{image}", f"docker://{registry.host}/test/multi:latest",
            f"{registry.host}/test/oci:latest", f"{registry.host}/test/web:latest"]
    procs = [subprocess.Popen(pyctr.argv("manifest", "add", "busy", ref), env=pyctr.store.env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for ref in refs]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    entries = json.loads(pyctr("manifest", "inspect", "busy").stdout)["manifests"]
    assert len(entries) == 4  # test/oci is busybox with OCI media types: another manifest
    assert {BUSYBOX, MULTI_AMD64} <= {e["digest"] for e in entries}


def test_push_v2s2_writes_a_docker_list(registry, image, pyctr):
    pyctr("manifest", "create", "dl", image)
    dest = f"{registry.host}/lists/docker:1"
    pyctr("manifest", "push", "-q", "--format", "v2s2", "dl", dest)
    raw = json.loads(subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{dest}"],
                                    capture_output=True, check=True).stdout)
    assert raw == {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
                   "manifests": [{"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 527,
                                  "digest": BUSYBOX, "platform": {"architecture": "amd64", "os": "linux"}}]}


def test_a_local_entry_pushed_in_another_form_changes_in_the_pushed_list(registry, image, pyctr):
    pyctr("manifest", "create", "zl", image)
    dest = f"{registry.host}/lists/zstd:1"
    pyctr("manifest", "push", "-q", "--compression-format", "zstd", "--format", "oci", "zl", dest)
    entry = json.loads(subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{dest}"],
                                      capture_output=True, check=True).stdout)["manifests"][0]
    assert entry["digest"] != BUSYBOX and entry["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    pushed = json.loads(subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                                        f"docker://{dest.rsplit(':', 1)[0]}@{entry['digest']}"],
                                       capture_output=True, check=True).stdout)
    assert [layer["mediaType"] for layer in pushed["layers"]] == ["application/vnd.oci.image.layer.v1.tar+zstd"]
    # The local list is unchanged: it still names the stored manifest.
    assert json.loads(pyctr("manifest", "inspect", "zl").stdout)["manifests"][0]["digest"] == BUSYBOX


def test_errors_are_one_line_as_podman(registry, image, pyctr):
    pyctr("manifest", "create", "errs")
    zero = "sha256:" + "0" * 64
    cases = [
        (["manifest", "create", "errs"], 125, 'image name "localhost/errs:latest" is already associated with image'),
        (["manifest", "create", "BadName"], 125, 'normalizing name "BadName": repository name must be lowercase'),
        (["manifest", "add", "nolist", image], 125, "nolist: image not known"),
        (["manifest", "add", image, image], 125, f"{image}: image is not a manifest list"),
        (["manifest", "remove", "errs", "nodigest"], 125,
         'removing from manifest list errs: invalid image digest "nodigest": invalid checksum digest format'),
        (["manifest", "remove", "errs", zero], 125,
         f'removing from manifest list errs: no instance matching digest "{zero}" found in manifest list: file does not exist'),
        (["manifest", "annotate", "errs", zero, "--os", "x"], 125, f'no Docker manifest matching digest "{zero}" was found in list'),
        (["manifest", "annotate", "errs", "x", "--os", "x"], 125, 'invalid image digest "x"'),
        (["manifest", "exists", image], 125, "image is not a manifest list"),
        (["manifest", "exists"], 125, "accepts 1 arg(s), received 0"),
        (["manifest", "rm", "nolist"], 1, "nolist: image not known"),
        (["manifest", "rm", image], 125, "image is not a manifest list"),
        (["manifest", "push", "errs", "--sign-by", "KEY"], 125, "signing images is not supported"),
        (["manifest", "push"], 125, "accepts between 1 and 2 arg(s), received 0"),
        (["manifest", "push", "errs", "oci-archive:/tmp/x.tar"], 125, "not supported"),
        (["manifest", "push", "--format", "xml", "errs", f"{registry.host}/x/y"], 125, "unknown format"),
    ]
    for argv, code, text in cases:
        result = pyctr(*argv, check=False)
        assert result.returncode == code, (argv, result.stderr)
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1 and text in result.stderr, (argv, result.stderr)
    annotated = pyctr("manifest", "add", "--annotation", "bad", "errs", image, check=False)
    assert annotated.returncode == 125 and annotated.stderr == 'Error: no value given for annotation "bad"\n'


# -- pure logic -----------------------------------------------------------------------------------

def test_list_type_and_field_order_follow_buildah():
    from pyctr.image import manifests, oci

    plain = manifests.Instance(digest=BUSYBOX, size=527, media_type=oci.DOCKER_MANIFEST,
                               platform={"os": "linux", "architecture": "amd64"})
    assert manifests.preferred_type([]) == oci.DOCKER_LIST
    assert manifests.preferred_type([plain]) == oci.OCI_INDEX
    featured = manifests.Instance.from_json({**plain.to_json(), "platform": {**plain.platform, "features": ["sse4"]}})
    assert manifests.preferred_type([featured]) == oci.DOCKER_LIST
    body, media_type = manifests.serialize([plain])
    assert body.decode() == ('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":'
                             f'[{{"mediaType":"{oci.DOCKER_MANIFEST}","digest":"{BUSYBOX}","size":527,'
                             '"platform":{"architecture":"amd64","os":"linux"}}]}')
    manifests.override(plain, features=["a,b"], os_features=["win32k"], annotations=["k=v"])
    docker = json.loads(manifests.serialize([plain], oci.DOCKER_LIST)[0])["manifests"][0]
    assert list(docker) == ["mediaType", "size", "digest", "platform"]
    assert docker["platform"] == {"architecture": "amd64", "os": "linux", "os.features": ["win32k"], "features": ["a", "b"]}
