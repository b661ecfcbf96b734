"""Go text/template subset for ``--format``, with podman's conventions.

Public: report() (a list command's --format, as podman's report package runs it),
render(), render_rows(), is_json_format(), Struct, TemplateError. Inside: a
tokenizer (lexer), a parser producing small nodes (parser), an evaluator
(evaluator) calling the template functions (functions), Go-compatible printing
of values (values: fmt's %v, json; printf) and podman's tables (table).
Data is JSON-like: a Struct is a Go struct (fields case-sensitive, an unknown one
an error), a dict a Go map (a missing key prints <no value>), None nil.
"""

import re

from pyctr.cli.gotemplate.errors import TemplateError
from pyctr.cli.gotemplate.table import align, header
from pyctr.cli.gotemplate.values import MISSING, Struct, sprint_v

__all__ = ["TemplateError", "Struct", "render", "render_rows", "report", "is_json_format"]


def parse(*args, **kwargs):
    """(the parser, imported on first use: podman's default table formats never need it, see _plain)"""
    from pyctr.cli.gotemplate.parser import parse

    return parse(*args, **kwargs)


def execute(*args, **kwargs):
    """(the evaluator, imported on first use)"""
    from pyctr.cli.gotemplate.evaluator import execute

    return execute(*args, **kwargs)


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


# podman's NormalizeFormat: in a "table " format, "table " goes, the \\t and \\n escapes become
# tab and newline and every space a tab (also inside actions: harmless there, except in strings).
_TABLE_REPLACE = re.compile(r"table |\\t|\\n| ")
_TABLE_WITH = {"table ": "", "\\t": "\t", "\\n": "\n", " ": "\t"}
_RANGE = re.compile(r"{{\s*range\s*\.\s*}}.*{{\s*end\s*-?\s*}}", re.S)


def podman_text(fmt: str, *, ranged: bool = True) -> tuple[str, bool]:
    """The template text podman parses for a --format over a list, and whether it is a table:
    escapes expanded, a newline at the end, and (unless the format ranges itself) the whole
    wrapped in {{range .}}...{{end -}}, which is why podman's error columns are 11 further on."""
    table = fmt.startswith("table ")
    if table:
        text = _TABLE_REPLACE.sub(lambda m: _TABLE_WITH[m.group()], fmt)
    else:
        text = fmt.replace("\\t", "\t").replace("\\n", "\n")
    if not text.endswith("\n"):
        text += "\n"
    if ranged and (table or not _RANGE.search(text)):
        text = "{{range .}}" + text + "{{end -}}"
    return text, table


def report(name: str, fmt: str, rows: list, headers: dict | None = None, *, heading: bool = True,
           aligned: bool = False, ranged: bool = True, out: list | None = None) -> str:
    """A list command's --format as podman's report package prints it.

    `name` is the command's word, which Go's messages show ("template: ps:1:13: ..."). Rows
    should be Structs so that an unknown field fails as in Go. A "table " format prints first
    the template executed over [headers] (podman's header line: a map from field name to title,
    so a field without a title prints <no value>), unless heading is False; tables (and
    `aligned` output: podman's own default formats) go through podman's tabwriter. With
    ranged=False the template sees one row, not the list (events, info, version).
    `out` collects what was printed before an error (Go keeps it)."""
    text, table = podman_text(fmt, ranged=ranged)
    titles = headers if table and heading and headers is not None else None
    plain = _plain(text, rows, titles) if ranged else None
    if plain is not None:
        parts = [] if out is None else out
        if plain:
            parts.append(plain)
        if (table or aligned) and parts:
            parts[:] = [align("".join(parts), 12)]
        return "".join(parts)
    try:
        tree = parse(text, False, name)
    except TemplateError:  # podman's message is the one for the format as typed, escapes and all
        parse("{{range .}}" + fmt + "{{end -}}" if ranged else fmt, False, name)
        raise
    parts = [] if out is None else out
    try:
        if table and heading and headers is not None:
            execute(text, tree, [headers] if ranged else headers, name, parts)
        for data in ([rows] if ranged else rows):
            execute(text, tree, data, name, parts)
    finally:
        if (table or aligned) and parts:
            parts[:] = [align("".join(parts), 12)]
    return "".join(parts)


_PLAIN_FIELD = re.compile(r"{{\.([A-Za-z_][A-Za-z0-9_]*)}}")
_RANGED = ("{{range .}}", "{{end -}}")


def _plain(text: str, rows: list, titles: dict | None) -> str | None:
    """What executing `text` over [titles] (when given: the header line) and then over `rows` prints,
    when `text` is podman_text's {{range .}}...{{end -}} around literal text and {{.Field}} actions
    only (podman's default table formats): read without the parser (~2 ms to import). None for any
    other template, and for rows that are not structs and maps with those fields (the evaluator
    gives their errors)."""
    if not (text.startswith(_RANGED[0]) and text.endswith(_RANGED[1]) and isinstance(rows, list)):
        return None
    pieces = _PLAIN_FIELD.split(text[len(_RANGED[0]):-len(_RANGED[1])])
    if any("{{" in piece or "}}" in piece for piece in pieces[::2]):
        return None
    out = []
    for row in ([titles] if titles is not None else []) + rows:
        if not isinstance(row, dict) or (isinstance(row, Struct) and not all(n in row for n in pieces[1::2])):
            return None
        for i, piece in enumerate(pieces):
            if i % 2 == 0:
                out.append(piece)
            else:
                value = row.get(piece, MISSING)  # a map's missing key: Go's <no value>
                out.append("<no value>" if value is MISSING else sprint_v(value))
    return "".join(out)


_JSON_FORMAT = re.compile(r"\s*(json|{{\s*json\s*\.?\s*}})\s*")


def is_json_format(fmt: str) -> bool:
    """True for podman's --format json (also {{json .}})."""
    return bool(fmt) and _JSON_FORMAT.fullmatch(fmt) is not None
