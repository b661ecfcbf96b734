"""The services behind the engine, each built on first use (a command pays only for what it touches)."""

from __future__ import annotations

from functools import cached_property

from pyctr.config import Config


class Services:
    def __init__(self, config: Config, runc=None):
        self.config = config
        self._runc = runc  # a replacement for runc (tests: a recording fake)

    @cached_property
    def images(self):
        from pyctr.image.service import ImageService

        return ImageService(self.config, in_use=lambda image_id: [r.name for r in self.containers.using_image(image_id)])

    @cached_property
    def containers(self):
        from pyctr.container.store import ContainerStore

        return ContainerStore(self.config)

    @cached_property
    def tasks(self):
        from pyctr.container.tasks import TaskService

        return TaskService(self.config, self.containers, self.images, runc=self._runc, volumes=lambda: self.volumes)

    @cached_property
    def secrets(self):
        from pyctr.container.secrets import SecretStore

        return SecretStore(self.config.root)

    @cached_property
    def volumes(self):
        from pyctr.container.volumes import VolumeService

        return VolumeService(self.config.root)
