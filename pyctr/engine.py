"""The composition root: one Engine per command, its services built on first use."""

from __future__ import annotations

from functools import cached_property

from pyctr.config import Config


class Engine:
    def __init__(self, config: Config):
        self.config = config

    @cached_property
    def images(self):
        from pyctr.images import ImageService

        return ImageService(self.config)
