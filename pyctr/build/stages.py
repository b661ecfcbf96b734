"""A parsed Containerfile as stages: the ARGs before the first FROM (usable in FROM lines), each
stage's instructions, the stage to build (`--target`, else the last), and the stages it needs
(FROM an earlier stage, COPY --from, RUN --mount from=), in order. Pure."""

from __future__ import annotations

from dataclasses import field

from pyctr.build import words
from pyctr.build.parser import Containerfile, Instruction, ParseError
from pyctr.values import value


@value
class Stage:
    index: int
    name: str  # the AS name, else ""
    base: str  # the FROM image, expanded ("scratch", a stage's name, or a reference)
    platform: str  # FROM --platform=, expanded ("" for none)
    instructions: list[Instruction] = field(default_factory=list)  # FROM first

    @property
    def from_instruction(self) -> Instruction:
        return self.instructions[0]


@value
class Plan:
    global_args: dict[str, str]  # ARG NAME[=default] before the first FROM, with --build-arg values
    stages: list[Stage]
    target: int  # the index of the stage to build
    needed: list[int]  # stage indexes to build, in order (the target last)


def plan(cf: Containerfile, build_args: dict[str, str], target: str | None = None, *,
         file: str = "Containerfile", predefined: dict[str, str] | None = None) -> Plan:
    global_args: dict[str, str] = dict(predefined or {})
    stages: list[Stage] = []
    for ins in cf.instructions:
        if ins.command == "FROM":
            scope = dict(global_args)
            found = words.words(ins.rest, scope, cf.escape)
            if not found or len(found) not in (1, 3) or (len(found) == 3 and found[1].lower() != "as"):
                raise ParseError("FROM: expected an image and optionally AS NAME", file=file, line=ins.line)
            name = found[2].lower() if len(found) == 3 else ""
            platform = words.expand(ins.flag("platform", "") or "", scope, cf.escape)
            stages.append(Stage(len(stages), name, found[0], platform, [ins]))
        elif not stages:
            if ins.command != "ARG":
                raise ParseError(f"{ins.command}: no FROM before it (only ARG may come first)", file=file, line=ins.line)
            for word in words.words(ins.rest, global_args, cf.escape):
                key, sep, default = word.partition("=")
                global_args[key] = build_args.get(key, default if sep else global_args.get(key, ""))
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise ParseError("no FROM instruction", file=file)
    if target:
        index = next((s.index for s in stages if s.name == target.lower()), None)
        if index is None:
            raise ParseError(f"the target {target!r} was not found in the stages of {file}", file=file)
    else:
        index = len(stages) - 1
    return Plan(global_args, stages, index, _needed(stages, index))


def stage_refs(stage: Stage) -> set[str]:
    """The names or indexes of the stages (or images) a stage reads from."""
    refs = {stage.base.lower()}
    for ins in stage.instructions[1:]:
        source = ins.flag("from") if ins.command in ("COPY", "ADD") else None
        if source:
            refs.add(source.lower())
        if ins.command == "RUN":
            for mount in ins.flag_values("mount"):
                for part in mount.split(","):
                    key, _, val = part.partition("=")
                    if key == "from":
                        refs.add(val.lower())
    return refs


def find_stage(stages: list[Stage], ref: str, before: int) -> Stage | None:
    """The earlier stage `ref` names (its AS name, or its index), if any."""
    ref = ref.lower()
    for stage in stages[:before]:
        if stage.name == ref or str(stage.index) == ref:
            return stage
    return None


def _needed(stages: list[Stage], target: int) -> list[int]:
    wanted = {target}
    for index in range(target, -1, -1):
        if index not in wanted:
            continue
        for ref in stage_refs(stages[index]):
            found = find_stage(stages, ref, index)
            if found is not None:
                wanted.add(found.index)
    return sorted(wanted)
