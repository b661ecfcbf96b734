"""manifest create, add, annotate, inspect, push, remove, rm, exists: multi-platform lists."""

import sys
from typing import List, Optional

import typer

from pyctr.cli.common import authfile_option, engine, tls_verify_option
from pyctr.cli.parsing import PyctrTyper, arity

manifest_app = PyctrTyper(help="Manipulate manifest lists and image indexes.", no_args_is_help=True)

_ANNOTATION = typer.Option([], "--annotation", metavar="KEY=VALUE", help="Set an annotation of the entry (replaces its annotations).")
_ARCH = typer.Option(None, "--arch", metavar="ARCH", help="Override the architecture of the entry.")
_FEATURES = typer.Option([], "--features", metavar="FEATURES", help="Override the features of the entry.")
_OS = typer.Option(None, "--os", metavar="OS", help="Override the OS of the entry.")
_OS_VERSION = typer.Option(None, "--os-version", metavar="VERSION", help="Override the OS version of the entry.")
_VARIANT = typer.Option(None, "--variant", metavar="VARIANT", help="Override the architecture variant of the entry.")
_CERT_DIR = typer.Option(None, "--cert-dir", metavar="PATH", help="Directory of TLS certificates and keys (*.crt, *.cert, *.key).")
_CREDS = typer.Option(None, "--creds", metavar="USER[:PASS]", help="Credentials to use for authenticating to the registry.")


def _creds(creds: Optional[str]) -> Optional[str]:
    from pyctr.errors import InvalidArgument

    if creds is not None and ":" not in creds:
        if not sys.stdin.isatty():
            raise InvalidArgument("no password given in --creds USER:PASSWORD")
        creds = f"{creds}:{typer.prompt('Password', hide_input=True)}"
    return creds


@manifest_app.command("create")
def create(
    ctx: typer.Context,
    args: List[str] = typer.Argument(None, metavar="LIST [IMAGE...]", help="The list's name, then images to add to it."),
    all_instances: bool = typer.Option(False, "--all", help="Add every entry of an image that is itself a list."),
    amend: bool = typer.Option(False, "--amend", "-a", help="Modify the existing list of that name, if there is one."),
    tls_verify: Optional[bool] = tls_verify_option(),
) -> None:
    """Create a manifest list (an image index)."""
    arity(args or [], 1)
    typer.echo(engine(ctx).manifests.create(args[0], args[1:], all_instances=all_instances, amend=amend,
                                            tls_verify=tls_verify))


@manifest_app.command("add")
def add(
    ctx: typer.Context,
    args: List[str] = typer.Argument(None, metavar="LIST IMAGE [IMAGE...]", help="The list, then the images to add: a local image, containers-storage:NAME, docker://REFERENCE, or a registry reference."),
    all_instances: bool = typer.Option(False, "--all", help="Add every entry of an image that is itself a list."),
    annotation: List[str] = _ANNOTATION,
    arch: Optional[str] = _ARCH,
    authfile: Optional[str] = authfile_option(),
    cert_dir: Optional[str] = _CERT_DIR,
    creds: Optional[str] = _CREDS,
    features: List[str] = _FEATURES,
    os_name: Optional[str] = _OS,
    os_version: Optional[str] = _OS_VERSION,
    tls_verify: Optional[bool] = tls_verify_option(),
    variant: Optional[str] = _VARIANT,
) -> None:
    """Add images to a manifest list."""
    from pyctr.engine.manifests import Platform

    arity(args or [], 2)
    platform = Platform(arch=arch, os_name=os_name, variant=variant, os_version=os_version, features=features or None,
                        annotations=annotation or None)
    typer.echo(engine(ctx).manifests.add(args[0], args[1:], all_instances=all_instances, platform=platform,
                                         tls_verify=tls_verify, authfile=authfile, credentials=_creds(creds),
                                         cert_dir=cert_dir))


@manifest_app.command("annotate")
def annotate(
    ctx: typer.Context,
    args: List[str] = typer.Argument(None, metavar="LIST DIGEST", help="The list, and the digest of its entry."),
    annotation: List[str] = _ANNOTATION,
    arch: Optional[str] = _ARCH,
    features: List[str] = _FEATURES,
    os_name: Optional[str] = _OS,
    os_features: List[str] = typer.Option([], "--os-features", metavar="FEATURES", help="Override the OS features of the entry."),
    os_version: Optional[str] = _OS_VERSION,
    variant: Optional[str] = _VARIANT,
) -> None:
    """Change the platform and annotations of an entry of a manifest list."""
    from pyctr.engine.manifests import Platform

    arity(args or [], 2, 2)
    platform = Platform(arch=arch, os_name=os_name, variant=variant, os_version=os_version,
                        os_features=os_features or None, features=features or None, annotations=annotation or None)
    typer.echo(engine(ctx).manifests.annotate(args[0], args[1], platform))


def _warning(message: str) -> None:
    """A warning as podman's (logrus's) line, shown unless --log-level asks for errors only."""
    import time

    from pyctr import log

    if log.enabled("warn"):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        sys.stderr.write(f'time="{stamp}" level=warning msg="{message}"\n')


@manifest_app.command("inspect")
def inspect(
    ctx: typer.Context,
    args: List[str] = typer.Argument(None, metavar="LIST|IMAGE", help="A local list, or a registry's image or index."),
) -> None:
    """Show a manifest list (a local one, else the registry's manifest of that name)."""
    from pyctr.engine.manifests import dump

    arity(args or [], 1, 1)
    document = engine(ctx).manifests.inspect(args[0], warn=_warning)
    typer.echo(dump(document))


@manifest_app.command("exists")
def exists(
    ctx: typer.Context,
    args: List[str] = typer.Argument(None, metavar="LIST", help="The list's name."),
) -> None:
    """Exit 0 when the manifest list exists, 1 when it does not."""
    arity(args or [], 1, 1)
    if not engine(ctx).manifests.exists(args[0]):
        raise typer.Exit(1)


@manifest_app.command("remove")
def remove(
    ctx: typer.Context,
    args: List[str] = typer.Argument(None, metavar="LIST DIGEST", help="The list, and the digest of the entry to remove."),
) -> None:
    """Remove an entry from a manifest list."""
    arity(args or [], 2, 2)
    typer.echo(engine(ctx).manifests.remove(args[0], args[1]))


@manifest_app.command("rm")
def rm(
    ctx: typer.Context,
    args: List[str] = typer.Argument(None, metavar="LIST...", help="The lists to remove."),
) -> None:
    """Remove manifest lists from local storage."""
    arity(args or [], 1)
    from pyctr.cli import output

    output.print_removal(engine(ctx).manifests.rm(args))


class _ListLines:
    """podman's progress lines of a list push on stderr; an entry's own lines as `push` prints them."""

    def __init__(self):
        from pyctr.cli.imagetransfer import _Lines

        self.image_lines = _Lines()

    def __call__(self, event) -> None:
        line = {"list-start": "Getting image list signatures",
                "list-count": f"Copying {event.state} images in list",
                "list-image": f"Copying image {event.digest} {event.state}",
                "list-manifest": "Writing manifest list to image destination",
                "list-signatures": "Storing list signatures"}.get(event.kind)
        if line is None:
            self.image_lines(event)
            return
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


@manifest_app.command("push")
def push(
    ctx: typer.Context,
    args: List[str] = typer.Argument(None, metavar="LIST [DESTINATION]", help="The list, and where to push it (default: the list's name)."),
    all_instances: bool = typer.Option(True, "--all", help="Also push the images of the list (default true; --all=false: only the list)."),
    authfile: Optional[str] = authfile_option(),
    cert_dir: Optional[str] = _CERT_DIR,
    compression_format: Optional[str] = typer.Option(None, "--compression-format", metavar="FORMAT", help="Compression of the pushed layers of local images: gzip or zstd (default: as stored)."),
    creds: Optional[str] = _CREDS,
    digestfile: Optional[str] = typer.Option(None, "--digestfile", metavar="PATH", help="Write the digest of the pushed list to this file."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="List type to push: oci or v2s2 (default: the list's own)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no progress."),
    remove_signatures: bool = typer.Option(False, "--remove-signatures", help="Push without signatures (pyctr stores none)."),
    rm_list: bool = typer.Option(False, "--rm", help="Remove the local list once it is pushed."),
    sign_by: Optional[str] = typer.Option(None, "--sign-by", metavar="FINGERPRINT", help="Not supported: pyctr does not sign images."),
    sign_by_sigstore: Optional[str] = typer.Option(None, "--sign-by-sigstore-private-key", metavar="PATH", help="Not supported: pyctr does not sign images."),
    sign_passphrase_file: Optional[str] = typer.Option(None, "--sign-passphrase-file", metavar="PATH", help="Not supported: pyctr does not sign images."),
    tls_verify: Optional[bool] = tls_verify_option(),
) -> None:
    """Push a manifest list (and its images) to a registry."""
    from pyctr.errors import InvalidArgument

    if not 1 <= len(args or []) <= 2:
        raise InvalidArgument(f"accepts between 1 and 2 arg(s), received {len(args or [])}")
    if sign_by or sign_by_sigstore or sign_passphrase_file:
        raise InvalidArgument("signing images is not supported by pyctr (image signing is not built)")
    result = engine(ctx).manifests.push(args[0], args[1] if len(args) > 1 else None, all_instances=all_instances,
                                        fmt=fmt, remove=rm_list, tls_verify=tls_verify, authfile=authfile,
                                        credentials=_creds(creds), cert_dir=cert_dir, compression=compression_format,
                                        progress=None if quiet else _ListLines())
    if digestfile:
        with open(digestfile, "w") as f:
            f.write(result.digest)


def register(app: typer.Typer) -> None:
    app.add_typer(manifest_app, name="manifest")
