"""`pyctr pull` and the image commands against a real registry (tests/harness)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.harness import images as timages
from tests.harness.ocilayout import umoci_compatible, write_oci_layout


def image_id(item) -> str:
    return item.config_digest.split(":")[1]


def test_pull_list_inspect_remove(registry, pyctr, store):
    ref = f"{registry.host}/test/busybox:latest"
    pulled = pyctr("pull", ref)
    expected_id = image_id(registry.pushed["test/busybox:latest"])
    assert pulled.stdout.strip() == expected_id
    assert f"Trying to pull {ref}..." in pulled.stderr
    assert "Copying blob" in pulled.stderr and "Writing manifest" in pulled.stderr

    listing = pyctr("images").stdout.splitlines()
    assert listing[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert listing[1].split()[:3] == [f"{registry.host}/test/busybox", "latest", expected_id[:12]]

    [info] = json.loads(pyctr("image", "inspect", ref).stdout)
    assert info["Id"] == expected_id
    assert info["RepoTags"] == [ref]
    assert info["Digest"] == registry.pushed["test/busybox:latest"].manifest_digest
    assert info["Os"] == "linux" and info["Architecture"] == "amd64"
    assert info["Config"]["Cmd"] == ["sh"]
    assert pyctr("image", "inspect", "--format", "{{.Id}}", "test/busybox").stdout == expected_id + "\n"

    removed = pyctr("rmi", ref)
    assert removed.stdout.splitlines() == [f"Untagged: {ref}", f"Deleted: {expected_id}"]
    assert pyctr("images", "-q").stdout == ""
    # Nothing of the image is left behind.
    assert os.listdir(store.root / "blobs" / "sha256") == []
    assert layer_leftovers(store.root / "layers") == []


def layer_leftovers(layers: Path) -> list[str]:
    """What the layer store holds besides lock files and its (empty) directory of short links."""
    return [n for n in os.listdir(layers) if not n.endswith(".lock") and n != "l"] + [
        f"l/{n}" for n in (os.listdir(layers / "l") if (layers / "l").exists() else [])]


def test_quiet_prints_only_the_id(registry, pyctr):
    result = pyctr("pull", "-q", f"{registry.host}/test/busybox")
    assert result.stdout == image_id(registry.pushed["test/busybox:latest"]) + "\n"
    assert result.stderr == ""


def test_index_selects_the_host_platform_or_the_one_asked_for(registry, pyctr):
    index = registry.pushed["test/multi:latest"]
    ref = f"{registry.host}/test/multi:latest"
    assert pyctr("pull", "-q", ref).stdout.strip() == image_id(index.image_for("amd64"))
    arm = pyctr("pull", "-q", "--platform", "linux/arm64", ref).stdout.strip()
    assert arm == image_id(index.image_for("arm64"))
    assert pyctr("image", "inspect", "--format", "{{.Architecture}}", arm).stdout.strip() == "arm64"
    # The name moved to the image pulled last, as with podman.
    assert pyctr("images", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}").stdout.splitlines() == [
        f"{arm[:12]} {ref}",
        f"{image_id(index.image_for('amd64'))[:12]} <none>:<none>",
    ]
    missing = pyctr("pull", "--platform", "linux/s390x", ref, check=False)
    assert missing.returncode == 125
    assert "no image found in manifest list for platform linux/s390x" in missing.stderr


def test_pull_by_digest(registry, pyctr):
    image = registry.pushed["test/oci:latest"]
    ref = f"{registry.host}/test/oci@{image.manifest_digest}"
    assert pyctr("pull", "-q", ref).stdout.strip() == image_id(image)
    [info] = json.loads(pyctr("image", "inspect", ref).stdout)
    assert info["RepoDigests"] == [ref]
    assert info["ManifestType"] == timages.MediaType.OCI_MANIFEST


def test_shared_layers_are_fetched_once(registry, pyctr, store):
    pyctr("pull", f"{registry.host}/test/busybox")
    second = pyctr("pull", f"{registry.host}/test/oci")
    assert "skipped: already exists" in second.stderr
    layers = [n for n in os.listdir(store.root / "layers") if len(n) == 64]
    assert len(layers) == 1


def test_tag_untag_and_short_names(registry, pyctr):
    pyctr("pull", f"{registry.host}/test/busybox")
    pyctr("tag", "busybox", "localhost/mine:1.0", "other:2")
    names = pyctr("image", "inspect", "--format", "{{range .RepoTags}}{{.}} {{end}}", "mine:1.0").stdout.split()
    # A name without a registry is localhost's, as podman 4.3.1 tags it.
    assert names == [f"{registry.host}/test/busybox:latest", "localhost/mine:1.0", "localhost/other:2"]
    # Removing one of several names only untags it.
    assert pyctr("rmi", "other:2").stdout.strip() == "Untagged: localhost/other:2"
    pyctr("untag", "mine:1.0", "localhost/mine:1.0")
    assert len(pyctr("images", "-q").stdout.split()) == 1


def test_explicit_tls_verify_never_falls_back_to_http(registry, pyctr):
    # podman 4.3.1 against a plain-HTTP registry on localhost with --tls-verify=true (pull and login).
    https_only = f'Get "https://{registry.host}/v2/": http: server gave HTTP response to HTTPS client'
    bad = pyctr("pull", "-q", "--tls-verify=true", f"{registry.host}/test/busybox", check=False)
    assert bad.returncode == 125 and bad.stderr.startswith(f"Error: pinging container registry {registry.host}: {https_only}\n")
    bad = pyctr("login", "--tls-verify=true", "-u", "a", "-p", "b", registry.host, check=False)
    assert bad.returncode == 125 and https_only in bad.stderr.splitlines()[0]
    assert pyctr("pull", "-q", f"{registry.host}/test/busybox").stdout.strip()  # not given: loopback speaks HTTP


def test_multi_layer_mount_matches_the_layers_applied_in_order(registry, pyctr, store, tmp_path):
    ref = f"{registry.host}/test/multi:latest"
    pyctr("pull", ref)
    mounted = Path(pyctr("image", "mount", ref).stdout.strip())
    assert mounted.is_relative_to(store.runroot)
    assert pyctr("image", "mount", ref).stdout.strip() == str(mounted)  # idempotent

    amd64 = registry.pushed["test/multi:latest"].image_for("amd64")
    assert timages.tree_mismatches(mounted, timages.MULTI_AMD64_EXPECTED, timages.MULTI_AMD64_ABSENT) == []
    with pytest.raises(OSError):
        (mounted / "new-file").write_text("read-only")

    # The reference tool: umoci unpacks the same layers in order.
    layout = write_oci_layout(umoci_compatible(amd64), tmp_path / "layout")
    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:latest", str(bundle)], check=True, capture_output=True)
    assert compare_trees(mounted, bundle / "rootfs") == []

    assert pyctr("image", "unmount", ref).stdout.strip() == image_id(amd64)
    assert not os.path.ismount(mounted)


def compare_trees(ours: Path, reference: Path) -> list[str]:
    """Names, types, modes, owners, link targets, contents and hardlink groups of two trees."""
    def walk(root: Path) -> dict[str, tuple]:
        entries, inodes = {}, {}
        for directory, dirs, files in os.walk(root):
            for name in dirs + files:
                path = Path(directory, name)
                rel = str(path.relative_to(root))
                st = path.lstat()
                kind = stat.S_IFMT(st.st_mode)
                detail = os.readlink(path) if stat.S_ISLNK(st.st_mode) else (
                    path.read_bytes() if stat.S_ISREG(st.st_mode) else None)
                group = inodes.setdefault(st.st_ino, rel) if stat.S_ISREG(st.st_mode) and st.st_nlink > 1 else None
                entries[rel] = (kind, stat.S_IMODE(st.st_mode) if not stat.S_ISLNK(st.st_mode) else 0,
                                st.st_uid, st.st_gid, detail, group)
        return entries

    a, b = walk(ours), walk(reference)
    problems = [f"only in ours: {p}" for p in sorted(a.keys() - b.keys())]
    problems += [f"only in reference: {p}" for p in sorted(b.keys() - a.keys())]
    for path in sorted(a.keys() & b.keys()):
        if a[path] != b[path]:
            problems.append(f"{path}: ours {a[path][:4]} {str(a[path][4])[:40]} vs {b[path][:4]} {str(b[path][4])[:40]}")
    return problems


# -- errors --------------------------------------------------------------------------------

def assert_clean_failure(result, store, message: str) -> None:
    """Exit 125, one line naming the problem, and nothing half-written in the store."""
    assert result.returncode == 125, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in errors[0]
    images_file = store.root / "images.json"
    assert not images_file.exists() or json.loads(images_file.read_text())["images"] == {}
    layers = store.root / "layers"
    if layers.exists():
        assert layer_leftovers(layers) == []


def test_unknown_image(registry, pyctr, store):
    result = pyctr("pull", f"{registry.host}/test/nothing-here:latest", check=False)
    assert_clean_failure(result, store, "manifest unknown")


def test_blob_the_registry_lost(registry, pyctr, store):
    image = timages.busybox_image()
    timages.push(registry, "bad/lost-blob", "latest", image)
    with timages.client_for(registry, "bad/lost-blob") as client:
        # Unlinks the layer from this repository only; the manifest still names it.
        assert client.delete(f"/v2/bad/lost-blob/blobs/{image.layers[0].digest}").status_code == 202
    result = pyctr("pull", f"{registry.host}/bad/lost-blob", check=False)
    assert_clean_failure(result, store, f"fetching blob {image.layers[0].digest}: blob unknown")
    assert "manifest" not in result.stderr


def test_malformed_reference(pyctr, store):
    assert_clean_failure(pyctr("pull", "UPPER/Case::x", check=False), store, "invalid reference format")


def test_unreachable_registry(pyctr, store):
    assert_clean_failure(pyctr("pull", "127.0.0.1:1/test/busybox", check=False), store, "connection refused".title().split()[0])


def test_truncated_blob(registry, pyctr, store):
    timages.push(registry, "bad/truncated", "latest", timages.with_wrong_layer_size(timages.busybox_image(), delta=1000))
    result = pyctr("pull", f"{registry.host}/bad/truncated", check=False)
    assert_clean_failure(result, store, "truncated")


def test_blob_longer_than_declared(registry, pyctr, store):
    timages.push(registry, "bad/long", "latest", timages.with_wrong_layer_size(timages.busybox_image(), delta=-1000))
    assert_clean_failure(pyctr("pull", f"{registry.host}/bad/long", check=False), store, "more data than")


def test_diff_id_mismatch(registry, pyctr, store):
    timages.push(registry, "bad/diffid", "latest", timages.with_wrong_diff_id(timages.busybox_image()))
    assert_clean_failure(pyctr("pull", f"{registry.host}/bad/diffid", check=False), store, "does not match")


def test_layer_that_is_not_gzip(registry, pyctr, store):
    timages.push(registry, "bad/gzip", "latest", timages.with_undecompressable_layer(timages.busybox_image()))
    assert_clean_failure(pyctr("pull", f"{registry.host}/bad/gzip", check=False), store, "layer")


def test_schema1_is_refused(registry, pyctr, store):
    try:
        timages.push(registry, "bad/schema1", "latest", timages.schema1_manifest("bad/schema1", "latest"))
    except AssertionError as exc:
        pytest.skip(f"registry refused schema1: {exc}")
    assert_clean_failure(pyctr("pull", f"{registry.host}/bad/schema1", check=False), store, "schema 1")


def test_escaping_layer_writes_nothing_outside(registry, pyctr, store, tmp_path):
    image = timages.Image([timages.busybox_layer(), timages.escaping_layer()])
    timages.push(registry, "bad/escape", "latest", image)
    before = set(os.listdir("/"))
    result = pyctr("pull", f"{registry.host}/bad/escape", check=False)
    assert set(os.listdir("/")) == before
    assert not any(p.name.startswith("escaped") for p in store.root.rglob("*") if "layers" not in p.parts)
    if result.returncode == 0:
        # Contained: every escaping name landed inside the layer directory.
        mounted = Path(pyctr("image", "mount", f"{registry.host}/bad/escape").stdout.strip())
        assert (mounted / "escaped-dotdot").read_text() == "escaped via ..\n"
        assert (mounted / "escaped-absolute").exists()
    else:
        assert result.returncode == 125 and "Traceback" not in result.stderr


def test_full_disk_is_a_clear_error_and_the_store_recovers(registry, pyctr, store, tmp_path):
    """A store on a tiny tmpfs: the pull fails cleanly, and works once there is room."""
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(small)], check=True)
    try:
        root = small / "root"
        argv = pyctr.argv("pull", "-q", f"{registry.host}/test/busybox")
        argv[argv.index("--root") + 1] = str(root)
        result = pyctr.run(argv, check=False)
        assert result.returncode == 125
        assert "No space left on device" in result.stderr and "Hint:" in result.stderr
        listed = pyctr.run([*argv[:argv.index("pull")], "images", "-q"])
        assert listed.stdout == ""
        subprocess.run(["mount", "-o", "remount,size=20m", str(small)], check=True)
        assert pyctr.run(argv).stdout.strip() == image_id(registry.pushed["test/busybox:latest"])
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_registries_conf_insecure_entry_allows_plain_http(tmp_path):
    from pyctr.image.registries import RegistriesConf

    conf_file = tmp_path / "registries.conf"
    conf_file.write_text('[[registry]]\nlocation = "myhost:5000"\ninsecure = true\n\n[[registry]]\nlocation = "secure:5000"\n')
    conf = RegistriesConf.load([conf_file])
    assert conf.allows_http("myhost:5000")
    assert not conf.allows_http("secure:5000")
    assert conf.allows_http("localhost:5000")  # loopback needs no entry
