"""The pure parts of build: the Containerfile parser, word expansion, stage planning, ignore
files and config instructions."""

from __future__ import annotations

import pytest

from pyctr.build import metadata, stages, words
from pyctr.build.context import Ignore
from pyctr.build.parser import ParseError, parse
from pyctr.errors import InvalidArgument


def test_continuations_comments_and_forms():
    cf = parse("FROM busybox\n# a comment\nENV A=1 \\\n    B=2\nRUN echo a \\\n# dropped\n  && echo b\n"
               'CMD ["echo", "x"]\nCOPY --from=x --chown=1:2 a b\n')
    env, run, cmd, copy = cf.instructions[1:]
    assert (env.rest, env.original, env.line) == ("A=1     B=2", "ENV A=1     B=2", 3)
    assert run.rest == "echo a   && echo b" and run.line == 5
    assert cmd.json == ["echo", "x"] and run.json is None
    assert copy.flags == ["--from=x", "--chown=1:2"] and copy.flag("from") == "x" and copy.rest == "a b"


def test_directives_and_escape():
    cf = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN echo a `\n  b\n")
    assert (cf.syntax, cf.escape) == ("docker/dockerfile:1", "`")
    assert cf.instructions[1].rest == "echo a   b"
    assert parse("FROM x\n# escape=`\nRUN a \\\n b\n").escape == "\\"  # only before the first instruction
    with pytest.raises(ParseError, match="invalid escape token"):
        parse("# escape=x\nFROM a\n")


def test_heredocs():
    cf = parse("FROM x\nRUN <<EOF\necho a\nEOF\nRUN cat <<-'END' > /f\n\tkept $X\n\tEND\nCOPY <<A <<B /d/\na\nA\nb\nB\n")
    run, run2, copy = cf.instructions[1:]
    assert run.heredocs[0].content == "echo a\n" and run.heredocs[0].expand
    assert run2.heredocs[0].content == "kept $X\n" and not run2.heredocs[0].expand
    assert [h.name for h in copy.heredocs] == ["A", "B"]
    with pytest.raises(ParseError, match="Containerfile:2: RUN: unterminated heredoc EOF"):
        parse("FROM x\nRUN <<EOF\necho\n")


def test_unknown_instruction_names_its_line():
    with pytest.raises(ParseError) as err:
        parse("FROM x\n\nFROB y\n", file="Dockerfile")
    assert str(err.value) == "Dockerfile:3: unknown instruction: FROB"


def test_words():
    env = {"A": "x y", "E": ""}
    assert words.words('a $A "q $A" \'$A\' ${E:-d} ${A:+alt} ${E-unset} \\$A', env) == \
        ["a", "x y", "q x y", "$A", "d", "alt", "", "$A"]
    assert words.expand("/app/${A}", env) == "/app/x y"
    assert words.pairs('K=v K2="two words" K3=$A', env, what="ENV") == [("K", "v"), ("K2", "two words"), ("K3", "x y")]
    assert words.pairs("K the rest", env, what="ENV") == [("K", "the rest")]
    assert words.used("$A ${B:-x} $C_1 plain") == {"A", "B", "C_1"}
    with pytest.raises(InvalidArgument, match="ENV must have two arguments"):
        words.pairs("K", env, what="ENV")


def test_stages_global_args_target_and_needed():
    cf = parse("ARG V=1\nARG BASE=img:$V\nFROM $BASE AS a\nFROM scratch AS b\nFROM a AS c\n"
               "COPY --from=0 /x /x\nFROM b\n")
    plan = stages.plan(cf, {"V": "2"}, "c")
    assert plan.global_args == {"V": "2", "BASE": "img:2"}
    assert [s.base for s in plan.stages] == ["img:2", "scratch", "a", "b"]
    assert (plan.target, plan.needed) == (2, [0, 2])
    assert stages.plan(cf, {}).needed == [1, 3]
    with pytest.raises(ParseError, match="the target 'nope' was not found"):
        stages.plan(cf, {}, "nope")
    with pytest.raises(ParseError, match="Containerfile:1: RUN: no FROM before it"):
        stages.plan(parse("RUN x\n"), {})


def test_ignore_files():
    ignore = Ignore(["# comment", "*.log", "!keep.log", "node_modules", "**/tmp", "/abs/x"])
    excluded = {p: ignore.excluded(p) for p in ["a.log", "keep.log", "node_modules/x/y", "src/tmp/z", "tmp",
                                                 "src/a.py", "abs/x", "sub/a.log"]}
    assert excluded == {"a.log": True, "keep.log": False, "node_modules/x/y": True, "src/tmp/z": True, "tmp": True,
                        "src/a.py": False, "abs/x": True, "sub/a.log": False}


def _apply(line: str, image: dict, *, oci: bool = True, cmd_set: bool = False) -> dict:
    metadata.apply(parse(f"FROM x\n{line}\n").instructions[1], image, {"P": "/p"}, "\\", oci=oci, cmd_set=cmd_set)
    return image


def test_config_instructions():
    image = {"config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]}}
    _apply("ENV PATH=$P:/bin X=1", image)
    assert image["config"]["Env"] == ["PATH=/p:/bin", "X=1"]  # a variable set again moves to the end, as buildah's
    _apply("WORKDIR rel", image)
    _apply("WORKDIR sub/..//dir", image)
    assert image["config"]["WorkingDir"] == "/rel/dir"
    _apply("EXPOSE 80 53/UDP 1000-1002", image)
    assert image["config"]["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}, "1000-1002/tcp": {}}
    _apply("ENTRYPOINT echo hi", image)
    assert image["config"]["Entrypoint"] == ["/bin/sh", "-c", "echo hi"] and "Cmd" not in image["config"]
    _apply("HEALTHCHECK --interval=1m30s --retries=3 CMD curl x", image)
    assert "Healthcheck" not in image["config"]  # the OCI format has none
    _apply("HEALTHCHECK --interval=1m30s --timeout=500ms --retries=3 CMD curl x", image, oci=False)
    assert image["config"]["Healthcheck"] == {"Test": ["CMD-SHELL", "curl x"], "Interval": 90 * 10**9,
                                              "Timeout": 5 * 10**8, "Retries": 3}
    _apply("MAINTAINER me", image)
    assert image["author"] == "me"
    with pytest.raises(InvalidArgument, match="invalid port"):
        _apply("EXPOSE http", image)
