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
    platforms: list[str] = field(default_factory=list)  # several: one image each (with `manifest`, a list of them)
    manifest: str | None = None  # the manifest list each image is added to (made if absent)
    all_platforms: bool = False  # the platforms of the base images' manifest lists
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
    squash: bool = False  # the new layers as one
    squash_all: bool = False  # every layer as one (the base image's history dropped)
    timestamp: int | None = None  # every created date and layer file time: reproducible builds
    omit_history: bool = False
    annotations: dict[str, str] = field(default_factory=dict)  # the OCI manifest's


@value
class BuildResult:
    id: str
    names: list[str]
    ids: list[str] = field(default_factory=list)  # one per platform, in order


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
        """Build the image (one per platform of `options.platforms`, each added to the manifest list
        `options.manifest` if given); `report` receives the STEP lines and results
        (pyctr.build.executor.BuildEvent); RUN steps write to the files `stdout` and `stderr`
        (default: this process's)."""
        from dataclasses import replace

        from pyctr.build import platforms as platformsmod
        from pyctr.build.executor import BuildEvent

        if options.squash and options.squash_all:  # podman's words
            raise InvalidArgument("cannot specify --squash with --layers and --squash-all with --squash")
        if options.timestamp is not None and options.timestamp < 0:
            raise InvalidArgument(f"invalid --timestamp {options.timestamp}: seconds since the epoch")
        wanted = platformsmod.split(list(options.platforms) + ([options.platform] if options.platform else []))
        if options.all_platforms:
            if wanted:
                raise InvalidArgument("--all-platforms cannot be used with --platform, --arch, --os or --variant")
            wanted = self._base_platforms(options)
        if len(wanted) <= 1 and not options.manifest:
            return self._build(replace(options, platform=wanted[0] if wanted else None, platforms=[]),
                               report=report, stdout=stdout, stderr=stderr, progress=progress)
        if options.manifest:
            from pyctr.image import reference

            reference.local_name(options.manifest)  # a bad name fails before any work
        plan = self._plan(options)[0]
        for platform in wanted:  # every platform checked before any is built
            platformsmod.check(platform, plan)
        results = []
        for platform in wanted or [None]:
            def shown(event, platform=platform):
                report(replace(event, platform=platform) if len(wanted) > 1 else event)

            one = replace(options, platform=platform, platforms=[], manifest=None)
            results.append(self._build(one, report=shown, stdout=stdout, stderr=stderr, progress=progress))
            if len(wanted) > 1:
                report(BuildEvent("image", results[-1].id))
        if options.manifest:
            from pyctr.engine.manifests import Manifests

            Manifests(self.services).create(options.manifest, [r.id for r in results], amend=True)
        return BuildResult(results[-1].id, results[-1].names, [r.id for r in results])

    def _base_platforms(self, options: BuildOptions) -> list[str]:
        """--all-platforms: the platforms every base image of the stages to build has (a manifest list's
        entries; a single image: the host's), in the first one's order."""
        from pyctr.build.stages import find_stage
        from pyctr.engine.manifests import Manifests
        from pyctr.image import oci

        plan = self._plan(options)[0]
        found: list[str] | None = None
        for index in plan.needed:
            stage = plan.stages[index]
            if stage.base.lower() == "scratch" or find_stage(plan.stages, stage.base, stage.index) is not None:
                continue
            view = Manifests(self.services).inspect(stage.base, tls_verify=options.tls_verify, authfile=options.authfile)
            if isinstance(view, dict) and view.get("manifests"):
                mine = []
                for entry in view["manifests"]:
                    p = entry.get("platform") or {}
                    if p.get("os") and p.get("architecture") and p["os"] != "unknown":
                        mine.append(f"{p['os']}/{p['architecture']}" + (f"/{p['variant']}" if p.get("variant") else ""))
            else:
                host = oci.Platform.host()
                mine = [f"{host.os}/{host.architecture}"]
            found = mine if found is None else [p for p in found if p in mine]
        if not found:
            raise InvalidArgument("--all-platforms: the stages to build have no base image with platforms to build for"
                                  if found is None else "--all-platforms: the base images have no platform in common")
        return found

    def _plan(self, options: BuildOptions):
        """(the stages to build, the Containerfile's name, the parsed Containerfile, the context)."""
        from pyctr.build import parser, stages
        from pyctr.build.context import Context

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
        return plan, file, cf, context

    def _build(self, options: BuildOptions, *, report, stdout=None, stderr=None, progress=None) -> BuildResult:
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
        plan, file, cf, context = self._plan(options)
        from pyctr.build import platforms as platformsmod

        platformsmod.check(options.platform, plan)  # before any work: a RUN the host cannot run
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
                               "no_hosts": options.no_hosts}, step_spec=options.step_spec,
                          timestamp=options.timestamp)
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
        layers, diff_ids, chain_ids = list(state.layers), list(state.diff_ids), list(state.chain_ids)
        base = builder.base_states[builder.target]
        if options.squash or options.squash_all:
            from pyctr.build import squashing

            below = None if options.squash_all else base
            config["history"] = squashing.history(config.get("history") or [], base, keep_base=below is not None)
            if below is None or len(diff_ids) > len(below.diff_ids):
                layers, diff_ids, chain_ids = squashing.layer(self.services, builder, state, below, options.timestamp)
        if options.omit_history:
            config.pop("history", None)
        config = canonical(config, diff_ids)  # an unchanged config gives the last step's ID
        record = builder.maker.image(config, layers, diff_ids, chain_ids, oci_format=options.fmt == "oci",
                                     annotations=self._annotations(builder, base, options))
        svc = self.services.images
        made = (record.manifest_digest, record.manifest_media_type, list(record.layers))
        given = Loader(svc.content, svc.layers, svc.index, rootless=svc.config.rootless).register(record, names)
        if made[0] != record.manifest_digest:  # (register keeps an existing image's manifest)
            with svc.index.edit() as images:
                # The same config built again with another manifest (--annotation, --format): this build's
                # manifest is the image's now, as podman's newest build is, unless a registry knows the old one.
                known = images.get(record.id)
                if known is not None and not known.repo_digests:
                    known.manifest_digest, known.manifest_media_type, known.layers = made
                    record = known
        return record, given

    def _annotations(self, builder, base, options: BuildOptions) -> dict[str, str]:
        """The manifest's annotations (OCI only, as buildah): the base image's name and digest
        (when the target stage is FROM an image), then --annotation."""
        if options.fmt != "oci":
            return {}
        from pyctr.build.stages import find_stage

        out = {}
        stage = builder.stages[builder.target]
        if stage.base.lower() != "scratch" and find_stage(builder.stages, stage.base, stage.index) is None:
            record = self.services.images.get(base.id)
            out = {"org.opencontainers.image.base.digest": record.manifest_digest,
                   "org.opencontainers.image.base.name": base.base_name}
        out.update(options.annotations)
        return out


def _volume(text: str) -> dict:
    """--volume HOST:CTR[:ro|rw,...] for the RUN steps: a bind mount."""
    parts = text.split(":")
    if len(parts) < 2 or not parts[0].startswith("/"):
        raise InvalidArgument(f"build --volume {text!r}: expected /HOST/PATH:/CONTAINER/PATH[:OPTIONS] "
                              f"(named volumes are not supported in builds)")
    options = parts[2].split(",") if len(parts) > 2 else []
    read_only = "ro" in options
    return {"destination": parts[1], "type": "bind", "source": parts[0], "options": ["rbind", "ro" if read_only else "rw"]}
