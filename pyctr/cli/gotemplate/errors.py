"""The errors of a template: TemplateError for the caller, and how functions fail inside."""

from pyctr.errors import PyctrError


class TemplateError(PyctrError):
    """A template that does not parse or execute; the message is one line, as Go words it."""

    __module__ = "pyctr.cli.gotemplate"  # where callers know it from

    def __init__(self, message: str):
        super().__init__(" ".join(message.split("\n")))


class FuncError(Exception):
    """A function failed: reported as 'error calling NAME: ...'."""


class ArgError(Exception):
    """A function got an argument of the wrong type: reported as is."""


def line_of(src, pos):
    return src.count("\n", 0, pos) + 1


def syntax_error(src, pos, msg):
    """A parse error at offset `pos` of the template `src`, worded as Go's."""
    return TemplateError(f"template: :{line_of(src, pos)}: {msg}")
