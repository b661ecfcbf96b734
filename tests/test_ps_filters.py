"""ps's filters, sorting and columns, and the selection options of the bulk commands (--all, --latest,
--cidfile, --filter), held against podman 4.3.1 (its outputs and error texts, as recorded below)."""

from __future__ import annotations

import pytest

from pyctr.cli import views
from pyctr.container.store import Status
from pyctr.engine import selection
from pyctr.engine.containers import ContainerSummary
from pyctr.errors import ContainerNotFound, InvalidArgument

from .conftest import wait_for

BUSYBOX_ID = "a90b931bb4c949f3c26107a6a01780a3f877f0b1a87f58288f3c38a0f55ed453"


def row(name: str, created: float, state: str = "running", **extra) -> ContainerSummary:
    fields = dict(id=name.encode().hex().ljust(64, "0"), name=name, image="localhost:5050/test/busybox:latest",
                  image_id=BUSYBOX_ID, command=["sleep", "1000"], created=created, state=state, exit_code=0, pid=0,
                  started_at=created, finished_at=0.0, labels={}, ports=[], mounts=[], auto_remove=False)
    fields.update(extra)
    return ContainerSummary(**fields)


ROWS = [row("h7c", 1.0, "created", command=["true"]),
        row("h7e", 2.0, "exited", exit_code=3, labels={"a": "1"}, finished_at=2.5),
        row("h7r", 3.0, labels={"a": "2"}, volumes=["data"], networks=["appnet", "pyctr"]),
        row("h7p", 4.0, "paused"),
        row("web", 5.0, "stopping")]


def names(items: list[str]) -> list[str]:
    by_name = {r.name: r for r in ROWS}
    wanted = selection.parse_filters(items, lambda n: by_name[n])
    return [r.name for r in ROWS if wanted(r)]


# What podman 4.3.1 printed for the same containers (ps -a --filter ... --format '{{.Names}}').
@pytest.mark.parametrize("items, expected", [
    (["name=h7."], ["h7c", "h7e", "h7r", "h7p"]),       # a regular expression, searched
    (["name=^h7r$"], ["h7r"]),
    (["name=7e"], ["h7e"]),
    (["name=H7E"], []),                                 # case matters
    (["name=["], []),                                   # a pattern that does not compile matches nothing
    (["name="], ["h7c", "h7e", "h7r", "h7p", "web"]),
    (["name=h7c", "name=h7e"], ["h7c", "h7e"]),         # one key: OR
    (["id=" + "h7e".encode().hex()], ["h7e"]),
    (["label=a", "label=a=1"], ["h7e"]),                # labels: AND
    (["label=a=2"], ["h7r"]),
    (["status=paused", "status=created"], ["h7c", "h7p"]),
    (["status=running"], ["h7r", "web"]),                # stopping still runs
    (["status=stopped"], ["h7e"]),
    (["status=exited"], ["h7e"]),
    (["status=unknown"], []),
    (["exited=3"], ["h7e"]),
    (["exited=0"], []),
    (["since=h7e"], ["h7r", "h7p", "web"]),
    (["before=h7r"], ["h7c", "h7e"]),
    (["ancestor=localhost:5050/test/busybox:latest"], ["h7c", "h7e", "h7r", "h7p", "web"]),
    (["ancestor=" + BUSYBOX_ID], ["h7c", "h7e", "h7r", "h7p", "web"]),
    (["ancestor=a90b9"], []),                           # podman: the full ID only
    (["volume=data"], ["h7r"]),
    (["network=appnet"], ["h7r"]),
    (["network=other", "network=pyctr"], ["h7r"]),
    (["health=healthy"], []),
    (["health=none"], ["h7c", "h7e", "h7r", "h7p", "web"]),
    (["until=1970-01-01T00:00:03Z"], ["h7c", "h7e"]),
    (["status=running", "label=a"], ["h7r"]),           # keys: AND
])
def test_filters_as_podman(items, expected):
    assert names(items) == expected


@pytest.mark.parametrize("items, message", [
    (["foo=bar"], "foo is an invalid filter"),
    (["label!=a=1"], "label! is an invalid filter"),   # ps has no label! in 4.3.1 (prune has)
    (["status"], 'invalid filter "status"'),
    (["status=bogus"], "unknown container state: bogus: invalid argument"),
    (["status=Running"], "unknown container state: Running: invalid argument"),
    (["status=stopping"], "unknown container state: stopping: invalid argument"),
])
def test_bad_filters_say_what_podman_says(items, message):
    with pytest.raises(InvalidArgument) as caught:
        names(items)
    assert str(caught.value) == message and caught.value.exit_code == 125


def test_since_a_missing_container():
    def lookup(name):
        raise ContainerNotFound(f'no container with name or ID "{name}" found: no such container')

    with pytest.raises(ContainerNotFound):
        selection.parse_filters(["since=nope"], lookup)


def test_sort_keys_and_the_error_for_others():
    assert [r.name for r in selection.sort_rows(ROWS, "names")] == ["h7c", "h7e", "h7p", "h7r", "web"]
    assert [r.name for r in selection.sort_rows(ROWS, "runningfor")][0] == "web"
    assert [r.name for r in selection.sort_rows(ROWS, "command")][-1] == "h7c"  # "true" after "sleep ..."
    with pytest.raises(InvalidArgument) as caught:
        selection.sort_rows(ROWS, "bogus")
    assert str(caught.value) == ('invalid argument "bogus" for "--sort" flag: "bogus" is not a valid value.  '
                                 'Choose from: "command, created, id, image, names, runningfor, size, status"')


@pytest.mark.parametrize("args, message", [
    (dict(names=["foo"], all_containers=True), "no arguments are needed with --all"),
    (dict(names=["foo"], latest=True), "--latest and containers cannot be used together"),
    (dict(names=[], all_containers=True, latest=True), "--all and --latest cannot be used together"),
    (dict(names=[]), "you must provide at least one name or id"),
    (dict(names=["foo"], cidfiles=["/x"]), "no arguments are needed with --latest or --cidfile"),
])
def test_bulk_argument_checks_as_podman(args, message):
    with pytest.raises(InvalidArgument, match=f"^{message}$"):
        selection.check_targets(args.pop("names"), **args)


def test_cidfiles(tmp_path):
    (tmp_path / "cid").write_text("abc\n")
    assert selection.read_cidfiles([str(tmp_path / "cid")]) == ["abc"]
    with pytest.raises(InvalidArgument, match="^reading CIDFile: open /nonexist: no such file or directory$"):
        selection.read_cidfiles(["/nonexist"])


def test_wait_interval():
    assert selection.wait_interval("250ms") == 0.25
    assert selection.wait_interval("10") == 0.01  # a bare number: milliseconds
    with pytest.raises(InvalidArgument, match='^time: invalid duration "bogus"$'):
        selection.wait_interval("bogus")


# -- the columns -------------------------------------------------------------------------------

NOW = 1000.0


@pytest.mark.parametrize("state, extra, expected", [
    ("running", dict(started_at=NOW - 3), "Up 3 seconds ago"),
    ("running", dict(started_at=NOW - 0.2), "Up Less than a second ago"),
    ("running", dict(started_at=NOW - 70), "Up About a minute ago"),
    ("exited", dict(exit_code=3, finished_at=NOW - 4), "Exited (3) 4 seconds ago"),
    ("created", {}, "Created"),
    ("paused", dict(started_at=NOW - 120), "Paused"),
    ("stopping", dict(started_at=NOW - 120), "Stopping"),
])
def test_status_words_as_podman(state, extra, expected):
    assert views.status_text(Status(state, **extra), NOW) == expected


def test_status_with_health():
    assert views.status_text(Status("running", started_at=NOW - 5), NOW, "healthy") == "Up 5 seconds ago (healthy)"


def test_template_fields_and_json_as_podman():
    summary = row("h7e", NOW - 17, "exited", exit_code=3, labels={"a": "1"}, finished_at=NOW - 18,
                  command=["sh", "-c", "mkdir -p /tmp/x && sleep 1"])
    fields = views.ps_row(summary, now=NOW)
    assert fields["ID"] == summary.id[:12] and fields["ImageID"] == BUSYBOX_ID[:12]
    assert fields["Command"] == "sh -c mkdir -p /t..."  # 17 characters and an ellipsis
    assert fields["State"] == fields["Status"] == "Exited (3) 18 seconds ago"  # podman's template State is the text
    assert fields["CreatedHuman"] == fields["RunningFor"] == "17 seconds ago"
    assert fields["StartedAt"] == int(NOW - 17) and fields["Pod"] == "" and fields["Size"] == ""
    assert views.ps_row(row("x", 1.0, "created"), now=NOW)["ExitedAt"] == -62135596800  # Go's zero time
    document = views.ps_json(summary, now=NOW)
    assert document["Names"] == ["h7e"] and document["Command"] == ["sh", "-c", "mkdir -p /tmp/x && sleep 1"]
    assert document["CreatedAt"] == "17 seconds ago" and document["State"] == "exited"
    assert document["Ports"] is None and document["Size"] is None and document["Labels"] == {"a": "1"}
    assert views.size_text(12, 1_980_000) == "12B (virtual 1.98MB)"


# -- with real containers ------------------------------------------------------------------------

def test_ps_filters_sort_and_columns(pyctr, image):
    pyctr("create", "--name", "fc", image, "true")
    pyctr("run", "--name", "fe", "-l", "a=1", image, "sh", "-c", "exit 3", check=False)
    pyctr("run", "-d", "--name", "fr", "-l", "a=2", image, "sleep", "100")
    listed = lambda *args: pyctr("ps", *args, "--format", "{{.Names}}").stdout.split()
    assert listed() == ["fr"]
    assert listed("-a") == ["fc", "fe", "fr"]  # podman: oldest first
    assert listed("-a", "--sort", "names") == ["fc", "fe", "fr"]
    assert listed("--filter", "status=exited", "--filter", "status=created") == ["fc", "fe"]
    assert listed("-f", "label=a", "-f", "exited=3") == ["fe"]
    assert listed("-f", "since=fc") == ["fe", "fr"]
    assert listed("-n", "2") == ["fe", "fr"] and listed("-l") == ["fr"]
    bad = pyctr("ps", "--filter", "foo=bar", check=False)
    assert (bad.returncode, bad.stderr) == (125, "Error: foo is an invalid filter\n")
    assert pyctr("ps", "-l", "-n", "2", check=False).stderr == "Error: last and latest are mutually exclusive\n"

    table = pyctr("ps", "-a", "--size").stdout.splitlines()
    assert table[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES", "SIZE"]
    assert "(virtual " in table[1]
    ns = pyctr("ps", "--ns").stdout.splitlines()
    assert ns[0].split() == ["CONTAINER", "ID", "NAMES", "PID", "CGROUPNS", "IPC", "MNT", "NET", "PIDNS", "USERNS", "UTS"]
    assert ns[1].split()[1] == "fr" and all(cell.isdigit() for cell in ns[1].split()[2:])
    pod = pyctr("ps", "--pod", "--noheading").stdout.splitlines()
    assert len(pod) == 1 and pod[0].split()[-1] == "fr"  # POD ID and PODNAME are empty: no pods
    assert pyctr("ps", "--pod").stdout.splitlines()[0].endswith("NAMES       POD ID      PODNAME")
    custom = pyctr("ps", "-a", "--format", "table {{.Names}}\t{{.ExitCode}}", "--sort", "names").stdout
    assert custom.splitlines() == ["NAMES       EXIT CODE", "fc          0", "fe          3", "fr          0"]
    noheading = pyctr("ps", "-a", "--noheading", "--format", "table {{.Names}} {{.ExitCode}}").stdout
    assert noheading.splitlines()[0].split() == ["fc", "0"]
    assert pyctr("ps", "--sync", "-q").stdout.strip() == pyctr("ps", "-q").stdout.strip()
    assert "Up " in pyctr("ps", "--format", "{{.Status}}").stdout and " ago" in pyctr("ps", "--format", "{{.Status}}").stdout


def test_bulk_selection_options(pyctr, image, tmp_path):
    cid = tmp_path / "cid"
    pyctr("run", "-d", "--cidfile", str(cid), "--name", "s1", "-l", "grp=x", image, "sleep", "100")
    pyctr("run", "-d", "--name", "s2", "-l", "grp=x", image, "sleep", "100")
    pyctr("run", "-d", "--name", "s3", image, "sleep", "100")
    ids = {n: pyctr("inspect", "-f", "{{.Id}}", n).stdout.strip() for n in ("s1", "s2", "s3")}

    assert pyctr("pause", "--filter", "label=grp=x").stdout.split() == [ids["s1"], ids["s2"]]
    assert pyctr("unpause", "--all").stdout.split() == [ids["s1"], ids["s2"]]
    assert pyctr("kill", "--cidfile", str(cid)).stdout.split() == [ids["s1"]]
    assert wait_for(lambda: pyctr("ps", "-q").stdout.split() == [ids["s2"][:12], ids["s3"][:12]])
    assert pyctr("start", "--all", "--filter", "label=grp=x").stdout.split() == [ids["s1"]]
    assert pyctr("stop", "-t", "0", "--latest").stdout.split() == [ids["s3"]]
    assert pyctr("restart", "-t", "0", "--running", "--filter", "label=grp=x").stdout.split() == [ids["s1"], ids["s2"]]
    assert pyctr("ps", "--format", "{{.Names}}").stdout.split() == ["s1", "s2"]

    for args, message in [(("stop", "-a", "s1"), "no arguments are needed with --all"),
                          (("kill", "-l", "s1"), "--latest and containers cannot be used together"),
                          (("pause", "-a", "-l"), "--all and --latest cannot be used together"),
                          (("unpause",), "you must provide at least one name or id"),
                          (("restart", "--cidfile", str(cid), "s1"), "no arguments are needed with --latest or --cidfile")]:
        result = pyctr(*args, check=False)
        assert (result.returncode, result.stderr) == (125, f"Error: {message}\n")

    running = pyctr("rm", "s1", check=False)
    assert running.returncode == 2
    assert running.stderr == (f"Error: cannot remove container {ids['s1']} as it is running - running or paused "
                              "containers cannot be removed without force: container state improper\n")
    missing = pyctr("rm", "nope", check=False)
    assert (missing.returncode, missing.stderr) == (1, 'Error: no container with name or ID "nope" found: no such container\n')
    assert pyctr("rm", "-f", "nope", "-i").stdout == ""
    assert pyctr("rm", "-f", "--filter", "label=grp=x").stdout.split() == [ids["s1"], ids["s2"]]
    assert pyctr("rm", "-f", "--cidfile", str(cid), "-i").stdout == ""  # the container is gone: nothing to say
    cid.unlink()
    gone = pyctr("rm", "-f", "--cidfile", str(cid), "-i", check=False)  # the file is gone: podman says so
    assert (gone.returncode, gone.stderr) == (125, f"Error: reading CIDFile: open {cid}: no such file or directory\n")


def test_wait_conditions(pyctr, image):
    pyctr("create", "--name", "w1", image, "sleep", "100")
    bad = pyctr("wait", "--condition", "configured", "w1", check=False)
    assert (bad.returncode, bad.stderr) == (125, "Error: unknown container state: configured: invalid argument\n")
    assert pyctr("wait", "--condition", "created", "w1").stdout == "-1\n"
    pyctr("start", "w1")
    assert pyctr("wait", "--condition", "running", "-i", "10ms", "--latest").stdout == "-1\n"
    pyctr("kill", "w1")
    assert pyctr("wait", "w1", "--interval", "100").stdout == "137\n"
    assert pyctr("wait", check=False).stderr == 'Error: "pyctr wait" requires a name, id, or the "--latest" flag\n'


def test_prune_filters(pyctr, image):
    pyctr("create", "--name", "p1", "-l", "a=1", image, "true")
    pyctr("create", "--name", "p2", image, "true")
    pyctr("run", "-d", "--name", "p3", image, "sleep", "100")
    bad = pyctr("container", "prune", "-f", "--filter", "foo=1", check=False)
    assert (bad.returncode, bad.stderr) == (125, "Error: foo is an invalid filter\n")
    assert pyctr("container", "prune", "-f", "--filter", "until=1h").stdout == ""  # none is an hour old
    p1 = pyctr("inspect", "-f", "{{.Id}}", "p1").stdout.strip()
    assert pyctr("container", "prune", "-f", "--filter", "label=a=1").stdout.split() == [p1]
    assert pyctr("container", "prune", input="n\n").stdout.startswith("WARNING! This will remove all non running containers.")
    assert pyctr("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["p2", "p3"]
    assert len(pyctr("container", "prune", "-f", "--filter", "label!=a=1").stdout.split()) == 1
    assert pyctr("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["p3"]


def test_inspect_size_and_latest(pyctr, image):
    pyctr("run", "--name", "i1", image, "sh", "-c", "echo hello > /data")
    sizes = pyctr("inspect", "-s", "-l", "--format", "{{.Name}} {{.SizeRw}} {{.SizeRootFs}}").stdout.split()
    assert sizes[0] == "i1" and int(sizes[1]) == 6 and int(sizes[2]) > 6
    assert pyctr("container", "inspect", "--latest", "--format", "{{.Name}}").stdout == "i1\n"
    assert "SizeRw" not in pyctr("inspect", "i1").stdout
    assert pyctr("inspect", check=False).stderr == "Error: no names or ids specified\n"


def test_rm_depend_removes_the_dependents_first(pyctr, image):
    pyctr("create", "--name", "base", image, "true")
    pyctr("create", "--name", "needs", "--requires", "base", image, "true")
    base, needs = (pyctr("inspect", "-f", "{{.Id}}", n).stdout.strip() for n in ("base", "needs"))
    refused = pyctr("rm", "base", check=False)
    assert refused.returncode == 125 and "has dependent containers which must be removed before it" in refused.stderr
    # podman 4.3.1 prints the IDs, the dependent first.
    assert pyctr("rm", "--depend", "base").stdout.split() == [needs, base]
    assert pyctr("ps", "-aq").stdout == ""


def test_restart_policy_filter_as_podman():
    # podman 4.3.1: containers made with --restart on-failure:3 / always / no / none given;
    # `ps -a --filter restart-policy=X` lists those with X (none: made without --restart).
    rows = [row("rp-f", 1.0, restart_policy="on-failure"), row("rp-a", 2.0, restart_policy="always"),
            row("rp-n", 3.0)]

    def chosen(*items: str) -> list[str]:
        wanted = selection.parse_filters([f"restart-policy={i}" for i in items], lambda n: None)
        return [r.name for r in rows if wanted(r)]

    assert chosen("on-failure") == ["rp-f"] and chosen("always", "on-failure") == ["rp-f", "rp-a"]
    assert chosen("none") == ["rp-n"] and chosen("unless-stopped") == []
    for items, message in ((("bogus",), "bogus invalid restart policy"), (("",), " invalid restart policy"),
                           (("bogus", "x"), "bogus, x invalid restart policies")):
        with pytest.raises(InvalidArgument) as err:
            chosen(*items)
        assert str(err.value) == message


def test_start_argument_rules_as_podman():
    # podman 4.3.1 `start ARGS` for each: (exit code 125 and) these texts
    for args, how, message in (
            ([], {}, "start requires at least one argument"),
            (["c1"], {"latest": True}, "--latest and containers cannot be used together"),
            (["c1"], {"all_containers": True}, "either start all containers or the container(s) provided in the arguments"),
            (["c1", "c2"], {"attach": True}, "you cannot start and attach multiple containers at once"),
            ([], {"attach": True, "all_containers": True}, "you cannot start and attach all containers at once"),
            ([], {"all_containers": True, "latest": True}, "--all and --latest cannot be used together")):
        with pytest.raises(InvalidArgument) as err:
            selection.check_start_targets(args, **how)
        assert str(err.value) == message
    selection.check_start_targets(["c1"], filters=["name=x"])  # podman accepts it (and starts c1)
