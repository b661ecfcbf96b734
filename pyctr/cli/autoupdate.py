"""auto-update: restart the systemd units of containers whose images have been updated."""

from typing import Optional

import typer

from pyctr.cli.common import authfile_option, engine

# podman's auto-update rows: the container as "ID12 (name)".
FIELDS = ("Unit", "Container", "Image", "Policy", "Updated")


def auto_update(
    ctx: typer.Context,
    authfile: Optional[str] = authfile_option(),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check for pending updates, change nothing."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json, or a Go template."),
    rollback: bool = typer.Option(True, "--rollback", help="Roll back to the previous image if the unit fails to restart (default true; --rollback=false: do not)."),
) -> None:
    """Auto update containers according to their auto-update policy.

    Containers labelled io.containers.autoupdate=registry (or =local) that run under a systemd unit (the
    PODMAN_SYSTEMD_UNIT label, set by generated units) get the newer image and their unit restarted."""
    import sys

    from pyctr.cli import gotemplate, output
    from pyctr.cli.reporters import Reporter, _titles

    result = engine(ctx).auto_updates.run(dry_run=dry_run, rollback=rollback, authfile=authfile)
    rows = [dict(zip(FIELDS, (r.unit, f"{r.container_id[:12]} ({r.container_name})", r.image, r.policy, r.updated)))
            for r in result.reports]
    if fmt and gotemplate.is_json_format(fmt):
        output.print_json(rows)
    elif rows or fmt:
        reporter = Reporter("auto-update", "main.autoUpdateOutput", _titles(*FIELDS))
        output.print_report(reporter, fmt or "table " + "\t".join(f"{{{{.{f}}}}}" for f in FIELDS), reporter.rows(rows))
    for exc in result.errors[:-1]:
        sys.stderr.write(f"Error: {exc}\n")
    if result.errors:
        raise result.errors[-1]


def register(app: typer.Typer) -> None:
    app.command("auto-update")(auto_update)
