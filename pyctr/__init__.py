"""pyctr: a daemonless container engine in the style of podman.

The Python API: `from pyctr import Engine, ContainerSpec` (see pyctr.engine).
Loaded lazily, so that the shim and the command line pay only for what they use.
"""

__version__ = "0.1.0"

_EXPORTS = {
    "Engine": "pyctr.engine",
    "ContainerSpec": "pyctr.container.spec",
    "ImageSpec": "pyctr.container.spec",
    "ProcessSpec": "pyctr.container.spec",
    "StorageSpec": "pyctr.container.spec",
    "SecuritySpec": "pyctr.container.spec",
    "ResourceSpec": "pyctr.container.spec",
    "NetworkSpec": "pyctr.container.spec",
    "LifecycleSpec": "pyctr.container.spec",
    "Mount": "pyctr.container.spec",
    "PortMapping": "pyctr.container.spec",
    "RestartPolicy": "pyctr.container.spec",
    "SecretRef": "pyctr.container.spec",
    "EngineOptions": "pyctr.engine.options",
    "PodSpec": "pyctr.pod.store",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pyctr' has no attribute {name!r}")
