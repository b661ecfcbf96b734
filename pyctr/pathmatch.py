"""Go's path.Match patterns (podman's `reference=` filter, `--security-opt unmask=`), as regexes:
`*` and `?` never cross a `/`, `[...]` is a class (`[!...]` or `[^...]` negated), `\\x` is x."""

from __future__ import annotations

import re


def compile_pattern(pattern: str) -> re.Pattern:
    """The pattern as a regex that must match the whole text (use .match)."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            start = i + 1 + (pattern[i + 1:i + 2] in ("!", "^"))
            end = pattern.find("]", start + 1 if pattern[start:start + 1] == "]" else start)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[start:end].replace("[", "\\[")
                out.append(("[^" if start > i + 1 else "[") + body + "]")
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def matches(pattern: str, text: str) -> bool:
    return compile_pattern(pattern).match(text) is not None
