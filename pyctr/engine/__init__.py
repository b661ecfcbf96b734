"""pyctr.Engine: the public, typed Python API. Every policy lives behind it; front ends only parse and format.

    from pyctr import Engine, ContainerSpec

    engine = Engine()  # root: /var/lib/pyctr; rootless: ~/.local/share/pyctr (joins the user namespace)
    engine.images.pull("localhost:5050/test/busybox")
    ctr = engine.containers.run(ContainerSpec.for_image("localhost:5050/test/busybox", ["echo", "hello"])).container
    engine.containers.wait([ctr.id])
    for line in engine.containers.logs(ctr.id):
        print(line.text.decode())
    engine.containers.remove([ctr.id])

Results are dataclasses (pyctr.engine.reports and each namespace's module); errors are pyctr.errors classes, each
in a category (NotFound, Conflict, InvalidArgument, ...) with podman's exit code.
"""

from __future__ import annotations

import os
from functools import cached_property

from pyctr.config import Config
from pyctr.engine.services import Services


class Engine:
    """One engine per process (or per command). Services are built on first use."""

    def __init__(self, root: str | os.PathLike | None = None, runroot: str | os.PathLike | None = None, *,
                 config: Config | None = None, runc=None, options=None):
        """`root`/`runroot`: the store and runtime state (else $PYCTR_ROOT/$PYCTR_RUNROOT, else podman's
        defaults: /var/lib/pyctr and /run/pyctr as root, under $XDG_DATA_HOME and $XDG_RUNTIME_DIR rootless).
        `runc`: a replacement for pyctr.runtime.runc.Runc (tests use a recording fake).
        `options`: podman's global options (pyctr.engine.options.EngineOptions): runtime, storage, events."""
        if config is None and os.geteuid() != 0:
            # Rootless: every process works inside the user's shared user and mount namespace.
            from pyctr import config as configmod
            from pyctr.linux import userns

            userns.enter(configmod.runtime_dir() / "pyctr")
        self.config = config or Config.create(root or os.environ.get("PYCTR_ROOT"), runroot or os.environ.get("PYCTR_RUNROOT"))
        if options is not None:
            from pyctr.engine.options import apply_to_process

            options.apply(self.config)
            apply_to_process(self.config)
        self.services = Services(self.config, runc)
        if os.environ.get("PYCTR_LOG_LEVEL") in ("debug", "trace"):
            from pyctr import log

            log.debug(f"using graph root {self.config.root}, run root {self.config.runroot}, rootless {self.config.rootless}")

    @cached_property
    def images(self):
        """pyctr.engine.images.Images"""
        from pyctr.engine.images import Images

        return Images(self.services)

    @cached_property
    def manifests(self):
        """pyctr.engine.manifests.Manifests: manifest lists (multi-platform indexes) and their push"""
        from pyctr.engine.manifests import Manifests

        return Manifests(self.services)

    @cached_property
    def containers(self):
        """pyctr.engine.containers.Containers"""
        from pyctr.engine.containers import Containers

        return Containers(self.services)

    @cached_property
    def builds(self):
        """pyctr.engine.builds.Builds: images from Containerfiles"""
        from pyctr.engine.builds import Builds

        return Builds(self.services)

    @cached_property
    def volumes(self):
        """pyctr.engine.volumes.Volumes"""
        from pyctr.engine.volumes import Volumes

        return Volumes(self.services)

    @cached_property
    def networks(self):
        """pyctr.engine.networks.Networks: bridge networks and the containers connected to them"""
        from pyctr.engine.networks import Networks

        return Networks(self.services)

    @cached_property
    def pods(self):
        """pyctr.engine.pods.Pods: containers sharing an infra container's namespaces"""
        from pyctr.engine.pods import Pods

        return Pods(self.services, self.containers)

    @cached_property
    def kube(self):
        """pyctr.engine.kube.Kube: Kubernetes YAML from containers and pods, and back (play, down)"""
        from pyctr.engine.kube import Kube

        return Kube(self)

    @cached_property
    def auto_updates(self):
        """pyctr.engine.autoupdate.AutoUpdates: containers whose units follow their image's updates"""
        from pyctr.engine.autoupdate import AutoUpdates

        return AutoUpdates(self.services)

    @cached_property
    def systemd(self):
        """pyctr.engine.systemdunits.Systemd: systemd units for containers and pods (generate systemd)"""
        from pyctr.engine.systemdunits import Systemd

        return Systemd(self)

    @cached_property
    def events(self):
        """pyctr.engine.events.Events: what happened to containers, images and volumes"""
        from pyctr.engine.events import Events

        return Events(self.services)

    @cached_property
    def secrets(self):
        """pyctr.engine.secrets.Secrets"""
        from pyctr.engine.secrets import Secrets

        return Secrets(self.services)

    @cached_property
    def system(self):
        """pyctr.engine.system.System: version, info, unshare, df, prune, reset"""
        from pyctr.engine.system import System

        return System(self.services)

    def inspect(self, name: str, *, kind: str = "all"):
        """What `name` is, as podman's `inspect --type` finds it: "container", "image", or "all"
        (a container first, then an image; neither is NotFound: no such object).
        -> pyctr.engine.containers.ContainerInfo or pyctr.engine.images.ImageInfo."""
        from pyctr.errors import ContainerNotFound, InvalidArgument, NotFound, PyctrError

        if kind not in ("all", "container", "image", "exec", "pod"):
            raise InvalidArgument(f"invalid --type {kind!r}: container, image, exec, pod or all")
        if kind == "exec":  # an exec session (pyctr.container.execs.ExecSession), by ID
            return self.containers.exec_inspect(name)
        if kind == "pod":  # pyctr.engine.pods.PodInfo
            found, errors = self.pods.inspect([name])
            if errors:
                raise type(errors[0])(f"inspecting object: {errors[0]}")
            return found[0]
        if kind != "image":
            try:
                return self.containers.inspect(name)
            except ContainerNotFound:
                if kind == "container":
                    raise
        try:
            return self.images.inspect(name)
        except PyctrError:
            if kind == "image":
                raise
        try:
            return self.containers.exec_inspect(name)
        except PyctrError:
            pass
        found, _ = self.pods.inspect([name])
        if found:
            return found[0]
        raise NotFound(f'no such object: "{name}"')

    def diff(self, name: str | None = None, *, latest: bool = False) -> list:
        """podman's `diff`: a container's changes, else (no such container) an image's against its
        parent; neither: NotFound in podman's words. -> [pyctr.snapshot.diff.Change]"""
        from pyctr.errors import ContainerNotFound, ImageNotFound, NotFound

        try:
            return self.containers.diff(name, latest=latest)
        except ContainerNotFound:
            if latest:
                raise
        try:
            return self.images.diff(name)
        except ImageNotFound:
            raise NotFound(f"{name} not found: layer not known") from None
