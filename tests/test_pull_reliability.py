"""Pulls that race each other or are killed: the store stays consistent, the next pull finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from tests.harness import images as timages


def test_two_pulls_at_once_both_succeed_and_store_each_blob_once(registry, pyctr, store):
    ref = f"{registry.host}/test/multi:latest"
    procs = [subprocess.Popen(pyctr.argv("pull", "-q", ref), env=store.env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    amd64 = registry.pushed["test/multi:latest"].image_for("amd64")
    assert {out.strip() for out, _ in outputs} == {amd64.config_digest.split(":")[1]}
    blobs = sorted(os.listdir(store.root / "blobs" / "sha256"))
    wanted = {d.split(":")[1] for d in [amd64.config_digest, amd64.manifest_digest,
                                          registry.pushed["test/multi:latest"].manifest_digest]
              + [layer.digest for layer in amd64.layers]}
    assert set(blobs) == wanted
    assert [n for n in os.listdir(store.root / "ingest") if n.endswith(".partial")] == []
    assert len([n for n in os.listdir(store.root / "layers") if len(n) == 64]) == 3


def test_kill_9_at_any_moment_never_shows_a_broken_image(registry, pyctr, store):
    # A bigger image, so that kills land in the download and the unpack.
    big = timages.Image([timages.busybox_layer(),
                         timages.Layer([timages.file("big/random", os.urandom(8 << 20))], "gzip"),
                         timages.Layer([timages.file(f"many/{i}", f"{i}\n") for i in range(2000)], "zstd")])
    timages.push(registry, "test/big", "latest", big)
    ref = f"{registry.host}/test/big:latest"
    for delay in (0.05, 0.15, 0.3, 0.5, 0.8):
        proc = subprocess.Popen(pyctr.argv("pull", "-q", ref), env=store.env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        listed = pyctr("images", "--format", "json").stdout
        for image in json.loads(listed):
            # Any image listed is complete: inspect works and all its layers are there.
            [info] = json.loads(pyctr("image", "inspect", image["Id"]).stdout)
            for lower in info["GraphDriver"]["Data"]["LowerDir"].split(":"):
                assert os.path.isdir(lower)
    assert pyctr("pull", "-q", ref).stdout.strip() == big.config_digest.split(":")[1]
    leftovers = [n for n in os.listdir(store.root / "layers") if n.startswith(".tmp")]
    assert leftovers == []
    mounted = pyctr("image", "mount", ref).stdout.strip()
    with open(os.path.join(mounted, "big/random"), "rb") as f:
        assert len(f.read()) == 8 << 20
