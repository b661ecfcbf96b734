"""Splitting a template into text and actions, and reading the literals in actions."""

import re

from pyctr.cli.gotemplate.errors import syntax_error

_SPACE = re.compile(r"[ \t\r\n]+")
_TOKEN = re.compile(
    r"""(?P<str>"(?:[^"\\\n]|\\[^\n])*")
    | (?P<raw>`[^`]*`)
    | (?P<char>'(?:[^'\\\n]|\\[^\n])+')
    | (?P<num>[+-]?(?:0[xX][0-9a-fA-F_]+|0[bBoO][0-9_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?))
    | (?P<field>\.\w+)
    | (?P<dot>\.)
    | (?P<var>\$\w*)
    | (?P<ident>[^\W\d]\w*)
    | (?P<op>:=|[=|(),])""",
    re.X,
)
_TERMINATORS = " \t\r\n.,|:()"
_UNTERMINATED = {'"': "unterminated quoted string", "`": "unterminated raw quoted string",
                 "'": "unterminated character constant"}


def lex(src, table=False):
    """Split src into text (str) and actions ((tokens, pos)); a token is (kind, text, pos, spaced).
    Text honours podman's \\t and \\n escapes; in a table, podman also turns spaces into tabs."""
    items, i, n, trim_next = [], 0, len(src), False
    while i <= n:
        j = src.find("{{", i)
        j = n if j < 0 else j
        text = src[i:j].replace("\\t", "\t").replace("\\n", "\n")
        text = text.replace(" ", "\t") if table else text
        k = j + 2
        trim = src.startswith("-", k) and src[k + 1:k + 2] in (" ", "\t", "\r", "\n")
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if trim:
            text, k = text.rstrip(" \t\r\n"), k + 2
        if text:
            items.append(text)
        if j >= n:
            break
        if src.startswith("/*", k):  # comment
            e = src.find("*/", k + 2)
            if e < 0:
                raise syntax_error(src, j, "unclosed comment")
            for close, trim_next in (("}}", False), (" -}}", True)):
                if src.startswith(close, e + 2):
                    i = e + 2 + len(close)
                    break
            else:
                raise syntax_error(src, j, "comment ends before closing delimiter")
            continue
        toks, i, trim_next = _lex_action(src, k, j)
        items.append((toks, j))
    return items


def _lex_action(src, k, start):
    toks, spaced, n = [], True, len(src)
    while True:
        m = _SPACE.match(src, k)
        if m:
            k, spaced = m.end(), True
            if src.startswith("-}}", k):
                return toks, k + 3, True
            continue
        if k >= n:
            raise syntax_error(src, start, "unclosed action")
        if src.startswith("}}", k):
            return toks, k + 2, False
        m = _TOKEN.match(src, k)
        if not m and src[k] not in _UNTERMINATED and " " < src[k] < "\x7f":
            toks.append(("op", src[k], k, spaced))  # Go lexes other printable ASCII as a char item
            k, spaced = k + 1, False
            continue
        if not m:
            c = src[k]
            raise syntax_error(src, k, _UNTERMINATED.get(c, f"unrecognized character in action: U+{ord(c):04X} '{c}'"))
        if m.lastgroup == "num" and m.end() < n and (src[m.end()].isalnum() or src[m.end()] in "._"):
            word = re.match(r"[\w.+-]*", src[k:]).group()
            raise syntax_error(src, k, f'bad number syntax: "{word}"')
        e = m.end()
        if m.lastgroup in ("field", "var", "ident") and e < n and src[e] not in _TERMINATORS \
                and not src.startswith("}}", e):  # as Go's lexer: .ID{ or .ID} is a bad character
            raise syntax_error(src, e, f"bad character U+{ord(src[e]):04X} '{src[e]}'")
        toks.append((m.lastgroup, m.group(), k, spaced))
        k, spaced = m.end(), False


_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.S)
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def unquote(body, quote):
    """The text of a quoted string or character literal, without its quotes; ValueError if invalid."""

    def sub(m):
        e = m.group(1)
        if len(e) > 1:
            return chr(int(e[1:], 16) if e[0] in "xuU" else int(e, 8))
        if e == quote:
            return e
        if e in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[e]
        raise ValueError(e)

    return _ESCAPE.sub(sub, body)


def number(text):
    """A number literal as Go reads it (int or float); ValueError if invalid."""
    t = text.replace("_", "")
    if re.fullmatch(r"[+-]?0[0-7]+", t):
        return int(t, 8)  # Go's legacy octal, 010 == 8
    try:
        return int(t, 0)
    except ValueError:
        f = float(t)
        return int(f) if f.is_integer() and not re.search("[.eE]", t) else f
