"""Which platforms a build may target: the host's own, one the kernel runs through a binfmt_misc
handler (qemu-user), or any at all for a build that runs nothing (no RUN: FROM --platform picks
the base image's entry, COPY and the config steps need no program of that platform)."""

from __future__ import annotations

import os

from pyctr.errors import InvalidArgument

BINFMT_DIR = "/proc/sys/fs/binfmt_misc"
# OCI architecture -> the name qemu-user (and so its binfmt handler) gives it
_QEMU_NAMES = {"amd64": "x86_64", "386": "i386", "arm64": "aarch64", "arm": "arm", "ppc64le": "ppc64le",
               "ppc64": "ppc64", "s390x": "s390x", "riscv64": "riscv64", "mips64le": "mips64el",
               "mips64": "mips64", "mipsle": "mipsel", "mips": "mips", "loong64": "loongarch64"}


def split(items: list[str]) -> list[str]:
    """--platform a,b --platform c -> [a, b, c] (each checked), without repeats."""
    from pyctr.image import oci

    out: list[str] = []
    for item in items:
        for text in item.split(","):
            text = text.strip()
            if not text:
                continue
            oci.Platform.parse(text)
            if text not in out:
                out.append(text)
    return out


def host_runs(platform: str, binfmt_dir: str = BINFMT_DIR) -> bool:
    from pyctr.image import oci

    wanted, host = oci.Platform.parse(platform), oci.Platform.host()
    if wanted.os != host.os:
        return False
    if wanted.architecture == host.architecture or (host.architecture, wanted.architecture) == ("amd64", "386"):
        return True
    name = _QEMU_NAMES.get(wanted.architecture, wanted.architecture)
    try:
        handlers = os.listdir(binfmt_dir)
    except OSError:
        return False
    for handler in handlers:
        if handler not in (name, f"qemu-{name}", f"qemu-{name}-static"):
            continue
        try:
            with open(os.path.join(binfmt_dir, handler)) as f:
                if f.readline().strip() == "enabled":
                    return True
        except OSError:
            continue
    return False


def check(platform: str | None, plan, *, binfmt_dir: str = BINFMT_DIR) -> None:
    """Fail, naming the platform, when a stage to build has a RUN this host cannot run (the stage's
    platform: its FROM --platform, else `platform`, else the host's)."""
    for index in plan.needed:
        stage = plan.stages[index]
        wanted = stage.platform or platform
        if not wanted or host_runs(wanted, binfmt_dir):
            continue
        runs = [ins for ins in stage.instructions if ins.command == "RUN"]
        if runs:
            raise InvalidArgument(f"building for {wanted}: this host cannot run {wanted} programs (no binfmt_misc "
                                  f"handler for them in {binfmt_dir}), and the Containerfile has RUN instructions "
                                  f"(line {runs[0].line})")


def local_list_instance(images, name: str, platform: str):
    """The local image a local manifest list `name` has for `platform`, or None (not a local list,
    or no such entry: the usual resolution then pulls or fails)."""
    from pyctr.errors import PyctrError
    from pyctr.image import manifests, oci

    try:
        records = images.index.load()
        record = images.index.resolve(name, records)
    except PyctrError:
        return None
    if record.manifest_media_type not in oci.INDEX_TYPES:
        return None
    wanted = oci.Platform.parse(platform)
    for inst in manifests.instances_of(images.content, record):
        got = oci.Platform(inst.platform.get("os", ""), inst.platform.get("architecture", ""),
                           inst.platform.get("variant") or None)
        if not wanted.matches(got):
            continue
        for image in records.values():
            if image.manifest_digest == inst.digest and not manifests.is_list(image):
                return image
    return None
