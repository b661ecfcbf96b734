"""pyctr: a daemonless container engine in the style of podman."""

__version__ = "0.1.0"
