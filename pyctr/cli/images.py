"""Image commands: pull, images, image inspect/tag/rm/prune/mount/unmount."""


import sys
from typing import List, Optional

import typer

from pyctr import units
from pyctr.cli import output
from pyctr.cli.common import authfile_option, engine, tls_verify_option
from pyctr.cli.parsing import PyctrTyper
from pyctr.errors import ImageNotFound

image_app = PyctrTyper(help="Manage images.", no_args_is_help=True)


def pull(
    ctx: typer.Context,
    image: str = typer.Argument(..., metavar="IMAGE", help="Image to pull, e.g. busybox or localhost:5000/app:1.0."),
    platform: Optional[str] = typer.Option(None, "--platform", metavar="OS/ARCH", help="OS/ARCH[/VARIANT] to pull from a multi-platform image."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the image ID."),
    tls_verify: Optional[bool] = tls_verify_option(),
    authfile: Optional[str] = authfile_option(),
) -> None:
    """Pull an image from a registry."""
    from pyctr.cli.progress import for_stream

    record = engine(ctx).images.pull(
        image,
        platform=platform,
        tls_verify=tls_verify,
        authfile=authfile,
        progress=for_stream(quiet),
    )
    typer.echo(record.id)


def _split_name(name: str) -> tuple[str, str]:
    repo, _, tag = name.rpartition(":")
    return repo, tag


def _image_rows(records, *, no_trunc: bool) -> list[dict]:
    """One row per name (podman lists an image once per repository:tag)."""
    rows = []
    for rec in records:
        created_ts = units.parse_created(rec.created)
        image_id = f"sha256:{rec.id}" if no_trunc else rec.id[:12]
        base = {
            "ID": image_id,
            "Id": rec.id,
            "Digest": rec.manifest_digest,
            "Created": int(created_ts) if created_ts else 0,
            "CreatedAt": rec.created,
            "CreatedSince": units.since(created_ts),
            "Size": units.human_size(rec.size),
            "VirtualSize": rec.size,
            "Names": list(rec.names),
            "RepoTags": list(rec.names),
            "RepoDigests": list(rec.repo_digests),
            "Dangling": not rec.names,
        }
        names = rec.names or ["<none>:<none>"]
        for name in names:
            repo, tag = _split_name(name)
            rows.append({**base, "Repository": repo, "Tag": tag})
    return rows


def images(
    ctx: typer.Context,
    filter_name: Optional[str] = typer.Argument(None, metavar="IMAGE", help="Show only images matching this name."),
    all_images: bool = typer.Option(False, "--all", "-a", help="Show all images (pyctr keeps no intermediate images)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only image IDs."),
    digests: bool = typer.Option(False, "--digests", help="Show digests."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate IDs."),
    noheading: bool = typer.Option(False, "--noheading", "-n", help="Do not print column headings."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json, or a Go template such as '{{.Repository}}:{{.Tag}}'."),
) -> None:
    """List images in local storage."""
    records = engine(ctx).images.list(filter_name)
    if quiet:
        seen = []
        for rec in records:
            image_id = f"sha256:{rec.id}" if no_trunc else rec.id[:12]
            if image_id not in seen:
                seen.append(image_id)
        if seen:
            typer.echo("\n".join(seen))
        return
    if fmt and fmt.strip() == "json":
        output.print_json([_image_json(rec) for rec in records])
        return
    rows = _image_rows(records, no_trunc=no_trunc)
    if fmt:
        output.print_formatted(fmt, rows, headers={"ID": "IMAGE ID", "CreatedSince": "CREATED", "Repository": "REPOSITORY"})
        return
    headers = ["REPOSITORY", "TAG"] + (["DIGEST"] if digests else []) + ["IMAGE ID", "CREATED", "SIZE"]
    table = [
        [r["Repository"], r["Tag"]] + ([r["Digest"]] if digests else []) + [r["ID"], r["CreatedSince"], r["Size"]]
        for r in rows
    ]
    output.print_table(headers, table, heading=not noheading)


def _image_json(rec) -> dict:
    """An entry of `images --format json`, with podman's field names."""
    created = units.parse_created(rec.created)
    return {
        "Id": rec.id,
        "ParentId": "",
        "RepoTags": list(rec.names),
        "RepoDigests": list(rec.repo_digests),
        "Size": rec.size,
        "SharedSize": 0,
        "VirtualSize": rec.size,
        "Labels": {},
        "Containers": 0,
        "Names": list(rec.names),
        "Digest": rec.manifest_digest,
        "Created": int(created) if created else 0,
        "CreatedAt": rec.created,
        "Dangling": not rec.names,
    }


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
    force: bool = typer.Option(False, "--force", "-f", help="Remove an image even if it has several names, is mounted, or containers use it (they are removed too)."),
    all_images: bool = typer.Option(False, "--all", "-a", help="Remove all images."),
    ignore: bool = typer.Option(False, "--ignore", "-i", help="Ignore images that do not exist."),
) -> None:
    """Remove one or more images.

    Exit codes as podman: 1 when an image was not found, 2 when one is in use.
    """
    result = engine(ctx).images.remove(names, force=force, all_images=all_images, ignore=ignore)
    for name_removed in result.untagged:
        typer.echo(f"Untagged: {name_removed}")
    for image_id in result.deleted:
        typer.echo(f"Deleted: {image_id}")
    for exc in result.errors:
        sys.stderr.write(f"Error: {exc}\n")
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def prune(
    ctx: typer.Context,
    all_images: bool = typer.Option(False, "--all", "-a", help="Remove all unused images, not just dangling ones."),
    force: bool = typer.Option(False, "--force", "-f", help="Do not ask for confirmation."),
) -> None:
    """Remove unused images."""
    for image_id in engine(ctx).images.prune(all_images=all_images):
        typer.echo(image_id)


def mount(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="IMAGE", help="Images to mount; none lists mounted images."),
) -> None:
    """Mount an image's root filesystem read-only and print where."""
    images_api = engine(ctx).images
    if not names:
        for rec, point in images_api.mounted():
            typer.echo(f"{rec.id[:12]} {(rec.names or ['<none>'])[0]} {point}")
        return
    for name in names:
        typer.echo(str(images_api.mount(name)))


def unmount(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="IMAGE", help="Images to unmount."),
    all_images: bool = typer.Option(False, "--all", "-a", help="Unmount all mounted images."),
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
