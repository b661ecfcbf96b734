"""Image commands: pull, images, image inspect/tag/rm/prune/mount/unmount."""


import sys
from typing import List, Optional

import typer

from pyctr.cli import output
from pyctr.cli.common import authfile_option, engine, tls_verify_option
from pyctr.cli.parsing import PyctrTyper
from pyctr.errors import ImageNotFound

image_app = PyctrTyper(help="Manage images.", no_args_is_help=True)


def pull(
    ctx: typer.Context,
    image: str = typer.Argument(..., metavar="IMAGE", help="Image to pull, e.g. busybox or localhost:5000/app:1.0."),
    all_tags: bool = typer.Option(False, "--all-tags", "-a", help="All tagged images in the repository will be pulled."),
    arch: Optional[str] = typer.Option(None, "--arch", metavar="ARCH", help="Use ARCH instead of the architecture of the machine for choosing images."),
    authfile: Optional[str] = authfile_option(),
    cert_dir: Optional[str] = typer.Option(None, "--cert-dir", metavar="PATH", help="Directory of TLS certificates and keys (*.crt, *.cert, *.key)."),
    creds: Optional[str] = typer.Option(None, "--creds", metavar="USER[:PASS]", help="Credentials to use for authenticating to the registry."),
    disable_content_trust: bool = typer.Option(False, "--disable-content-trust", help="A Docker option, accepted and without effect (as podman)."),
    os_name: Optional[str] = typer.Option(None, "--os", metavar="OS", help="Use OS instead of the running OS for choosing images."),
    platform: Optional[str] = typer.Option(None, "--platform", metavar="OS/ARCH", help="OS/ARCH[/VARIANT] to pull from a multi-platform image."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the image ID."),
    tls_verify: Optional[bool] = tls_verify_option(),
    variant: Optional[str] = typer.Option(None, "--variant", metavar="VARIANT", help="Use VARIANT instead of the running architecture variant."),
) -> None:
    """Pull an image from a registry."""
    from pyctr.cli.progress import for_stream

    if creds is not None and ":" not in creds:
        if not sys.stdin.isatty():
            from pyctr.errors import InvalidArgument

            raise InvalidArgument("no password given in --creds USER:PASSWORD")
        creds = f"{creds}:{typer.prompt('Password', hide_input=True)}"
    options = dict(platform=platform, tls_verify=tls_verify, authfile=authfile, progress=for_stream(quiet) or _warnings_only,
                   credentials=creds, cert_dir=cert_dir, arch=arch, os_name=os_name, variant=variant)
    images_api = engine(ctx).images
    if all_tags:
        for record in images_api.pull_all_tags(image, **options):
            typer.echo(record.id)
        return
    typer.echo(images_api.pull(image, **options).id)


def _warnings_only(event) -> None:
    """pull -q: no progress, but a warning still shows, as podman logs it (logrus's line)."""
    import time

    if event.kind == "warning":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        sys.stderr.write(f"time=\"{stamp}\" level=warning msg=\"{event.message}\"\n")


from pyctr.cli.imagerows import display_rows as _display_rows  # noqa: E402  (shared with cli/fast.py)


def images(
    ctx: typer.Context,
    filter_name: Optional[str] = typer.Argument(None, metavar="IMAGE", help="Show only images matching this name."),
    all_images: bool = typer.Option(False, "--all", "-a", help="Show all images (pyctr keeps no intermediate images)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only image IDs."),
    digests: bool = typer.Option(False, "--digests", help="Show digests."),
    filters: List[str] = typer.Option([], "--filter", "-f", metavar="KEY=VALUE",
                                      help="Filter: after/since, before, containers, dangling, id, intermediate, label, readonly, reference, until."),
    history: bool = typer.Option(False, "--history", help="Display the image name history."),
    sort: str = typer.Option("created", "--sort", metavar="KEY", help="Sort by created, id, repository, size, tag."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate output."),
    noheading: bool = typer.Option(False, "--noheading", "-n", help="Do not print column headings."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json, or a Go template such as '{{.Repository}}:{{.Tag}}'."),
) -> None:
    """List images in local storage."""
    images_api = engine(ctx).images
    image_rows = images_api.rows(filter_name, filters=filters, sort=sort)
    rows = _display_rows(image_rows, no_trunc=no_trunc)
    if quiet:
        ids = list(dict.fromkeys(row["ID"] for row in rows))
        if ids:
            typer.echo("\n".join(ids))
        return
    from pyctr.cli import gotemplate, reporters

    if fmt and gotemplate.is_json_format(fmt):
        output.print_json(images_api.summaries(image_rows))
        return
    if fmt:
        if "Labels" in fmt or "Containers" in fmt or "json" in fmt or "{{." not in fmt:
            counts = images_api.container_counts()  # read only when shown: a config file per image
            for row, image_row in zip(rows, image_rows):
                row["Labels"], row["Containers"] = images_api.labels(image_row.record), counts.get(row["Id"], 0)
    else:  # podman's own layout
        fmt = ("table {{.Repository}}\t{{.Tag}}\t" + ("{{.Digest}}\t" if digests else "")
               + "{{.ID}}\t{{.Created}}\t{{.Size}}" + ("\t{{.History}}" if history else ""))
    output.print_report(reporters.IMAGES, fmt, reporters.IMAGES.rows(rows), heading=not noheading)


def inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., metavar="IMAGE", help="Images to inspect."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json (default), or a Go template such as '{{.Id}}'."),
) -> None:
    """Show the configuration of one or more images."""
    from pyctr.cli import views

    images_api = engine(ctx).images
    results, errors = [], []
    for name in names:
        try:
            results.append(views.image_document(images_api.inspect(name)))
        except ImageNotFound as exc:
            errors.append(exc)
    output.print_inspect(fmt, results, errors)


def tag(
    ctx: typer.Context,
    image: str = typer.Argument(..., metavar="IMAGE", help="Image to name."),
    new_names: List[str] = typer.Argument(..., metavar="TARGET_NAME", help="New names."),
) -> None:
    """Add names to an image."""
    engine(ctx).images.tag(image, new_names)


def untag(
    ctx: typer.Context,
    image: str = typer.Argument(..., metavar="IMAGE", help="Image to remove names from."),
    names: List[str] = typer.Argument(None, metavar="NAME", help="Names to remove (default: all)."),
) -> None:
    """Remove names from an image."""
    engine(ctx).images.untag(image, names or [])


def rmi(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="IMAGE", help="Images to remove."),
    all_images: bool = typer.Option(False, "--all", "-a", help="Remove all images."),
    force: bool = typer.Option(False, "--force", "-f", help="Remove an image even if it has several names, is mounted, or containers use it (they are removed too)."),
    ignore: bool = typer.Option(False, "--ignore", "-i", help="Ignore images that do not exist."),
    no_prune: bool = typer.Option(False, "--no-prune", help="Do not remove dangling parent images (pyctr keeps no parent images: nothing to keep)."),
) -> None:
    """Remove one or more images.

    Exit codes as podman: 1 when an image was not found, 2 when one is in use.
    """
    output.print_removal(engine(ctx).images.remove(names, force=force, all_images=all_images, ignore=ignore))


def prune(
    ctx: typer.Context,
    all_images: bool = typer.Option(False, "--all", "-a", help="Remove all unused images, not just dangling ones."),
    external: bool = typer.Option(False, "--external", help="Also images used by external containers (pyctr makes none: no effect)."),
    filters: List[str] = typer.Option([], "--filter", metavar="KEY=VALUE", help="Provide filter values (as images --filter, e.g. label=KEY=VALUE, until=1h)."),
    force: bool = typer.Option(False, "--force", "-f", help="Do not ask for confirmation."),
) -> None:
    """Remove unused images."""
    from pyctr.cli.confirm import confirm

    what = "images without at least one container associated with them" if all_images else "dangling images"
    if not force and not confirm(f"WARNING! This command removes all {what}.\n"):
        return
    for image_id in engine(ctx).images.prune(all_images=all_images, filters=filters):
        typer.echo(image_id)


def mount(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="IMAGE", help="Images to mount; none lists mounted images."),
    all_images: bool = typer.Option(False, "--all", "-a", help="Mount all images."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="Print the mounted images as json."),
) -> None:
    """Mount an image's root filesystem read-only and print where."""
    from pyctr.errors import InvalidArgument

    if fmt is not None and fmt.strip() != "json":
        raise InvalidArgument(f"unknown --format argument: \"{fmt}\"")
    images_api = engine(ctx).images
    if not names or all_images:
        mounted = images_api.mount_all() if all_images else images_api.mounted()
        if fmt:
            output.print_json([{"id": rec.id, "Names": [rec.manifest_digest], "Repositories": list(rec.names),
                                "mountpoint": str(point)} for rec, point in mounted])
        elif mounted:  # podman's tabwriter layout
            from pyctr.cli import tabwriter

            tabwriter.write(None, [[(rec.names or [rec.id[:12]])[0], str(point)] for rec, point in mounted])
        return
    for name in names:
        typer.echo(str(images_api.mount(name)))


def unmount(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="IMAGE", help="Images to unmount."),
    all_images: bool = typer.Option(False, "--all", "-a", help="Unmount all mounted images."),
    force: bool = typer.Option(False, "--force", "-f", help="Unmount even if mounted several times (pyctr mounts an image once)."),
) -> None:
    """Unmount images mounted with `pyctr image mount`."""
    for image_id in engine(ctx).images.unmount(names, all_images=all_images):
        typer.echo(image_id)


def exists(
    ctx: typer.Context,
    image: str = typer.Argument(..., metavar="IMAGE", help="Image name or ID."),
) -> None:
    """Exit 0 if the image exists in local storage, 1 if not; print nothing."""
    raise typer.Exit(0 if engine(ctx).images.exists(image) else 1)


def register(app: typer.Typer, *, group: bool = True) -> None:
    """The image commands at the top (`pyctr images`) and, with `group`, under `pyctr image`."""
    app.command("pull")(pull)
    app.command("images")(images)
    app.command("tag")(tag)
    app.command("untag")(untag)
    app.command("rmi")(rmi)
    if not group:
        return
    image_app.command("pull")(pull)
    image_app.command("list")(images)
    image_app.command("ls")(images)
    image_app.command("inspect")(inspect)
    image_app.command("tag")(tag)
    image_app.command("untag")(untag)
    image_app.command("rm")(rmi)
    image_app.command("prune")(prune)
    image_app.command("exists")(exists)
    image_app.command("mount")(mount)
    image_app.command("unmount")(unmount)
    image_app.command("umount", hidden=True)(unmount)
    app.add_typer(image_app, name="image")
