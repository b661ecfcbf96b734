"""`pyctr build` (also `pyctr image build`): parse podman's options, call engine.builds, print
buildah's lines (STEP ..., --> ID, COMMIT NAME, Successfully tagged NAME, then the ID)."""

from __future__ import annotations

import os
import sys
from typing import List, Optional

import typer

from pyctr.cli.common import authfile_option, engine, tls_verify_option
from pyctr.cli.parsing import OptionalValue

# Options podman has that need something pyctr has not built: given, they fail with this line.
NOT_BUILT = {
    "build_context": "--build-context (named extra contexts)",
    "cache_from": "--cache-from (a registry as build cache)",
    "cache_to": "--cache-to (a registry as build cache)",
    "cache_ttl": "--cache-ttl", "cgroupns": "--cgroupns", "cpp_flag": "--cpp-flag (Containerfile.in)",
    "decryption_key": "--decryption-key (encrypted images)", "hooks_dir": "--hooks-dir (OCI hooks)",
    "ipc": "--ipc", "logsplit": "--logsplit", "os_feature": "--os-feature", "os_version": "--os-version",
    "output": "--output (exporting the result as files)", "pid": "--pid", "runtime_flag": "--runtime-flag",
    "sign_by": "--sign-by (image signing)", "ssh": "--ssh (SSH agent forwarding)",
    "userns": "--userns", "userns_gid_map": "--userns-gid-map",
    "userns_gid_map_group": "--userns-gid-map-group", "userns_uid_map": "--userns-uid-map",
    "userns_uid_map_user": "--userns-uid-map-user", "uts": "--uts", "from_": "--from (replacing the first FROM)",
    "creds": "--creds", "cert_dir": "--cert-dir",
}


_ENV_SECRET = "pyctr-build-env-secret-"


class _Printer:
    def __init__(self, quiet: bool):
        self.quiet = quiet

    def __call__(self, event) -> None:
        kind, text = event.kind, event.text
        if kind == "warning":
            sys.stderr.write(f"WARNING: {text}\n")
            sys.stderr.flush()
            return
        if kind == "image":  # a platform's image, in a build for several (-q too)
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
            return
        if self.quiet:
            return
        line = {"step": text, "cached": f"--> Using cache {text}", "id": f"--> {text}",
                "commit": f"{event.stage}COMMIT {text}".rstrip(),
                "tagged": f"Successfully tagged {text}"}.get(kind)
        if line is not None and event.platform and kind in ("step", "commit"):
            line = f"[{event.platform}] {line}"  # as podman marks each platform's steps
        if line is not None:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


def _pairs(items: List[str], what: str, *, from_env: bool = False) -> dict[str, str]:
    from pyctr.errors import InvalidArgument

    out = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what} {item!r}: expected KEY=VALUE")
        if not sep:
            if from_env:
                if key not in os.environ:
                    continue
                val = os.environ[key]
        out[key] = val
    return out


def _annotations(items: List[str]) -> dict[str, str]:
    from pyctr.image.manifests import parse_annotations

    return parse_annotations(list(items or []))


def _secrets(items: List[str]) -> dict[str, str]:
    from pyctr.errors import InvalidArgument

    out = {}
    for item in items or []:
        fields = dict(part.partition("=")[::2] for part in item.split(","))
        ident, src = fields.get("id"), fields.get("src") or fields.get("source")
        if fields.get("type", "file") == "env" and ident:
            env_name = fields.get("env") or src or ident
            if env_name not in os.environ:
                raise InvalidArgument(f"--secret {item!r}: no environment variable {env_name}")
            import tempfile

            fd, path = tempfile.mkstemp(prefix=_ENV_SECRET)
            os.write(fd, os.environ[env_name].encode())
            os.close(fd)
            out[ident] = path
            continue
        if not ident or not src:
            raise InvalidArgument(f"invalid --secret {item!r}: expected id=ID,src=PATH")
        if not os.path.isfile(src):
            raise InvalidArgument(f"--secret {item!r}: {src}: no such file")
        out[ident] = os.path.abspath(src)
    return out


def build(
    ctx: typer.Context,
    contexts: Optional[List[str]] = typer.Argument(None, metavar="[CONTEXT]", help="The build context directory (default: .)."),
    add_host: List[str] = typer.Option([], "--add-host", metavar="HOST:IP", help="An /etc/hosts entry for RUN steps."),
    all_platforms: bool = typer.Option(False, "--all-platforms", help="Build for every platform of the base images (their manifest lists)."),
    annotation: List[str] = typer.Option([], "--annotation", metavar="KEY=VALUE", help="An annotation of the image's manifest (OCI format)."),
    arch: Optional[str] = typer.Option(None, "--arch", metavar="ARCH", help="Build for this architecture (its base images)."),
    authfile: Optional[str] = authfile_option(),
    build_arg: List[str] = typer.Option([], "--build-arg", metavar="KEY[=VALUE]", help="A build argument (ARG); without a value, from the environment."),
    build_context: List[str] = typer.Option([], "--build-context", metavar="NAME=PATH", help="Not supported yet."),
    cache_from: List[str] = typer.Option([], "--cache-from", metavar="REPO", help="Not supported yet."),
    cache_to: List[str] = typer.Option([], "--cache-to", metavar="REPO", help="Not supported yet."),
    cache_ttl: Optional[str] = typer.Option(None, "--cache-ttl", metavar="DURATION", help="Not supported yet."),
    cap_add: List[str] = typer.Option([], "--cap-add", metavar="CAP", help="A capability RUN steps get."),
    cap_drop: List[str] = typer.Option([], "--cap-drop", metavar="CAP", help="A capability RUN steps lose."),
    cert_dir: Optional[str] = typer.Option(None, "--cert-dir", metavar="PATH", help="Not supported yet."),
    cgroup_parent: Optional[str] = typer.Option(None, "--cgroup-parent", metavar="PATH", help="The cgroup of RUN steps."),
    cgroupns: Optional[str] = typer.Option(None, "--cgroupns", metavar="MODE", help="Not supported yet."),
    compress: bool = typer.Option(False, "--compress", help="Accepted (no effect: a local build is not sent anywhere)."),
    cpp_flag: List[str] = typer.Option([], "--cpp-flag", metavar="FLAG", help="Not supported yet."),
    cpu_period: Optional[int] = typer.Option(None, "--cpu-period", metavar="US", help="CFS period of RUN steps."),
    cpu_quota: Optional[int] = typer.Option(None, "--cpu-quota", metavar="US", help="CFS quota of RUN steps."),
    cpu_shares: Optional[int] = typer.Option(None, "--cpu-shares", "-c", metavar="SHARES", help="CPU shares of RUN steps."),
    cpuset_cpus: Optional[str] = typer.Option(None, "--cpuset-cpus", metavar="CPUS", help="CPUs RUN steps may use."),
    cpuset_mems: Optional[str] = typer.Option(None, "--cpuset-mems", metavar="NODES", help="Memory nodes RUN steps may use."),
    creds: Optional[str] = typer.Option(None, "--creds", metavar="USER[:PASS]", help="Not supported yet."),
    decryption_key: List[str] = typer.Option([], "--decryption-key", metavar="KEY", help="Not supported yet."),
    device: List[str] = typer.Option([], "--device", metavar="DEVICE", help="A host device for RUN steps."),
    disable_compression: bool = typer.Option(True, "--disable-compression", "-D", help="Accepted (layers are stored as pyctr stores them)."),
    disable_content_trust: bool = typer.Option(False, "--disable-content-trust", help="A Docker option, accepted without effect."),
    dns: List[str] = typer.Option([], "--dns", metavar="IP", help="A DNS server for RUN steps."),
    dns_option: List[str] = typer.Option([], "--dns-option", metavar="OPTION", help="A resolv.conf option for RUN steps."),
    dns_search: List[str] = typer.Option([], "--dns-search", metavar="DOMAIN", help="A DNS search domain for RUN steps."),
    env: List[str] = typer.Option([], "--env", metavar="KEY[=VALUE]", help="An environment variable of the image (and of RUN steps)."),
    file: List[str] = typer.Option([], "--file", "-f", metavar="PATH", help="The Containerfile (- reads stdin; default: CONTEXT/Containerfile or Dockerfile)."),
    force_rm: bool = typer.Option(True, "--force-rm", help="Remove intermediate containers even after a failure (always so)."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="Image format: oci or docker (default: oci, or $BUILDAH_FORMAT)."),
    from_: Optional[str] = typer.Option(None, "--from", metavar="IMAGE", help="Not supported yet."),
    hooks_dir: List[str] = typer.Option([], "--hooks-dir", metavar="PATH", help="Not supported yet."),
    http_proxy: bool = typer.Option(True, "--http-proxy", help="Pass the caller's proxy variables to RUN steps."),
    identity_label: bool = typer.Option(True, "--identity-label", help="Accepted (pyctr adds no identity label)."),
    ignorefile: Optional[str] = typer.Option(None, "--ignorefile", metavar="PATH", help="The ignore file (default: CONTEXT/.containerignore or .dockerignore)."),
    iidfile: Optional[str] = typer.Option(None, "--iidfile", metavar="PATH", help="Write the image ID to this file."),
    ipc: Optional[str] = typer.Option(None, "--ipc", metavar="MODE", help="Not supported yet."),
    isolation: Optional[str] = typer.Option(None, "--isolation", metavar="TYPE", help="oci only (runc)."),
    jobs: int = typer.Option(1, "--jobs", metavar="N", help="Accepted (stages are built one at a time)."),
    label: List[str] = typer.Option([], "--label", metavar="KEY=VALUE", help="A label of the image."),
    layers: bool = typer.Option(True, "--layers", help="Keep a cache of each step's result (false: no build cache)."),
    logfile: Optional[str] = typer.Option(None, "--logfile", metavar="PATH", help="Write the build's output to this file."),
    logsplit: bool = typer.Option(False, "--logsplit", help="Not supported yet."),
    manifest: Optional[str] = typer.Option(None, "--manifest", metavar="NAME", help="Add the image (each platform's) to this manifest list, made if absent."),
    memory: Optional[str] = typer.Option(None, "--memory", "-m", metavar="SIZE", help="Memory limit of RUN steps."),
    memory_swap: Optional[str] = typer.Option(None, "--memory-swap", metavar="SIZE", help="Memory and swap limit of RUN steps (-1: unlimited)."),
    network: Optional[str] = typer.Option(None, "--network", metavar="MODE", help="RUN steps' network: bridge (default; rootless slirp4netns), host, private or none."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Build every step again (the cache is not read)."),
    no_hosts: bool = typer.Option(False, "--no-hosts", help="Leave /etc/hosts of RUN steps as the image has it."),
    omit_history: bool = typer.Option(False, "--omit-history", help="Leave the build's history out of the image."),
    os_name: Optional[str] = typer.Option(None, "--os", metavar="OS", help="Build for this OS (its base images)."),
    os_feature: List[str] = typer.Option([], "--os-feature", metavar="FEATURE", help="Not supported yet."),
    os_version: Optional[str] = typer.Option(None, "--os-version", metavar="VERSION", help="Not supported yet."),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="OUTPUT", help="Not supported yet."),
    pid: Optional[str] = typer.Option(None, "--pid", metavar="MODE", help="Not supported yet."),
    platform: List[str] = typer.Option([], "--platform", metavar="OS/ARCH[/VARIANT]", help="Build for this platform (its base images); several (a,b): one image each."),
    pull: str = typer.Option("missing", "--pull", metavar="POLICY", click_type=OptionalValue("true"),
                             help="Pull base images: always, missing, never or newer (bare: always; a policy must be attached: --pull=never)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the image ID."),
    retry: int = typer.Option(3, "--retry", metavar="N", help="Accepted (pulls retry as pyctr's do)."),
    retry_delay: Optional[str] = typer.Option(None, "--retry-delay", metavar="DURATION", help="Accepted (pulls retry as pyctr's do)."),
    rm: bool = typer.Option(True, "--rm", help="Remove intermediate containers (always so)."),
    runtime_flag: List[str] = typer.Option([], "--runtime-flag", metavar="FLAG", help="Not supported yet."),
    secret: List[str] = typer.Option([], "--secret", metavar="id=ID,src=PATH", help="A secret for RUN --mount=type=secret."),
    security_opt: List[str] = typer.Option([], "--security-opt", metavar="OPT", help="Security options of RUN steps (as run's)."),
    shm_size: Optional[str] = typer.Option(None, "--shm-size", metavar="SIZE", help="Size of RUN steps' /dev/shm."),
    sign_by: Optional[str] = typer.Option(None, "--sign-by", metavar="FINGERPRINT", help="Not supported yet."),
    skip_unused_stages: bool = typer.Option(True, "--skip-unused-stages", help="Build only the stages the target needs (always so)."),
    squash: bool = typer.Option(False, "--squash", help="Squash the new layers into one."),
    squash_all: bool = typer.Option(False, "--squash-all", help="Squash all the layers into one."),
    ssh: List[str] = typer.Option([], "--ssh", metavar="ID[=PATH]", help="Not supported yet."),
    stdin: bool = typer.Option(False, "--stdin", help="Accepted (RUN steps get no stdin)."),
    tag: List[str] = typer.Option([], "--tag", "-t", metavar="NAME", help="A name for the image."),
    target: Optional[str] = typer.Option(None, "--target", metavar="STAGE", help="Build this stage (and those it needs)."),
    timestamp: Optional[int] = typer.Option(None, "--timestamp", metavar="SECONDS", help="Every created date and layer file time, in seconds since the epoch (reproducible builds)."),
    tls_verify: Optional[bool] = tls_verify_option(),
    ulimit: List[str] = typer.Option([], "--ulimit", metavar="LIMIT", help="A ulimit of RUN steps."),
    unsetenv: List[str] = typer.Option([], "--unsetenv", metavar="KEY", help="Remove this variable from the image."),
    userns: Optional[str] = typer.Option(None, "--userns", metavar="MODE", help="Not supported yet."),
    userns_gid_map: Optional[str] = typer.Option(None, "--userns-gid-map", metavar="MAP", help="Not supported yet."),
    userns_gid_map_group: Optional[str] = typer.Option(None, "--userns-gid-map-group", metavar="GROUP", help="Not supported yet."),
    userns_uid_map: Optional[str] = typer.Option(None, "--userns-uid-map", metavar="MAP", help="Not supported yet."),
    userns_uid_map_user: Optional[str] = typer.Option(None, "--userns-uid-map-user", metavar="USER", help="Not supported yet."),
    uts: Optional[str] = typer.Option(None, "--uts", metavar="MODE", help="Not supported yet."),
    variant: Optional[str] = typer.Option(None, "--variant", metavar="VARIANT", help="Build for this architecture variant."),
    volume: List[str] = typer.Option([], "--volume", "-v", metavar="HOST:CTR[:OPTIONS]", help="A bind mount for RUN steps."),
) -> None:
    """Build an image from a Containerfile."""
    from pyctr.cli.parsing import arity
    from pyctr.engine.builds import BuildOptions
    from pyctr.errors import InvalidArgument

    given = locals()
    arity(list(contexts or []), 0, 1)  # podman counts them first: `--pull always .` is two
    context = contexts[0] if contexts else None
    for name, what in NOT_BUILT.items():
        value = given[name]
        if value not in (None, False, [], ()):
            raise InvalidArgument(f"build {what} is not supported by pyctr yet")
    if isolation not in (None, "oci", "default"):
        raise InvalidArgument(f"build --isolation {isolation}: only oci is supported")
    if platform and (arch or os_name or variant):
        raise InvalidArgument("--platform cannot be used with --arch, --os or --variant")
    platforms = list(platform)
    if not platform and (arch or os_name or variant):
        from pyctr.image import oci

        host = oci.Platform.host()
        platforms = [f"{os_name or host.os}/{arch or host.architecture}" + (f"/{variant}" if variant else "")]
    text = None
    files = list(file)
    if files == ["-"]:
        text, files = sys.stdin.read(), []
    elif "-" in files:
        raise InvalidArgument("-f - cannot be combined with other Containerfiles")
    fmt = fmt or os.environ.get("BUILDAH_FORMAT") or "oci"
    from pyctr.container import flags
    from pyctr.container.spec import ContainerSpec

    step = ContainerSpec.for_image("build")  # what RUN steps get beyond a container's defaults
    step.security.cap_add, step.security.cap_drop = list(cap_add), list(cap_drop)
    flags.security_options(security_opt, step.security)
    step.resources.ulimits = list(ulimit)
    step.resources.memory = flags.size(memory, "memory")
    step.resources.memory_swap = -1 if memory_swap == "-1" else flags.size(memory_swap, "memory-swap")
    step.resources.cpu_shares, step.resources.cpu_period, step.resources.cpu_quota = cpu_shares, cpu_period, cpu_quota
    step.resources.cpuset_cpus, step.resources.cpuset_mems = cpuset_cpus, cpuset_mems
    step.resources.cgroup_parent = cgroup_parent
    step.storage.shm_size = flags.size(shm_size, "shm-size")
    step.storage.devices = [flags.device(d) for d in device]
    options = BuildOptions(
        context=context or ".", files=files, containerfile_text=text, tags=list(tag),
        build_args=_pairs(build_arg, "--build-arg", from_env=True), target=target, no_cache=no_cache, layers=layers,
        pull=pull, fmt=fmt, labels=_pairs(label, "--label"), env=_pairs(env, "--env", from_env=True),
        unsetenv=list(unsetenv), network=network or "", platforms=platforms, manifest=manifest,
        all_platforms=all_platforms, ignorefile=ignorefile, iidfile=iidfile,
        secrets=_secrets(secret), volumes=list(volume), tls_verify=tls_verify, authfile=authfile,
        add_hosts=list(add_host), dns=list(dns), dns_search=list(dns_search), dns_options=list(dns_option),
        no_hosts=no_hosts, step_spec=step.to_json(), squash=squash, squash_all=squash_all, timestamp=timestamp,
        omit_history=omit_history, annotations=_annotations(annotation))
    import signal

    def interrupted(signum, frame):  # SIGTERM as Ctrl-C: the build cleans up what it mounted and ran
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    out = quiet_out = None
    if logfile:
        out = open(logfile, "w")
        sys.stdout = out
    try:
        from pyctr.cli.progress import for_stream

        quiet_out = open(os.devnull, "w") if quiet and out is None else None  # -q: RUN's output too, as podman
        result = engine(ctx).builds.build(options, report=_Printer(quiet), stdout=quiet_out or out, stderr=out,
                                          progress=for_stream(quiet))
    finally:
        for ident, path in options.secrets.items():  # a --secret type=env is a file of ours
            if os.path.basename(path).startswith(_ENV_SECRET):
                os.unlink(path)
        if quiet_out is not None:
            quiet_out.close()
        if out is not None:
            sys.stdout = sys.__stdout__
            out.close()
    if len(result.ids) <= 1:  # several: each printed as it was built
        sys.stdout.write(result.id + "\n")


def register(app: typer.Typer, image_app: typer.Typer | None = None) -> None:
    for target in filter(None, (app, image_app)):
        target.command("build")(build)
