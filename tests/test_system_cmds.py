"""system df/prune/reset (and `system info`), held against podman 4.3.1's output recorded below."""

from __future__ import annotations

import json
import os
import re

from tests.conftest import wait_for

# podman 4.3.1, `system df` (the layout; the numbers are its store's)
PODMAN_DF = """\
TYPE           TOTAL       ACTIVE      SIZE        RECLAIMABLE
Images         1           1           2.029MB     0B (0%)
Containers     4           1           39B         27B (69%)
Local Volumes  2           1           0B          0B (0%)
"""
PODMAN_PRUNE_QUESTION = """\
WARNING! This command removes:
\t- all stopped containers
\t- all networks not used by at least one container
\t- all volumes not used by at least one container
\t- all dangling images
\t- all dangling build cache

Are you sure you want to continue? [y/N] """
PODMAN_RESET_QUESTION = """\
WARNING! This will remove:
        - all containers
        - all pods
        - all images
        - all networks
        - all build cache
        - all machines
        - all volumes
        - the graphRoot directory: "{root}"
        - the runRoot directory: "{runroot}"
Are you sure you want to continue? [y/N] """


def _columns(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.rstrip())


def test_df_layout_is_podmans():
    from pyctr.cli.system import _df_size
    from pyctr.cli.tabwriter import render

    rows = [_columns(line) for line in PODMAN_DF.splitlines()]
    assert render(rows) == PODMAN_DF
    assert [_df_size(n) for n in (0, 39, 2_029_000, 2_027_520, 1_500_000_000)] == ["0B", "39B", "2.029MB", "2.028MB", "1.5GB"]


def test_system_df(pyctr, image):
    pyctr("volume", "create", "h6v1")
    pyctr("volume", "create", "h6v2")
    pyctr("run", "--name", "h6e", "-v", "h6v1:/data", image, "sh", "-c", "echo hello > /data/f; echo hi > /g")
    pyctr("create", "--name", "h6c", image, "true")
    pyctr("run", "-d", "--name", "h6r", image, "sleep", "1000")
    lines = pyctr("system", "df").stdout.splitlines()
    assert lines[0] == "TYPE           TOTAL       ACTIVE      SIZE        RECLAIMABLE"
    rows = {row[0]: row[1:] for row in map(_columns, lines[1:])}
    assert list(rows) == ["Images", "Containers", "Local Volumes"]
    assert rows["Images"][:2] == ["1", "1"] and rows["Images"][3] == "0B (0%)"
    assert rows["Containers"][:2] == ["3", "1"]
    assert rows["Local Volumes"][:3] == ["2", "1", "6B"] and rows["Local Volumes"][3] == "0B (0%)"
    formatted = pyctr("system", "df", "--format", "{{.Type}}:{{.Total}}").stdout.split()
    assert formatted == ["Images:1", "Containers:3", "Local Volumes:2"] or formatted == ["Images:1", "Containers:3", "Local", "Volumes:2"]
    # podman 4.3.1's df knows no "json" format ("json" is a template printing json); {{json .}} is a row each
    assert pyctr("system", "df", "--format", "json").stdout == "json\njson\njson\n"
    as_json = [json.loads(line) for line in pyctr("system", "df", "--format", "{{json .}}").stdout.splitlines()]
    assert [(d["Type"], d["Total"], d["Active"]) for d in as_json] == [("Images", 1, 1), ("Containers", 3, 1),
                                                                        ("Local Volumes", 2, 1)]
    assert as_json[2]["Size"] == 6 and isinstance(as_json[0]["Size"], int)
    verbose = pyctr("system", "df", "-v").stdout
    sections = verbose.split("\n\n")
    assert sections[0] == "Images space usage:"
    assert _columns(sections[1].splitlines()[0]) == ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE",
                                                     "UNIQUE SIZE", "CONTAINERS"]
    assert _columns(sections[1].splitlines()[1])[-1] == "3"
    containers = sections[3].splitlines()
    assert _columns(containers[0]) == ["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"]
    by_name = {_columns(line)[-1]: _columns(line) for line in containers[1:]}
    assert by_name["h6e"][3:5] == ["1", "3B"] and by_name["h6e"][-2] == "exited"
    assert by_name["h6r"][-2] == "running" and by_name["h6c"][-2] == "created"
    assert [_columns(line) for line in sections[5].splitlines()] == [["VOLUME NAME", "LINKS", "SIZE"], ["h6v1", "1", "6B"],
                                                                      ["h6v2", "0", "0B"]]
    pyctr("rm", "-f", "h6r")


def test_system_prune(pyctr, image):
    pyctr("volume", "create", "h6v1")
    pyctr("run", "--name", "h6e", image, "sh", "-c", "echo hi > /g")
    ids = {"h6e": pyctr("inspect", "--format", "{{.Id}}", "h6e").stdout.strip()}
    ids["h6c"] = pyctr("create", "--name", "h6c", "--label", "keep=1", image, "true").stdout.strip()
    pyctr("run", "-d", "--name", "h6r", image, "sleep", "1000")
    # no: nothing happens
    answer = pyctr("system", "prune", "--volumes", input="n\n")
    assert answer.stdout == PODMAN_PRUNE_QUESTION and answer.returncode == 0
    assert len(pyctr("ps", "-a", "-q").stdout.split()) == 3
    # a filter spares what it does not match
    spared = pyctr("system", "prune", "-f", "--filter", "label!=keep=1").stdout
    assert spared == f"Deleted Containers\n{ids['h6e']}\nTotal reclaimed space: 3B\n"
    bad = pyctr("system", "prune", "-f", "--filter", "bogus=1", check=False)
    assert (bad.returncode, bad.stderr.strip()) == (125, "Error: bogus is an invalid filter")
    # yes, with volumes
    done = pyctr("system", "prune", "--volumes", input="y\n").stdout
    assert done == PODMAN_PRUNE_QUESTION + f"Deleted Containers\n{ids['h6c']}\nDeleted Volumes\nh6v1\nTotal reclaimed space: 0B\n"
    # -a: the image stays while a container uses it, then goes
    assert pyctr("system", "prune", "-a", "-f").stdout == "Total reclaimed space: 0B\n"
    assert pyctr("images", "-q").stdout.strip()
    pyctr("rm", "-f", "h6r")
    gone = pyctr("system", "prune", "-a", "-f").stdout.splitlines()
    assert gone[0] == "Deleted Images" and gone[-1].startswith("Total reclaimed space: ") and gone[-1] != "Total reclaimed space: 0B"
    assert pyctr("images", "-q").stdout == ""


def test_system_reset(pyctr, image, store):
    pyctr("volume", "create", "h6v1")
    pyctr("run", "-d", "--name", "h6r", image, "sleep", "1000")
    pid = pyctr("inspect", "--format", "{{.State.Pid}}", "h6r").stdout.strip()
    pyctr("create", "--name", "h6c", image, "true")
    pyctr("mount", "h6c")
    question = PODMAN_RESET_QUESTION.format(root=store.root, runroot=store.runroot)
    kept = pyctr("system", "reset", input="n\n")
    assert (kept.returncode, kept.stdout) == (0, question)
    assert len(pyctr("ps", "-a", "-q").stdout.split()) == 2
    done = pyctr("system", "reset", "-f")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert os.listdir(store.root) == [] and os.listdir(store.runroot) == []  # emptied; the directories stay
    assert store.mounts() == []
    assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"))  # stopped first
    # the next command starts from an empty store that works
    assert pyctr("ps", "-a", "-q").stdout == "" and pyctr("volume", "ls", "-q").stdout == ""
    pyctr("pull", "-q", image)
    assert pyctr("run", "--rm", image, "echo", "ok").stdout == "ok\n"


def test_system_info_is_info(pyctr):
    plain = json.loads(pyctr("info", "--format", "json").stdout)
    grouped = json.loads(pyctr("system", "info", "--format", "json").stdout)
    assert plain["Store"] == grouped["Store"] and grouped["Host"]["Rootless"] is False
