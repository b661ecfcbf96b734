"""The host: mount(2), raw system calls, the rootless user namespace, crash-safe files and locks."""
