"""netavark, run once per container setup or teardown (no daemon), as podman 4 runs it.

netavark creates the bridge, the veth pair, addresses, routes, firewall rules and port forwards
from one JSON description, and starts aardvark-dns for networks with DNS; its config directory
(aardvark-dns' entries) is host-wide runtime state, as podman's /run/containers/networks.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from pyctr.network import aardvark
from pyctr.network.config import DEFAULT_NAME
from pyctr.network.netns import NetworkError

# Where Debian (and Fedora) install podman's helpers: podman's helper_binaries_dir.
HELPER_DIRS = ("/usr/local/libexec/podman", "/usr/local/lib/podman", "/usr/libexec/podman", "/usr/lib/podman")


def helper(name: str) -> str:
    for directory in HELPER_DIRS:
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    raise NetworkError(f"{name} not found in {', '.join(HELPER_DIRS)}",
                       hint="install the Debian packages netavark and aardvark-dns")


def run(command: str, netns: str, options: dict, *, config_dir: Path, rootless: bool, inside: str | None = None) -> dict:
    """`netavark setup|teardown NETNS` with `options` on stdin; setup answers each network's status.
    `inside`: the network namespace netavark runs in (the rootless one), else the host's."""
    (config_dir / "aardvark-dns").mkdir(mode=0o755, parents=True, exist_ok=True)
    argv = [helper("netavark"), "--config", str(config_dir), "--rootless", "true" if rootless else "false",
            "--aardvark-binary", helper("aardvark-dns"), command, netns]
    env = dict(os.environ, RUST_LOG=os.environ.get("PYCTR_NETAVARK_LOG", "warn"))
    if inside:
        argv = ["nsenter", f"--net={inside}", *argv]
        # iptables' lock is /run/xtables.lock, which the user's namespace cannot create
        env["XTABLES_LOCKFILE"] = str(config_dir / "xtables.lock")
    dns = command == "setup" and aardvark.uses_dns(options)  # (pyctr.network.aardvark says why)
    if dns:
        aardvark.before_setup(config_dir)
    result = subprocess.run(argv, input=json.dumps(_named_for_netavark(options)).encode(), capture_output=True,
                            close_fds=True, env=env)
    if dns and result.returncode == 0:
        aardvark.after_setup(config_dir, options, rootless=rootless, inside=inside)
    if result.returncode != 0:
        raise NetworkError(f"netavark: {_error_text(result.stdout, result.stderr)}")
    return {_our_name(name): status for name, status in json.loads(result.stdout or b"{}").items()}


# netavark names a network's firewall chains after the network's name: a podman network of the
# same name would share them (and lose its rules with ours). netavark sees pyctr's networks under
# names of their own; the default one's ("pyctr") is one already.
PREFIX = "pyctr-"


def _netavark_name(name: str) -> str:
    return name if name == DEFAULT_NAME else PREFIX + name


def _our_name(name: str) -> str:
    return name if name == DEFAULT_NAME else name.removeprefix(PREFIX)


def _named_for_netavark(options: dict) -> dict:
    return {**options,
            "networks": {_netavark_name(n): v for n, v in options["networks"].items()},
            "network_info": {_netavark_name(n): {**v, "name": _netavark_name(n)} for n, v in options["network_info"].items()}}


def _error_text(stdout: bytes, stderr: bytes) -> str:
    try:
        return json.loads(stdout)["error"].replace("\n\t", "; ").strip()
    except (ValueError, KeyError, TypeError):
        lines = stderr.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else "failed"
