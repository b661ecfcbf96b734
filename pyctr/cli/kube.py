"""kube play, kube down, kube generate, and podman's older spellings `play kube` (and `generate kube`,
whose command lives in pyctr.cli.generate and calls generate_kube here)."""


import sys
from typing import List, Optional

import typer

from pyctr.cli.common import authfile_option, engine, tls_verify_option
from pyctr.cli.parsing import PyctrTyper, arity

kube_app = PyctrTyper(help="Play containers, pods or volumes from a structured file.", no_args_is_help=True)
play_app = PyctrTyper(help="Play containers, pods or volumes from a structured file.", no_args_is_help=True)


def _invalid(text: str):
    from pyctr.errors import InvalidArgument

    return InvalidArgument(text)


def generate_kube(ctx: typer.Context, names: List[str], *, service: bool = False, filename: Optional[str] = None,
                  kind: str = "pod", replicas: int = 1) -> None:
    """`generate kube` / `kube generate`: print the YAML of these containers and pods, or write it to `filename`."""
    import os

    from pyctr import __version__
    from pyctr.kube import generate, yamlio

    arity(list(names or []), 1)
    documents = engine(ctx).kube.generate(list(names), service=service, kind=kind, replicas=replicas)
    text = yamlio.dump(documents, generate.HEADER.format(version=__version__))
    if filename:
        if os.path.exists(filename):  # podman's: it never overwrites
            raise _invalid(f'cannot write to "{filename}"; file exists')
        with open(filename, "w") as f:
            f.write(text)
        return
    sys.stdout.write(text)


@kube_app.command("generate")
def kube_generate(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="CONTAINER...|POD...", help="Containers and pods."),
    service: bool = typer.Option(False, "--service", "-s", help="Generate YAML for a Kubernetes service object."),
    filename: Optional[str] = typer.Option(None, "--filename", "-f", metavar="PATH", help="Write output to the specified path."),
    kind: str = typer.Option("pod", "--type", "-t", metavar="TYPE", help="The kind of object to generate: pod or deployment."),
    replicas: int = typer.Option(1, "--replicas", "-r", metavar="N", help="The replicas of a deployment (default 1)."),
) -> None:
    """Generate Kubernetes YAML based on containers, pods or volumes."""
    generate_kube(ctx, list(names or []), service=service, filename=filename, kind=kind, replicas=replicas)


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    if path.startswith(("http://", "https://")):
        raise _invalid(f"kube play {path}: YAML from a URL is not built yet: download it and give the file")
    with open(path) as f:
        return f.read()


def _print_down(report) -> None:
    lines = ["Pods stopped:", *report.stopped, "Pods removed:", *report.removed]
    typer.echo("\n".join(lines))


def play(
    ctx: typer.Context,
    files: List[str] = typer.Argument(None, metavar="KUBEFILE|-", help="The YAML file (- for stdin)."),
    annotation: List[str] = typer.Option([], "--annotation", metavar="KEY=VALUE", help="Add annotations to pods (key=value)."),
    authfile: Optional[str] = authfile_option(),
    build: Optional[bool] = typer.Option(None, "--build", help="Build images from Containerfiles (not built yet: only --build=false)."),
    cert_dir: Optional[str] = typer.Option(None, "--cert-dir", metavar="PATH", help="Directory of the registry's TLS certificates and keys."),
    configmap: List[str] = typer.Option([], "--configmap", metavar="PATH", help="A YAML file of Kubernetes ConfigMaps (repeat, or comma-separated)."),
    context_dir: Optional[str] = typer.Option(None, "--context-dir", metavar="PATH", help="Build context directory (not built yet: needs --build)."),
    creds: Optional[str] = typer.Option(None, "--creds", metavar="USER:PASSWORD", help="Credentials for the registry."),
    down: bool = typer.Option(False, "--down", help="Stop and remove the pods the YAML made (as kube down)."),
    ip: List[str] = typer.Option([], "--ip", metavar="IP", help="Static IP addresses of the pods, in order."),
    log_driver: Optional[str] = typer.Option(None, "--log-driver", metavar="DRIVER", help="Logging driver for the containers (default k8s-file)."),
    log_opt: List[str] = typer.Option([], "--log-opt", metavar="NAME=VALUE", help="Logging driver options."),
    mac_address: List[str] = typer.Option([], "--mac-address", metavar="MAC", help="Static MAC addresses of the pods, in order."),
    network: List[str] = typer.Option([], "--network", metavar="NETWORK", help="Connect the pods to network(s), or a network mode."),
    no_hosts: bool = typer.Option(False, "--no-hosts", help="Do not create /etc/hosts within the pods' containers."),
    publish: List[str] = typer.Option([], "--publish", metavar="PORT", help="Publish more ports of every pod (as pod create -p)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Suppress output information when pulling images."),
    replace: bool = typer.Option(False, "--replace", help="Delete and recreate pods defined in the YAML file."),
    seccomp_profile_root: Optional[str] = typer.Option(None, "--seccomp-profile-root", metavar="PATH",
                                                       help="Directory of seccomp profiles (localhost profiles are not built yet)."),
    start: bool = typer.Option(True, "--start", help="Start the pods after creating them (default true)."),
    tls_verify: Optional[bool] = tls_verify_option(),
    userns: Optional[str] = typer.Option(None, "--userns", metavar="MODE", help="User namespace of the pods (not built yet)."),
) -> None:
    """Play a pod or volume based on Kubernetes YAML."""
    from pyctr.container import flags
    from pyctr.kube import yamlio
    from pyctr.kube.play import PlayOptions

    arity(list(files or []), 1, 1)
    if build:
        raise _invalid("kube play --build: building images is not built yet (pyctr has no build); use --build=false")
    if context_dir:
        raise _invalid("kube play --context-dir: building images is not built yet (pyctr has no build)")
    text = _read(files[0])
    eng = engine(ctx)
    if down:
        _print_down(eng.kube.down(text))
        return
    configmaps = []
    for item in configmap:
        for path in filter(None, item.split(",")):
            for document in yamlio.load(_read(path)):
                if document.get("kind") != "ConfigMap":
                    raise _invalid(f"invalid YAML kind: {document.get('kind')!r}. [ConfigMap] is the only supported by --configmap")
                configmaps.append(document)
    options = PlayOptions(
        start=start, replace=replace, network=list(network), ips=list(ip), macs=list(mac_address), no_hosts=no_hosts,
        log_driver=log_driver, log_opts=list(log_opt), annotations=flags.key_values(list(annotation), "annotation"),
        publish=list(publish), configmaps=configmaps, authfile=authfile, tls_verify=tls_verify, credentials=creds,
        cert_dir=cert_dir, userns=userns)
    from pyctr.cli.progress import for_stream

    report = eng.kube.play(text, options, progress=for_stream(quiet))
    out = []
    if report.volumes:
        out += ["Volumes:", *report.volumes]
    for pod in report.pods:
        out += ["Pod:", pod.id]
        if pod.containers:
            out += ["Container:" if len(pod.containers) == 1 else "Containers:", *pod.containers]
        out.append("")
    typer.echo("\n".join(out))


def down(
    ctx: typer.Context,
    files: List[str] = typer.Argument(None, metavar="KUBEFILE|-", help="The YAML file (- for stdin)."),
) -> None:
    """Remove pods based on Kubernetes YAML."""
    arity(list(files or []), 1, 1)
    _print_down(engine(ctx).kube.down(_read(files[0])))


kube_app.command("play")(play)
kube_app.command("down")(down)
play_app.command("kube")(play)


def register(app: typer.Typer) -> None:
    app.add_typer(kube_app, name="kube")
    app.add_typer(play_app, name="play")
