"""How pyctr's commands read their arguments: podman's rules (spf13/pflag's), on click's public API.

- A boolean flag takes a value only when it is attached: `--rm`, `--rm=true`, `--rm=false`, `-d=false`.
  In `--tls-verify false` the word "false" is the next argument, as podman reads it. Bare, a flag
  means true, also one whose default is true (`--sig-proxy`); a `--no-...` name means false.
- `-it` is `-i -t`; an option that takes a value takes the rest of its word (`-eA=1`, `-e=A=1`) or
  the next word (`-e A=1`, `--env A=1`), or what follows `=` (`--env=A=1`).
- An option of type OptionalValue(V) (pflag's NoOptDefVal; in podman 4.3.1 only
  build's `--pull`) takes a value only when it is attached (`--pull=never`); bare, it means V, and
  the next word is not its value (`--pull always` is `--pull` and the argument "always"), as in podman.
- `--` ends the options. So does the first positional argument of a command that does not allow
  interspersed arguments (run, create, exec, unshare): from there on, every word belongs to the
  container, untouched, whatever it looks like (`--help`, `--rm=false`).

click's own parser cannot give a flag an attached value (and is internal since click 8.2), so
PyctrCommand.parse_args splits the words here, then hands them to click's public Parameter API
(`handle_parse_result`): click converts them (click.BOOL for flags: true/false/1/0/yes/no...),
fills in defaults and environment variables, runs callbacks (--help) and reports errors.
"""

from __future__ import annotations

from typing import Any

import click
import typer
import typer.core

from pyctr.cli.common import session


class Words:
    """The result of splitting: option values by parameter name (as click's `handle_parse_result`
    expects them), the positional words left over, and the parameters in the order they were seen."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.positional: list[str] = []
        self.order: list[click.Parameter] = []


def split(params: list[click.Parameter], args: list[str], *, interspersed: bool = True,
          ignore_unknown: bool = False, ctx: click.Context | None = None, words: Words | None = None) -> Words:
    """Split `args` between `params`' options and arguments; raises click.UsageError for unknown
    options, missing values and values given to flags that take none."""
    words = words or Words()
    long_opts: dict[str, tuple[click.Option, bool]] = {}  # "--rm" -> (option, is a --no-... name)
    short_opts: dict[str, tuple[click.Option, bool]] = {}  # "d" -> ...
    for param in params:
        if isinstance(param, click.Option):
            for names, secondary in ((param.opts, False), (param.secondary_opts, True)):
                for name in names:
                    if name.startswith("--") or len(name) != 2:
                        long_opts[name] = (param, secondary)
                    else:
                        short_opts[name[1]] = (param, secondary)
    rest = list(args)
    while rest:
        word = rest.pop(0)
        if word == "--":
            words.positional += rest
            break
        name, eq, value = word.partition("=")
        if word.startswith("--") or name in long_opts:
            if name not in long_opts:
                if ignore_unknown:
                    words.positional.append(word)
                    continue
                from difflib import get_close_matches

                raise click.NoSuchOption(name, possibilities=get_close_matches(name, long_opts), ctx=ctx)
            _take(words, name, *long_opts[name], value if eq else None, rest, ctx)
        elif word.startswith("-") and len(word) > 1:
            _take_cluster(words, word, short_opts, rest, ignore_unknown, ctx)
        elif interspersed:
            words.positional.append(word)
        else:  # the first positional argument ends the options
            words.positional += [word, *rest]
            break
    return words


def _take_cluster(words: Words, word: str, short_opts: dict, rest: list[str], ignore_unknown: bool,
                  ctx: click.Context | None) -> None:
    """`-it`, `-d=false`, `-eA=1`, `-e=A=1`, `-e A=1`."""
    i = 1
    while i < len(word):
        char, i = word[i], i + 1
        if char not in short_opts:
            if ignore_unknown:
                words.positional.append(word)
                return
            raise click.NoSuchOption(f"-{char}", ctx=ctx)
        option, secondary = short_opts[char]
        attached = word[i:]
        if attached.startswith("="):
            _take(words, f"-{char}", option, secondary, attached[1:], rest, ctx)
            return
        if attached and _takes_value(option):
            _take(words, f"-{char}", option, secondary, attached, rest, ctx)
            return
        _take(words, f"-{char}", option, secondary, None, rest, ctx)


def _takes_value(option: click.Option) -> bool:
    return not option.is_flag and not option.count


class OptionalValue(click.ParamType):
    """The type of a text option whose value may be left out (pflag's NoOptDefVal: podman's
    `build --pull`): typer.Option(..., click_type=OptionalValue("true")); bare, it means "true"."""

    name = "text"

    def __init__(self, when_bare: str):
        self.when_bare = when_bare

    def convert(self, value, param, ctx):
        return str(value)


def _optional_value(option: click.Option) -> bool:
    return option.nargs == 1 and isinstance(option.type, OptionalValue)


def _take(words: Words, name: str, option: click.Option, secondary: bool, value: str | None,
          rest: list[str], ctx: click.Context | None) -> None:
    """Record one use of `option` (spelled `name`), with its attached `value` if any."""
    if _takes_value(option) and value is None and _optional_value(option):
        value = option.type.when_bare  # bare: its no-value default; a value must be attached (`--pull=never`)
    elif _takes_value(option):  # its value is attached, or the next word(s), whatever they look like
        given = [] if value is None else [value]
        if len(rest) < option.nargs - len(given):
            raise click.BadOptionUsage(name, f"Option {name!r} requires {option.nargs} argument(s)."
                                       if option.nargs > 1 else f"Option {name!r} requires an argument.", ctx=ctx)
        given += [rest.pop(0) for _ in range(option.nargs - len(given))]
        value = given[0] if option.nargs == 1 else tuple(given)
    elif value is not None and not (option.is_bool_flag and not secondary):
        raise click.BadOptionUsage(name, f"Option {name!r} does not take a value.", ctx=ctx)
    elif option.count:
        value = words.values.get(option.name, 0) + 1
    elif value is None:  # bare: a boolean flag means true (a --no- name false), as in podman
        value = not secondary if option.is_bool_flag else option.flag_value
    # (else an attached value of a boolean flag: click.BOOL converts it, or says why it cannot)
    if option.multiple:
        words.values.setdefault(option.name, []).append(value)
    else:
        words.values[option.name] = value
    words.order.append(option)


def assign_arguments(arguments: list[click.Argument], words: Words) -> list[str]:
    """Give the positional words to the arguments, as click does: those before a variadic
    argument from the front, those after it from the back; returns the words left over."""
    rest = words.positional
    variadic = next((n for n, argument in enumerate(arguments) if argument.nargs < 0), len(arguments))
    for argument in arguments[:variadic]:
        count = max(argument.nargs, 1)
        taken, rest = rest[:count], rest[count:]
        words.values[argument.name] = (taken[0] if taken else None) if argument.nargs == 1 else tuple(taken) or None
    for argument in reversed(arguments[variadic + 1:]):
        count = max(argument.nargs, 1)
        taken, rest = rest[max(len(rest) - count, 0):], rest[:max(len(rest) - count, 0)]
        words.values[argument.name] = (taken[0] if taken else None) if argument.nargs == 1 else tuple(taken) or None
    if variadic < len(arguments):
        argument = arguments[variadic]
        # An empty variadic argument is () unless an environment variable may fill it (click's rule).
        words.values[argument.name] = None if not rest and argument.envvar is not None else tuple(rest)
        rest = []
    words.order += arguments
    return rest


def processing_order(params: list[click.Parameter], seen: list[click.Parameter]) -> list[click.Parameter]:
    """Eager parameters (--help) first, then in the order they were given, then the others."""
    first_seen: dict[click.Parameter, int] = {}
    for position, param in enumerate(seen):
        first_seen.setdefault(param, position)
    return sorted(params, key=lambda p: (not p.is_eager, first_seen.get(p, len(seen))))


def arity(args: list, least: int, most: int | None = None) -> None:
    """Check how many arguments a command got, with cobra's errors in podman's words (for commands
    whose arguments typer takes as one list: podman counts them before it looks at them)."""
    from pyctr.errors import InvalidArgument

    count = len(args)
    if most is None and count < least:
        raise InvalidArgument(f"requires at least {least} arg(s), only received {count}")
    if least == most and count != least:
        raise InvalidArgument(f"accepts {least} arg(s), received {count}")
    if most is not None and count > most:
        raise InvalidArgument(f"accepts at most {most} arg(s), received {count}")


class PyctrCommand(typer.core.TyperCommand):
    """A command that parses with podman's rules (see the module's docstring) and prints plain help."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            return super().parse_args(ctx, args)  # click prints the help
        params = self.get_params(ctx)
        words = Words()
        try:
            split(params, args, interspersed=ctx.allow_interspersed_args,
                  ignore_unknown=ctx.ignore_unknown_options, ctx=ctx, words=words)
        except click.UsageError:
            if not ctx.resilient_parsing:
                raise
        rest = assign_arguments([p for p in params if isinstance(p, click.Argument)], words)
        for param in processing_order(params, words.order):
            try:
                _, rest = param.handle_parse_result(ctx, words.values, rest)
            except click.BadParameter as exc:
                raise _plain_hint(exc)
        if rest and not ctx.allow_extra_args and not ctx.resilient_parsing:
            ctx.fail(f"Got unexpected extra argument{'s' if len(rest) > 1 else ''} ({' '.join(rest)})")
        ctx.args = rest
        return rest

    def invoke(self, ctx: click.Context) -> Any:
        # Parsed, and no --help: only now is the engine built. Rootless, that enters the user
        # namespace, which the command and everything it starts (a container's shim) must share.
        session(ctx).engine
        return super().invoke(ctx)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        format_params(self, ctx, formatter)


class PyctrGroup(typer.core.TyperGroup):
    """A group of commands (pyctr, pyctr image, ...): click parses its few options; plain help."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.BadParameter as exc:
            raise _plain_hint(exc)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        format_params(self, ctx, formatter)
        self.format_commands(ctx, formatter)


class PyctrTyper(typer.Typer):
    """typer.Typer whose commands and groups are PyctrCommand and PyctrGroup."""

    def __init__(self, *args, cls: type[click.Group] = PyctrGroup, **kwargs) -> None:
        super().__init__(*args, cls=cls, **kwargs)

    def command(self, *args, cls: type[click.Command] = PyctrCommand, **kwargs):
        return super().command(*args, cls=cls, **kwargs)


def _plain_hint(exc: click.BadParameter) -> click.BadParameter:
    """click 8.2 names an option without an environment variable "'--rm' (env var: 'None')"."""
    param = exc.param
    if exc.param_hint is None and isinstance(param, click.Option) and param.envvar is None:
        exc.param_hint = " / ".join(f"'{name}'" for name in param.opts + param.secondary_opts)
    return exc


# -- help ---------------------------------------------------------------------------------------

def format_params(command: click.Command, ctx: click.Context, formatter: click.HelpFormatter) -> None:
    """The Arguments and Options sections, as typer lays them out, but written by click's own plain
    Option.get_help_record: typer's escapes "[default: ...]" as rich markup whenever rich is
    installed, even with rich_markup_mode=None."""
    arguments, options = [], []
    for param in command.get_params(ctx):
        if isinstance(param, click.Argument):
            record = _argument_record(param, ctx)
            arguments += [record] if record else []
        elif isinstance(param, click.Option):
            record = click.Option.get_help_record(param, ctx)
            options += [record] if record else []
    for title, records in (("Arguments", arguments), ("Options", options)):
        if records:
            with formatter.section(title):
                formatter.write_dl(records)


def _argument_record(argument: click.Argument, ctx: click.Context) -> tuple[str, str] | None:
    """click lists no arguments; typer's arguments carry help, and say when they are required."""
    if getattr(argument, "hidden", False):
        return None
    help_text = getattr(argument, "help", None) or ""
    if argument.required:
        help_text = f"{help_text}  [required]" if help_text else "[required]"
    return argument.make_metavar(ctx), help_text
