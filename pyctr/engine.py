"""The composition root: one Engine per command, its services built on first use."""

from __future__ import annotations

from functools import cached_property

from pyctr.config import Config


class Engine:
    def __init__(self, config: Config):
        self.config = config

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

        return TaskService(self.config, self.containers, self.images)

    @cached_property
    def volumes(self):
        from pyctr.container.volumes import VolumeService

        return VolumeService(self.config.root)

    def create(self, opts, progress=None):
        from pyctr.container.create import create_container

        return create_container(self.containers, self.images, self.volumes, opts, progress)
