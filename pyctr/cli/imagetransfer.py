"""Image transfer commands: push, save, load, import (also under `pyctr image`) and commit (also
under `pyctr container`)."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from pyctr.cli.common import authfile_option, engine, tls_verify_option


class _Lines:
    """podman's progress lines on stderr (a terminal also sees done / skipped)."""

    def __init__(self):
        self.tty = sys.stderr.isatty()

    def __call__(self, event) -> None:
        line = {"start": "Getting image source signatures", "manifest": "Writing manifest to image destination",
                "signatures": "Storing signatures"}.get(event.kind)
        if event.kind in ("blob", "config"):
            line = f"Copying {event.kind} {event.digest}"
            if self.tty:
                line += " skipped: already exists" if event.state in ("exists", "mounted") else " done"
        if line:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()


def push(
    ctx: typer.Context,
    image: str = typer.Argument(..., metavar="IMAGE", help="Local image to push."),
    destination: Optional[str] = typer.Argument(None, metavar="DESTINATION", help="Where to push it (default: IMAGE)."),
    authfile: Optional[str] = authfile_option(),
    cert_dir: Optional[str] = typer.Option(None, "--cert-dir", metavar="PATH", help="Directory of TLS certificates and keys (*.crt, *.cert, *.key)."),
    compress: bool = typer.Option(False, "--compress", help="Compress layers for the dir transport (pyctr pushes to registries only: no effect)."),
    compression_format: Optional[str] = typer.Option(None, "--compression-format", metavar="FORMAT", help="Compression of the pushed layers: gzip or zstd (default: as stored)."),
    creds: Optional[str] = typer.Option(None, "--creds", metavar="USER[:PASS]", help="Credentials to use for authenticating to the registry."),
    digestfile: Optional[str] = typer.Option(None, "--digestfile", metavar="PATH", help="Write the digest of the pushed manifest to this file."),
    disable_content_trust: bool = typer.Option(False, "--disable-content-trust", help="A Docker option, accepted and without effect (as podman)."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="Manifest type to push: oci or v2s2 (default: as stored)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no progress."),
    remove_signatures: bool = typer.Option(False, "--remove-signatures", help="Push without signatures (pyctr stores none)."),
    sign_by: Optional[str] = typer.Option(None, "--sign-by", metavar="FINGERPRINT", help="Not supported: pyctr does not sign images."),
    sign_by_sigstore: Optional[str] = typer.Option(None, "--sign-by-sigstore-private-key", metavar="PATH", help="Not supported: pyctr does not sign images."),
    sign_passphrase_file: Optional[str] = typer.Option(None, "--sign-passphrase-file", metavar="PATH", help="Not supported: pyctr does not sign images."),
    tls_verify: Optional[bool] = tls_verify_option(),
) -> None:
    """Push an image to a registry."""
    from pyctr.errors import InvalidArgument

    if sign_by or sign_by_sigstore or sign_passphrase_file:
        raise InvalidArgument("signing images is not supported by pyctr (image signing is not built)")
    if creds is not None and ":" not in creds:
        if not sys.stdin.isatty():
            raise InvalidArgument("no password given in --creds USER:PASSWORD")
        creds = f"{creds}:{typer.prompt('Password', hide_input=True)}"
    result = engine(ctx).images.push(image, destination, tls_verify=tls_verify, authfile=authfile, credentials=creds,
                                     cert_dir=cert_dir, compression=compression_format, fmt=fmt,
                                     progress=None if quiet else _Lines())
    if digestfile:
        with open(digestfile, "w") as f:
            f.write(result.digest)


def save(
    ctx: typer.Context,
    images: List[str] = typer.Argument(..., metavar="IMAGE...", help="Images to save."),
    compress: bool = typer.Option(False, "--compress", help="Compress the layers (docker-dir only)."),
    fmt: str = typer.Option("docker-archive", "--format", metavar="FORMAT", help="docker-archive, oci-archive, oci-dir or docker-dir."),
    multi_image: bool = typer.Option(False, "--multi-image-archive", "-m", help="Several images in one docker-archive (else the other names are tags of the first)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="PATH", help="Write to this file (directory for oci-dir and docker-dir) instead of stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no progress."),
    uncompressed: bool = typer.Option(False, "--uncompressed", help="Uncompressed layers in oci-archive and oci-dir."),
) -> None:
    """Save images to an archive."""
    from pyctr.errors import InvalidArgument

    if fmt in ("oci-dir", "docker-dir") and not output:
        raise InvalidArgument(f"--format {fmt} needs an output directory: use -o")
    api = engine(ctx).images
    progress = None if quiet else _Lines()
    if fmt in ("oci-dir", "docker-dir"):
        api.save(images, output, fmt=fmt, multi_image=multi_image, compress=compress or not uncompressed and fmt == "oci-dir",
                 progress=progress)
        return
    if output:
        import os

        tmp = f"{output}.pyctr-tmp{os.getpid()}"
        try:
            try:
                out = open(tmp, "wb")
            except OSError as exc:
                raise InvalidArgument(f'opening file "{output}": {(exc.strerror or str(exc)).lower()}') from None
            with out:
                api.save(images, out, fmt=fmt, multi_image=multi_image, compress=not uncompressed, progress=progress)
            os.replace(tmp, output)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return
    if sys.stdout.isatty():
        raise InvalidArgument("refusing to save to terminal. Use -o flag or redirect")
    sys.stdout.flush()
    api.save(images, sys.stdout.buffer, fmt=fmt, multi_image=multi_image, compress=not uncompressed, progress=progress)
    sys.stdout.buffer.flush()


def load(
    ctx: typer.Context,
    input_path: Optional[str] = typer.Option(None, "--input", "-i", metavar="PATH", help="Read the archive (or an oci/docker directory) from PATH instead of stdin."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no progress."),
) -> None:
    """Load images from an archive (docker-archive, oci-archive, or an OCI or docker directory)."""
    from pyctr.errors import InvalidArgument

    if input_path is None and sys.stdin.isatty():
        raise InvalidArgument("cannot read from terminal, use command-line redirection or the --input flag")
    names = engine(ctx).images.load(input_path if input_path is not None else sys.stdin.buffer,
                                    progress=None if quiet else _Lines())
    typer.echo("Loaded image: " + "\nLoaded image: ".join(names))


def commit(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER", help="Container whose changes make the image."),
    image: Optional[str] = typer.Argument(None, metavar="IMAGE", help="Name of the new image."),
    author: Optional[str] = typer.Option(None, "--author", "-a", metavar="AUTHOR", help="The author of the image."),
    changes: List[str] = typer.Option([], "--change", "-c", metavar="INSTRUCTION", help="Apply a Dockerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR."),
    fmt: str = typer.Option("oci", "--format", "-f", metavar="FORMAT", help="Image format: oci or docker."),
    iidfile: Optional[str] = typer.Option(None, "--iidfile", metavar="PATH", help="Write the image ID to this file."),
    include_volumes: bool = typer.Option(False, "--include-volumes", help="Make the container's volumes image volumes."),
    message: Optional[str] = typer.Option(None, "--message", "-m", metavar="MESSAGE", help="Commit message (docker format only)."),
    pause: bool = typer.Option(False, "--pause", "-p", help="Pause the container while committing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the image ID."),
    squash: bool = typer.Option(False, "--squash", "-s", help="Squash the new layer with the image's (not built yet)."),
) -> None:
    """Create an image from a container's changes."""
    image_id = engine(ctx).images.commit(container, image, changes=changes, message=message, author=author,
                                         pause=pause, squash=squash, fmt=fmt, include_volumes=include_volumes,
                                         progress=None if quiet else _Lines())
    if iidfile:
        with open(iidfile, "w") as f:
            f.write(f"sha256:{image_id}")
    typer.echo(image_id)


def import_(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="PATH|URL|-", help="The tarball (- for stdin)."),
    name: Optional[str] = typer.Argument(None, metavar="IMAGE", help="Name of the new image."),
    arch: Optional[str] = typer.Option(None, "--arch", metavar="ARCH", help="Architecture of the image (default: the host's)."),
    changes: List[str] = typer.Option([], "--change", "-c", metavar="INSTRUCTION", help="Apply a Dockerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR."),
    message: Optional[str] = typer.Option(None, "--message", "-m", metavar="MESSAGE", help="Commit message for the image's history."),
    os_name: Optional[str] = typer.Option(None, "--os", metavar="OS", help="Operating system of the image (default: linux)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the image ID."),
    variant: Optional[str] = typer.Option(None, "--variant", metavar="VARIANT", help="Architecture variant of the image."),
) -> None:
    """Create an image from a tarball of a filesystem."""
    from pyctr.errors import InvalidArgument

    if source == "-" and sys.stdin.isatty():
        raise InvalidArgument("cannot read from terminal, use command-line redirection")
    image_id = engine(ctx).images.import_image(sys.stdin.buffer if source == "-" else source, name, changes=changes,
                                               message=message, arch=arch, os_name=os_name, variant=variant,
                                               progress=None if quiet else _Lines())
    typer.echo(f"sha256:{image_id}")


def register(app: typer.Typer, image_app: typer.Typer | None = None, container_app: typer.Typer | None = None) -> None:
    for target in filter(None, (app, image_app)):
        target.command("push")(push)
        target.command("save")(save)
        target.command("load")(load)
        target.command("import")(import_)
    for target in filter(None, (app, container_app)):
        target.command("commit")(commit)
