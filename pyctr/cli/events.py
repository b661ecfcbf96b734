"""`pyctr events`: the events journal, as podman prints it (a line per event, JSON, or a Go template)."""


import sys
from typing import List, Optional

import typer

from pyctr.cli.common import engine


def events(
    ctx: typer.Context,
    filters: List[str] = typer.Option([], "--filter", "-f", metavar="KEY=VALUE",
                                      help="Filter: container, event, image, label, type, volume, since, until."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json, or a Go template such as '{{.Status}}'."),
    no_trunc: bool = typer.Option(True, "--no-trunc", help="Do not truncate IDs (default true; --no-trunc=false shortens them)."),
    since: Optional[str] = typer.Option(None, "--since", metavar="TIME", help="Show events since TIME (RFC 3339, UNIX time, or a duration like 10m)."),
    until: Optional[str] = typer.Option(None, "--until", metavar="TIME", help="Show events until TIME."),
    stream: bool = typer.Option(True, "--stream", help="Keep printing new events (--stream=false: print what there is and exit)."),
) -> None:
    """Monitor events: container, image and volume actions as they happen."""
    from pyctr.cli import gotemplate

    found = engine(ctx).events.list(filters=filters, since=since, until=until, stream=stream)
    if fmt and gotemplate.is_json_format(fmt):
        show = to_json_line
    elif fmt:
        from pyctr.cli import reporters

        gotemplate.report("events", fmt, [], ranged=False)  # a bad template fails before the first event

        def show(event) -> str:
            view = [__import__("json").loads(to_json_line(event))] if "json" in fmt else None
            return gotemplate.report("events", fmt, reporters.EVENTS.rows([template_row(event)], view), ranged=False)
    else:
        def show(event) -> str:
            return human_line(event, no_trunc)
    out = sys.stdout
    for event in found:
        text = show(event)
        out.write(text if text.endswith("\n") else text + "\n")
        if stream:
            out.flush()


def go_time(recorded: str) -> str:
    """Go's time.Time String() in local time: `2026-12-05 11:21:48.53038879 +0000 UTC`."""
    import calendar
    import time

    from pyctr.units import go_time as time_string

    seconds = calendar.timegm(time.strptime(recorded[:19], "%Y-%m-%dT%H:%M:%S"))
    fraction = recorded[19:].rstrip("Zz")
    nanos = int(fraction[1:10].ljust(9, "0")) if fraction.startswith(".") and fraction[1:10].isdigit() else 0
    return time_string(ns=seconds * 1_000_000_000 + nanos)


def human_line(event, no_trunc: bool = True) -> str:
    """podman's text form of one event."""
    when = go_time(event.time)
    ident = event.id if no_trunc else event.id[:12]
    if event.type in ("container", "pod"):
        extra = [f"image={event.image}", f"name={event.name}"]
        if event.health_status:
            extra.append(f"health_status={event.health_status}")
        extra += [f"{k}={v}" for k, v in sorted((event.attributes or {}).items())]
        return f"{when} {event.type} {event.status} {ident} ({', '.join(extra)})"
    if event.type == "image":
        return f"{when} image {event.status} {ident} {event.name}"
    if event.type == "network":
        return f"{when} network {event.status} {ident} (container={ident}, name={event.network})"
    if event.type == "system":
        return f"{when} system {event.status}"
    return f"{when} {event.type} {event.status} {event.name}"


def to_json(event) -> dict:
    """The JSON podman prints (its Event struct: empty fields left out, Attributes always; its
    network is the one key in lower case)."""
    fields = (("ContainerExitCode", event.exit_code or None), ("ID", event.id), ("Image", event.image),
              ("Name", event.name), ("network", event.network), ("Status", event.status), ("Time", event.time),
              ("Type", event.type), ("health_status", event.health_status))
    obj = {k: v for k, v in fields if v not in (None, "")}
    obj["Attributes"] = event.attributes
    return obj


def to_json_line(event) -> str:
    import json

    return json.dumps(to_json(event), ensure_ascii=False, separators=(",", ":"))


def template_row(event) -> dict:
    """The fields a --format template sees (podman's Event struct)."""
    return {"ID": event.id, "Image": event.image, "Name": event.name, "Network": event.network,
            "Status": event.status, "Time": go_time(event.time), "Type": event.type,
            "ContainerExitCode": event.exit_code, "HealthStatus": event.health_status, "PodID": "",
            "Attributes": dict(event.attributes or {}), "Details": _details(event)}


def _details(event):
    """The event's Details, a Go struct (events.Details) printed as podman prints it."""
    from pyctr.cli.gotemplate import Struct

    return Struct({"ID": "", "PodID": "", "Attributes": dict(event.attributes or {})}, "events.Details")


def register(app: typer.Typer) -> None:
    app.command("events")(events)
