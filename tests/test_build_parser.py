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


def test_an_optional_value_option_as_pflag_reads_it():
    import typer

    from pyctr.cli import build, parsing

    app = parsing.PyctrTyper()
    build.register(app)
    params = typer.main.get_command(app).params

    def split(*args):
        found = parsing.split(params, list(args))
        return found.values.get("pull"), found.positional

    assert split("--pull", ".") == ("true", ["."])  # bare: podman's no-option default, "true" (always)
    assert split("--pull=never", ".") == ("never", ["."])
    assert split("--pull", "always") == ("true", ["always"])  # the next word is not its value
    assert split(".") == (None, ["."])
    assert split("-f", "x", ".") == (None, ["."])  # other options still take the next word


def test_platforms_the_host_runs(tmp_path):
    from pyctr.build import platforms
    from pyctr.image import oci

    host = oci.Platform.host()
    assert platforms.split(["linux/amd64,linux/arm64", "linux/arm64"]) == ["linux/amd64", "linux/arm64"]
    with pytest.raises(InvalidArgument, match="invalid platform"):
        platforms.split(["linux"])
    assert platforms.host_runs(f"linux/{host.architecture}", str(tmp_path))
    assert not platforms.host_runs("linux/s390x", str(tmp_path))
    (tmp_path / "qemu-s390x").write_text("disabled\ninterpreter /usr/bin/qemu-s390x\n")
    assert not platforms.host_runs("linux/s390x", str(tmp_path))
    (tmp_path / "qemu-s390x").write_text("enabled\ninterpreter /usr/bin/qemu-s390x\n")
    assert platforms.host_runs("linux/s390x", str(tmp_path))
    plan = stages.plan(parse("FROM scratch\nCOPY a /\n"), {})
    platforms.check("linux/mips64", plan, binfmt_dir=str(tmp_path))  # nothing to run: any platform will do
    with pytest.raises(InvalidArgument, match="building for linux/mips64: this host cannot run"):
        platforms.check("linux/mips64", stages.plan(parse("FROM scratch\nRUN x\n"), {}), binfmt_dir=str(tmp_path))
    two = stages.plan(parse("FROM --platform=linux/mips64 scratch AS a\nRUN x\nFROM scratch\nCOPY --from=a / /\n"), {})
    with pytest.raises(InvalidArgument, match="building for linux/mips64"):  # FROM --platform's stage
        platforms.check(None, two, binfmt_dir=str(tmp_path))
    platforms.check(None, stages.plan(parse("FROM --platform=linux/mips64 scratch\nCOPY a /\n"), {}),
                    binfmt_dir=str(tmp_path))


def test_squash_history_as_buildah_writes_it():
    from pyctr.build.executor import State
    from pyctr.build.squashing import history

    base = State({"history": [{"created_by": "base"}]}, base_name="busybox")
    entries = [{"created_by": "base"}, {"created_by": "COPY", "comment": "FROM busybox"},
               {"created_by": "ENV", "comment": "FROM 0123456789ab", "empty_layer": True}]
    assert history(entries, base, keep_base=True) == [
        {"created_by": "base"}, {"created_by": "COPY", "empty_layer": True},
        {"created_by": "ENV", "comment": "FROM busybox"}]
    assert history(entries, base, keep_base=False) == history(entries, base, keep_base=True)[1:]


def test_a_squashed_layer_is_the_difference_of_two_trees(tmp_path):
    import io
    import os
    import tarfile

    from pyctr.image.squash import write_diff

    base, top = tmp_path / "base", tmp_path / "top"
    for root in (base, top):
        (root / "etc").mkdir(parents=True)
        (root / "etc" / "same").write_text("same")
        os.utime(root / "etc" / "same", (1, 1))
        os.utime(root / "etc", (1, 1))
    (base / "gone").mkdir()
    (base / "gone" / "x").write_text("x")
    (base / "etc" / "old").write_text("old")
    (top / "etc" / "new").write_text("new")
    (top / "link").symlink_to("etc/new")
    os.utime(top / "etc", (1, 1))
    out = io.BytesIO()
    write_diff(str(top), str(base), out)
    names = [m.name for m in tarfile.open(fileobj=io.BytesIO(out.getvalue())).getmembers()]
    # etc: unchanged itself, written for what changed in it; a whiteout per name that is gone
    assert names == [".wh.gone", "etc", "etc/.wh.old", "etc/new", "link"]
    out = io.BytesIO()
    write_diff(str(top), None, out, mtime=7)
    members = tarfile.open(fileobj=io.BytesIO(out.getvalue())).getmembers()
    assert [m.name for m in members] == ["etc", "etc/new", "etc/same", "link"] and {m.mtime for m in members} == {7}


def test_writable_overlays_turn_redirect_dir_and_metacopy_off(monkeypatch, tmp_path):
    from pyctr.linux import mount as mountmod

    calls = []
    monkeypatch.setattr(mountmod, "mount", lambda *args: calls.append(args))
    known = mountmod.os.path.exists
    monkeypatch.setattr(mountmod.os.path, "exists",  # a kernel that knows both options
                        lambda path: True if str(path).startswith("/sys/module/overlay/") else known(path))
    lowers = [str(tmp_path / "l" / "a"), str(tmp_path / "l" / "b")]
    for path in lowers:
        mountmod.os.makedirs(path)
    mountmod._kernel_overlay(lowers, "/t", "/u", "/w", ())
    assert calls[0][4].endswith(",upperdir=/u,workdir=/w,redirect_dir=off,metacopy=off")
    mountmod._kernel_overlay(lowers, "/t", None, None, ())  # read-only: nothing is written there
    assert "redirect_dir" not in calls[1][4]
    mountmod._kernel_overlay(lowers, "/t", "/u", "/w", ("userxattr",))  # the kernel turns them off (and refuses "off")
    assert calls[2][4].endswith(",upperdir=/u,workdir=/w,userxattr")
