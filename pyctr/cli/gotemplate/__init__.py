"""Go text/template subset for ``--format``, with podman's conventions.

Public: render(), render_rows(), is_json_format(), TemplateError. Inside: a
tokenizer (lexer), a parser producing small nodes (parser), an evaluator
(evaluator) calling the template functions (functions), Go-compatible printing
of values (values: fmt's %v, json; printf) and podman's tables (table).
Data is JSON-like: dicts stand for Go structs and maps, None for nil.
"""

import re

from pyctr.cli.gotemplate.errors import TemplateError
from pyctr.cli.gotemplate.evaluator import execute
from pyctr.cli.gotemplate.parser import parse
from pyctr.cli.gotemplate.table import align, header

__all__ = ["TemplateError", "render", "render_rows", "is_json_format"]


def render(template: str, data) -> str:
    """Render one value with a Go template (podman's \\t and \\n escapes in text are honoured)."""
    return execute(template, parse(template), data)


def render_rows(template: str, rows: list, headers: dict | None = None, *, minwidth: int = 12) -> str:
    """Render each row followed by a newline (podman's list --format; no newline is added
    when the template already ends with one).

    "table ..." prints a header line first (each action shows headers[field], else the
    field name upper-cased and split at camel case), turns spaces in the template text
    into tabs as podman does, and aligns tab-separated cells like podman's tabwriter:
    each column as wide as its widest cell plus 2, at least `minwidth` (podman: 12).
    """
    table = re.match(r"table\b(?:[ \t]|\\t)*", template)
    if table:
        template = template[table.end():]
    if not template.endswith(("\n", "\\n")):
        template += "\n"
    tree = parse(template, bool(table))
    out = [header(tree, headers or {})] if table else []
    out.extend(execute(template, tree, row) for row in rows)
    text = "".join(out)
    return align(text, minwidth) if table else text


_JSON_FORMAT = re.compile(r"\s*(json|{{\s*json\s*\.?\s*}})\s*")


def is_json_format(fmt: str) -> bool:
    """True for podman's --format json (also {{json .}})."""
    return bool(fmt) and _JSON_FORMAT.fullmatch(fmt) is not None
