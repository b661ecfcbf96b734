"""registries.conf: the registry settings pyctr honours (which registries may be spoken to over plain HTTP)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pyctr.config import is_rootless
from pyctr.image import reference


def registries_conf_paths() -> list[Path]:
    env = os.environ.get("CONTAINERS_REGISTRIES_CONF")
    if env:
        return [Path(env)]
    home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    paths = [Path("/etc/containers/registries.conf")]
    if is_rootless():
        paths.append(Path(home) / "containers" / "registries.conf")
    return paths


@dataclass
class RegistriesConf:
    """The part of registries.conf pyctr uses: which registries may be spoken to over plain HTTP."""

    insecure: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, paths: list[Path] | None = None) -> "RegistriesConf":
        import tomllib  # only paid for when a registry is contacted

        conf = cls()
        for path in paths if paths is not None else registries_conf_paths():
            try:
                with open(path, "rb") as f:
                    data = tomllib.load(f)
            except FileNotFoundError:
                continue
            except (OSError, tomllib.TOMLDecodeError) as exc:
                from pyctr.errors import ConfigError

                raise ConfigError(f"parsing {path}: {exc}") from exc
            for entry in data.get("registry") or []:
                location = entry.get("location") or entry.get("prefix")
                if location and entry.get("insecure"):
                    conf.insecure.add(location)
        return conf

    def allows_http(self, registry: str) -> bool:
        return reference.is_loopback_registry(registry) or registry in self.insecure
