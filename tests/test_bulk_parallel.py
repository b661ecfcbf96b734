"""stop -a and rm -fa act on many containers at once (threads), and still keep podman's order
where one container depends on another (the dependent goes first)."""

from __future__ import annotations

from pyctr.engine import Engine


def ids(pyctr, *names: str) -> list[str]:
    return [pyctr("inspect", "-f", "{{.Id}}", n).stdout.strip() for n in names]


def test_stop_all_and_rm_all_in_parallel(pyctr, image):
    running = [f"bp{n}" for n in range(5)]
    for name in running:
        pyctr("run", "-d", "--network", "none", "--name", name, image, "sleep", "100")
    pyctr("create", "--name", "bpbase", image, "true")
    pyctr("create", "--name", "bpneeds", "--requires", "bpbase", image, "true")
    stopped = pyctr("stop", "-a", "-t", "0")
    assert sorted(stopped.stdout.split()) == sorted(ids(pyctr, *running))
    assert pyctr("ps", "-q").stdout == ""
    for name in running:
        assert pyctr("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name).stdout == "exited 137\n"
    for name in running[:3]:
        pyctr("start", name)
    everything = ids(pyctr, *running, "bpbase", "bpneeds")
    removed = pyctr("rm", "-fa").stdout.split()
    assert sorted(removed) == sorted(everything)
    base, needs = everything[-2:]
    assert removed.index(needs) < removed.index(base)  # the dependent first, as podman
    assert pyctr("ps", "-aq").stdout == ""


def test_independent_leaves_out_dependents_and_pods(pyctr, image):
    for name in ("ia", "ib"):
        pyctr("create", "--name", name, image, "true")
    pyctr("create", "--name", "ic", "--requires", "ia", image, "true")
    engine = Engine(str(pyctr.store.root), str(pyctr.store.runroot))
    names = ["ic", "ib", "ia", "nope"]
    assert engine.containers._independent(names) == [1]  # ib only: ia and ic depend on each other; nope is not there
