"""Executing a parsed template on JSON-like data, with Go's scoping of variables and its error messages."""

from pyctr.cli.gotemplate.errors import ArgError, FuncError, TemplateError, line_of
from pyctr.cli.gotemplate.functions import FUNCS
from pyctr.cli.gotemplate.values import MISSING, Struct, sorted_keys, sprint_v, truth, typename

_NOFINAL = object()  # no value piped into a command


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def execute(src, nodes, data, name="", out=None):
    """The text that `nodes`, parsed from the template `src` (named `name`), print for `data`.
    With `out` (a list), what was printed before an error stays there, as Go's writer keeps it."""
    ex = _Exec(src, data, name, [] if out is None else out)
    ex.walk(nodes, data)
    return "".join(ex.out)


class _Exec:
    def __init__(self, src, data, name, out):
        self.src, self.vars, self.at, self.out, self.name = src, [["$", data]], (0, 0, 0), out, name

    def error(self, msg):
        pos, end, start = self.at
        line, col = line_of(self.src, pos), pos - self.src.rfind("\n", 0, pos) - 1
        context = " ".join(self.src[start:end].split())
        name = self.name
        return TemplateError(f'template: {name}:{line}:{col}: executing "{name}" at <{context}>: {msg}')

    def walk(self, nodes, dot):
        for node in nodes:
            kind = node[0]
            if kind == "text":
                self.out.append(node[1])
            elif kind == "action":
                value = self.pipe(node[1], dot)
                if not node[1][0]:  # declarations print nothing
                    self.out.append("<no value>" if value is MISSING else sprint_v(value))
            elif kind in ("if", "with"):
                mark = len(self.vars)
                value = self.pipe(node[1], dot)
                if truth(value):
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
            items = [(k, value[k]) for k in sorted_keys(value)]
        elif isinstance(value, int) and not isinstance(value, bool):
            if len(decls) > 1:
                raise self.error(f"can't use {value} to iterate over more than one variable")
            items = [(i, i) for i in range(value)]
        elif value is None or value is MISSING:
            items = []
        else:
            raise self.error(f"range can't iterate over {sprint_v(value)}")
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
        self.at = (first.pos, first.end, first.pos)
        if has_args and not (first.fields and first.kind in ("field", "var", "pipe")):
            raise self.error(f"can't give argument to non-function {self.src[first.pos:first.end]}")
        if first.kind == "nil":
            raise self.error("nil is not a command")
        return self.arg(first, dot, has_args)

    def arg(self, op, dot, has_args=False):
        """The value of an operand used as an argument (or as a command when has_args says so)."""
        self.at = (op.chain, op.end, op.pos)
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
            self.at = (op.chain, op.end, op.pos)
        else:
            value = dot
        for i, name in enumerate(op.fields):
            value = self.field(value, name, has_args and i == len(op.fields) - 1)
        return value

    def field(self, recv, name, has_args):
        if recv is MISSING:
            return MISSING
        if isinstance(recv, Struct):
            if name in recv:
                if has_args:
                    raise self.error(f"{name} is not a method but has arguments")
                return recv[name]
            raise self.error(f"can't evaluate field {name} in type {recv.type_name}")
        if isinstance(recv, dict):
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            return recv.get(name, MISSING)  # a map: a missing key is Go's <no value>
        if recv is None:
            raise self.error(f"nil pointer evaluating interface {{}}.{name}")
        raise self.error(f"can't evaluate field {name} in type {typename(recv)}")

    def slot(self, name):
        """The innermost [name, value] of variable `name`."""
        for slot in reversed(self.vars):
            if slot[0] == name:
                return slot
        raise self.error(f"undefined variable: {name}")

    def get_var(self, name):
        return self.slot(name)[1]

    def set_var(self, name, value):
        self.slot(name)[1] = value

    def call(self, first, cmd, dot, final):
        name = first.value
        func, least, most = FUNCS[name]
        count = len(cmd) - 1 + (final is not _NOFINAL)
        self.at = (first.pos, first.end, first.pos)
        if count < least or (most is not None and count > most):
            want = f"at least {least}" if most is None else str(least)
            raise self.error(f"wrong number of args for {name}: want {want} got {count}")
        if name in ("and", "or"):  # short-circuit, return the deciding value
            value = None
            for op in cmd[1:]:
                value = self.arg(op, dot)
                if truth(value) != (name == "and"):
                    return value
            return final if final is not _NOFINAL else value
        args = [self.arg(op, dot) for op in cmd[1:]]
        if final is not _NOFINAL:
            args.append(final)
        self.at = (cmd[0].pos, cmd[-1].end, cmd[0].pos)
        try:
            return func(*[None if a is MISSING else a for a in args])
        except ArgError as e:
            raise self.error(str(e)) from None
        except FuncError as e:
            raise self.error(f"error calling {name}: {e}") from None
