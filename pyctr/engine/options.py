"""podman's global options, as the engine takes them: what each one means for pyctr, or why
pyctr refuses it. Nothing is accepted and ignored: an option pyctr cannot honour is an error
that names what is missing.

`EngineOptions.apply(config)` checks the options and sets what they choose on the Config
(runtime, its flags, the events backend, overlay's mount program, the temporary directory).
"""

from __future__ import annotations

import os
from dataclasses import field

from pyctr.errors import InvalidArgument
from pyctr.values import value

STORAGE_DRIVERS = ("overlay", "overlay2")  # overlay2: containers/storage's other name for overlay
MOUNT_PROGRAM = "overlay.mount_program"
REMOTE = "the remote API service that pyctr would connect to (podman's `system service`) does not exist yet"


@value
class EngineOptions:
    storage_driver: str | None = None
    storage_opts: list[str] = field(default_factory=list)
    runtime: str | None = None  # a name found on PATH, or a path
    runtime_flags: list[str] = field(default_factory=list)  # without their leading "--", as podman takes them
    cgroup_manager: str | None = None
    events_backend: str | None = None
    tmpdir: str | None = None
    network_config_dir: str | None = None
    # Options pyctr refuses, by flag: their values (None or False when not given).
    refused: dict[str, object] = field(default_factory=dict)

    def check(self) -> None:
        """Every check that needs no store: made as soon as the command line is read."""
        for flag, given in self.refused.items():
            if given not in (None, False, "", []):
                raise InvalidArgument(_refusal(flag))
        if self.storage_driver is not None and self.storage_driver not in STORAGE_DRIVERS:
            raise InvalidArgument(f'storage driver "{self.storage_driver}" is not supported: pyctr stores '
                                  "images and containers with overlay only (--storage-driver overlay)")
        for opt in self.storage_opts:
            key, eq, _ = opt.partition("=")
            if key != MOUNT_PROGRAM or not eq:
                raise InvalidArgument(f"storage option {opt!r} is not supported: pyctr's overlay store takes "
                                      f"{MOUNT_PROGRAM}=PATH (fuse-overlayfs, rootless) only")
        if self.cgroup_manager == "systemd":
            raise InvalidArgument("cgroup manager systemd is not supported: pyctr has no systemd "
                                  "integration for cgroups yet (--cgroup-manager cgroupfs)")
        if self.cgroup_manager not in (None, "cgroupfs"):
            raise InvalidArgument("configuring runtime: cgroup manager must be one of cgroupfs and systemd: invalid argument")
        if self.events_backend == "journald":
            raise InvalidArgument("events backend journald is not supported: pyctr records events "
                                  "in a file (--events-backend file) or not at all (none)")
        if self.events_backend not in (None, "file", "none"):
            raise InvalidArgument(f'configuring runtime: "{self.events_backend}" is not a valid events backend: invalid argument')
        if self.runtime is not None:
            find_runtime(self.runtime)

    def apply(self, config) -> None:
        """Check every option and set what they choose on `config` (pyctr.config.Config)."""
        self.check()
        for opt in self.storage_opts:
            config.mount_program = _mount_program(opt.partition("=")[2], config.rootless)
        if self.events_backend is not None:
            config.events_backend = self.events_backend
        if self.runtime is not None:
            config.runtime = find_runtime(self.runtime)
        config.runtime_flags = tuple(f"--{flag}" for flag in self.runtime_flags)
        if self.tmpdir is not None:
            config.tmpdir = os.path.abspath(self.tmpdir)
        if self.network_config_dir is not None:
            config.network_config_dir = os.path.abspath(self.network_config_dir)


def find_runtime(name: str) -> str:
    """podman's --runtime: a path, or a name looked up on PATH (and in /usr/sbin, where Debian puts runc)."""
    if "/" in name:
        path = os.path.abspath(name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    else:
        import shutil  # (here: commands that read state never need it)

        found = shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")
        if found:
            return found
    raise InvalidArgument(f'default OCI runtime "{name}" not found: invalid argument')


def _mount_program(path: str, rootless: bool) -> str | None:
    if not path:
        return None  # the kernel's overlay
    if not rootless:
        raise InvalidArgument(f"{MOUNT_PROGRAM}: as root pyctr mounts overlay with the kernel; "
                              "a mount program is used rootless only")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise InvalidArgument(f"{MOUNT_PROGRAM}={path}: no such executable")
    return path


_REFUSALS = {
    "--url": f"--url: {REMOTE}",
    "--remote": f"--remote: {REMOTE}",
    "--connection": f"--connection: {REMOTE}",
    "--identity": f"--identity: {REMOTE}",
    "--ssh": f"--ssh: {REMOTE}",
    "--conmon": "--conmon: pyctr runs containers under its own shim (pyctr.shim), not conmon",
    "--hooks-dir": "--hooks-dir: OCI hooks are not supported yet",
    "--namespace": "--namespace: libpod namespaces (separate views of containers) are not supported",
    "--network-cmd-path": "--network-cmd-path: pyctr runs slirp4netns from PATH; another path is not supported yet",
    "--volumepath": "--volumepath: volumes live under the store root (--root DIR: DIR/volumes); another place is not supported",
}


def _refusal(flag: str) -> str:
    return _REFUSALS.get(flag, f"{flag} is not supported")


def config_argv(config) -> list[str]:
    """The global options that give another pyctr process (the shim's cleanup) the same choices as `config`."""
    out: list[str] = []
    if config.runtime:
        out += ["--runtime", config.runtime]
    for flag in config.runtime_flags:
        out += ["--runtime-flag", flag.removeprefix("--")]
    if config.mount_program:
        out += ["--storage-opt", f"{MOUNT_PROGRAM}={config.mount_program}"]
    if config.events_backend != "file":
        out += ["--events-backend", config.events_backend]
    if config.network_config_dir:
        out += ["--network-config-dir", config.network_config_dir]
    return out


def parse_argv(argv: list[str]) -> tuple[EngineOptions, list[str]]:
    """config_argv's options read back (the cleanup's command line): (options, the rest)."""
    options = EngineOptions()
    rest = list(argv)
    while len(rest) >= 2 and rest[0] in ("--runtime", "--runtime-flag", "--storage-opt", "--events-backend",
                                         "--network-config-dir"):
        flag, val = rest.pop(0), rest.pop(0)
        if flag == "--network-config-dir":
            options.network_config_dir = val
        elif flag == "--runtime":
            options.runtime = val
        elif flag == "--runtime-flag":
            options.runtime_flags.append(val)
        elif flag == "--storage-opt":
            options.storage_opts.append(val)
        else:
            options.events_backend = val
    return options, rest


def apply_to_process(config) -> None:
    """What the options choose for this process as a whole: overlay's mount program (read by
    pyctr.linux.mount, also in the processes we start), the directory of temporary files."""
    if config.mount_program:
        from pyctr.linux import mount

        os.environ[mount.OVERLAY_ENV] = "fuse"
        os.environ[mount.OVERLAY_PROGRAM_ENV] = config.mount_program
    if config.tmpdir:
        import tempfile

        os.makedirs(config.tmpdir, mode=0o700, exist_ok=True)
        os.environ["TMPDIR"] = tempfile.tempdir = config.tmpdir
