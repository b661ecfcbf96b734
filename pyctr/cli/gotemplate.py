"""Go text/template subset for ``--format``, with podman's conventions.

Public: render(), render_rows(), is_json_format(), TemplateError.  Inside: a
tokenizer (_lex), a parser producing small nodes (_Parser), an evaluator
(_Exec), and Go-compatible printing of values (fmt's %v, printf, json).
Data is JSON-like: dicts stand for Go structs and maps, None for nil.
"""

import json
import re
from functools import lru_cache

from pyctr.errors import PyctrError

__all__ = ["TemplateError", "render", "render_rows", "is_json_format"]


class TemplateError(PyctrError):
    """A template that does not parse or execute; the message is one line, as Go words it."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.split("\n")))


class _Missing:
    """What a missing map key evaluates to (Go's invalid reflect.Value); prints <no value>."""


MISSING = _Missing()
_NOFINAL = object()  # no value piped into a command


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _FuncError(Exception):
    """A function failed: reported as 'error calling NAME: ...'."""


class _ArgError(Exception):
    """A function got an argument of the wrong type: reported as is."""


def _line(src, pos):
    return src.count("\n", 0, pos) + 1


# ---------------------------------------------------------------- tokenizer

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
_UNTERMINATED = {'"': "unterminated quoted string", "`": "unterminated raw quoted string",
                 "'": "unterminated character constant"}


def _lex(src, table=False):
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
                raise TemplateError(f"template: :{_line(src, j)}: unclosed comment")
            for close, trim_next in (("}}", False), (" -}}", True)):
                if src.startswith(close, e + 2):
                    i = e + 2 + len(close)
                    break
            else:
                raise TemplateError(f"template: :{_line(src, j)}: comment ends before closing delimiter")
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
            raise TemplateError(f"template: :{_line(src, start)}: unclosed action")
        if src.startswith("}}", k):
            return toks, k + 2, False
        m = _TOKEN.match(src, k)
        if not m:
            c = src[k]
            msg = _UNTERMINATED.get(c, f"unrecognized character in action: U+{ord(c):04X} '{c}'")
            raise TemplateError(f"template: :{_line(src, k)}: {msg}")
        if m.lastgroup == "num" and m.end() < n and (src[m.end()].isalnum() or src[m.end()] in "._"):
            word = re.match(r"[\w.+-]*", src[k:]).group()
            raise TemplateError(f'template: :{_line(src, k)}: bad number syntax: "{word}"')
        toks.append((m.lastgroup, m.group(), k, spaced))
        k, spaced = m.end(), False


_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.S)
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def _unquote(body, quote):
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


def _number(text):
    t = text.replace("_", "")
    if re.fullmatch(r"[+-]?0[0-7]+", t):
        return int(t, 8)  # Go's legacy octal, 010 == 8
    try:
        return int(t, 0)
    except ValueError:
        f = float(t)
        return int(f) if f.is_integer() and not re.search("[.eE]", t) else f


# ------------------------------------------------------------------- parser

class _Op:
    """An operand: field (.A.B), var ($x.A), dot, lit, nil, func (identifier) or pipe ((...).A)."""

    __slots__ = ("kind", "value", "fields", "pos", "end")

    def __init__(self, kind, value, pos):
        self.kind, self.value, self.fields, self.pos, self.end = kind, value, [], pos, pos


_KEYWORDS = {"if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"}


class _Parser:
    """Nodes: ("text", s), ("action", pipe), (if|with|range, pipe, body, else_body), (break,), (continue,).
    A pipe is (decls, is_assign, commands); a command is a list of _Op."""

    def __init__(self, src, table=False):
        self.src, self.items, self.n = src, _lex(src, table), 0
        self.vars, self.loops = ["$"], 0
        self.toks, self.k, self.pos = [], 0, 0

    def error(self, pos, msg):
        return TemplateError(f"template: :{_line(self.src, pos)}: {msg}")

    def parse(self):
        nodes, end = self.parse_list()
        if end:
            raise self.error(self.pos, f"unexpected {{{{{end}}}}}")
        return nodes

    def parse_list(self):
        """Nodes up to EOF (returns None), {{end}} or {{else ...}} (returns "end" or "else")."""
        nodes = []
        while self.n < len(self.items):
            item = self.items[self.n]
            self.n += 1
            if isinstance(item, str):
                nodes.append(("text", item))
                continue
            self.toks, self.pos = item
            self.k = 1
            word = self.toks[0][1] if self.toks and self.toks[0][0] == "ident" else None
            if word in ("end", "else"):
                return nodes, word
            if word in ("if", "range", "with"):
                nodes.append(self.control(word))
            elif word in ("break", "continue"):
                if not self.loops:
                    raise self.error(self.pos, f"{{{{{word}}}}} outside {{{{range}}}}")
                self.expect_done(word)
                nodes.append((word,))
            elif word in ("define", "template", "block"):
                raise self.error(self.pos, f"{{{{{word}}}}} is not supported")
            else:
                self.k = 0
                nodes.append(("action", self.pipeline("command")))
                self.expect_done("command")
        return nodes, None

    def control(self, kw):
        mark = len(self.vars)
        pipe = self.pipeline(kw)
        self.expect_done(kw)
        self.loops += kw == "range"
        body, end = self.parse_list()
        self.loops -= kw == "range"
        other = None
        if end == "else":
            if kw != "range" and len(self.toks) > 1 and self.toks[1][:2] == ("ident", kw):
                self.k = 2  # {{else if ...}}: a nested control that shares our {{end}}
                other, end = [self.control(kw)], None
            else:
                self.expect_done("else")
                other, end = self.parse_list()
                if end == "else":
                    raise self.error(self.pos, "expected end; found {{else}}")
                if end is None:
                    raise self.error(len(self.src), "unexpected EOF")
        elif end is None:
            raise self.error(len(self.src), "unexpected EOF")
        if end == "end":
            self.expect_done("end")
        del self.vars[mark:]
        return (kw, pipe, body, other)

    def peek(self):
        return self.toks[self.k] if self.k < len(self.toks) else None

    def expect_done(self, context):
        t = self.peek()
        if t is not None:
            if t[1] == ")":
                raise self.error(t[2], "unexpected right paren")
            raise self.error(t[2], f'unexpected "{t[1]}" in {context}')

    def pipeline(self, context):
        toks, k = self.toks, self.k
        decls, assign = [], False
        kinds = [t[0] if t[0] != "op" else t[1] for t in toks[k:k + 4]]
        if kinds[:1] == ["var"] and kinds[1:2] in (["="], [":="]):
            decls, assign, self.k = [toks[k][1]], kinds[1] == "=", k + 2
        elif kinds[:2] == ["var", ","]:
            if context != "range":
                raise self.error(toks[k][2], f"too many declarations in {context}")
            if kinds[2:3] != ["var"] or kinds[3:4] not in (["="], [":="]):
                raise self.error(toks[k][2], "range can only initialize variables")
            decls, assign, self.k = [toks[k][1], toks[k + 2][1]], kinds[3] == "=", k + 4
        if assign:
            for name in decls:
                self.use_var(name, toks[k][2])
        cmds = [self.command(context)]
        while (t := self.peek()) is not None and t[1] == "|":
            self.k += 1
            cmds.append(self.command("command"))
        for i, cmd in enumerate(cmds[1:], 2):
            if cmd[0].kind in ("lit", "nil", "dot"):
                raise self.error(cmd[0].pos, f"non executable command in pipeline stage {i}")
        if not assign:
            self.vars.extend(decls)
        return (tuple(decls), assign, cmds)

    def command(self, context):
        args = []
        while (t := self.peek()) is not None and not (t[0] == "op" and t[1] in "|)"):
            args.append(self.operand())
        if not args:
            raise self.error(t[2] if t else self.pos, f"missing value for {context}")
        return args

    def use_var(self, name, pos):
        if name not in self.vars:
            raise self.error(pos, f'undefined variable "{name}"')

    def operand(self):
        kind, text, pos, _ = self.toks[self.k]
        self.k += 1
        if kind == "field":
            op = _Op("field", None, pos)
            op.fields.append(text[1:])
        elif kind == "var":
            self.use_var(text, pos)
            op = _Op("var", text, pos)
        elif kind == "dot":
            op = _Op("dot", None, pos)
        elif kind in ("str", "raw", "char", "num"):
            op = _Op("lit", self.literal(kind, text, pos), pos)
        elif kind == "ident":
            if text in ("true", "false"):
                op = _Op("lit", text == "true", pos)
            elif text == "nil":
                op = _Op("nil", None, pos)
            elif text in _FUNCS:
                op = _Op("func", text, pos)
            elif text in _KEYWORDS:
                raise self.error(pos, f'unexpected "{text}" in operand')
            else:
                raise self.error(pos, f'function "{text}" not defined')
        elif text == "(":
            op = _Op("pipe", self.pipeline("parenthesized pipeline"), pos)
            if (t := self.peek()) is None or t[1] != ")":
                raise self.error(pos, "unclosed left paren")
            self.k += 1
        elif text == ")":
            raise self.error(pos, "unexpected right paren")
        else:
            raise self.error(pos, f'unexpected "{text}" in operand')
        while (t := self.peek()) is not None and t[0] == "field" and not t[3]:
            if op.kind not in ("field", "var", "pipe"):
                raise self.error(t[2], f'unexpected . after term "{self.src[pos:t[2]]}"')
            op.fields.append(t[1][1:])
            self.k += 1
        last = self.toks[self.k - 1]
        op.end = last[2] + len(last[1])
        return op

    def literal(self, kind, text, pos):
        try:
            if kind == "raw":
                return text[1:-1].replace("\r", "")
            if kind == "str":
                return _unquote(text[1:-1], '"')
            if kind == "char":
                (c,) = _unquote(text[1:-1], "'")
                return ord(c)
            return _number(text)
        except ValueError:
            raise self.error(pos, f'bad number syntax: "{text}"' if kind == "num" else "invalid syntax") from None


@lru_cache(maxsize=64)
def _parse(src, table=False):
    return _Parser(src, table).parse()


# ---------------------------------------------------------------- evaluator

class _Exec:
    def __init__(self, src, data):
        self.src, self.vars, self.at, self.out = src, [["$", data]], (0, 0), []

    def error(self, msg):
        pos, end = self.at
        line, col = _line(self.src, pos), pos - self.src.rfind("\n", 0, pos) - 1
        context = " ".join(self.src[pos:end].split())
        return TemplateError(f'template: :{line}:{col}: executing "" at <{context}>: {msg}')

    def walk(self, nodes, dot):
        for node in nodes:
            kind = node[0]
            if kind == "text":
                self.out.append(node[1])
            elif kind == "action":
                value = self.pipe(node[1], dot)
                if not node[1][0]:  # declarations print nothing
                    self.out.append("<no value>" if value is MISSING else _sprint_v(value))
            elif kind in ("if", "with"):
                mark = len(self.vars)
                value = self.pipe(node[1], dot)
                if _truth(value):
                    self.walk(node[2], value if kind == "with" else dot)
                elif node[3] is not None:
                    self.walk(node[3], dot)
                del self.vars[mark:]
            elif kind == "range":
                self.range(node, dot)
            else:
                raise _Break() if kind == "break" else _Continue()

    def range(self, node, dot):
        _, pipe, body, other = node
        mark = len(self.vars)
        value = self.pipe(pipe, dot)
        decls = pipe[0]
        if isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        elif isinstance(value, dict):
            items = [(k, value[k]) for k in _sorted_keys(value)]
        elif isinstance(value, int) and not isinstance(value, bool):
            if len(decls) > 1:
                raise self.error(f"can't use {value} to iterate over more than one variable")
            items = [(i, i) for i in range(value)]
        elif value is None or value is MISSING:
            items = []
        else:
            raise self.error(f"range can't iterate over {_sprint_v(value)}")
        inner = len(self.vars)
        for index, elem in items:
            for n, (name, val) in enumerate(zip(decls, (elem,) if len(decls) == 1 else (index, elem))):
                if pipe[1]:
                    self.set_var(name, val)
                else:
                    self.vars[mark + n][1] = val  # the slots pipe() pushed
            try:
                self.walk(body, elem)
            except _Break:
                break
            except _Continue:
                pass
            finally:
                del self.vars[inner:]
        if not items and other is not None:
            self.walk(other, dot)
        del self.vars[mark:]

    def pipe(self, pipe, dot):
        decls, assign, cmds = pipe
        value = _NOFINAL
        for cmd in cmds:
            value = self.command(cmd, dot, value)
        for name in decls:
            if assign:
                self.set_var(name, value)
            else:
                self.vars.append([name, value])
        return value

    def command(self, cmd, dot, final):
        first = cmd[0]
        if first.kind == "func":
            return self.call(first, cmd, dot, final)
        has_args = len(cmd) > 1 or final is not _NOFINAL
        self.at = (first.pos, first.end)
        if has_args and not (first.fields and first.kind in ("field", "var", "pipe")):
            raise self.error(f"can't give argument to non-function {self.src[first.pos:first.end]}")
        if first.kind == "nil":
            raise self.error("nil is not a command")
        return self.arg(first, dot, has_args)

    def arg(self, op, dot, has_args=False):
        """The value of an operand used as an argument (or as a command when has_args says so)."""
        self.at = (op.pos, op.end)
        kind = op.kind
        if kind == "func":
            return self.call(op, [op], dot, _NOFINAL)
        if kind == "lit":
            return op.value
        if kind == "nil":
            return None
        if kind == "var":
            value = self.get_var(op.value)
        elif kind == "pipe":
            value = self.pipe(op.value, dot)
            self.at = (op.pos, op.end)
        else:
            value = dot
        for i, name in enumerate(op.fields):
            value = self.field(value, name, has_args and i == len(op.fields) - 1)
        return value

    def field(self, recv, name, has_args):
        if recv is MISSING:
            return MISSING
        if isinstance(recv, dict):
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            if name in recv:
                return recv[name]
            folded = name.lower()
            for key in recv:
                if isinstance(key, str) and key.lower() == folded:
                    return recv[key]
            return MISSING
        if recv is None:
            raise self.error(f"nil pointer evaluating interface {{}}.{name}")
        raise self.error(f"can't evaluate field {name} in type {_typename(recv)}")

    def get_var(self, name):
        for slot in reversed(self.vars):
            if slot[0] == name:
                return slot[1]
        raise self.error(f"undefined variable: {name}")

    def set_var(self, name, value):
        for slot in reversed(self.vars):
            if slot[0] == name:
                slot[1] = value
                return
        raise self.error(f"undefined variable: {name}")

    def call(self, first, cmd, dot, final):
        name = first.value
        func, least, most = _FUNCS[name]
        count = len(cmd) - 1 + (final is not _NOFINAL)
        self.at = (first.pos, first.end)
        if count < least or (most is not None and count > most):
            want = f"at least {least}" if most is None else str(least)
            raise self.error(f"wrong number of args for {name}: want {want} got {count}")
        if name in ("and", "or"):  # short-circuit, return the deciding value
            value = None
            for op in cmd[1:]:
                value = self.arg(op, dot)
                if _truth(value) != (name == "and"):
                    return value
            return final if final is not _NOFINAL else value
        args = [self.arg(op, dot) for op in cmd[1:]]
        if final is not _NOFINAL:
            args.append(final)
        self.at = (cmd[0].pos, cmd[-1].end)
        try:
            return func(*[None if a is MISSING else a for a in args])
        except _ArgError as e:
            raise self.error(str(e)) from None
        except _FuncError as e:
            raise self.error(f"error calling {name}: {e}") from None


# ------------------------------------------------------------------- values

def _typename(v):
    if v is None:
        return "<nil>"
    for t, name in ((bool, "bool"), (int, "int"), (float, "float64"), (str, "string"),
                    ((list, tuple), "[]interface {}"), (dict, "map[string]interface {}")):
        if isinstance(v, t):
            return name
    return type(v).__name__


def _sorted_keys(d):
    try:
        return sorted(d)
    except TypeError:
        return sorted(d, key=lambda k: (_typename(k), str(k)))


def _truth(v):
    if v is None or v is MISSING:
        return False
    if isinstance(v, (bool, int, float, str, list, tuple, dict)):
        return bool(v)
    return True


def _float_text(f, json_style=False):
    """f as Go's %v (strconv 'g', shortest) or encoding/json prints it."""
    if f != f or f in (float("inf"), float("-inf")):
        if json_style:
            raise _FuncError(f"json: unsupported value: {_float_text(f)}")
        return "NaN" if f != f else ("+Inf" if f > 0 else "-Inf")
    text = repr(f)
    sign = "-" if text[0] == "-" else ""
    mant, _, exp = text.lstrip("-").partition("e")
    whole, _, frac = mant.partition(".")
    digits = (whole + frac).lstrip("0")
    dp = len(whole) + int(exp or 0) - (len(whole + frac) - len(digits))  # value = 0.DIGITS * 10**dp
    digits = digits.rstrip("0")
    if not digits:
        return sign + "0"
    x = dp - 1
    if (abs(f) < 1e-6 or abs(f) >= 1e21) if json_style else (x < -4 or x >= 6):
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        if json_style and -10 < x < 0:
            return f"{sign}{mant}e-{-x}"
        return f"{sign}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def _sprint_v(v):
    """v as Go's fmt %v prints it."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return _float_text(v)
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(map(_sprint_v, v)) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{_sprint_v(k)}:{_sprint_v(v[k])}" for k in _sorted_keys(v)) + "]"
    return str(v)


def _go_json(v):
    """Compact JSON as podman's json function (json.Encoder without HTML escaping) writes it."""
    if v is None or v is MISSING:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _float_text(v, json_style=True)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(map(_go_json, v)) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{_go_json(str(k))}:{_go_json(x)}" for k, x in v.items()) + "}"
    text = json.dumps(str(v), ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


_QUOTE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                  "\v": "\\v", "\\": "\\\\"}


def _go_quote(s, q='"'):
    """strconv.Quote (or QuoteRune with q="'")."""
    out = []
    for c in s:
        if c == q:
            out.append("\\" + c)
        elif c in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[c])
        elif c.isprintable():
            out.append(c)
        else:
            o = ord(c)
            out.append(f"\\x{o:02x}" if o < 0x20 or o == 0x7F else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")
    return q + "".join(out) + q


_VERB = re.compile(r"([-+# 0]*)(\d*)(?:\.(\d*))?(.)?", re.S)


def _sprintf(fmt, *args):
    out, i, n = [], 0, 0
    while (j := fmt.find("%", i)) >= 0:
        out.append(fmt[i:j])
        m = _VERB.match(fmt, j + 1)
        flags, width, prec, verb = m.groups()
        i = m.end()
        if verb is None:
            out.append("%!(NOVERB)")
        elif verb == "%":
            out.append("%")
        elif n >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(_format_one(args[n], verb, flags, int(width) if width else 0,
                                   None if prec is None else int(prec or 0)))
            n += 1
    out.append(fmt[i:])
    if n < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{_typename(a)}={_sprint_v(a)}" for a in args[n:]) + ")")
    return "".join(out)


def _format_one(v, verb, flags, width, prec):
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_format_one(x, verb, flags, width, prec) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{_format_one(k, verb, flags, width, prec)}:"
                                 f"{_format_one(v[k], verb, flags, width, prec)}" for k in _sorted_keys(v)) + "]"
    numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
    sign = "+" if "+" in flags else " " if " " in flags else "-"
    text = None
    if v is None:
        text = "<nil>" if verb == "v" else None
    elif isinstance(v, bool):
        text = ("true" if v else "false") if verb in "vt" else None
    elif isinstance(v, int):
        if verb in "vd":
            text = format(v, sign + "d")
        elif verb in "xXob":
            text = format(v, sign + ("#" if "#" in flags else "") + verb)
        elif verb in "cq":
            c = chr(v) if 0 <= v <= 0x10FFFF else "\ufffd"
            text = c if verb == "c" else _go_quote(c, "'")
        elif verb == "U":
            text = f"U+{v:04X}"
    elif isinstance(v, float):
        if verb in "vg" and prec is None:
            text = _float_text(v)
            text = text if sign == "-" or text[0] == "-" else sign + text
        elif verb in "veEfFgG":
            text = format(v, f"{sign}.{6 if prec is None else prec}{'g' if verb == 'v' else verb}")
    elif isinstance(v, str):
        s = v if prec is None else v[:prec]
        if verb in "vs":
            text = s
        elif verb == "q":
            text = _go_quote(s)
        elif verb in "xX":
            text = format(int.from_bytes(s.encode(), "big"), f"0{2 * len(s.encode())}{verb}") if s else ""
    else:
        text = str(v) if verb in "vs" else None
    if text is None:
        return f"%!{verb}(<nil>)" if v is None else f"%!{verb}({_typename(v)}={_sprint_v(v)})"
    fill = width - len(text)
    if fill <= 0:
        return text
    if "-" in flags:
        return text + " " * fill
    if "0" in flags and numeric:
        head = text[0] if text[0] in "+- " else ""
        return head + "0" * fill + text[len(head):]
    return " " * fill + text


# ---------------------------------------------------------------- functions

def _need(v, kind, goname):
    if v is None:
        raise _ArgError(f"invalid value; expected {goname}")
    if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
        raise _ArgError(f"wrong type for value; expected {goname}; got {_typename(v)}")
    return v


def _basic_kind(v):
    if v is None:
        return "nil"
    for t in (bool, int, float, str):
        if isinstance(v, t):
            return t.__name__
    return "other"


def _eq(a, *others):
    if not others:
        raise _FuncError("missing argument for comparison")
    for b in others:
        ka, kb = _basic_kind(a), _basic_kind(b)
        if ka != kb:
            if a is not None and b is not None:
                raise _FuncError("incompatible types for comparison")
        elif ka == "other":
            raise _FuncError(f"non-comparable type {_sprint_v(b)}: {_typename(b)}")
        elif a == b:
            return True
    return False


def _lt(a, b):
    ka, kb = _basic_kind(a), _basic_kind(b)
    if ka in ("nil", "bool", "other") or kb in ("nil", "bool", "other"):
        raise _FuncError("invalid type for comparison")
    if ka != kb:
        raise _FuncError("incompatible types for comparison")
    return a < b


def _index(item, *keys):
    for key in keys:
        if item is MISSING:
            raise _FuncError("index of untyped nil")
        if item is None and isinstance(key, str):
            item = {}  # like a typed nil map
        if isinstance(item, dict):
            if not isinstance(key, str):
                raise _FuncError(f"value has type {_typename(key)}; should be string")
            if key in item:
                item = item[key]
            else:  # the zero value: "" for a map of strings, else Go's nil interface
                item = "" if all(isinstance(x, str) for x in item.values()) else MISSING
        elif isinstance(item, (list, tuple, str)):
            if _basic_kind(key) != "int":
                raise _FuncError(f"cannot index slice/array with type {_typename(key)}")
            seq = item.encode() if isinstance(item, str) else item
            if not 0 <= key < len(seq):
                raise _FuncError(f"index out of range: {key}")
            item = seq[key]
        elif item is None:
            raise _FuncError("index of untyped nil")
        else:
            raise _FuncError(f"can't index item of type {_typename(item)}")
    return item


def _slice(item, *indexes):
    if not isinstance(item, (list, tuple, str)):
        raise _FuncError(f"can't slice item of type {_typename(item)}")
    if len(indexes) > 2:
        raise _FuncError(f"too many slice indexes: {len(indexes)}")
    seq = item.encode() if isinstance(item, str) else item
    bounds = [_need(i, int, "int") for i in indexes] + [0, len(seq)][len(indexes):]
    if not 0 <= bounds[0] <= bounds[1] <= len(seq):
        raise _FuncError(f"index out of range: {bounds[1] if bounds[1] > len(seq) else bounds[0]}")
    part = seq[bounds[0]:bounds[1]]
    return part.decode(errors="replace") if isinstance(item, str) else list(part)


def _len(v):
    if v is None:
        return 0  # like a typed nil slice or map
    if isinstance(v, str):
        return len(v.encode())
    if isinstance(v, (list, tuple, dict)):
        return len(v)
    raise _FuncError(f"len of type {_typename(v)}")


def _join(items, sep):
    if isinstance(items, str) and isinstance(sep, (list, tuple)):
        items, sep = sep, items  # {{.Names | join ","}} pipes the list in last
    if not isinstance(items, (list, tuple)):
        raise _ArgError(f"wrong type for value; expected []string; got {_typename(items)}")
    return _need(sep, str, "string").join(map(_sprint_v, items))


def _split(s, sep):
    s, sep = _need(s, str, "string"), _need(sep, str, "string")
    return list(s) if sep == "" else s.split(sep)


def _is_separator(c):
    if c.isascii():
        return not (c.isalnum() or c == "_")
    return not c.isalnum() and c.isspace()


def _title(s):
    out, prev = [], " "
    for c in _need(s, str, "string"):
        out.append(c.upper() if _is_separator(prev) else c)
        prev = c
    return "".join(out)


def _truncate(s, n):
    s, n = _need(s, str, "string"), _need(n, int, "int")
    return s if len(s) < n else s[:max(n, 0)]


def _pad(s, prefix, suffix):
    s = _need(s, str, "string")
    return s and " " * _need(prefix, int, "int") + s + " " * _need(suffix, int, "int")


def _print(*args):
    out = []
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(_sprint_v(a))
    return "".join(out)


_FUNCS = {  # name: (function, least args, most args or None)
    "and": (None, 1, None),
    "or": (None, 1, None),
    "not": (lambda v: not _truth(v), 1, 1),
    "eq": (_eq, 1, None),
    "ne": (lambda a, b: not _eq(a, b), 2, 2),
    "lt": (_lt, 2, 2),
    "le": (lambda a, b: _lt(a, b) or _eq(a, b), 2, 2),
    "gt": (lambda a, b: not (_lt(a, b) or _eq(a, b)), 2, 2),
    "ge": (lambda a, b: not _lt(a, b), 2, 2),
    "index": (_index, 1, None),
    "slice": (_slice, 1, None),
    "len": (_len, 1, 1),
    "json": (_go_json, 1, 1),
    "join": (_join, 2, 2),
    "split": (_split, 2, 2),
    "lower": (lambda s: _need(s, str, "string").lower(), 1, 1),
    "upper": (lambda s: _need(s, str, "string").upper(), 1, 1),
    "title": (_title, 1, 1),
    "truncate": (_truncate, 2, 2),
    "pad": (_pad, 3, 3),
    "print": (_print, 0, None),
    "println": (lambda *a: " ".join(map(_sprint_v, a)) + "\n", 0, None),
    "printf": (lambda fmt, *a: _sprintf(_need(fmt, str, "string"), *a), 1, None),
}


# ------------------------------------------------------------------- public

def render(template: str, data) -> str:
    """Render one value with a Go template (podman's \\t and \\n escapes in text are honoured)."""
    ex = _Exec(template, data)
    ex.walk(_parse(template), data)
    return "".join(ex.out)


_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+|[^A-Za-z\d]+")


def _first_field(pipe):
    for cmd in pipe[2]:
        for op in cmd:
            if op.kind == "field" or (op.kind == "var" and op.value == "$" and op.fields):
                return op.fields
            if op.kind == "pipe" and (found := _first_field(op.value)):
                return found
    return None


def _header(nodes, headers):
    folded = {k.lower(): v for k, v in headers.items()}
    parts = []
    for node in nodes:
        if node[0] == "text":
            parts.append(node[1])
        elif node[0] in ("action", "if", "with", "range") and not (node[0] == "action" and node[1][0]):
            names = _first_field(node[1])
            if names:
                for key in (".".join(names), names[-1]):
                    if key in headers or key.lower() in folded:
                        parts.append(headers[key] if key in headers else folded[key.lower()])
                        break
                else:
                    parts.append(" ".join(_CAMEL.findall(names[-1])).upper())
    return "".join(parts)


def _align(text, minwidth, padding=2):
    """Go's text/tabwriter with ' ' padding: tab-terminated cells aligned in column blocks."""
    lines = [line.split("\t") for line in text.split("\n")]
    out = []

    def write(lo, hi, widths):
        for cells in lines[lo:hi]:
            out.append("".join(c.ljust(widths[j]) if j < len(widths) else c for j, c in enumerate(cells)))

    def fmt(lo, hi, widths):
        column, this = len(widths), lo
        while this < hi:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write(lo, this, widths)
            lo, width = this, minwidth
            while this < hi and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            fmt(lo, this, widths + [width])
            lo = this
        write(lo, hi, widths)

    fmt(0, len(lines), [])
    return "\n".join(out)


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
    tree = _parse(template, bool(table))
    out = [_header(tree, headers or {})] if table else []
    for row in rows:
        ex = _Exec(template, row)
        ex.walk(tree, row)
        out.append("".join(ex.out))
    text = "".join(out)
    return _align(text, minwidth) if table else text


_JSON_FORMAT = re.compile(r"\s*(json|{{\s*json\s*\.?\s*}})\s*")


def is_json_format(fmt: str) -> bool:
    """True for podman's --format json (also {{json .}})."""
    return bool(fmt) and _JSON_FORMAT.fullmatch(fmt) is not None
