"""The one place a container (its spec and what creation resolved) becomes the runtime's input.

Pure: the caller (pyctr.container.tasks) mounts the rootfs, resolves the user
in it, writes /etc files and the bundle; this module only decides values.
"""

from __future__ import annotations

from pyctr.container.store import ContainerRecord
from pyctr.runtime.spec import SpecOptions

INIT_BINARY = "/usr/bin/tini-static"
INIT_PATH = "/run/pyctr-init"
DEFAULT_SHM_SIZE = 64 << 20


def network_mode(record: ContainerRecord, netns: str | None) -> str:
    """What the runtime joins or creates: a prepared namespace (slirp4netns, ns:PATH), the host's, or a new one."""
    if netns:
        return f"ns:{netns}"
    return "private" if record.network == "none" else record.network


def spec_options(record: ContainerRecord, *, rootfs: str, uid: int, gid: int, groups: list[int], home: str,
                 etc_files: dict[str, str], netns: str | None, rootless: bool) -> SpecOptions:
    spec = record.spec
    args = list(record.args)
    mounts = [{k: v for k, v in m.items() if k in ("destination", "type", "source", "options")} for m in record.mounts]
    if spec.process.init:
        args = [INIT_PATH, "--"] + args
        mounts.append({"destination": INIT_PATH, "type": "bind", "source": INIT_BINARY, "options": ["bind", "ro"]})
    return SpecOptions(
        rootfs=rootfs,
        args=args,
        env=list(record.env),
        cwd=record.workdir or "/",
        uid=uid,
        gid=gid,
        additional_gids=groups + list(spec.security.groups),
        home=home,
        hostname=record.hostname,
        terminal=spec.process.tty,
        readonly_rootfs=spec.storage.read_only,
        network=network_mode(record, netns),
        cap_add=list(spec.security.cap_add),
        cap_drop=list(spec.security.cap_drop),
        privileged=spec.security.privileged,
        no_new_privileges=spec.security.no_new_privileges,
        seccomp=spec.security.seccomp,
        ulimits=list(spec.resources.ulimits),
        mounts=mounts,
        etc_files=etc_files,
        init=spec.process.init,
        stop_signal=record.stop_signal,
        annotations=dict(spec.lifecycle.annotations),
        shm_size=spec.storage.shm_size or DEFAULT_SHM_SIZE,
        rootless=rootless,  # runc runs inside pyctr's user namespace already
        memory=spec.resources.memory,
        cpus=spec.resources.cpus,
        pids_limit=record.pids_limit,
        devices=[{"source": d.source, "destination": d.destination or d.source, "permissions": d.permissions}
                 for d in spec.storage.devices],
    )


def dns_servers(record: ContainerRecord, netns: str | None) -> list[str]:
    """The spec's servers; with slirp4netns, its own DNS forwarder when none are given."""
    if record.spec.network.dns or not netns:
        return list(record.spec.network.dns)
    from pyctr.network.slirp import DNS_ADDRESS

    return [DNS_ADDRESS]
