"""The pull rows of issue 14: cold pulls by pyctr and podman, alternately, against a local registry.

Called by benchspeed (`pull_rows`), or alone: `python -m tests.harness.benchpull` (it then starts
its own registry and stores). No internet: the images are made here. A many-layer image (busybox
and 70 small layers), and a big one of real, compressible files of this machine (~130 MB from
/usr/lib and /usr/share, in 4 layers), once gzip and once zstd. Every pull is cold: into a store
of its own, which the harness checks is empty (see pull_rows). Ratios
are of medians; CPU time (user+sys of the pull) is shown beside, which others' load disturbs less.
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from tests.harness.benchspeed import QUIET, line, ratio_row, tools

BIG_BYTES = 130 << 20
BIG_SOURCES = ("/usr/share", "/usr/lib/x86_64-linux-gnu", "/usr/lib")  # half from each of the first two
BIG_SPLIT = (0.55, 0.25, 0.15, 0.05)  # a base layer, then smaller ones, as a distribution image
MANY = 71
TARGET = 0.5
FIXED_MTIME = 1_700_000_000


def _real_files(budget: int) -> list[tuple[str, str]]:
    """(path on this machine, name in the layer) of regular files and symlinks, `budget` bytes of files."""
    chosen, total, seen = [], 0, set()
    for n, top in enumerate(BIG_SOURCES):
        share = budget // 2 * (n + 1)  # many small files (docs) and some big ones (libraries)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if path in seen:
                    continue
                seen.add(path)
                st = os.lstat(path)
                if os.path.islink(path):
                    chosen.append((path, path.lstrip("/")))
                elif os.path.isfile(path) and st.st_size <= 16 << 20 and os.access(path, os.R_OK):
                    chosen.append((path, path.lstrip("/")))
                    total += st.st_size
                    if total >= budget:
                        return chosen
                if total >= share:
                    break
            if total >= share:
                break
    return chosen


def _layer_tars(files: list[tuple[str, str]]) -> list[bytes]:
    """The files split into len(BIG_SPLIT) tarballs (with their parent directories), by size."""
    sizes = [0 if os.path.islink(p) else os.lstat(p).st_size for p, _ in files]
    whole, bounds, acc, start = sum(sizes), [], 0, 0
    cut = [whole * sum(BIG_SPLIT[: i + 1]) for i in range(len(BIG_SPLIT))]
    for i, size in enumerate(sizes):
        acc += size
        if len(bounds) < len(cut) - 1 and acc >= cut[len(bounds)]:
            bounds.append((start, i + 1))
            start = i + 1
    bounds.append((start, len(files)))
    tars = []
    for lo, hi in bounds:
        buffer = io.BytesIO()
        dirs: set[str] = set()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path, name in files[lo:hi]:
                parts = name.split("/")[:-1]
                for depth in range(1, len(parts) + 1):
                    d = "/".join(parts[:depth])
                    if d not in dirs:
                        dirs.add(d)
                        info = tarfile.TarInfo(d)
                        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, FIXED_MTIME
                        tar.addfile(info)
                info = tar.gettarinfo(path, name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if info.isreg():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
        tars.append(buffer.getvalue())
    return tars


def big_images() -> dict[str, object]:
    """"gzip"/"zstd" -> the big image of real files, compressed so."""
    from tests.harness import images as timages

    tars = _layer_tars(_real_files(BIG_BYTES))
    made = {}
    for compression in ("gzip", "zstd"):
        layers = []
        for n, data in enumerate(tars):
            layer = timages.Layer.__new__(timages.Layer)  # from the tarball made here, not from entries
            layer.entries, layer.compression, layer.comment, layer.tar = [], compression, f"files {n}", data
            layer._compress()
            layers.append(layer)
        made[compression] = timages.Image(layers, oci=True)
    return made


def push_images(registry) -> list[tuple[str, str]]:
    """Push the bench images; [(row label, reference)]."""
    from tests.harness import images as timages

    rows = []
    many = timages.many_layers_image(MANY)
    timages.push(registry, f"bench/layers{MANY}", "latest", many)
    rows.append((f"cold pull, {MANY} small layers (gzip)", f"{registry.host}/bench/layers{MANY}:latest"))
    for compression, image in big_images().items():
        timages.push(registry, f"bench/big-{compression}", "latest", image)
        size = sum(len(layer.tar) for layer in image.layers) >> 20
        rows.append((f"cold pull, {len(image.layers)} layers {size} MB ({compression})",
                     f"{registry.host}/bench/big-{compression}:latest"))
    return rows


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed_pull(argv: list[str], env: dict | None) -> tuple[float, float]:
    cpu, start = _cpu(), time.perf_counter()
    subprocess.run(argv, env=env, check=True, **QUIET)
    return time.perf_counter() - start, _cpu() - cpu


def _with_root(argv: list[str], root: Path, runroot: Path) -> list[str]:
    argv = list(argv)
    argv[argv.index("--root") + 1] = str(root)
    argv[argv.index("--runroot") + 1] = str(runroot)
    return argv


def _check_empty(pyctr: list[str], podman: list[str], env: dict, roots: list[Path]) -> None:
    """Both stores (`roots`: pyctr's, podman's) start with no image and no layer."""
    mine, theirs = roots
    listed = [subprocess.run([*pyctr, "images", "-q"], check=True, capture_output=True, text=True).stdout.split(),
              subprocess.run([*podman, "images", "-q"], env=env, check=True, capture_output=True, text=True).stdout.split()]
    layers = [n for n in os.listdir(mine / "layers") if len(n) == 64] if (mine / "layers").is_dir() else []
    known = theirs / "overlay-layers" / "layers.json"
    layers += json.loads(known.read_text() or "[]") if known.exists() else []
    if listed != [[], []] or layers:
        raise RuntimeError(f"a store is not empty before a cold pull: images {listed}, layers {layers}")


def pull_rows(pyctr: list[str], podman: list[str], env: dict, registry, tmp: Path, runs: int = 5) -> None:
    """The cold-pull rows. `pyctr`/`podman`: the commands with their stores (each with --root and
    --runroot, which each pull replaces with its own); `env`: podman's environment; `registry`:
    a started test registry; `tmp`: scratch space.

    Each pull gets a store of its own, and the stores are removed only after the last pull:
    removing thousands of files just before a pull makes ext4 slow to create new ones (it
    skips the inodes freed in the last minute while it looks for a free one), which would
    measure the removal, not the pull."""
    print(f"cold pulls (issue 14): pyctr and podman alternately, medians of {runs}; CPU = user+sys")
    line("", "pyctr", "podman", "ratio", "target", None)
    stores = tmp / "s"  # short: podman refuses a runroot of more than 50 characters
    try:
        for row, (label, ref) in enumerate(push_images(registry)):
            mine, theirs, mine_cpu, theirs_cpu = [], [], [], []
            for n in range(runs):
                where = stores / f"{row}-{n}"
                me = _with_root(pyctr, where / "pyctr", where / "pyctr-run")
                them = _with_root(podman, where / "podman", where / "pr")
                _check_empty(me, them, env, [where / "pyctr", where / "podman"])
                wall, cpu = _timed_pull([*me, "pull", "-q", ref], None)
                mine.append(wall)
                mine_cpu.append(cpu)
                wall, cpu = _timed_pull([*them, "pull", "-q", "--tls-verify=false", ref], env)
                theirs.append(wall)
                theirs_cpu.append(cpu)
            ratio_row(label, statistics.median(mine), statistics.median(theirs), TARGET)
            a, b = statistics.median(mine_cpu), statistics.median(theirs_cpu)
            line("  the same, CPU time", f"{a * 1000:.1f} ms", f"{b * 1000:.1f} ms", f"{a / b:.2f}", "", None)
    finally:
        shutil.rmtree(stores, ignore_errors=True)


def main() -> None:
    from tests.harness.registry import start_registry

    if not shutil.which("podman"):
        sys.exit("podman is missing (make bench installs it)")
    runs = int(os.environ.get("BENCH_PULL_RUNS", "5"))
    with tempfile.TemporaryDirectory(prefix="pyctr-pull-") as tmpdir:
        tmp = Path(tmpdir)
        pyctr, podman, env = tools(tmp)
        registry = start_registry(tmp / "registry")
        try:
            pull_rows(pyctr, podman, env, registry, tmp, runs=runs)
        finally:
            registry.stop()


if __name__ == "__main__":
    main()
