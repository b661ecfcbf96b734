"""engine.builds: images from Containerfiles (pyctr.build does the work; the policy is here:
which file, which arguments, what the result is named, and that nothing half-built is named)."""

from __future__ import annotations

import os
from dataclasses import field
from typing import TYPE_CHECKING, Callable

from pyctr.errors import InvalidArgument, NotFound
from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.build.executor import BuildEvent
    from pyctr.engine.services import Services

PULL_POLICIES = {"true": "always", "false": "missing", "always": "always", "missing": "missing",
                 "never": "never", "newer": "newer", "ifmissing": "missing", "ifnewer": "newer"}
NETWORKS = ("bridge", "slirp4netns", "host", "none", "private", "default", "")


@value
class BuildOptions:
    context: str = "."
    files: list[str] = field(default_factory=list)  # Containerfiles; [] finds Containerfile or Dockerfile
    containerfile_text: str | None = None  # `-f -`: the file's text (read by the front end)
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    layers: bool = True
    pull: str = "missing"
    fmt: str = "oci"
    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # --env: in the image and in RUN
    unsetenv: list[str] = field(default_factory=list)
    network: str = ""
    platform: str | None = None  # OS/ARCH[/VARIANT]
    ignorefile: str | None = None
    iidfile: str | None = None
    secrets: dict[str, str] = field(default_factory=dict)  # id -> host file
    volumes: list[str] = field(default_factory=list)  # --volume HOST:CTR[:OPTIONS] for RUN
    tls_verify: bool | None = None
    authfile: str | None = None
    add_hosts: list[str] = field(default_factory=list)  # RUN steps' /etc/hosts and resolv.conf
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    no_hosts: bool = False
    # RUN steps' ContainerSpec beyond the defaults (its security, resources, devices, shm size), as to_json()
    step_spec: dict | None = None


@value
class BuildResult:
    id: str
    names: list[str]


def predefined_args(platform: str | None) -> dict[str, str]:
    """Docker's automatic platform ARGs (in scope in FROM lines; in a stage once declared)."""
    from pyctr.image import oci

    host = oci.Platform.host()
    target = oci.Platform.parse(platform) if platform else host
    out = {}
    for prefix, p in (("TARGET", target), ("BUILD", host)):
        out[f"{prefix}PLATFORM"] = f"{p.os}/{p.architecture}" + (f"/{p.variant}" if p.variant else "")
        out[f"{prefix}OS"], out[f"{prefix}ARCH"], out[f"{prefix}VARIANT"] = p.os, p.architecture, p.variant or ""
    return out


def find_containerfile(context: str) -> str:
    for name in ("Containerfile", "Dockerfile"):
        path = os.path.join(context, name)
        if os.path.isfile(path):
            return path
    raise NotFound(f"no Containerfile or Dockerfile specified or found in context directory, {os.path.abspath(context)}")


class Builds:
    def __init__(self, services: "Services"):
        self.services = services

    def build(self, options: BuildOptions, *, report: "Callable[[BuildEvent], None]", stdout=None, stderr=None,
              progress=None) -> BuildResult:
        """Build the image; `report` receives the STEP lines and results (pyctr.build.executor.BuildEvent);
        RUN steps write to the files `stdout` and `stderr` (default: this process's)."""
        from pyctr.build import parser, stages
        from pyctr.build.context import Context
        from pyctr.build.executor import Builder, BuildEvent
        from pyctr.image import reference

        fmt = options.fmt
        if fmt not in ("oci", "docker"):
            raise InvalidArgument(f"unrecognized image type {fmt!r}: use oci or docker")
        pull = PULL_POLICIES.get(str(options.pull).lower())
        if pull is None:
            raise InvalidArgument(f"invalid pull policy {options.pull!r}: always, missing, never or newer")
        if options.network not in NETWORKS:
            raise InvalidArgument(f"build --network {options.network}: use bridge, slirp4netns, host, private or none "
                                  f"(other networks and namespaces for build steps are not supported yet)")
        names = [str(reference.local_name(tag)) for tag in options.tags]  # a bad name fails before any work
        context = Context(options.context, ignore_file=options.ignorefile)
        if options.containerfile_text is not None:
            text, file = options.containerfile_text, "Containerfile"
        else:
            paths = options.files or [find_containerfile(context.dir)]
            chunks = []
            for path in paths:
                if not os.path.isabs(path) and not os.path.exists(path) and os.path.exists(os.path.join(context.dir, path)):
                    path = os.path.join(context.dir, path)
                try:
                    with open(path, encoding="utf-8") as f:
                        chunks.append(f.read())
                except FileNotFoundError:
                    raise NotFound(f"the Containerfile {path!r} does not exist") from None
            text, file = "\n".join(chunks), os.path.basename(paths[0])
        cf = parser.parse(text, file=file)
        plan = stages.plan(cf, options.build_args, options.target, file=file,
                           predefined=predefined_args(options.platform))
        volumes = [_volume(v) for v in options.volumes]
        if options.step_spec:
            from pyctr.container.spec import ContainerSpec

            ContainerSpec.from_json(options.step_spec).validate()  # bad limits fail before any work
        builder = Builder(self.services, file=file, escape=cf.escape, build_args=dict(options.build_args),
                          oci=fmt == "oci", use_cache=not options.no_cache, layers=options.layers, pull=pull,
                          platform=options.platform, network=options.network, context=context, report=report,
                          stdout=stdout, stderr=stderr, tls_verify=options.tls_verify, authfile=options.authfile,
                          progress=progress, run_env=dict(options.env), volumes=volumes, secrets=dict(options.secrets),
                          etc={"add_hosts": list(options.add_hosts), "dns_servers": list(options.dns),
                               "dns_search": list(options.dns_search), "dns_options": list(options.dns_options),
                               "no_hosts": options.no_hosts}, step_spec=options.step_spec)
        from pyctr.linux.fsutil import locked, makedirs

        makedirs(self.services.config.root)
        with locked(self.services.config.root / "gc.lock", shared=True):  # gc keeps the new layers meanwhile
            state = builder.build(plan)
            report(BuildEvent("commit", options.tags[0] if options.tags else "", stage=builder.final_prefix))
            record, given = self._commit(builder, state, options, names)
        report(BuildEvent("id", record.id[:11]))
        for name in given:
            report(BuildEvent("tagged", name))
        if options.iidfile:
            with open(options.iidfile, "w") as f:
                f.write(f"sha256:{record.id}")
        from pyctr import events

        events.emit(self.services.config, "image", "build", id=record.id, name=names[0] if names else record.id)
        return BuildResult(record.id, given)

    def _commit(self, builder, state, options: BuildOptions, names: list[str]):
        """The final state as an image, with --label and --env applied, named -> (record, names given)."""
        from pyctr.build.executor import canonical
        from pyctr.image.load import Loader

        config = dict(state.config)
        section = dict(config.get("config") or {})
        if options.labels:
            section["Labels"] = {**(section.get("Labels") or {}), **options.labels}
        if options.env or options.unsetenv:
            env = [e for e in section.get("Env") or [] if e.partition("=")[0] not in options.env
                   and e.partition("=")[0] not in options.unsetenv]
            section["Env"] = env + [f"{k}={v}" for k, v in options.env.items()]
        config["config"] = section
        config = canonical(config, state.diff_ids)  # an unchanged config gives the last step's ID
        record = builder.maker.image(config, list(state.layers), list(state.diff_ids), list(state.chain_ids),
                                     oci_format=options.fmt == "oci")
        svc = self.services.images
        return record, Loader(svc.content, svc.layers, svc.index, rootless=svc.config.rootless).register(record, names)


def _volume(text: str) -> dict:
    """--volume HOST:CTR[:ro|rw,...] for the RUN steps: a bind mount."""
    parts = text.split(":")
    if len(parts) < 2 or not parts[0].startswith("/"):
        raise InvalidArgument(f"build --volume {text!r}: expected /HOST/PATH:/CONTAINER/PATH[:OPTIONS] "
                              f"(named volumes are not supported in builds)")
    options = parts[2].split(",") if len(parts) > 2 else []
    read_only = "ro" in options
    return {"destination": parts[1], "type": "bind", "source": parts[0], "options": ["rbind", "ro" if read_only else "rw"]}
