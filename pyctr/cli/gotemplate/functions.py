"""The template functions (Go's builtins and podman's additions), by name in FUNCS.

A function raises FuncError when it fails ("error calling NAME: ...") and
ArgError when an argument has the wrong type; "and" and "or" are evaluated by
the evaluator itself, which short-circuits them.
"""

from pyctr.cli.gotemplate.errors import ArgError, FuncError
from pyctr.cli.gotemplate.printf import sprintf
from pyctr.cli.gotemplate.values import MISSING, go_json, sprint_v, truth, typename


def _need(v, kind, goname):
    if v is None:
        raise ArgError(f"invalid value; expected {goname}")
    if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
        raise ArgError(f"wrong type for value; expected {goname}; got {typename(v)}")
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
        raise FuncError("missing argument for comparison")
    for b in others:
        ka, kb = _basic_kind(a), _basic_kind(b)
        if ka != kb:
            if a is not None and b is not None:
                raise FuncError("incompatible types for comparison")
        elif ka == "other":
            raise FuncError(f"non-comparable type {sprint_v(b)}: {typename(b)}")
        elif a == b:
            return True
    return False


def _lt(a, b):
    ka, kb = _basic_kind(a), _basic_kind(b)
    if ka in ("nil", "bool", "other") or kb in ("nil", "bool", "other"):
        raise FuncError("invalid type for comparison")
    if ka != kb:
        raise FuncError("incompatible types for comparison")
    return a < b


def _index(item, *keys):
    for key in keys:
        if item is MISSING:
            raise FuncError("index of untyped nil")
        if item is None and isinstance(key, str):
            item = {}  # like a typed nil map
        if isinstance(item, dict):
            if not isinstance(key, str):
                raise FuncError(f"value has type {typename(key)}; should be string")
            if key in item:
                item = item[key]
            else:  # the zero value: "" for a map of strings, else Go's nil interface
                item = "" if all(isinstance(x, str) for x in item.values()) else MISSING
        elif isinstance(item, (list, tuple, str)):
            if _basic_kind(key) != "int":
                raise FuncError(f"cannot index slice/array with type {typename(key)}")
            seq = item.encode() if isinstance(item, str) else item
            if not 0 <= key < len(seq):
                raise FuncError(f"index out of range: {key}")
            item = seq[key]
        elif item is None:
            raise FuncError("index of untyped nil")
        else:
            raise FuncError(f"can't index item of type {typename(item)}")
    return item


def _slice(item, *indexes):
    if not isinstance(item, (list, tuple, str)):
        raise FuncError(f"can't slice item of type {typename(item)}")
    if len(indexes) > 2:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    seq = item.encode() if isinstance(item, str) else item
    bounds = [_need(i, int, "int") for i in indexes] + [0, len(seq)][len(indexes):]
    if not 0 <= bounds[0] <= bounds[1] <= len(seq):
        raise FuncError(f"index out of range: {bounds[1] if bounds[1] > len(seq) else bounds[0]}")
    part = seq[bounds[0]:bounds[1]]
    return part.decode(errors="replace") if isinstance(item, str) else list(part)


def _len(v):
    if v is None:
        return 0  # like a typed nil slice or map
    if isinstance(v, str):
        return len(v.encode())
    if isinstance(v, (list, tuple, dict)):
        return len(v)
    raise FuncError(f"len of type {typename(v)}")


def _join(items, sep):
    if isinstance(items, str) and isinstance(sep, (list, tuple)):
        items, sep = sep, items  # {{.Names | join ","}} pipes the list in last
    if not isinstance(items, (list, tuple)):
        raise ArgError(f"wrong type for value; expected []string; got {typename(items)}")
    return _need(sep, str, "string").join(map(sprint_v, items))


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
        out.append(sprint_v(a))
    return "".join(out)


FUNCS = {  # name: (function, least args, most args or None)
    "and": (None, 1, None),
    "or": (None, 1, None),
    "not": (lambda v: not truth(v), 1, 1),
    "eq": (_eq, 1, None),
    "ne": (lambda a, b: not _eq(a, b), 2, 2),
    "lt": (_lt, 2, 2),
    "le": (lambda a, b: _lt(a, b) or _eq(a, b), 2, 2),
    "gt": (lambda a, b: not (_lt(a, b) or _eq(a, b)), 2, 2),
    "ge": (lambda a, b: not _lt(a, b), 2, 2),
    "index": (_index, 1, None),
    "slice": (_slice, 1, None),
    "len": (_len, 1, 1),
    "json": (go_json, 1, 1),
    "join": (_join, 2, 2),
    "split": (_split, 2, 2),
    "lower": (lambda s: _need(s, str, "string").lower(), 1, 1),
    "upper": (lambda s: _need(s, str, "string").upper(), 1, 1),
    "title": (_title, 1, 1),
    "truncate": (_truncate, 2, 2),
    "pad": (_pad, 3, 3),
    "print": (_print, 0, None),
    "println": (lambda *a: " ".join(map(sprint_v, a)) + "\n", 0, None),
    "printf": (lambda fmt, *a: sprintf(_need(fmt, str, "string"), *a), 1, None),
}
