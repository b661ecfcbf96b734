"""`pyctr stats` (and `container stats`): containers' resource use, as podman prints it."""


import sys
import time
from typing import List, Optional

import typer

from pyctr.cli.common import engine
from pyctr.errors import InvalidArgument
from pyctr.units import go_duration  # (small; the stats table and json show CPU time as Go does)

DEFAULT_FORMAT = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}"
                  "\t{{.PIDS}}\t{{.UpTime}}\t{{.AVGCPU}}")
CLEAR = "\033[2J\033[1;1H"  # clear the terminal, cursor home (between two samples)


def stats(
    ctx: typer.Context,
    names: Optional[List[str]] = typer.Argument(None, metavar="[CONTAINER...]", help="Containers to show (default: all)."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Show all containers (as without names: podman 4.3 shows every one; those not running with zeros)."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json, or a Go template such as '{{.MemUsage}}'."),
    interval: int = typer.Option(5, "--interval", "-i", metavar="SECONDS", help="Seconds between two samples."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Show the latest container."),
    no_reset: bool = typer.Option(False, "--no-reset", help="Do not clear the terminal between samples."),
    no_stream: bool = typer.Option(False, "--no-stream", help="Print one sample and exit."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate IDs."),
) -> None:
    """Display a live stream of containers' resource use (CPU, memory, network and block I/O, PIDs)."""
    if interval < 1:
        raise InvalidArgument("invalid interval, must be a positive number greater zero")
    containers = engine(ctx).containers
    previous: dict = {}
    out = sys.stdout
    while True:
        samples = containers.stats(list(names or []), all_containers=all_containers, latest=latest, previous=previous)
        if not no_stream and not no_reset:
            out.write(CLEAR)
        _print(samples, fmt, no_trunc)
        out.flush()
        if no_stream:
            return
        previous = {s.id: s for s in samples}
        time.sleep(interval)


def _print(samples, fmt: str | None, no_trunc: bool) -> None:
    from pyctr.cli import gotemplate

    if fmt and gotemplate.is_json_format(fmt):
        import json

        sys.stdout.write(json.dumps([json_row(s, no_trunc) for s in samples], indent=1, ensure_ascii=False) + "\n")
        return
    from pyctr.cli import output, reporters

    rows = [template_row(s, no_trunc) for s in samples]
    views = [dict(_raw(s, s.cpu_ns)) for s in samples] if fmt and "json" in fmt else None
    output.print_report(reporters.STATS, fmt or DEFAULT_FORMAT, reporters.STATS.rows(rows, views))


def human_size(size: float) -> str:
    """go-units' HumanSizeWithPrecision(size, 4): decimal units, no space (`245.8kB`, `0B`)."""
    return _size(size, 1000.0, ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"))


def bytes_size(size: float) -> str:
    """go-units' BytesSize: binary units (`248KiB`, `64MiB`)."""
    return _size(size, 1024.0, ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"))


def _size(size: float, base: float, units: tuple) -> str:
    unit = 0
    while size >= base and unit < len(units) - 1:
        size /= base
        unit += 1
    return f"{size:.4g}{units[unit]}"


def _pair(a: int, b: int, fmt=human_size) -> str:
    return f"{fmt(a)} / {fmt(b)}"


def percent(value: float) -> str:
    return f"{value:.2f}%"


def json_row(s, no_trunc: bool = False) -> dict:
    """podman's `stats --format json` entry."""
    return {
        "id": s.id if no_trunc else s.id[:12], "name": s.name, "cpu_time": go_duration(s.cpu_ns),
        "cpu_percent": percent(s.cpu_percent), "avg_cpu": percent(s.avg_cpu), "mem_usage": _pair(s.mem_usage, s.mem_limit),
        "mem_percent": percent(s.mem_percent), "net_io": _pair(s.net_input, s.net_output),
        "block_io": _pair(s.block_input, s.block_output), "pids": str(s.pids),
    }


def template_row(s, no_trunc: bool = False) -> dict:
    """What a --format template sees: podman's stats fields and its formatted ones."""
    return {
        "ID": s.id if no_trunc else s.id[:12], "ContainerID": s.id, "Name": s.name,
        "CPUPerc": percent(s.cpu_percent), "AVGCPU": percent(s.avg_cpu), "CPU": s.cpu_percent, "AvgCPU": s.avg_cpu,
        "MemUsage": _pair(s.mem_usage, s.mem_limit), "MemUsageBytes": _pair(s.mem_usage, s.mem_limit, bytes_size),
        "MemLimit": s.mem_limit, "MemPerc": percent(s.mem_percent), "NetIO": _pair(s.net_input, s.net_output),
        "NetInput": s.net_input, "NetOutput": s.net_output, "BlockIO": _pair(s.block_input, s.block_output),
        "BlockInput": s.block_input, "BlockOutput": s.block_output, "PIDS": str(s.pids), "PIDs": s.pids,
        "UpTime": go_duration(s.cpu_ns), "Up": go_duration(s.cpu_ns), "CPUNano": s.cpu_ns, "Duration": s.cpu_ns,
        "SystemNano": s.system_ns, "PerCPU": [], "CPUSystemNano": 0,  # not sampled: per CPU, system time
        "ContainerStats": _raw(s, go_duration(s.cpu_ns)),
    }


def _raw(s, uptime):
    """podman's define.ContainerStats, which the row embeds ({{.ContainerStats}}) and which
    {{json .}} prints (the uptime there in nanoseconds)."""
    from pyctr.cli.gotemplate import Struct

    return Struct({
        "AvgCPU": s.avg_cpu, "ContainerID": s.id, "Name": s.name, "PerCPU": [], "CPU": s.cpu_percent,
        "CPUNano": s.cpu_ns, "CPUSystemNano": 0, "SystemNano": s.system_ns, "MemUsage": s.mem_usage,
        "MemLimit": s.mem_limit, "MemPerc": s.mem_percent, "NetInput": s.net_input, "NetOutput": s.net_output,
        "BlockInput": s.block_input, "BlockOutput": s.block_output, "PIDs": s.pids, "UpTime": uptime,
        "Duration": s.cpu_ns}, "define.ContainerStats")


def register(app: typer.Typer, container_app: typer.Typer | None = None) -> None:
    for target in filter(None, (app, container_app)):
        target.command("stats")(stats)
