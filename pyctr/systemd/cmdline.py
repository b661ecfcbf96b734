"""The command line a `--new` unit runs: the container's (or pod's) recorded create command, turned
into `run --cidfile=%t/%n.ctr-id --cgroups=no-conmon --rm --sdnotify=conmon -d --replace ...` as
podman 4.3.1's `generate systemd --new` does; and the quoting systemd's Exec lines need.

Pure: argv lists in, argv lists out.
"""

from __future__ import annotations

from pyctr.values import value

# `run`/`create` options that take no value (the others take one: the next word, or `=VALUE`);
# tests/test_generate_systemd.py checks this against pyctr's own `run` command.
RUN_FLAGS = frozenset({
    "--detach", "--disable-content-trust", "--env-host", "--http-proxy", "--init", "--interactive",
    "--no-healthcheck", "--no-hosts", "--oom-kill-disable", "--passwd", "--privileged", "--publish-all",
    "--quiet", "--read-only", "--read-only-tmpfs", "--replace", "--rm", "--rmi", "--rootfs", "--sig-proxy",
    "--tls-verify", "--tty", "--unsetenv-all", "--help",
})
RUN_SHORT_FLAGS = frozenset("dtiPq")
POD_CREATE_FLAGS = frozenset({"--infra", "--no-hosts", "--replace", "--share-parent", "--help"})
TRUE = ("", "true", "1", "t", "T", "TRUE", "True")  # what a bare flag or `--flag=VALUE` means true with


@value
class Option:
    """One option of a command line as written: its words, its name (long, or `-x` for each short
    one of a group), and its value ("" for a flag written bare)."""

    words: list[str]
    names: list[str]
    value: str = ""
    inline: bool = False  # `--name=VALUE` or a short group, as opposed to a value in the next word


def parse(args: list[str], flags: frozenset, short_flags: frozenset = frozenset()) -> tuple[list[Option], list[str]]:
    """(the options, the positional arguments from the first one on: the image and its command)."""
    options: list[Option] = []
    n = 0
    while n < len(args):
        arg = args[n]
        if arg == "--":
            return options, args[n + 1:]
        if not arg.startswith("-") or arg == "-":
            return options, args[n:]
        if arg.startswith("--"):
            name, eq, val = arg.partition("=")
            if eq or name in flags:
                options.append(Option([arg], [name], val, inline=bool(eq)))
                n += 1
            else:
                options.append(Option(args[n:n + 2], [name], args[n + 1] if n + 1 < len(args) else ""))
                n += 2
            continue
        # -abc: flags, up to the first that takes a value (the rest of the word, or the next word)
        names = []
        for i, letter in enumerate(arg[1:], start=1):
            names.append(f"-{letter}")
            if letter not in short_flags:
                rest = arg[i + 1:]
                if rest:
                    options.append(Option([arg], names, rest.removeprefix("="), inline=True))
                    n += 1
                else:
                    options.append(Option(args[n:n + 2], names, args[n + 1] if n + 1 < len(args) else ""))
                    n += 2
                break
        else:
            options.append(Option([arg], names, "", inline=True))
            n += 1
    return options, []


@value
class NewCommand:
    """What `generate systemd --new` needs of a container's create command."""

    argv: list[str]  # ExecStart's words after the executable (global options, run, options, image, command), escaped
    restart: str | None  # the container's --restart policy as systemd says it, when it had one
    retries: str  # its on-failure:N retries (StartLimitBurst=N); "" for none
    env_names: list[str]  # `-e NAME` without a value: the unit sets them (from the container's environment)


def split_subcommand(argv: list[str], words: tuple[str, ...]) -> int:
    """The index of the first of `words` in argv (after argv[0], the program), or 0 when none is there."""
    return next((i for i, arg in enumerate(argv[1:], start=1) if arg in words), 0)


def container_command(create_command: list[str], *, pod_id_file: str | None = None, template: bool = False) -> NewCommand:
    """The container's create command as a `run` for a `--new` unit. ValueError when it is not one."""
    index = split_subcommand(create_command, ("run", "create"))
    if index == 0:
        raise ValueError(f"container's create command is too short or invalid: [{' '.join(create_command)}]")
    options, positionals = parse(create_command[index + 1:], RUN_FLAGS, RUN_SHORT_FLAGS)
    detach = has_name = replace = sdnotify = False
    restart = None
    env_names = []
    kept: list[str] = []
    for opt in options:
        names = set(opt.names)
        if names & {"--rm", "--cgroups", "--cidfile", "--restart"}:  # the unit's own, or systemd's
            if "--restart" in names:
                restart = opt.value
            continue
        if pod_id_file is not None and names & {"--pod", "--pod-id-file"}:
            continue
        if names & {"--detach", "-d"}:
            if "--detach" in names and opt.value not in TRUE:
                continue  # --detach=false: the unit's run must detach
            detach = True
        if "--replace" in names:
            if opt.value not in TRUE:
                continue  # --replace=false: a named container's unit replaces what is left
            replace = True
        if "--sdnotify" in names:
            sdnotify = True
        if names & {"--env", "-e"} and "=" not in opt.value:
            env_names.append(opt.value)
        if "--name" in names:
            has_name = True
            if template:  # one container per instance of the template unit
                kept += [f"{escape(opt.words[0])}-%i"] if opt.inline else [opt.words[0], f"{escape(opt.value)}-%i"]
                continue
        kept += [escape(word) for word in opt.words]
    head = [*map(escape, create_command[1:index]), "run", "--cidfile=%t/%n.ctr-id", "--cgroups=no-conmon", "--rm"]
    if pod_id_file is not None:
        head += ["--pod-id-file", pod_id_file]
    if not sdnotify:
        head.append("--sdnotify=conmon")
    if not detach:
        head.append("-d")
    if has_name and not replace:
        head.append("--replace")
    retries = restart.partition(":")[2] if restart else ""
    return NewCommand([*head, *kept, *map(escape, positionals)], systemd_restart(restart) if restart else None,
                      retries, env_names)


def systemd_restart(policy: str) -> str:
    """A container's --restart as systemd's Restart= (on-failure:3 retries: on-failure; unless-stopped: always)."""
    name = policy.partition(":")[0]
    return "always" if name == "unless-stopped" else name


def pod_command(create_command: list[str], *, pid_file: str, pod_id_file: str) -> list[str]:
    """The pod's create command for a `--new` pod unit's ExecStartPre, escaped but the files (which
    carry the unit's specifiers); ValueError when it is not one."""
    index = next((i for i, arg in enumerate(create_command[1:], start=1)
                  if arg == "create" and create_command[i - 1] == "pod"), 0)
    if index == 0:
        raise ValueError(f"pod's create command is too short or invalid: [{' '.join(create_command)}]")
    options, positionals = parse(create_command[index + 1:], POD_CREATE_FLAGS)
    kept, has_name, replace = [], False, False
    for opt in options:
        names = set(opt.names)
        if names & {"--infra-conmon-pidfile", "--pod-id-file", "--exit-policy"}:
            continue
        if "--replace" in names:
            if opt.value not in TRUE:
                continue
            replace = True
        if names & {"--name", "-n"}:
            has_name = True
        kept += opt.words
    tail = ["--replace"] if (has_name or positionals) and not replace else []
    return [*map(escape, create_command[1:index + 1]), "--infra-conmon-pidfile", pid_file, "--pod-id-file", pod_id_file,
            "--exit-policy=stop", *map(escape, [*kept, *positionals]), *tail]


# -- systemd's quoting -------------------------------------------------------------------------

def escape(arg: str) -> str:
    """One word as an Exec line's word: `\\` and `"` escaped, `%` and `$` doubled (systemd's
    specifiers and variables), quoted when it holds blanks. The generator's own words, which
    carry specifiers (%t, %n, %i), are never passed through here."""
    text = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    if any(c in text for c in " \t\n") or text == "":
        return f'"{text}"'
    return text


def format_words(words: list[str]) -> str:
    """The words of an Exec line, each option on a line of its own (as podman writes units)."""
    text = words[0] if words else ""
    for word in words[1:]:
        text += f" \\\n\t{word}" if word.startswith("-") else f" {word}"
    return text
