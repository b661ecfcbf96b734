"""Starting a container's shim, in two steps so that its interpreter boots in parallel.

`ShimLauncher()` starts `python -m pyctr.shim --config-fd N` at once, before the
container even exists; `go(config)` hands it the container's config (the shim
then detaches and runs `runc create`) and returns its report. A launcher that
is never given a config (the command failed, or exited) makes the shim exit
as soon as its config pipe closes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess

# Set by the command line for `run`: a shim started before option parsing.
prestarted: "ShimLauncher | None" = None


def take_prestarted() -> "ShimLauncher":
    global prestarted
    launcher, prestarted = prestarted, None
    return launcher or ShimLauncher()


def shim_env() -> dict[str, str]:
    """The shim gets a clean environment: only what Python needs to find pyctr."""
    from pyctr.config import USERNS_ENV

    # USERNS_ENV: the shim's cleanup must know it runs rootless inside our user namespace.
    # XDG_CACHE_HOME, PYCTR_DIST_CACHE: where the one-file build's payload is unpacked (pyctr.dist.boot).
    keep = {"PATH", "PYTHONPATH", "LANG", "LC_ALL", "HOME", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", USERNS_ENV,
            "XDG_CACHE_HOME", "PYCTR_DIST_CACHE"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return env


class ShimLauncher:
    """`client` is our end of a socketpair whose other end the shim serves as an attach
    client from the container's first byte: no connect, no race with a fast container."""

    def __init__(self):
        self.sync_r, self.sync_w = os.pipe2(os.O_CLOEXEC)
        self.pass_fds: list[int] = []  # run --preserve-fds: fds for the container's process (see go)
        config_r, self.config_w = os.pipe2(os.O_CLOEXEC)
        self.client, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.client_fd = theirs.fileno()
        from pyctr import dist

        try:
            self.proc = subprocess.Popen(
                # -P (or the one file's -I) and cwd="/": never a `pyctr` from wherever the user happens to be.
                [*dist.module_argv("pyctr.shim"), "--config-fd", str(config_r)],
                cwd="/",
                pass_fds=(self.sync_w, config_r, self.client_fd),
                close_fds=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                env=shim_env(),
            )
        except BaseException:
            for fd in (self.sync_r, self.sync_w, self.config_w):
                os.close(fd)
            self.client.close()
            raise
        finally:
            os.close(config_r)
            theirs.close()
        os.close(self.sync_w)  # the numbers stay valid in the shim, which inherited them

    def abandon(self) -> None:
        """Not needed after all: the shim sees its config pipe close and exits."""
        if self.config_w >= 0:
            os.close(self.config_w)
            os.close(self.sync_r)
            self.config_w = -1
            self.client.close()
            self.proc.wait()

    def go(self, config: dict, *, attach: bool, pass_fds: "list[int] | tuple" = (),
           stdio_fds: "list[int] | tuple" = (), held_fds: "list[int] | tuple" = ()) -> dict:
        """Hand over the container (the shim creates and starts it); returns the shim's
        report: {"pid": N} or {"error": "..."}. Without `attach`, `client` is closed.
        `pass_fds` (exec --preserve-fds) go to the shim over `client` first; `stdio_fds`
        (--log-driver passthrough: the container's fds 0-2) before them; `held_fds` (published
        ports' sockets, which the shim holds while the container runs) after them."""
        pass_fds = list(pass_fds) or self.pass_fds
        if stdio_fds:
            config = {**config, "passthrough": True}
        if pass_fds:
            config = {**config, "preserve_fds": len(pass_fds)}
        if held_fds:
            config = {**config, "held_fds": len(held_fds)}
        if pass_fds or stdio_fds or held_fds:
            socket.send_fds(self.client, [b"F"], [*stdio_fds, *pass_fds, *held_fds])
        if not attach:
            self.client.close()
        line = json.dumps({**config, "sync_fd": self.sync_w, "client_fd": self.client_fd,
                           "start": config.get("start", True)}).encode() + b"\n"
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self.config_w, view):]
        except BrokenPipeError:
            pass  # the shim died early; its silence says so below
        finally:
            os.close(self.config_w)
            self.config_w = -1
        try:
            with os.fdopen(self.sync_r, "rb") as sync:
                report = sync.readline()
        finally:
            self.proc.wait()  # the first fork exits at once; the shim lives on, adopted by init
        try:
            return json.loads(report) if report else {"error": "the shim exited without reporting"}
        except ValueError:
            return {"error": f"the shim reported {report[:200]!r}"}
