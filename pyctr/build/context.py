"""The build context: a directory, less what `.containerignore` (else `.dockerignore`) excludes;
the sources a COPY or ADD names (globs as Go's filepath.Match, `**` any depth), and a digest of
their content for the build cache (names, modes, file contents and link targets; not times)."""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat
from functools import cached_property

from pyctr.errors import NotFound

IGNORE_FILES = (".containerignore", ".dockerignore")


def _pattern_regex(pattern: str) -> re.Pattern:
    """A .dockerignore pattern: filepath.Match per component, `**` any number of components; a
    pattern also excludes what lies under what it matches."""
    from pyctr.pathmatch import compile_pattern

    parts = []
    for component in pattern.split("/"):
        if component == "**":
            parts.append("(?:.*)")
        else:
            parts.append(compile_pattern(component).pattern.removesuffix("\\Z"))
    body = "/".join(parts).replace("(?:.*)/", "(?:.*/)?")
    return re.compile(f"^{body}(?:/.*)?$", re.S)


class Ignore:
    def __init__(self, lines: list[str]):
        self.rules: list[tuple[bool, re.Pattern]] = []
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = posixpath.normpath(line[1:].strip() if negate else line).lstrip("/")
            if pattern in ("", "."):
                continue
            self.rules.append((negate, _pattern_regex(pattern)))

    def excluded(self, rel: str) -> bool:
        """`rel`: a path relative to the context, no leading slash. The last matching rule wins."""
        result = False
        for negate, regex in self.rules:
            if regex.match(rel):
                result = not negate
        return result


class Context:
    def __init__(self, directory: str, *, ignore_file: str | None = None):
        self.dir = os.path.abspath(directory)
        if not os.path.isdir(self.dir):
            raise NotFound(f"context directory {directory!r} does not exist")
        self.ignore_file = ignore_file

    @cached_property
    def ignore(self) -> Ignore:
        names = [self.ignore_file] if self.ignore_file else [os.path.join(self.dir, n) for n in IGNORE_FILES]
        for path in names:
            try:
                with open(path, encoding="utf-8") as f:
                    return Ignore(f.read().splitlines())
            except FileNotFoundError:
                if self.ignore_file:
                    raise NotFound(f"ignore file {path!r} does not exist") from None
        return Ignore([])

    def sources(self, pattern: str) -> list[str]:
        """The context paths (relative, "" for the context itself) that `pattern` names; [] if none."""
        rel = posixpath.normpath("/" + pattern).lstrip("/")
        if rel in ("", "."):
            return [""]
        if not any(c in rel for c in "*?["):
            path = os.path.join(self.dir, rel)
            if os.path.lexists(path) and not self.ignore.excluded(rel):
                return [rel]
            return []
        regex = _pattern_regex(rel)
        depth = rel.count("/")
        found = []
        for current, dirs, files in os.walk(self.dir):
            relative_dir = os.path.relpath(current, self.dir)
            level = 0 if relative_dir == "." else relative_dir.count("/") + 1
            if level > depth and "**" not in rel:
                dirs[:] = []
                continue
            for name in sorted(dirs + files):
                candidate = name if relative_dir == "." else f"{relative_dir}/{name}"
                if regex.match(candidate) and candidate.count("/") == depth or ("**" in rel and regex.match(candidate)):
                    if not self.ignore.excluded(candidate):
                        found.append(candidate)
        return sorted(set(found))

    def walk(self, rel: str):
        """(relative path, lstat) of `rel` and, for a directory, everything under it not excluded, in order."""
        path = os.path.join(self.dir, rel) if rel else self.dir
        info = os.lstat(path)
        yield rel, info
        if stat.S_ISDIR(info.st_mode):
            for name in sorted(os.listdir(path)):
                child = f"{rel}/{name}" if rel else name
                if self.ignore.excluded(child):
                    continue
                yield from self.walk(child)

    def path(self, rel: str) -> str:
        return os.path.join(self.dir, rel) if rel else self.dir


def digest_tree(ctx: Context, rels: list[str], extra: str = "") -> str:
    """A digest of what the sources hold (the cache's input for COPY/ADD)."""
    h = hashlib.sha256(extra.encode())
    for top in rels:
        for rel, info in ctx.walk(top):
            h.update(f"\0{rel}\0{stat.S_IMODE(info.st_mode):o}\0{stat.S_IFMT(info.st_mode)}\0".encode())
            path = ctx.path(rel)
            if stat.S_ISREG(info.st_mode):
                with open(path, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
            elif stat.S_ISLNK(info.st_mode):
                h.update(os.readlink(path).encode())
    return h.hexdigest()
