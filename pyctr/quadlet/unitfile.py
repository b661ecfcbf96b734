"""systemd unit files: read (with the line of every key, for errors), edit, write.

The format of systemd.syntax(7): `[Group]` headers, `Key=Value` lines, `#`/`;` comments, a
trailing backslash continues a line (the backslash becomes a space; comment lines inside a
continuation are skipped). A group may appear more than once (its keys add up), and a key of a
list type given an empty value resets the list. `%` specifiers and `$VAR`s are systemd's: they
are carried through untouched.

Also the word rules of Exec lines: split_words() (quotes, C escapes) and join_words() (the
inverse: words that need it are double-quoted and escaped).
"""

from __future__ import annotations

from dataclasses import dataclass, field


class UnitFileError(Exception):
    """A problem at a place in a file: str() is `PATH:LINE: message` (or `PATH: message`)."""

    def __init__(self, message: str, path: str = "", line: int = 0):
        super().__init__(message)
        self.message, self.path, self.line = message, path, line

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}" if where else self.message


@dataclass
class Entry:
    key: str | None  # None: a comment line, kept as written
    value: str
    path: str = ""
    line: int = 0

    def error(self, message: str) -> UnitFileError:
        return UnitFileError(message, self.path, self.line)


@dataclass
class Group:
    name: str | None  # None: comments before the first group
    entries: list[Entry] = field(default_factory=list)


class UnitFile:
    def __init__(self, filename: str, path: str = ""):
        self.filename, self.path = filename, path  # "web.container", "/etc/containers/systemd/web.container"
        self.groups: list[Group] = []

    # -- reading ---------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, filename: str, path: str = "") -> "UnitFile":
        unit = cls(filename, path)
        unit.merge_text(text, path or filename)
        return unit

    @classmethod
    def load(cls, path: str) -> "UnitFile":
        import os

        with open(path, encoding="utf-8") as f:
            return cls.parse(f.read(), os.path.basename(path), path)

    def merge_text(self, text: str, path: str) -> None:
        """Add the groups and keys of `text` (a drop-in merges into its unit this way)."""
        group: Group | None = None
        for number, line in _logical_lines(text, path):
            if not line:
                continue
            if line[0] in "#;":
                self._comment_group(group).entries.append(Entry(None, line, path, number))
            elif line[0] == "[":
                if not line.endswith("]") or len(line) < 3 or any(c in line[1:-1] for c in "[]"):
                    raise UnitFileError(f"invalid group header: {line}", path, number)
                group = Group(line[1:-1])
                self.groups.append(group)
            else:
                key, equals, value = line.partition("=")
                key = key.strip()
                if not equals or not key:
                    raise UnitFileError(f"not a Key=Value assignment: {line}", path, number)
                if group is None:
                    raise UnitFileError(f"assignment outside of any group: {key}", path, number)
                group.entries.append(Entry(key, value.strip(), path, number))

    def _comment_group(self, group: Group | None) -> Group:
        if group is not None:
            return group
        if not self.groups or self.groups[0].name is not None:
            self.groups.insert(0, Group(None))
        return self.groups[0]

    def has_group(self, group: str) -> bool:
        return any(g.name == group for g in self.groups)

    def entries(self, group: str, key: str | None = None) -> list[Entry]:
        """The entries of a group (all its occurrences), or of one key in it, in file order."""
        return [e for g in self.groups if g.name == group for e in g.entries
                if e.key is not None and (key is None or e.key == key)]

    def last(self, group: str, key: str) -> Entry | None:
        found = self.entries(group, key)
        return found[-1] if found else None

    def value(self, group: str, key: str, default: str = "") -> str:
        entry = self.last(group, key)
        return entry.value if entry is not None else default

    def has(self, group: str, key: str) -> bool:
        return bool(self.entries(group, key))

    def values(self, group: str, key: str) -> list[Entry]:
        """A list key: every entry since the last empty one (an empty value resets the list)."""
        result: list[Entry] = []
        for entry in self.entries(group, key):
            if entry.value:
                result.append(entry)
            else:
                result.clear()
        return result

    def boolean(self, group: str, key: str) -> bool | None:
        """The key as a systemd boolean; None when not given."""
        entry = self.last(group, key)
        if entry is None:
            return None
        word = entry.value.lower()
        if word in ("1", "yes", "y", "true", "t", "on"):
            return True
        if word in ("0", "no", "n", "false", "f", "off"):
            return False
        raise entry.error(f"invalid boolean for {key}: {entry.value!r}")

    # -- editing ---------------------------------------------------------------------------

    def add(self, group: str, key: str, value: str) -> None:
        """Append a key to the group's last occurrence (the group is added at the end if missing)."""
        for g in reversed(self.groups):
            if g.name == group:
                g.entries.append(Entry(key, value))
                return
        self.groups.append(Group(group, [Entry(key, value)]))

    def remove(self, group: str, key: str) -> None:
        for g in self.groups:
            if g.name == group:
                g.entries = [e for e in g.entries if e.key != key]

    def set(self, group: str, key: str, value: str) -> None:
        """The key has this one value (earlier ones are dropped)."""
        self.remove(group, key)
        self.add(group, key, value)

    def rename_group(self, old: str, new: str) -> None:
        for g in self.groups:
            if g.name == old:
                g.name = new

    def copy(self, filename: str) -> "UnitFile":
        other = UnitFile(filename, self.path)
        other.groups = [Group(g.name, list(g.entries)) for g in self.groups]
        return other

    # -- writing ---------------------------------------------------------------------------

    def text(self, header: list[str] = ()) -> str:
        lines = [f"# {line}".rstrip() for line in header]
        for g in self.groups:
            if g.name is not None:
                if lines:
                    lines.append("")
                lines.append(f"[{g.name}]")
            lines.extend(e.value if e.key is None else f"{e.key}={e.value}" for e in g.entries)
        return "\n".join(lines) + "\n"


def _logical_lines(text: str, path: str):
    """(first line number, the line with its continuations joined and whitespace stripped)."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if pending and stripped[:1] in ("#", ";"):
            continue  # a comment inside a continuation is skipped
        if not pending:
            start = number
        if raw.endswith("\\") and not (not pending and stripped[:1] in ("#", ";")):
            pending.append(raw[:-1] + " ")
            continue
        pending.append(raw)
        yield start, "".join(pending).strip()
        pending = []
    if pending:
        yield start, "".join(pending).strip()


# -- words -----------------------------------------------------------------------------------

_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                   "\\": "\\", '"': '"', "'": "'", "s": " "}
_WHITESPACE = " \t\n\r"


def _unescape_one(text: str, i: int) -> tuple[str, int]:
    """The character escaped at text[i] (just after the backslash) and the index after it."""
    c = text[i]
    if c in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[c], i + 1
    if c in _WHITESPACE:  # an escaped separator, as in systemd's Exec lines
        return c, i + 1
    digits = {"x": (2, 16), "u": (4, 16), "U": (8, 16)}.get(c)
    if digits:
        count, base = digits
        chunk = text[i + 1:i + 1 + count]
        if len(chunk) == count:
            try:
                code = int(chunk, base)
            except ValueError:
                code = -1
            if 0 < code <= 0x10FFFF:
                return chr(code), i + 1 + count
    elif c in "01234567":
        chunk = text[i:i + 3]
        if len(chunk) == 3 and all(d in "01234567" for d in chunk) and 0 < int(chunk, 8) < 256:
            return chr(int(chunk, 8)), i + 3
    raise ValueError(f"invalid escape \\{c}")


def split_words(text: str, unescape: bool = True) -> list[str]:
    """Words as systemd splits an Exec line: whitespace separates, "..." and '...' quote (the quotes
    go), and backslash escapes (C escapes with `unescape`, else the next character as is). A
    trailing backslash or an unclosed quote is tolerated (systemd's relaxed mode). ValueError for
    an unknown escape."""
    words: list[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i >= n:
            return words
        word: list[str] = []
        quote = ""
        while i < n:
            c = text[i]
            if c == "\\":
                if i + 1 >= n:
                    i += 1
                    break
                if unescape:
                    char, i = _unescape_one(text, i + 1)
                else:
                    char, i = text[i + 1], i + 2
                word.append(char)
                continue
            if quote:
                if c == quote:
                    quote = ""
                else:
                    word.append(c)
            elif c in "'\"":
                quote = c
            elif c in _WHITESPACE:
                break
            else:
                word.append(c)
            i += 1
        words.append("".join(word))


_NEEDS_QUOTES = set(_WHITESPACE) | {'"', "'", "\\"}
_QUOTED_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\a": "\\a", "\b": "\\b",
                   "\f": "\\f", "\v": "\\v"}


def quote_word(word: str) -> str:
    """The word as systemd reads it back from an Exec line: double-quoted and escaped if it must be."""
    if word and not any(c in _NEEDS_QUOTES or ord(c) < 32 or ord(c) == 127 for c in word):
        return word
    out = []
    for c in word:
        if c in _QUOTED_ESCAPES:
            out.append(_QUOTED_ESCAPES[c])
        elif ord(c) < 32 or ord(c) == 127:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def join_words(words: list[str]) -> str:
    return " ".join(quote_word(w) for w in words)
