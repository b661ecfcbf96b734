"""Building: the stages of a Containerfile, step by step, into an image.

A stage's state is an image config (with its history) and its layers; every step makes a new
state whose ID is the ID the image would have if committed then (the digest of its config), so
that a build whose every step comes from the cache gives the very same image as before. Steps that
change files (RUN, COPY, ADD) work on an overlay of the state's layers (pyctr.build.runstep), and
their upper directory becomes one new layer; the others only change the config and history
(`empty_layer`), as buildah records them.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import field
from typing import Callable

from pyctr import digest as digestmod
from pyctr.build import cache as cachemod
from pyctr.build import metadata, words
from pyctr.build.parser import Instruction
from pyctr.build.stages import Stage, find_stage
from pyctr.errors import InvalidArgument, PyctrError
from pyctr.values import value

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_DROPPED = ("rootfs", "container", "container_config", "docker_version", "comment")


@value
class BuildEvent:
    """What the front end shows: step (a STEP line), cached (the ID reused), id (a step's result),
    commit (the name committed), tagged (a name given), warning; image (a platform's image ID, in a
    build for several)."""
    kind: str
    text: str = ""
    stage: str = ""  # commit: the stage's prefix ("[2/2] ") in a multi-stage build
    platform: str = ""  # in a build for several platforms: the one this event is of


class StepFailed(PyctrError):
    """A RUN whose command failed: exits with the command's status, as podman."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.exit_code = status


def now(timestamp: int | None = None) -> str:
    """A created date: now, or --timestamp's (whole seconds, as buildah writes it)."""
    if timestamp is not None:
        return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def state_id(config: dict, diff_ids: list[str]) -> str:
    """The ID of the image this state would be (pyctr.image.newimage.ImageMaker.image writes the same bytes)."""
    return digestmod.hex_of(digestmod.of_bytes(json.dumps(canonical(config, diff_ids), separators=(",", ":")).encode()))


def canonical(config: dict, diff_ids: list[str]) -> dict:
    """The config with its rootfs, keys sorted at every level: the same bytes whether it was just
    made or read back from the cache (whose files are written with sorted keys)."""
    whole = {k: v for k, v in config.items() if k != "rootfs"}
    whole["rootfs"] = {"type": "layers", "diff_ids": list(diff_ids)}
    whole = json.loads(json.dumps(whole, sort_keys=True))
    whole["rootfs"] = {"type": "layers", "diff_ids": list(diff_ids)}  # as ImageMaker.image sets it
    return whole


@value
class State:
    config: dict  # the whole image config, less rootfs
    layers: list[dict] = field(default_factory=list)  # descriptors
    diff_ids: list[str] = field(default_factory=list)
    chain_ids: list[str] = field(default_factory=list)
    id: str = ""
    base_name: str = ""  # the FROM image (the first history comment)

    def to_json(self) -> dict:
        return {"config": self.config, "layers": self.layers, "diff_ids": self.diff_ids,
                "chain_ids": self.chain_ids, "id": self.id}

    def copy(self) -> "State":
        return State(json.loads(json.dumps(self.config)), list(self.layers), list(self.diff_ids),
                     list(self.chain_ids), self.id, self.base_name)


class StageRun:
    """One stage being built."""

    def __init__(self, builder, stage: Stage, number: int, total: int, global_args: dict[str, str]):
        self.b, self.stage = builder, stage
        self.prefix = f"[{number}/{total}] " if total > 1 else ""
        self.global_args = global_args
        self.args: dict[str, str] = {}  # the ARGs declared in this stage
        self.shell = ["/bin/sh", "-c"]
        self.cmd_set = False
        self.state: State | None = None

    # -- expansion -----------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """Variables for expansion: the stage's ARGs, then the config's Env over them."""
        out = dict(self.args)
        for item in self.state.config.get("config", {}).get("Env") or []:
            key, _, val = item.partition("=")
            out[key] = val
        return out

    def args_used(self, text: str) -> dict[str, str]:
        names = words.used(text)
        return {k: v for k, v in self.args.items() if k in names}

    # -- the stage -----------------------------------------------------------------------------

    def run(self, final: bool) -> State:
        instructions = self.stage.instructions
        total = len(instructions)
        self.b.say("step", f"{self.prefix}STEP 1/{total}: {self._shown(instructions[0])}")
        self.state = self._guarded(instructions[0], lambda: self.b.base_state(self.stage))
        triggers = list(self.state.config.get("config", {}).get("OnBuild") or [])
        if triggers:
            from pyctr.build.parser import parse

            self.state.config["config"].pop("OnBuild", None)
            for ins in parse("\n".join(triggers), file=self.b.file).instructions:
                self.step(ins)
        for number, ins in enumerate(instructions[1:], 2):
            self.b.say("step", f"{self.prefix}STEP {number}/{total}: {self._shown(ins)}")
            self.step(ins)
            if number < total or not final:
                self.b.say("id", self.state.id[:11])
        if total == 1 and not final:
            self.b.say("id", self.state.id[:11])
        return self.state

    def _shown(self, ins: Instruction) -> str:
        if ins.command == "FROM":  # podman shows FROM with its variables expanded
            return ins.original.replace(ins.rest, words.expand(ins.rest, self.global_args, self.b.escape)) \
                if "$" in ins.rest else ins.original
        return ins.original

    def step(self, ins: Instruction) -> None:
        self._guarded(ins, lambda: self._step(ins))

    def _guarded(self, ins: Instruction, work):
        """work(), its errors naming the file, line and instruction (a failed RUN has podman's words)."""
        try:
            return work()
        except StepFailed:
            raise
        except PyctrError as exc:
            message = str(exc)
            if not message.startswith(f"{self.b.file}:"):
                exc.args = (f"{self.b.file}:{ins.line}: {ins.command}: {message}",)
            raise

    def _step(self, ins: Instruction) -> None:
        command = ins.command
        warning = metadata.warning_for(ins, self.b.oci)
        if warning:
            self.b.say("warning", warning)
        if command == "ARG":  # no history entry; cached all the same, as buildah's
            declared = self._arg(ins)
            key = self._key(ins, "", {k: self.args[k] for k in declared})
            if not self._cached(key):
                self._store(key)
            return
        if command == "SHELL" and ins.json is not None:
            self.shell = list(ins.json)
        if command in ("RUN", "COPY", "ADD"):
            self._files_step(ins)
            return
        if command == "CMD":
            self.cmd_set = True
        key = self._key(ins, "", self.args_used(ins.rest))
        if self._cached(key):
            return
        new = self.state.copy()
        metadata.apply(ins, new.config, self.env(), self.b.escape, oci=self.b.oci, cmd_set=self.cmd_set)
        self._commit_metadata(new, f"/bin/sh -c #(nop) {ins.original}")
        self._store(key)

    def _arg(self, ins: Instruction) -> list[str]:
        declared = []
        for word in words.words(ins.rest, self.env(), self.b.escape):
            key, sep, default = word.partition("=")
            if not key:
                raise InvalidArgument("ARG requires a name")
            if key in self.b.build_args:
                self.args[key] = self.b.build_args[key]
            elif sep:
                self.args[key] = default
            else:
                self.args[key] = self.global_args.get(key, "")
            self.b.used_args.add(key)
            declared.append(key)
        return declared

    # -- cache ---------------------------------------------------------------------------------

    def _key(self, ins: Instruction, inputs: str, args: dict[str, str]) -> str:
        if self.b.timestamp is not None:  # its dates (and files' times) are part of what the step makes
            inputs += f"|timestamp={self.b.timestamp}"
        return cachemod.key(self.state.id, ins.original, inputs, args)

    def _cached(self, key: str) -> bool:
        if not self.b.use_cache:
            return False
        entry = self.b.cache.get(key)
        if entry is None:
            return False
        self.state = State(entry["config"], entry["layers"], entry["diff_ids"], entry["chain_ids"], entry["id"],
                           self.state.base_name)
        self.b.say("cached", self.state.id)
        return True

    def _store(self, key: str) -> None:
        if self.b.layers:
            self.b.cache.put(key, self.state.to_json())

    # -- committing a step -----------------------------------------------------------------------

    def _history(self, new: State, created_by: str, *, empty: bool) -> None:
        config = new.config
        entry: dict = {"created": now(self.b.timestamp), "created_by": created_by}
        if config.get("author"):
            entry["author"] = config["author"]
        comment = f"FROM {self.state.id[:12]}" if self.state.id != self.b.base_ids.get(self.stage.index) \
            else (f"FROM {self.state.base_name}" if self.state.base_name else "")
        if comment:
            entry["comment"] = comment
        if empty:
            entry["empty_layer"] = True
        config["history"] = list(config.get("history") or []) + [entry]
        config["created"] = entry["created"]

    def _commit_metadata(self, new: State, created_by: str) -> None:
        self._history(new, created_by, empty=True)
        new.id = state_id(new.config, new.diff_ids)
        self.state = new

    def _commit_layer(self, new: State, upper: str, created_by: str) -> None:
        from pyctr.image import layertar

        self._history(new, created_by, empty=False)
        stamp = self.b.timestamp  # with --timestamp the layer's files' times differ from the upper's
        desc, diff_id, chain_id = self.b.maker.layer(lambda out: layertar.write_layer(upper, out, mtime=stamp),
                                                     new.chain_ids[-1] if new.chain_ids else None,
                                                     unpacked=upper if stamp is None else None)
        new.layers.append(desc)
        new.diff_ids.append(diff_id)
        new.chain_ids.append(chain_id)
        new.id = state_id(new.config, new.diff_ids)
        self.state = new

    # -- RUN, COPY, ADD ----------------------------------------------------------------------------

    def _files_step(self, ins: Instruction) -> None:
        from pyctr.build import filesteps

        if ins.command == "RUN":
            prepared = filesteps.prepare_run(self, ins)
        else:
            prepared = filesteps.prepare_copy(self, ins)
        key = self._key(ins, prepared.inputs, prepared.args)
        if self._cached(key):
            return
        step = self.b.build_dir.step()
        try:
            step.mount(self.b.layer_store, self.state.chain_ids)
            created_by = prepared.execute(step)
            step.unmount()
            new = self.state.copy()
            self._commit_layer(new, str(step.upper), created_by)
        finally:
            step.discard()
        self._store(key)


class Builder:
    """The whole build: its stages in order, then the commit of the target stage."""

    def __init__(self, services, *, file: str, escape: str, build_args: dict[str, str], oci: bool,
                 use_cache: bool, layers: bool, pull: str, platform: str | None, network: str,
                 context, report: Callable[[BuildEvent], None], stdout=None, stderr=None,
                 tls_verify: bool | None = None, authfile: str | None = None, progress=None,
                 run_env: dict[str, str] | None = None, volumes: list[dict] | None = None,
                 secrets: dict[str, str] | None = None, etc: dict | None = None, step_spec: dict | None = None,
                 timestamp: int | None = None):
        from pyctr.build.cache import BuildCache
        from pyctr.image.newimage import ImageMaker

        svc = services.images
        self.services, self.file, self.escape = services, file, escape
        self.build_args, self.oci, self.layers = build_args, oci, layers
        self.use_cache = use_cache and layers
        self.pull, self.platform, self.network, self.context = pull, platform, network, context
        self.report, self.stdout, self.stderr = report, stdout, stderr
        self.tls_verify, self.authfile, self.progress = tls_verify, authfile, progress
        self.run_env, self.volumes = run_env or {}, volumes or []
        self.secrets = secrets or {}
        self.step_spec = step_spec  # RUN steps' ContainerSpec (to_json) beyond the defaults
        self.timestamp = timestamp  # --timestamp: every created date and layer file time (seconds)
        self.etc = etc or {}  # RUN steps' /etc files: add_hosts, dns_servers, dns_search, dns_options, no_hosts
        self.from_images: dict[str, State] = {}
        self.layer_store = svc.layers
        self.maker = ImageMaker(svc.content, svc.layers, svc.index, rootless=svc.config.rootless)
        self.cache = BuildCache(services.config.root, svc.layers, svc.content)
        self.results: dict[int, State] = {}
        self.stages: list[Stage] = []
        self.base_ids: dict[int, str] = {}
        self.base_states: dict[int, State] = {}  # each stage's FROM state (what --squash squashes onto)
        self.target = -1
        self.used_args: set[str] = set()
        self.build_dir = None
        self.final_prefix = ""

    def say(self, kind: str, text: str = "") -> None:
        self.report(BuildEvent(kind, text))

    def base_state(self, stage: Stage) -> State:
        base = stage.base
        if base.lower() == "scratch":
            from pyctr.image import oci

            host = oci.Platform.parse(stage.platform or self.platform) if (stage.platform or self.platform) \
                else oci.Platform.host()
            config = {"architecture": host.architecture, "os": host.os, "config": {"Env": [DEFAULT_PATH]}}
            if host.variant:
                config["variant"] = host.variant
            state = State(config, id=state_id(config, []))
        else:
            earlier = find_stage(self.stages, base, stage.index)
            if earlier is not None:
                state = self.results[earlier.index].copy()
                state.base_name = state.id[:12]
            else:
                state = self.image_state(base, stage.platform or self.platform)
        self.base_ids[stage.index] = state.id
        self.base_states[stage.index] = state.copy()
        return state

    def image_record(self, name: str, platform: str | None):
        from pyctr.container.create import _ensure_image
        from pyctr.container.spec import ContainerSpec

        if platform and self.pull != "always":
            from pyctr.build.platforms import local_list_instance

            local = local_list_instance(self.services.images, name, platform)
            if local is not None:  # FROM a local manifest list: its entry for the platform built
                return local
        spec = ContainerSpec.for_image(name)
        spec.image.pull, spec.image.platform = self.pull, platform or None
        spec.image.tls_verify, spec.image.authfile = self.tls_verify, self.authfile
        return _ensure_image(self.services.images, spec, self.progress)

    def image_state(self, name: str, platform: str | None) -> State:
        record = self.image_record(name, platform)
        config = self.services.images.config_of(record)
        config = {k: v for k, v in config.items() if k not in _DROPPED}
        config.setdefault("config", {})
        shown = record.names[0] if record.names else name
        return State(config, list(record.layers), list(record.diff_ids), list(record.chain_ids), record.id,
                     base_name=shown)

    def build(self, plan) -> State:
        """The target stage's final state. The caller holds the store's gc lock (shared) until the
        image is recorded: the new layers belong to no image before that."""
        from pyctr.build.runstep import BuildDir, clean_stale

        self.stages, self.target = plan.stages, plan.target
        runc = self.services.tasks.runc
        clean_stale(self.services.config, runc)
        self.build_dir = BuildDir(self.services.config, runc, self.layer_store)
        try:
            for index in plan.needed:  # numbered among all the stages up to the target, as podman's
                stage = plan.stages[index]
                run = StageRun(self, stage, index + 1, plan.target + 1, plan.global_args)
                self.final_prefix = run.prefix
                self.results[index] = run.run(final=index == plan.target)
        finally:
            self.build_dir.close()
        return self.results[plan.target]
