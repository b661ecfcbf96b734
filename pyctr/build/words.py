"""Containerfile words: variables ($VAR, ${VAR}, ${VAR:-default}, ${VAR:+alternative}) expanded
from the build's ARG and ENV values, quotes removed (nothing is expanded inside single quotes),
and the escape character taking the next character literally. Pure."""

from __future__ import annotations

from pyctr.errors import InvalidArgument


def words(text: str, env: dict[str, str], escape: str = "\\") -> list[str]:
    """`text` split on unquoted blanks, each word expanded and unquoted."""
    return _process(text, env, escape, split=True)


def expand(text: str, env: dict[str, str], escape: str = "\\") -> str:
    """`text` expanded and unquoted as one word (blanks kept)."""
    return "".join(_process(text, env, escape, split=False))


def used(text: str) -> set[str]:
    """The names of the variables `text` refers to (what a cached step depends on)."""
    names = set()
    i = 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            if text[i + 1] == "{":
                end = text.find("}", i)
                body = text[i + 2:end if end > 0 else len(text)]
                names.add(body.split(":", 1)[0])
                i = end if end > 0 else len(text)
            else:
                j = i + 1
                while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                    j += 1
                names.add(text[i + 1:j])
                i = j - 1
        i += 1
    names.discard("")
    return names


def pairs(text: str, env: dict[str, str], escape: str = "\\", *, what: str) -> list[tuple[str, str]]:
    """ENV/LABEL's `K=V K2="V 2"`, or the old `K V` form (one pair, the rest of the line its value)."""
    found = words(text, env, escape)
    if not found:
        raise InvalidArgument(f"{what} requires at least one argument")
    if "=" not in found[0]:
        key, _, rest = text.strip().partition(" ")
        if not rest.strip():
            raise InvalidArgument(f"{what} must have two arguments")
        return [(expand(key, env, escape), expand(rest.strip(), env, escape))]
    out = []
    for word in found:
        key, sep, val = word.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"{what}: can't find = in \"{word}\". Must be of the form: name=value")
        out.append((key, val))
    return out


def _process(text: str, env: dict[str, str], escape: str, *, split: bool) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    started = False
    quote = ""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == escape and quote != "'" and i + 1 < n:
            current.append(text[i + 1])
            started = True
            i += 2
            continue
        if quote:
            if c == quote:
                quote = ""
            elif c == "$" and quote == '"':
                value, i = _variable(text, i, env, escape)
                current.append(value)
                continue
            else:
                current.append(c)
            i += 1
            continue
        if c in "'\"":
            quote, started = c, True
        elif c == "$":
            value, i = _variable(text, i, env, escape)
            current.append(value)
            started = True
            continue
        elif c in " \t\n" and split:
            if started or current:
                out.append("".join(current))
            current, started = [], False
        else:
            current.append(c)
            started = True
        i += 1
    if quote:
        raise InvalidArgument(f"unexpected end of statement while looking for matching {quote}")
    if started or current or not split:
        out.append("".join(current))
    return out


def _variable(text: str, i: int, env: dict[str, str], escape: str) -> tuple[str, int]:
    """The value of the variable at text[i] ('$'), and the index after it."""
    n = len(text)
    if i + 1 >= n:
        return "$", i + 1
    if text[i + 1] == "{":
        end, depth = i + 2, 1
        while end < n:
            if text[end] == "{":
                depth += 1
            elif text[end] == "}":
                depth -= 1
                if depth == 0:
                    break
            end += 1
        if end >= n:
            raise InvalidArgument(f"missing '}}' in {text[i:]!r}")
        body = text[i + 2:end]
        for op in (":-", ":+", "-", "+"):
            name, sep, word = body.partition(op)
            if sep and name.replace("_", "a").isalnum():
                have = env.get(name)
                if op == ":-":
                    result = have if have else expand(word, env, escape)
                elif op == "-":
                    result = have if have is not None else expand(word, env, escape)
                elif op == ":+":
                    result = expand(word, env, escape) if have else ""
                else:
                    result = expand(word, env, escape) if have is not None else ""
                return result, end + 1
        return env.get(body, ""), end + 1
    j = i + 1
    while j < n and (text[j].isalnum() or text[j] == "_"):
        j += 1
    if j == i + 1:
        return "$", i + 1
    return env.get(text[i + 1:j], ""), j
