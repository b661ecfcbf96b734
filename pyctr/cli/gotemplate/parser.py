"""Parsing a template into a tree of small nodes (see Parser), checking names as Go does."""

from functools import lru_cache

from pyctr.cli.gotemplate.errors import TemplateError, syntax_error
from pyctr.cli.gotemplate.functions import FUNCS
from pyctr.cli.gotemplate.lexer import lex, number, unquote


class Op:
    """An operand: field (.A.B), var ($x.A), dot, lit, nil, func (identifier) or pipe ((...).A)."""

    __slots__ = ("kind", "value", "fields", "pos", "end", "chain")

    def __init__(self, kind, value, pos):
        self.kind, self.value, self.fields, self.pos, self.end = kind, value, [], pos, pos
        self.chain = pos  # where Go places the node: at the second field of a chain (.A.B: at .B)


_KEYWORDS = {"if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"}


class Parser:
    """Nodes: ("text", s), ("action", pipe), (if|with|range, pipe, body, else_body), (break,), (continue,).
    A pipe is (decls, is_assign, commands); a command is a list of Op."""

    def __init__(self, src, table=False):
        self.src, self.items, self.n = src, lex(src, table), 0
        self.vars, self.loops = ["$"], 0
        self.toks, self.k, self.pos = [], 0, 0

    def error(self, pos, msg):
        return syntax_error(self.src, pos, msg)

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
        if (t := self.peek()) is not None and t[0] == "op" and t[1] not in "(|)":
            raise self.error(t[2], f'unexpected "{t[1]}" in {context}')
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
            op = Op("field", None, pos)
            op.fields.append(text[1:])
        elif kind == "var":
            self.use_var(text, pos)
            op = Op("var", text, pos)
        elif kind == "dot":
            op = Op("dot", None, pos)
        elif kind in ("str", "raw", "char", "num"):
            op = Op("lit", self.literal(kind, text, pos), pos)
        elif kind == "ident":
            if text in ("true", "false"):
                op = Op("lit", text == "true", pos)
            elif text == "nil":
                op = Op("nil", None, pos)
            elif text in FUNCS:
                op = Op("func", text, pos)
            elif text in _KEYWORDS:
                raise self.error(pos, f'unexpected "{text}" in operand')
            else:
                raise self.error(pos, f'function "{text}" not defined')
        elif text == "(":
            op = Op("pipe", self.pipeline("parenthesized pipeline"), pos)
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
            if op.chain == pos:
                op.chain = t[2]
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
                return unquote(text[1:-1], '"')
            if kind == "char":
                (c,) = unquote(text[1:-1], "'")
                return ord(c)
            return number(text)
        except ValueError:
            raise self.error(pos, f'bad number syntax: "{text}"' if kind == "num" else "invalid syntax") from None


@lru_cache(maxsize=64)
def parse(src, table=False, name=""):
    """The node list of a template (cached: the nodes are never changed); errors name the template."""
    try:
        return Parser(src, table).parse()
    except TemplateError as exc:
        if not name:
            raise
        raise TemplateError(str(exc).replace("template: :", f"template: {name}:", 1)) from None

