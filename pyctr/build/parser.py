"""Containerfile text -> instructions (pure: no files, no store).

What the text says, not what it means: directives (`# escape=`, `# syntax=`), comments, line
continuations (the escape character at a line's end), `--flag=value` options, the JSON (exec)
form, and heredocs (`<<EOF` ... `EOF`, `<<-EOF` strips leading tabs). Variables are expanded
later (pyctr.build.words), when their values are known.
"""

from __future__ import annotations

import json
import re
from dataclasses import field

from pyctr.errors import InvalidArgument
from pyctr.values import value

INSTRUCTIONS = ("FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
                "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL")
# Instructions whose arguments may be a JSON array of strings.
JSON_FORMS = ("RUN", "CMD", "ENTRYPOINT", "SHELL", "VOLUME", "COPY", "ADD")
_HEREDOC = re.compile(r"<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$")


class ParseError(InvalidArgument):
    """A Containerfile that cannot be read; `line` is 1-based."""

    def __init__(self, message: str, *, file: str = "Containerfile", line: int = 0):
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")
        self.line = line


@value
class Heredoc:
    name: str
    content: str
    expand: bool = True  # an unquoted name: variables are expanded in the content


@value
class Instruction:
    command: str  # upper case: RUN, COPY, ...
    rest: str  # the arguments after the options, continuations joined
    line: int  # the 1-based line where it starts
    original: str  # the whole instruction as written, continuations joined (podman's STEP line)
    flags: list[str] = field(default_factory=list)  # `--from=builder`, `--chown=1:1`, ...
    json: list[str] | None = None  # the exec form, when `rest` is a JSON array of strings
    heredocs: list[Heredoc] = field(default_factory=list)

    def flag(self, name: str, default: str | None = None) -> str | None:
        """The last `--name=value` given (a bare `--name` is "true")."""
        found = default
        for item in self.flags:
            key, sep, val = item[2:].partition("=")
            if key == name:
                found = val if sep else "true"
        return found

    def flag_values(self, name: str) -> list[str]:
        return [item[2:].partition("=")[2] for item in self.flags if item[2:].partition("=")[0] == name]


@value
class Containerfile:
    instructions: list[Instruction]
    escape: str = "\\"
    syntax: str = ""


def parse(text: str, *, file: str = "Containerfile") -> Containerfile:
    lines = text.splitlines()
    escape, syntax, index = "\\", "", 0
    # Directives come first; the first other line (even an empty one) ends them.
    seen: set[str] = set()
    while index < len(lines):
        match = _DIRECTIVE.match(lines[index])
        if not match or match.group(1).lower() in seen:
            break
        key, val = match.group(1).lower(), match.group(2)
        if key == "escape":
            if val not in ("\\", "`"):
                raise ParseError(f"invalid escape token '{val}' does not match ` or \\", file=file, line=index + 1)
            escape = val
        elif key == "syntax":
            syntax = val
        else:
            break
        seen.add(key)
        index += 1
    out: list[Instruction] = []
    while index < len(lines):
        start = index
        raw = lines[index]
        index += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        whole = raw
        continued = _strip_continuation(raw, escape)
        if continued is not None:
            whole = continued
            while index < len(lines):
                nxt = lines[index]
                index += 1
                if not nxt.strip() or nxt.strip().startswith("#"):
                    continue  # comments and empty lines inside a continued instruction are dropped
                more = _strip_continuation(nxt, escape)
                if more is None:
                    whole += nxt
                    break
                whole += more
        instruction_text = whole.strip()
        word, _, rest = instruction_text.partition(" ")
        if "\t" in word:
            word, _, more = word.partition("\t")
            rest = more + " " + rest
        command = word.upper()
        if command not in INSTRUCTIONS:
            raise ParseError(f"unknown instruction: {word}", file=file, line=start + 1)
        rest = rest.strip()
        flags, rest = _flags(command, rest)
        heredocs: list[Heredoc] = []
        if command in ("RUN", "COPY", "ADD") and "<<" in rest:
            for match in _HEREDOC.finditer(rest):
                strip_tabs, quote, name = match.group(1) == "-", match.group(2), match.group(3)
                body = []
                while True:
                    if index >= len(lines):
                        raise ParseError(f"{command}: unterminated heredoc {name}", file=file, line=start + 1)
                    line = lines[index]
                    index += 1
                    if (line.lstrip("\t") if strip_tabs else line) == name:
                        break
                    body.append(line.lstrip("\t") if strip_tabs else line)
                heredocs.append(Heredoc(name, "\n".join(body) + "\n", expand=not quote))
        exec_form = json_array(rest) if command in JSON_FORMS and not heredocs else None
        out.append(Instruction(command, rest, start + 1, instruction_text, flags, exec_form, heredocs))
    return Containerfile(out, escape, syntax)


def _strip_continuation(line: str, escape: str) -> str | None:
    """The line without its trailing escape character if it continues on the next one, else None."""
    trimmed = line.rstrip()
    if trimmed.endswith(escape) and not trimmed.endswith(escape * 2):
        return line[:len(trimmed) - 1]
    return None


def _flags(command: str, rest: str) -> tuple[list[str], str]:
    """The leading `--name[=value]` words of an instruction (not of CMD, ENV, ...: theirs are content)."""
    if command not in ("FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"):
        return [], rest
    flags = []
    while rest.startswith("--"):
        word, _, after = rest.partition(" ")
        if word == "--":
            break
        flags.append(word)
        rest = after.lstrip()
    return flags, rest


def json_array(rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    try:
        parsed = json.loads(rest)
    except ValueError:
        return None
    if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
        return parsed
    return None
