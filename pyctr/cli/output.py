"""Printing for the commands: tables, --format reports (gotemplate), inspect documents, JSON, reports."""

from __future__ import annotations

import json
import sys



def print_table(headers: list[str], rows: list[list[str]], out=None, *, heading: bool = True) -> None:
    out = out or sys.stdout
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    for row in ([headers] if heading else []) + rows:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        out.write("  ".join(cells).rstrip() + "\n")


def print_json(obj, indent: int = 4, *, empty_quirk: bool = False) -> None:
    """JSON as podman prints it: `indent` spaces a level (4 or 2, by command). empty_quirk: the
    commands that marshal with jsoniter print an empty object over three lines ("{", a line of
    indentation, "}"), as podman's ps and volume ls do."""
    if not empty_quirk:
        sys.stdout.write(json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")
        return
    sys.stdout.write(_indented(obj, " " * indent, 0) + "\n")


def _indented(obj, step: str, level: int) -> str:
    pad, inner = step * level, step * (level + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{\n" + inner + "\n" + pad + "}"
        items = (f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {_indented(v, step, level + 1)}"
                 for k, v in obj.items())
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, (list, tuple)):
        if not obj:
            return "[]"
        return "[\n" + ",\n".join(inner + _indented(v, step, level + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False)


def print_report(reporter, fmt: str, rows: list, *, heading: bool = True, aligned: bool = False,
                 ranged: bool = True, prefix: str = "") -> None:
    """A --format template over a list, as podman's report package prints it (see
    gotemplate.report): `reporter` (cli.reporters) names the template and titles the columns;
    `rows` are its Structs. What was printed before an error stays printed, as in podman; the
    error is one line (`prefix` first), exit code 125."""
    from pyctr.cli import gotemplate

    out: list[str] = []
    try:
        gotemplate.report(reporter.name, fmt, rows, reporter.headers, heading=heading, aligned=aligned,
                          ranged=ranged, out=out)
    except gotemplate.TemplateError as exc:
        sys.stdout.write("".join(out))
        sys.stdout.flush()
        executing = 'executing "' in str(exc)  # podman parses before its prefix applies
        raise gotemplate.TemplateError((prefix if executing else "") + str(exc)) from None
    sys.stdout.write("".join(out))


def print_inspect(fmt: str | None, results: list[dict], errors: list[Exception], *, types: dict | None = None,
                  prefix: str | None = None, indent: int = 5) -> None:
    """inspect: what was found (JSON or the template), then one line per failure; the last one raises.
    A template sees each document as podman's: the parts at the paths of `types` (Go type names,
    see cli.reporters) are structs, where an unknown field is an error; the rest are maps."""
    if fmt and fmt.strip() != "json":
        from pyctr.cli import reporters

        docs = [reporters.typed(r, *((types, {}) if types else reporters.types_of(r))) for r in results]
        reporter = reporters.Reporter("inspect", "", {})
        print_report(reporter, fmt, docs, prefix=reporters.INSPECT_PREFIX if prefix is None else prefix)
    else:
        print_json(results, indent)  # podman's inspect indents by 5 (secret inspect by 4)
    if errors:
        for exc in errors[:-1]:
            sys.stderr.write(f"Error: {exc}\n")
        raise errors[-1]


def print_reports(reports, label=lambda report: report.name, exit_code: int | None = None) -> None:
    """A bulk operation's reports, as podman prints them: a line per success on stdout, one `Error:`
    line per failure on stderr; then exit with `exit_code` (default: the last failure's code)."""
    import typer

    failed = None
    for report in reports:
        if report.error is None:
            typer.echo(label(report))
        else:
            sys.stderr.write(f"Error: {report.error}\n")
            failed = report.error
    if failed is not None:
        raise typer.Exit(failed.exit_code if exit_code is None else exit_code)


def print_removal(result) -> None:
    """An image removal's result (rmi, manifest rm), as podman prints it: Untagged and Deleted lines,
    then one `Error:` line per failure; exit with the result's exit code (podman's rules, the engine's)."""
    import typer

    for name in result.untagged:
        typer.echo(f"Untagged: {name}")
    for image_id in result.deleted:
        typer.echo(f"Deleted: {image_id}")
    for exc in result.errors:
        sys.stderr.write(f"Error: {exc}\n")
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def print_version(info, fmt: str | None) -> None:
    """`version` (engine.system.version()'s info) as podman prints it: a table, one line of JSON, or a
    template over {Client, Server}; if that fails, over the client's version alone (the older
    `{{.Version}}` formats), whose error is the one shown. (Shared by the typer and fast paths.)"""
    client = {"APIVersion": info.api_version, "Version": info.version, "PythonVersion": info.python_version,
              "OsArch": f"{info.os}/{info.arch}", "Os": info.os}
    if fmt and fmt.strip() == "json":
        sys.stdout.write(json.dumps({"Client": client}, separators=(",", ":")) + "\n")  # one line, as podman's
    elif fmt:
        from pyctr.cli import gotemplate, reporters

        both = reporters.Struct({"Client": reporters.Struct(client, "*define.Version"), "Server": None},
                                "*define.SystemVersionReport")
        try:
            sys.stdout.write(gotemplate.report("version", fmt, [both], ranged=False))
        except gotemplate.TemplateError:
            print_report(reporters.VERSION, fmt, [reporters.Struct(client, "*define.Version")], ranged=False)
    else:
        rows = [["Client:", "pyctr"], ["Version:", info.version], ["API Version:", info.api_version],
                ["Python Version:", info.python_version], ["OS/Arch:", client["OsArch"]]]
        print_table(["", ""], rows, heading=False)
