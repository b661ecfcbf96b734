"""generate systemd (units for a container or a pod) and generate kube (pyctr.cli.kube's)."""

import sys
from typing import List, Optional

import typer

from pyctr.cli.common import engine
from pyctr.cli.parsing import PyctrTyper, arity

generate_app = PyctrTyper(help="Generate structured data based on containers, pods or volumes.", no_args_is_help=True)


@generate_app.command("systemd")
def systemd(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="CONTAINER|POD", help="The container or pod."),
    after: List[str] = typer.Option([], "--after", metavar="UNIT", help="Add dependencies order to the generated unit file."),
    container_prefix: str = typer.Option("container", "--container-prefix", metavar="PREFIX", help="Systemd unit name prefix for containers."),
    env: List[str] = typer.Option([], "--env", "-e", metavar="NAME[=VALUE]", help="Set environment variables to the systemd unit files."),
    files: bool = typer.Option(False, "--files", "-f", help="Generate .service files instead of printing to stdout."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="Print the created units in specified format (json)."),
    use_name: bool = typer.Option(False, "--name", "-n", help="Use container/pod names instead of IDs."),
    new: bool = typer.Option(False, "--new", help="Create a new container or pod instead of starting an existing one."),
    no_header: bool = typer.Option(False, "--no-header", help="Skip header generation."),
    pod_prefix: str = typer.Option("pod", "--pod-prefix", metavar="PREFIX", help="Systemd unit name prefix for pods."),
    requires: List[str] = typer.Option([], "--requires", metavar="UNIT", help="Similar to wants, but declares stronger requirement dependencies."),
    restart_policy: Optional[str] = typer.Option(None, "--restart-policy", metavar="POLICY", help="Systemd restart-policy (default on-failure)."),
    restart_sec: Optional[int] = typer.Option(None, "--restart-sec", metavar="SECONDS", min=0, help="Systemd restart-sec."),
    separator: str = typer.Option("-", "--separator", metavar="SEP", help="Systemd unit name separator between name/id and prefix."),
    start_timeout: Optional[int] = typer.Option(None, "--start-timeout", metavar="SECONDS", min=0, help="Start timeout override."),
    stop_timeout: Optional[int] = typer.Option(None, "--stop-timeout", metavar="SECONDS", min=0, help="Stop timeout override (default: the container's, 10)."),
    time: Optional[int] = typer.Option(None, "--time", "-t", metavar="SECONDS", min=0, hidden=True, help="Deprecated: --stop-timeout."),
    template: bool = typer.Option(False, "--template", help="Make it a template file and use %i and %I specifiers. Working only for containers."),
    wants: List[str] = typer.Option([], "--wants", metavar="UNIT", help="Add (weak) requirement dependencies to the generated unit file."),
) -> None:
    """Generate systemd units for a pod or container.

    The generated units can later be controlled via systemctl(1)."""
    from pyctr.errors import InvalidArgument
    from pyctr.systemd.units import UnitOptions

    arity(list(names or []), 1, 1)
    if fmt is not None and fmt != "json":
        raise InvalidArgument(f"unknown --format argument: {fmt}")
    options = UnitOptions(
        new=new, use_name=use_name, files=files, restart_policy=restart_policy, restart_sec=restart_sec,
        start_timeout=start_timeout, stop_timeout=stop_timeout if stop_timeout is not None else time,
        container_prefix=container_prefix, pod_prefix=pod_prefix, separator=separator, no_header=no_header,
        wants=list(wants), after=list(after), requires=list(requires), env=list(env), template=template)
    units = engine(ctx).systemd.generate(names[0], options)
    if files:
        paths = engine(ctx).systemd.write_files(units, ".")
        if fmt == "json":
            from pyctr.cli import output

            output.print_json(dict(zip(units, paths)), indent=1)
        else:
            sys.stdout.write("".join(f"{path}\n" for path in paths))
    elif fmt == "json":
        from pyctr.cli import output

        output.print_json(dict(sorted(units.items())), indent=1)
    else:
        sys.stdout.write("".join(units.values()))


def register(app: typer.Typer) -> None:
    from pyctr.cli.kube import kube_generate  # `generate kube` is `kube generate`

    generate_app.command("kube")(kube_generate)
    app.add_typer(generate_app, name="generate")
