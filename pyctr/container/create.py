"""From what the user asked (`run`/`create` flags) to a container record.

Everything that can be wrong with the flags is found here, before anything
is written, so a bad flag leaves no half-created container behind.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from pyctr.errors import InvalidArgument

PULL_POLICIES = ("always", "missing", "never", "newer")
NETWORK_MODES = ("private", "none", "host", "bridge", "slirp4netns", "pasta")


@dataclass
class CreateOptions:
    image: str
    command: list[str] = field(default_factory=list)
    name: str | None = None
    entrypoint: str | None = None  # "" clears the image's entrypoint
    env: list[str] = field(default_factory=list)
    env_files: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    tty: bool = False
    stdin: bool = False
    remove: bool = False
    labels: list[str] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)
    read_only: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    security_opt: list[str] = field(default_factory=list)
    ulimits: list[str] = field(default_factory=list)
    init: bool = False
    stop_signal: str | None = None
    stop_timeout: int | None = None
    network: str | None = None  # None: slirp4netns rootless (when /dev/net/tun is usable), else private
    publish: list[str] = field(default_factory=list)
    add_hosts: list[str] = field(default_factory=list)
    pull: str = "missing"
    platform: str | None = None
    tls_verify: bool | None = None
    authfile: str | None = None
    shm_size: str | None = None
    memory: str | None = None
    cpus: float | None = None
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    group_add: list[str] = field(default_factory=list)
    restart: str = "no"
    create_command: list[str] = field(default_factory=lambda: list(sys.argv))


def parse_key_values(items: list[str], what: str) -> dict[str, str]:
    result = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what} {item!r}: expected KEY=VALUE")
        result[key] = value
    return result


def read_env_file(path: str) -> list[str]:
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise InvalidArgument(f"reading env file {path}: {exc.strerror}") from exc
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def merge_env(image_env: list[str], user_env: list[str]) -> list[str]:
    """Image env first, then the user's; `-e NAME` takes NAME from pyctr's own environment."""
    merged: dict[str, str] = {}
    for item in image_env:
        key, _, value = item.partition("=")
        merged[key] = value
    for item in user_env:
        key, eq, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid environment variable {item!r}")
        if not eq:
            if key.endswith("*"):
                merged.update({k: v for k, v in os.environ.items() if k.startswith(key[:-1])})
                continue
            if key not in os.environ:
                continue
            value = os.environ[key]
        merged[key] = value
    return [f"{k}={v}" for k, v in merged.items()]


def container_args(image_config: dict, entrypoint: str | None, command: list[str]) -> list[str]:
    """docker's rule: ENTRYPOINT + (command or CMD); --entrypoint resets CMD."""
    if entrypoint is not None:
        # As podman: a JSON list gives several words, any other string is one word, "" clears.
        ep = _json_list(entrypoint) if entrypoint.lstrip().startswith("[") else ([entrypoint] if entrypoint else [])
        cmd = command
    else:
        ep = list(image_config.get("Entrypoint") or [])
        cmd = command or list(image_config.get("Cmd") or [])
    args = ep + cmd
    if not args:
        raise InvalidArgument("no command or entrypoint provided, and no CMD or ENTRYPOINT from image")
    return args


def _json_list(text: str) -> list[str]:
    import json

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"invalid --entrypoint {text!r}: {exc}") from exc
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"invalid --entrypoint {text!r}: expected a JSON list of strings")
    return value


def parse_security_opts(items: list[str]) -> dict:
    """--security-opt no-new-privileges[:true|false], seccomp=unconfined|FILE, label=disable."""
    result = {"no_new_privileges": False, "seccomp": "default"}
    for item in items:
        key, sep, value = item.replace(":", "=", 1).partition("=") if item.startswith("no-new-privileges") else item.partition("=")
        if key == "no-new-privileges":
            result["no_new_privileges"] = value.lower() != "false" if sep else True
        elif key == "seccomp":
            if not value:
                raise InvalidArgument("--security-opt seccomp needs a value: unconfined or a profile file")
            if value != "unconfined" and not os.path.isfile(value):
                raise InvalidArgument(f"opening seccomp profile {value}: no such file")
            result["seccomp"] = value if value == "unconfined" else os.path.abspath(value)
        elif key in ("label", "apparmor", "mask", "unmask", "proc-opts"):
            continue  # accepted for podman compatibility; nothing to do on this host
        else:
            raise InvalidArgument(f"invalid --security-opt {item!r}")
    return result


def parse_network(value: str | None, *, rootless: bool = False, publish: bool = False) -> str:
    """none/private: loopback only; host; slirp4netns (outbound network and -p, rootless too)."""
    if value is None:
        if publish or (rootless and _tun_usable()):
            return "slirp4netns"
        return "private"
    mode = value
    if mode == "bridge":
        mode = "private"  # bridge networking is its own issue; until then: loopback only
    if mode.startswith("ns:"):
        return mode
    if mode not in NETWORK_MODES:
        raise InvalidArgument(f"invalid --network {value!r}: expected none, host, private or slirp4netns")
    if mode == "pasta":
        mode = "slirp4netns"
    if publish and mode != "slirp4netns":
        raise InvalidArgument(f"-p needs --network slirp4netns (the default when ports are published), not {value}")
    return mode


def _tun_usable() -> bool:
    return os.access("/dev/net/tun", os.R_OK | os.W_OK)


RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")


def parse_restart(text: str) -> dict:
    """--restart no|on-failure[:MAX]|always|unless-stopped."""
    name, _, count = (text or "no").partition(":")
    if name not in RESTART_POLICIES or (count and (name != "on-failure" or not count.isdigit())):
        raise InvalidArgument(f"invalid restart policy {text!r}: expected no, on-failure[:MAX], always or unless-stopped")
    return {"policy": name, "max": int(count) if count else 0}


def parse_size(text: str) -> int:
    units = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise InvalidArgument(f"invalid size {text!r}") from None


def validate(opts: CreateOptions) -> None:
    if opts.pull not in PULL_POLICIES:
        raise InvalidArgument(f"invalid --pull {opts.pull!r}: expected one of {', '.join(PULL_POLICIES)}")
    if opts.stop_timeout is not None and opts.stop_timeout < -1:
        raise InvalidArgument("--stop-timeout must be 0 or more")
    if opts.stop_signal:
        from pyctr.signals import parse_signal

        parse_signal(opts.stop_signal)
    from pyctr.network.ports import parse_publish

    ports = [parse_publish(p) for p in opts.publish]
    parse_network(opts.network, publish=bool(ports))
    parse_security_opts(opts.security_opt)
    parse_key_values(opts.labels, "label")
    if parse_restart(opts.restart)["policy"] != "no" and opts.remove:
        raise InvalidArgument("the --rm option conflicts with --restart, when the restartPolicy is not \"no\"")
    if opts.memory and parse_size(opts.memory) < 6 << 20:
        raise InvalidArgument("minimum memory limit allowed is 6MB")
    if opts.cpus is not None and not 0 < opts.cpus <= (os.cpu_count() or 1):
        raise InvalidArgument(f"range of CPUs is from 0.01 to {os.cpu_count() or 1}.00, as there are only {os.cpu_count() or 1} CPUs available")
    for group in opts.group_add:
        if not group.isdigit():
            raise InvalidArgument(f"--group-add {group!r}: give a numeric group ID")
    for server in opts.dns:
        import ipaddress

        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise InvalidArgument(f"{server} is not an ip address") from None


def _ensure_image(images, opts: CreateOptions, progress):
    """The image to run, pulled according to --pull (podman's policies)."""
    from pyctr.errors import ImageNotFound, PyctrError

    def pull():
        return images.pull(opts.image, platform=opts.platform, tls_verify=opts.tls_verify, authfile=opts.authfile, progress=progress)

    if opts.pull == "always":
        return pull()
    try:
        local = images.get(opts.image)
    except ImageNotFound:
        if opts.pull == "never":
            raise
        return pull()
    if opts.pull == "newer":
        try:
            return pull()
        except PyctrError:
            return local  # offline or unreachable: the local image will do
    return local


def create_container(store, images, volumes, opts: CreateOptions, progress=None):
    """Validate, find or pull the image, and write the container record."""
    from pyctr.container import mountopts
    from pyctr.network.ports import parse_publish

    validate(opts)
    image = _ensure_image(images, opts, progress)
    image_config = images.config_of(image).get("config") or {}
    env_items = [line for path in opts.env_files for line in read_env_file(path)] + opts.env
    env = merge_env(list(image_config.get("Env") or []), env_items)
    args = container_args(image_config, opts.entrypoint, opts.command)

    def volume_path(name: str) -> str:
        return volumes.create(name or None, exist_ok=True, anonymous=not name).mountpoint

    mounts = [mountopts.parse_volume(v, volume_path) for v in opts.volumes]
    mounts += [mountopts.parse_mount(m, volume_path) for m in opts.mounts]
    mounts += [mountopts.parse_tmpfs(t) for t in opts.tmpfs]
    labels = dict(image_config.get("Labels") or {})
    labels.update(parse_key_values(opts.labels, "label"))
    fields = dict(
        image_id=image.id,
        image_name=image.names[0] if image.names else image.id,
        args=args,
        env=env,
        workdir=opts.workdir or image_config.get("WorkingDir") or "/",
        user=opts.user if opts.user is not None else image_config.get("User", ""),
        hostname=opts.hostname or "",
        tty=opts.tty,
        stdin=opts.stdin,
        remove=opts.remove,
        labels=labels,
        stop_signal=opts.stop_signal or image_config.get("StopSignal") or "SIGTERM",
        stop_timeout=10 if opts.stop_timeout is None else opts.stop_timeout,
        network=parse_network(opts.network, rootless=store.config.rootless, publish=bool(opts.publish)),
        mounts=mounts,
        annotations=parse_key_values(opts.annotations, "annotation"),
        image_config=image_config,
        create_command=list(opts.create_command),
        options={
            "read_only": opts.read_only,
            "cap_add": opts.cap_add,
            "cap_drop": opts.cap_drop,
            "privileged": opts.privileged,
            "security": parse_security_opts(opts.security_opt),
            "ulimits": opts.ulimits,
            "init": opts.init,
            "add_hosts": opts.add_hosts,
            "ports": [parse_publish(p) for p in opts.publish],
            "shm_size": parse_size(opts.shm_size) if opts.shm_size else None,
            "memory": parse_size(opts.memory) if opts.memory else None,
            "cpus": opts.cpus,
            "dns": list(opts.dns),
            "dns_search": list(opts.dns_search),
            "dns_options": list(opts.dns_options),
            "group_add": list(opts.group_add),
            "restart": parse_restart(opts.restart),
        },
    )
    # Under the image lock: an rmi racing with us either removes the image first (and we
    # fail, "image not known") or sees our container and refuses.
    with images.index.locked() as current:
        if image.id not in current:
            from pyctr.errors import ImageNotFound

            raise ImageNotFound(f"{opts.image}: image not known (removed meanwhile)")
        record = store.create(fields, opts.name)
    if not record.hostname:
        record.hostname = record.id[:12]
        store.save(record)
    return record
