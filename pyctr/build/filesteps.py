"""RUN, COPY and ADD: what a step's cache key depends on (prepared before anything is mounted),
and what it does in its mounted root (`execute`, which returns the step's history `created_by`)."""

from __future__ import annotations

import os
import posixpath
import tempfile
from typing import Callable

from pyctr.build import copystep, words
from pyctr.build.parser import Instruction
from pyctr.errors import InvalidArgument, NotFound
from pyctr.values import value

_COPY_FLAGS = ("from", "chown", "chmod", "link")
_RUN_FLAGS = ("mount", "network", "security")
MODES = ("bridge", "slirp4netns", "host", "private", "none")  # RUN's networks; "": a container's default


@value
class Prepared:
    inputs: str  # a digest of what the step reads besides its parent
    args: dict[str, str]  # the build arguments it depends on
    execute: Callable = None  # (StepRoot) -> created_by


def _check_flags(ins: Instruction, allowed: tuple[str, ...]) -> None:
    for item in ins.flags:
        name = item[2:].partition("=")[0]
        if name not in allowed:
            raise InvalidArgument(f"unknown flag: --{name}")


# -- RUN -------------------------------------------------------------------------------------------

def run_args(run, ins: Instruction) -> list[str]:
    """The command: exec form as is; shell form through the stage's SHELL; heredocs as the shell reads them."""
    if ins.json is not None:
        return list(ins.json)
    if ins.heredocs:
        marker_only = all(part.startswith("<<") for part in ins.rest.split())
        if marker_only:
            return list(run.shell) + ["".join(h.content for h in ins.heredocs)]
        script = ins.rest + "\n" + "".join(f"{h.content}{h.name}\n" for h in ins.heredocs)
        return list(run.shell) + [script]
    if not ins.rest:
        raise InvalidArgument("RUN requires at least one argument")
    return list(run.shell) + [ins.rest]


def prepare_run(run, ins: Instruction) -> Prepared:
    from pyctr.build import mounts as mountsmod

    _check_flags(ins, _RUN_FLAGS)
    network = ins.flag("network") or run.b.network
    if network not in MODES + ("default", ""):
        raise InvalidArgument(f"RUN --network={network}: use default, bridge, slirp4netns, host, private or none")
    if ins.flag("security") not in (None, "sandbox"):
        raise InvalidArgument("RUN --security=insecure is not supported")
    args = run_args(run, ins)
    specs = [mountsmod.parse(text, run.env(), run.b.escape) for text in ins.flag_values("mount")]
    in_scope = dict(run.args)

    def execute(step) -> str:
        config = run.state.config.get("config", {})
        env = list(config.get("Env") or [])
        names = {e.partition("=")[0] for e in env}
        env += [f"{k}={v}" for k, v in in_scope.items() if k not in names]  # build arguments, under ENV
        env += [f"{k}={v}" for k, v in run.b.run_env.items()]
        oci_mounts = list(run.b.volumes) + [mountsmod.to_oci(m, run, step) for m in specs]
        status = step.run(args=args, env=env, workdir=config.get("WorkingDir") or "/", user=config.get("User") or "",
                          hostname=digest_of(step.container_id)[:12], network=network if network in MODES else "",
                          mounts=oci_mounts, image_name=run.state.base_name or "scratch",
                          stdout=run.b.stdout, stderr=run.b.stderr, etc=run.b.etc,
                          template=run.b.step_spec)
        if status != 0:
            from pyctr.build.executor import StepFailed

            raise StepFailed(f'building at STEP "{ins.original}": while running runtime: exit status {status}', status)
        return "/bin/sh -c " + ins.original.split(None, 1)[1]  # buildah's: what follows RUN, options too

    inputs = "|".join(mountsmod.cache_input(m, run) for m in specs)
    return Prepared(inputs + "|" + run_settings(run, network, specs), in_scope, execute)


def run_settings(run, network: str, specs: list[dict]) -> str:
    """What a RUN step runs with besides its command, as part of its cache key: its limits,
    capabilities and devices (--cap-drop, --ulimit, ...), --env, its network, --volume, its /etc
    files and the secrets it mounts (their ids and where they come from, never their content).
    buildah 1.28 keys on the command alone; pyctr reruns a step whose outcome these may change."""
    import json

    secrets = sorted((m["id"], run.b.secrets.get(m["id"], "")) for m in specs if m["type"] == "secret")
    return digest_of(json.dumps([run.b.step_spec, sorted(run.b.run_env.items()), network, run.b.volumes,
                                 run.b.etc, secrets], sort_keys=True, default=str))


# -- COPY and ADD ------------------------------------------------------------------------------------

def prepare_copy(run, ins: Instruction) -> Prepared:
    from pyctr.build.context import digest_tree

    _check_flags(ins, _COPY_FLAGS)
    env = run.env()
    escape = run.b.escape
    chown = words.expand(ins.flag("chown") or "", env, escape) or None
    chmod = copystep.parse_chmod(words.expand(ins.flag("chmod") or "", env, escape) or None)
    source_stage = words.expand(ins.flag("from") or "", env, escape) or None
    if ins.heredocs:
        items = words.words(ins.rest, env, escape)
        dest = items[-1] if len(items) > 1 else ""
        if not dest:
            raise InvalidArgument(f"{ins.command} requires at least two arguments")
        docs = [(h.name, words.expand(h.content, env, escape) if h.expand else h.content) for h in ins.heredocs]
        inputs = "heredoc:" + "|".join(f"{n}={c}" for n, c in docs) + f"|{chown}|{chmod}|{dest}"

        def execute_heredoc(step) -> str:
            plan = copystep.Plan(str(step.merged), copystep.chown_ids(str(step.merged), chown), chmod)
            base, is_dir = copystep.destination(dest, run.state.config.get("config", {}).get("WorkingDir") or "/")
            for name, content in docs:
                target = posixpath.join(base, name) if is_dir or len(docs) > 1 else base
                rel = target.lstrip("/")
                plan.ensure_dir(posixpath.dirname(rel))
                data = content.encode()
                import io
                import time

                plan.add_stream(rel, io.BytesIO(data), len(data), 0o644, int(time.time()))
            plan.apply(rootless=run.b.services.config.rootless, shown=dest)
            return f"/bin/sh -c #(nop) {ins.command} heredoc in {dest} "

        return Prepared(digest_of(inputs), run.args_used(ins.rest), execute_heredoc)
    items = ins.json if ins.json is not None else words.words(ins.rest, env, escape)
    if len(items) < 2:
        raise InvalidArgument(f"{ins.command} requires at least two arguments, but got {len(items)}")
    patterns, dest = items[:-1], items[-1]
    urls = [p for p in patterns if p.startswith(("http://", "https://"))]
    if urls and ins.command == "COPY":
        raise InvalidArgument(f"COPY does not fetch URLs (use ADD): {urls[0]}")
    if urls and source_stage:
        raise InvalidArgument("ADD --from cannot fetch a URL")
    extra = f"{chown}|{chmod}|{dest}|{ins.command}"
    if source_stage:
        from_state = state_of_source(run, source_stage)
        inputs = digest_of(f"{from_state.id}|{patterns}|{extra}")
        rels = None
    else:
        ctx = run.b.context
        rels = []
        for pattern in patterns:
            if pattern in urls:
                continue
            found = ctx.sources(pattern)
            if not found:
                raise NotFound(f"no such file: {pattern}")
            rels.append(found)
        inputs = digest_tree(ctx, [r for group in rels for r in group], extra + "|" + "|".join(urls))

    def execute(step) -> str:
        rootfs = str(step.merged)
        plan = copystep.Plan(rootfs, copystep.chown_ids(rootfs, chown), chmod)
        workdir = run.state.config.get("config", {}).get("WorkingDir") or "/"
        base, named_dir = copystep.destination(dest, workdir)
        sources: list[copystep.Source] = []
        if source_stage:
            root = step.build.image_root(state_of_source(run, source_stage).chain_ids)
            for pattern in patterns:
                found = _glob_in(root, pattern)
                if not found:
                    raise NotFound(f"no such file: {pattern} in {source_stage}")
                sources += [copystep.Source(root, rel, copystep.walk_plain(root)) for rel in found]
        else:
            ctx = run.b.context
            for group in rels:
                sources += [copystep.Source(ctx.dir, rel, ctx.walk) for rel in group]
        count = len(sources) + len(urls)
        into_dir = named_dir or count > 1 or plan.exists_dir(base.lstrip("/"))
        if count > 1 and not named_dir and not plan.exists_dir(base.lstrip("/")):
            raise InvalidArgument(f"when using {ins.command} with more than one source file, "
                                  f"the destination must be a directory and end with a /")
        dest_rel = base.lstrip("/")
        if into_dir:
            plan.ensure_dir(dest_rel, owned=True)  # a directory made for the copy is the copy's owner's
        kinds = set()
        for source in sources:
            own_name = posixpath.basename(source.rel)
            if os.path.islink(source.path()):  # a source named is followed (inside its root), as Docker's
                real = copystep.resolve_in(source.root, "/" + source.rel, follow_last=True)
                if not os.path.lexists(os.path.join(source.root, real)):
                    raise NotFound(f"no such file: {source.rel} (a dangling symbolic link)")
                source = copystep.Source(source.root, real, source.walker)
            path = source.path()
            if os.path.isdir(path):
                kinds.add("dir")
                plan.ensure_dir(dest_rel, owned=True)
                plan.add_tree(source, dest_rel)
            elif ins.command == "ADD" and not source_stage and copystep.is_archive(path):
                kinds.add("file")
                plan.ensure_dir(dest_rel)
                plan.add_archive(path, dest_rel)
            else:
                kinds.add("file")
                name = posixpath.join(dest_rel, own_name) if into_dir else dest_rel
                plan.ensure_dir(posixpath.dirname(name))
                plan.add_tree(source, name)
        for url in urls:
            kinds.add("file")
            _add_url(plan, url, dest_rel, into_dir)
        plan.apply(rootless=run.b.services.config.rootless, shown=dest)
        kind = "multi" if count > 1 else (kinds.pop() if kinds else "file")
        return f"/bin/sh -c #(nop) {ins.command} {kind}:{inputs} in {dest} "

    return Prepared(inputs, run.args_used(ins.rest + " ".join(ins.flags)), execute)


def digest_of(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def state_of_source(run, name: str):
    """COPY --from: an earlier stage (by name or index), else an image."""
    from pyctr.build.stages import find_stage

    stage = find_stage(run.b.stages, name, run.stage.index)
    if stage is not None:
        return run.b.results[stage.index]
    cached = run.b.from_images.get(name)
    if cached is None:
        cached = run.b.image_state(name, run.b.platform)
        run.b.from_images[name] = cached
    return cached


def _glob_in(root: str, pattern: str) -> list[str]:
    """Paths (relative to `root`) that `pattern` names inside another stage's root."""
    import fnmatch

    rel = copystep.resolve_in(root, posixpath.normpath("/" + pattern))
    if not any(c in rel for c in "*?["):
        return [rel] if os.path.lexists(os.path.join(root, rel)) or rel == "" else []
    parent, _, leaf = rel.rpartition("/")
    parent = copystep.resolve_in(root, "/" + parent, follow_last=True) if parent else ""
    try:
        names = sorted(os.listdir(os.path.join(root, parent) if parent else root))
    except OSError:
        return []
    return [f"{parent}/{n}" if parent else n for n in names if fnmatch.fnmatchcase(n, leaf)]


def _add_url(plan, url: str, dest_rel: str, into_dir: bool) -> None:
    """ADD URL: fetched (httpx, through the registry client), mode 0600 as Docker's."""
    import time
    from urllib.parse import urlparse

    from pyctr.image.registry import fetch_url

    name = posixpath.basename(urlparse(url).path) or "index.html"
    target = posixpath.join(dest_rel, name) if into_dir else dest_rel
    with tempfile.TemporaryFile() as spool:
        fetch_url(url, lambda stream: _spool(stream, spool))
        size = spool.tell()
        spool.seek(0)
        plan.ensure_dir(posixpath.dirname(target))
        plan.add_stream(target, spool, size, 0o600, int(time.time()))


def _spool(stream, out) -> None:
    while chunk := stream.read(1 << 20):
        out.write(chunk)
