"""Tables, --format templates and JSON, and the human units podman prints."""

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


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=4, ensure_ascii=False) + "\n")


def print_formatted(fmt: str, rows: list[dict], headers: dict[str, str] | None = None) -> None:
    """--format: 'json' prints the rows as a JSON list; anything else is a Go template."""
    from pyctr.cli import gotemplate

    if fmt.strip() == "json":
        print_json(rows)
        return
    try:
        sys.stdout.write(gotemplate.render_rows(fmt, rows, headers))
    except gotemplate.TemplateError as exc:
        from pyctr.errors import InvalidArgument

        raise InvalidArgument(f"template: {exc}") from exc


def print_rows(fmt: str, rows: list[dict], headers: dict[str, str] | None = None, *, heading: bool = True) -> None:
    """A list command's --format: json, a template, or a `table ...` template whose header line
    `heading` leaves out (--noheading; then, as podman, the columns fit the rows alone)."""
    import re

    from pyctr.cli import gotemplate

    if gotemplate.is_json_format(fmt):
        print_json(rows)
        return
    table = re.match(r"table\b(?:[ \t]|\\t)*", fmt)
    if heading or not table:
        print_formatted(fmt, rows, headers)
        return
    from pyctr.cli.gotemplate.evaluator import execute
    from pyctr.cli.gotemplate.parser import parse
    from pyctr.cli.gotemplate.table import align

    body = fmt[table.end():]
    if not body.endswith(("\n", "\\n")):
        body += "\n"
    try:
        tree = parse(body, True)
        text = "".join(execute(body, tree, row) for row in rows)
    except gotemplate.TemplateError as exc:
        from pyctr.errors import InvalidArgument

        raise InvalidArgument(f"template: {exc}") from exc
    sys.stdout.write(align(text, 12))


def print_each(fmt: str, items: list[dict]) -> None:
    """inspect --format: one rendering per item (each followed by a newline)."""
    from pyctr.cli import gotemplate

    for item in items:
        try:
            text = gotemplate.render(fmt, item)
        except gotemplate.TemplateError as exc:
            from pyctr.errors import InvalidArgument

            raise InvalidArgument(f"template: {exc}") from exc
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def print_inspect(fmt: str | None, results: list[dict], errors: list[Exception]) -> None:
    """inspect: what was found (JSON or the template), then one line per failure; the last one raises."""
    if fmt and fmt.strip() != "json":
        print_each(fmt, results)
    else:
        print_json(results)
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
