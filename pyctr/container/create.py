"""From a container spec to a container record.

Everything that can be wrong with the spec is found before the record is
written (a named volume it mounts may have been made by then), so a bad spec
leaves no half-created container behind, and --replace removes the old
container only once the new one can be made.
"""

from __future__ import annotations

import os
from typing import Callable

from pyctr.container.spec import ContainerSpec
from pyctr.errors import InvalidArgument


def merge_env(image_env: list[str], env: dict[str, str]) -> list[str]:
    """The image's environment, then the spec's (a later key wins)."""
    merged = dict(item.partition("=")[::2] for item in image_env)
    merged.update(env)
    return [f"{k}={v}" for k, v in merged.items()]


def container_args(image_config: dict, entrypoint: list[str] | None, command: list[str]) -> list[str]:
    """docker's rule: ENTRYPOINT + (command or CMD); an entrypoint given resets CMD."""
    if entrypoint is not None:
        args = list(entrypoint) + list(command)
    else:
        args = list(image_config.get("Entrypoint") or []) + (list(command) or list(image_config.get("Cmd") or []))
    if not args:
        raise InvalidArgument("no command or entrypoint provided, and no CMD or ENTRYPOINT from image")
    return args


def default_network(spec: ContainerSpec, rootless: bool) -> str:
    """private (loopback only) unless ports are published, or rootless with a usable /dev/net/tun: slirp4netns."""
    mode = spec.network.mode
    if mode is not None:
        return mode
    if spec.network.ports or (rootless and os.access("/dev/net/tun", os.R_OK | os.W_OK)):
        return "slirp4netns"
    return "private"


def _ensure_image(images, spec: ContainerSpec, progress):
    """The image to run, pulled according to --pull (podman's policies)."""
    from pyctr.errors import ImageNotFound, PyctrError

    def pull():
        wanted = spec.image
        return images.pull(wanted.name, platform=wanted.platform, tls_verify=wanted.tls_verify, authfile=wanted.authfile, progress=progress)

    policy = spec.image.pull
    if policy == "always":
        return pull()
    try:
        local = images.get(spec.image.name)
    except ImageNotFound:
        if policy == "never":
            raise
        return pull()
    if policy == "newer":
        try:
            return pull()
        except PyctrError:
            return local  # offline or unreachable: the local image will do
    return local


def create_container(store, images, volume_path: Callable[[str], str], spec: ContainerSpec, progress=None,
                     make_room: Callable[[], None] | None = None):
    """Validate, find or pull the image, and write the container record.
    `volume_path(name)`: the directory of a volume, made on first use ("" makes an anonymous one).
    `make_room()`: called once everything else has worked, just before the name is taken (--replace)."""
    from pyctr.container import mountopts

    spec.validate()
    pids_limit, log_size_max = spec.resources.pids_limit, spec.lifecycle.log_max_size
    if pids_limit is None or log_size_max is None:
        # The configured defaults, fixed at creation (as podman's), read once and before any pull.
        from pyctr.containersconf import ContainersConf, default_pids_limit

        conf = ContainersConf.load()
        if pids_limit is None:
            pids_limit = default_pids_limit(store.config.rootless, conf)
        if log_size_max is None:
            log_size_max = conf.log_size_max
    image = _ensure_image(images, spec, progress)
    image_config = images.config_of(image).get("config") or {}
    process = spec.process
    mounts = [mountopts.to_oci(m, volume_path) for m in spec.storage.mounts]
    fields = dict(
        spec_data=spec.to_json(),
        image_id=image.id,
        image_name=image.names[0] if image.names else image.id,
        args=container_args(image_config, process.entrypoint, process.command),
        env=merge_env(list(image_config.get("Env") or []), process.env),
        workdir=process.workdir or image_config.get("WorkingDir") or "/",
        user=process.user if process.user is not None else image_config.get("User", ""),
        hostname=spec.network.hostname or "",
        labels={**(image_config.get("Labels") or {}), **spec.lifecycle.labels},
        stop_signal=process.stop_signal or image_config.get("StopSignal") or "SIGTERM",
        stop_timeout=10 if process.stop_timeout is None else process.stop_timeout,
        pids_limit=max(pids_limit, 0),  # -1 and 0 both mean none
        log_size_max=log_size_max if log_size_max > 0 else -1,
        network=default_network(spec, store.config.rootless),
        mounts=mounts,
        image_config=image_config,
    )
    if make_room is not None:
        make_room()
    # Under the image lock: an rmi racing with us either removes the image first (and we
    # fail, "image not known") or sees our container and refuses.
    with images.index.locked() as current:
        if image.id not in current:
            from pyctr.errors import ImageNotFound

            raise ImageNotFound(f"{spec.image.name}: image not known (removed meanwhile)")
        record = store.create(fields, spec.lifecycle.name)
    if not record.hostname:
        record.hostname = record.id[:12]
        store.save(record)
    return record
