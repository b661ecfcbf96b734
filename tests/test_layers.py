"""Deep images: 125 layers (Docker's limit) run and mount, their lower directories passed
to overlay as short links (pyctr/snapshot/layers.py) within the page mount(2) takes."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from pyctr import digest as digestmod
from pyctr.errors import StoreError
from pyctr.linux import mount as mountmod
from pyctr.snapshot.layers import LayerStore, link_name
from tests.harness import images as timages

LAYERS = timages.MANY_LAYERS
# What every layer above busybox added: /stack/001 ... /stack/124, and /stack/top from the last.
STACK = [f"{i:03d}" for i in range(1, LAYERS)] + ["top"]


@pytest.fixture
def deep_image(registry, pyctr):
    ref = timages.push_many_layers(registry)
    pyctr("pull", "-q", ref)
    return ref


def test_run_125_layers(pyctr, deep_image, store):
    assert {"bin", "etc", "stack"} <= set(pyctr("run", "--rm", deep_image, "ls", "/").stdout.split())
    out = pyctr("run", "--rm", deep_image, "sh", "-c", "ls /stack; cat /stack/top; echo x > /stack/top; cat /stack/top")
    assert out.stdout.split() == STACK + [str(LAYERS - 1), "x"]  # every layer, the topmost wins, writable
    assert store.mounts() == []


def test_image_mount_125_layers(pyctr, deep_image, store):
    mounted = Path(pyctr("image", "mount", deep_image).stdout.strip())
    try:
        assert sorted(os.listdir(mounted / "stack")) == STACK
        assert (mounted / "stack" / "top").read_text() == f"{LAYERS - 1}\n"
        assert (mounted / "bin" / "busybox").stat().st_size == timages.BUSYBOX.stat().st_size
        # The layers appear by their short names, relative to the store's l/ directory.
        [options] = [line.split(" - ")[1] for line in Path("/proc/self/mountinfo").read_text().splitlines()
                     if f" {mounted} " in line]
        lowers = options.split("lowerdir=")[1].split(",")[0].split(":")
        assert len(lowers) == LAYERS and all(len(name) == 26 and "/" not in name for name in lowers)
    finally:
        pyctr("image", "unmount", deep_image)
    assert store.mounts() == []


def test_a_long_store_path_still_fits(registry, pyctr, store):
    """Upper and work directories given in full would overflow the page: they go relative too."""
    root = store.tmp / ("r" * 200) / ("o" * 200) / "root"
    ref = timages.push_many_layers(registry)
    argv = pyctr.argv("run", "--rm", ref, "cat", "/stack/top")
    argv[argv.index("--root") + 1] = str(root)
    assert pyctr.run(argv[:argv.index("run")] + ["pull", "-q", ref]).returncode == 0
    assert pyctr.run(argv).stdout == f"{LAYERS - 1}\n"


# -- the snapshotter's links, without mounting -------------------------------------------------

def _layer_blob(tmp: Path, name: str) -> tuple[Path, str]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(name)
        tar.addfile(info, io.BytesIO(name.encode()))
    path = tmp / f"{name}.tar"
    path.write_bytes(buf.getvalue())
    return path, digestmod.of_bytes(buf.getvalue())


@pytest.fixture
def two_layers(tmp_path):
    store = LayerStore(tmp_path / "root")
    blobs = [_layer_blob(tmp_path, name) for name in ("bottom", "top")]
    chain = digestmod.chain_ids([diff_id for _, diff_id in blobs])
    for chain_id, (blob, diff_id) in zip(chain, blobs):
        assert store.unpack(chain_id, diff_id, blob, "none")
    return store, chain


def test_overlay_lowers_are_links_to_the_layers_topmost_first(two_layers):
    store, chain = two_layers
    m = store.rootfs_mount(chain)
    assert [os.path.dirname(p) for p in m.lowerdirs] == [str(store.links)] * 2
    assert [Path(p).resolve() for p in m.lowerdirs] == [store.path(c).resolve() for c in reversed(chain)]
    assert [os.readlink(p) for p in m.lowerdirs] == [f"../{digestmod.hex_of(c)}/diff" for c in reversed(chain)]
    assert store.lowerdirs(chain) == [str(store.path(c)) for c in reversed(chain)]  # inspect shows real paths


def test_a_layer_without_a_link_gets_one_on_first_use(two_layers):
    store, chain = two_layers
    for c in chain:  # as an older pyctr left them
        os.unlink(store.links / link_name(c))
    m = store.rootfs_mount(chain, upper="/u", work="/w")
    assert all(Path(p).resolve().is_dir() for p in m.lowerdirs)


def test_a_removed_layer_takes_its_link(two_layers):
    store, chain = two_layers
    store.remove(chain[1])
    assert os.listdir(store.links) == [link_name(chain[0])]
    with pytest.raises(StoreError, match="is missing from the store"):
        store.rootfs_mount(chain)


def test_a_link_that_names_another_layer_is_refused(two_layers):
    store, chain = two_layers
    victim = store.links / link_name(chain[1])
    os.unlink(victim)
    os.symlink(f"../{digestmod.hex_of(chain[0])}/diff", victim)  # as a colliding name would
    with pytest.raises(StoreError, match="not to layer"):
        store.rootfs_mount(chain)
    store.remove(chain[1])
    assert victim.is_symlink(), "another layer's link is not removed with this one"


def test_mount_data_of_125_links_fits_a_page():
    root = "/home/someone/" + "x" * 250 + "/pyctr"
    links = [f"{root}/layers/l/{link_name(f'sha256:{i:064x}')}" for i in range(LAYERS)]
    upper, work = (f"{root}/containers/{'c' * 64}/overlay/{d}" for d in ("upper", "work"))
    assert len(mountmod._overlay_data(links, "/u", "/w", ())[1] + upper + work) > 4096
    parent, data = mountmod._overlay_data(links, upper, work, ("userxattr",))
    assert parent == f"{root}/layers/l" and len(data) < 4096
    assert data.endswith(f",upperdir=../../containers/{'c' * 64}/overlay/upper,"
                         f"workdir=../../containers/{'c' * 64}/overlay/work,userxattr")
    short = mountmod._overlay_data(links, "/u", "/w", ())[1]
    assert short.endswith(",upperdir=/u,workdir=/w")  # in full while they fit
