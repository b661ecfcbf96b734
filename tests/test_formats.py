"""--format and tables as podman 4.3.1 prints them: rows are Go structs (an unknown field is an
error naming the type), maps keep Go's <no value>, "table" headings come from podman's titles,
and `{{json .}}` prints the list or one object per row, command by command.

The expected texts were recorded from podman 4.3.1 (Debian) on the same image, IDs and times
normalised; no test needs podman.
"""

import json
import re

import pytest

from pyctr.cli import gotemplate, reporters
from pyctr.cli.gotemplate import Struct, TemplateError

# ------------------------------------------------------------------ unit: one row of each command

ROWS = {
    "ps": {"ID": "90358af79e98", "Names": "f4-c1", "Labels": {"a": "b"}, "Image": "busybox", "Status": "Up"},
    "images": {"ID": "a90b931bb4c9", "Repository": "localhost:5050/test/busybox", "Tag": "latest", "Labels": {}},
    "volume ls": {"Name": "f4-vol", "Driver": "local", "Labels": {}},
    "secret ls": {"ID": "1199beae90c5b17bdd9f4d8d9", "Name": "f4-sec", "Driver": "file"},
    "history": {"ID": "a90b931bb4c9", "Created": "3 years ago", "Size": "2.03 MB"},
    "system df": {"Type": "Images", "Total": 1},
    "stats": {"ID": "90358af79e98", "Name": "f4-c1"},
}
REPORTERS = {"ps": reporters.PS, "images": reporters.IMAGES, "volume ls": reporters.VOLUMES,
             "secret ls": reporters.SECRETS, "history": reporters.HISTORY, "system df": reporters.DF,
             "stats": reporters.STATS}

# podman 4.3.1: `podman COMMAND --format '{{.Bogus}}'`, exit 125
PODMAN_BOGUS = {
    "ps": 'template: ps:1:13: executing "ps" at <.Bogus>: can\'t evaluate field Bogus in type containers.psReporter',
    "images": 'template: images:1:13: executing "images" at <.Bogus>: can\'t evaluate field Bogus in type '
              'images.imageReporter',
    "volume ls": 'template: ls:1:13: executing "ls" at <.Bogus>: can\'t evaluate field Bogus in type '
                 '*entities.VolumeListReport',
    "secret ls": 'template: ls:1:13: executing "ls" at <.Bogus>: can\'t evaluate field Bogus in type '
                 '*entities.SecretListReport',
    "history": 'template: history:1:13: executing "history" at <.Bogus>: can\'t evaluate field Bogus in type '
               'images.historyReporter',
    "system df": 'template: df:1:13: executing "df" at <.Bogus>: can\'t evaluate field Bogus in type *system.dfSummary',
    "stats": 'template: stats:1:13: executing "stats" at <.Bogus>: can\'t evaluate field Bogus in type '
             'containers.containerStats',
}


def report(command, fmt, rows=None, heading=True):
    rep = REPORTERS[command]
    rows = [ROWS[command]] if rows is None else rows
    return gotemplate.report(rep.name, fmt, rep.rows(rows), rep.headers, heading=heading)


@pytest.mark.parametrize("command", sorted(PODMAN_BOGUS))
def test_unknown_field_is_an_error_naming_the_type(command):
    with pytest.raises(TemplateError) as e:
        report(command, "{{.Bogus}}")
    assert str(e.value) == PODMAN_BOGUS[command]
    assert e.value.exit_code == 125


def test_fields_are_case_sensitive_and_methods_are_fields():
    with pytest.raises(TemplateError, match=r"ps:1:13: .* can't evaluate field names in type containers.psReporter"):
        report("ps", "{{.names}}")
    with pytest.raises(TemplateError, match="can't evaluate field Id in type"):  # podman's ps has ID, not Id
        report("ps", "{{.Id}}")


def test_map_keys_keep_gos_no_value():
    assert report("ps", "{{.Labels.x}}|{{.Labels.a}}") == "<no value>|b\n"
    assert report("images", "{{.Labels.x}}") == "<no value>\n"


@pytest.mark.parametrize("fmt, message", [
    ("{{.Names.x}}", 'template: ps:1:19: executing "ps" at <.Names.x>: can\'t evaluate field x in type string'),
    ("{{.Labels.a.b}}", 'template: ps:1:20: executing "ps" at <.Labels.a.b>: can\'t evaluate field b in type string'),
    ("{{.Names}} {{if .Bogus}}x{{end}}",
     'template: ps:1:27: executing "ps" at <.Bogus>: can\'t evaluate field Bogus in type containers.psReporter'),
    ("table {{.Labels.a}}",  # the heading fails first: there .Labels is its title
     'template: ps:1:20: executing "ps" at <.Labels.a>: can\'t evaluate field a in type string'),
    ("{{.ID", "template: ps:1: bad character U+007B '{'"),
    ("{{.ID}}\\n{{.ID", "template: ps:1: bad character U+007B '{'"),
    ("{{.ID}", "template: ps:1: bad character U+007D '}'"),
    ("{{.ID }", 'template: ps:1: unexpected "}" in operand'),
    ("{{", 'template: ps:1: unexpected "{" in command'),
    ("{{.ID}}{{end}}", "template: ps:1: unexpected {{end}}"),
    ("{{ .ID | foo }}", 'template: ps:1: function "foo" not defined'),
])
def test_error_texts_are_podmans(fmt, message):
    with pytest.raises(TemplateError) as e:
        report("ps", fmt)
    assert str(e.value) == message


def test_output_before_an_error_is_kept():
    out = []
    with pytest.raises(TemplateError):
        gotemplate.report("ps", "{{.Names}} {{.Bogus}}", reporters.PS.rows([ROWS["ps"]]), out=out)
    assert "".join(out) == "f4-c1 "


@pytest.mark.parametrize("fmt, expected", [
    # podman 4.3.1, one container named f4-c1 (ID 90358af79e98)
    ("table {{.ID}} {{.Names}}", "CONTAINER ID  NAMES\n90358af79e98  f4-c1\n"),
    ("table {{.Names}} {{.Bogus}}", None),  # fails on the row: see test_heading_of_an_unknown_field
    ("table {{json .Names}}", '"NAMES"\n"f4-c1"\n'),
    ("table {{upper .Names}}", "NAMES\nF4-C1\n"),
    ("table {{.Names}} {{printf \"%s x y\" .Names}} tablex",  # every space is a tab in a table
     "NAMES       NAMES       x           y           tablex\nf4-c1       f4-c1       x           y           tablex\n"),
    ("table{{.Names}}", "tablef4-c1\n"),  # not a table: "table " it must be
    ("x table {{.Names}}", "x table f4-c1\n"),
    ("{{.Names}}\\t{{.ID}}", "f4-c1\t90358af79e98\n"),
    ("{{.Names}}\n", "f4-c1\n"),
    ("{{.Names}}\\n\\n", "f4-c1\n\n"),
    ("{{range .}}{{.Names}},{{end}}", "f4-c1,\n"),  # ranges itself: not wrapped; the newline after it all
    ("{{.ID}}x{{else}}", "90358af79e98x"),
    ("", "\n"),
])
def test_ps_templates(fmt, expected):
    if expected is not None:
        assert report("ps", fmt) == expected


def test_heading_of_an_unknown_field_and_of_methods():
    assert report("ps", "table {{.Names}} {{.Bogus}}", rows=[]) == "NAMES       <no value>\n"
    # methods without a title of their own (podman's CGROUPNS, USERNS; images' CreatedSince)
    assert report("ps", "table {{.CGROUPNS}} {{.Cgroup}} {{.USERNS}} {{.User}}", rows=[]) == \
        "<no value>  CGROUPNS    <no value>  USERNS\n"
    assert report("images", "table {{.ID}} {{.Id}} {{.CreatedSince}} {{.ReadOnly}}", rows=[]) == \
        "IMAGE ID    <no value>  <no value>  R/O\n"


def test_no_heading_and_empty_lists():
    assert report("ps", "table {{.Names}} {{.ID}}", heading=False) == "f4-c1       90358af79e98\n"
    assert report("ps", "table {{.Names}} {{.ID}}", rows=[]) == "NAMES       CONTAINER ID\n"
    assert report("ps", "{{.Names}} {{.ID}}", rows=[]) == ""
    assert report("ps", "{{.ID}}x{{else}}y", rows=[]) == "y\n"


def test_titles_recorded_from_podman():
    titles = {
        "ps": ("table {{.ID}} {{.Image}} {{.Command}} {{.CreatedHuman}} {{.Status}} {{.Ports}} {{.Names}} "
               "{{.ImageID}} {{.Pod}} {{.PodName}} {{.RunningFor}} {{.CreatedAt}} {{.AutoRemove}} {{.IsInfra}}",
               "CONTAINER ID  IMAGE       COMMAND     CREATED     STATUS      PORTS       NAMES       IMAGE ID    "
               "POD ID      PODNAME     RUNNING FOR  CREATED AT  AUTO REMOVE  IS INFRA"),
        "images": ("table {{.Repository}} {{.Tag}} {{.Digest}} {{.VirtualSize}} {{.RepoTags}} {{.SharedSize}} "
                   "{{.ParentId}}",
                   "REPOSITORY  TAG         DIGEST      VIRTUAL SIZE  REPO TAGS   SHARED SIZE  PARENT ID"),
        "volume ls": ("table {{.Name}} {{.Driver}} {{.CreatedAt}} {{.MountCount}} {{.NeedsCopyUp}} {{.UID}}",
                      "VOLUME NAME  DRIVER      CREATED AT  MOUNT COUNT  NEEDS COPY UP  UID"),
        "secret ls": ("table {{.ID}} {{.Name}} {{.Driver}} {{.CreatedAt}} {{.UpdatedAt}}",
                      "ID          NAME        DRIVER      CREATED     UPDATED"),
        "history": ("table {{.ID}} {{.Created}} {{.CreatedBy}} {{.Size}} {{.Comment}} {{.Tags}} {{.CreatedAt}}",
                    "ID          CREATED     CREATED BY  SIZE        COMMENT     TAGS        <no value>"),
        "system df": ("table {{.Type}} {{.Total}} {{.Active}} {{.Size}} {{.Reclaimable}} {{.RawSize}}",
                      "TYPE        TOTAL       ACTIVE      SIZE        RECLAIMABLE  RAW SIZE"),
        "stats": ("table {{.ID}} {{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.MemPerc}} {{.NetIO}} {{.BlockIO}} {{.PIDS}} "
                  "{{.UpTime}} {{.AVGCPU}} {{.PIDs}} {{.AvgCPU}} {{.Up}}",
                  "ID          NAME        CPU %       MEM USAGE / LIMIT  MEM %       NET IO      BLOCK IO    PIDS"
                  "        CPU TIME    AVG CPU %   PI DS       AVG CPU     <no value>"),
    }
    for command, (fmt, heading) in titles.items():
        assert report(command, fmt, rows=[]) == heading + "\n", command


def test_json_of_a_row_is_its_json_view():
    row = Struct({"Names": "f4-c1"}, "containers.psReporter", {"Id": "x", "Names": ["f4-c1"]})
    assert gotemplate.report("ps", "{{.Names}}{{json .}}", [row]) == 'f4-c1{"Id":"x","Names":["f4-c1"]}\n'
    # a struct without a view: its fields; printed with %v: its values in order
    assert gotemplate.report("x", "{{json .}} {{.}}", [Struct({"A": 1, "B": ""}, "t")]) == '{"A":1,"B":""} {1 }\n'


@pytest.mark.parametrize("fmt, expected", [
    ("json", True), ("{{json .}}", True), ("{{ json . }}", True), ("{{json.}}", True),
    ("{{json . }}\\n", False), ("JSON", False), ("{{.Names}}{{json .}}", False),
])
def test_whole_list_json_formats(fmt, expected):
    # podman 4.3.1's ps, images, volume ls, history and stats print the whole list for these
    assert gotemplate.is_json_format(fmt) is expected


# ------------------------------------------------------------------ unit: inspect, info, version

CONTAINER_DOC = {"Id": "abc", "Name": "f4-c1", "State": {"Status": "running", "Health": {"Status": ""}},
                 "Config": {"Labels": {"a": "b"}}, "HostConfig": {"LogConfig": {"Type": "k8s-file"}}}
INSPECT_PREFIX = "inspecting object: printing inspect output: "


def inspect(fmt, doc=CONTAINER_DOC):
    typed = reporters.typed(doc, *reporters.types_of(doc))
    return gotemplate.report("inspect", fmt, [typed])


@pytest.mark.parametrize("fmt, message", [
    ("{{.Bogus}}", 'template: inspect:1:13: executing "inspect" at <.Bogus>: can\'t evaluate field Bogus in type '
                   'interface {}'),
    ("{{.State.Bogus}}", 'template: inspect:1:19: executing "inspect" at <.State.Bogus>: can\'t evaluate field Bogus '
                         'in type *define.InspectContainerState'),
    ("{{.config.labels}}", 'template: inspect:1:20: executing "inspect" at <.config.labels>: can\'t evaluate field '
                           'config in type interface {}'),
])
def test_inspect_errors(fmt, message):
    with pytest.raises(TemplateError) as e:
        inspect(fmt)
    assert str(e.value) == message


def test_inspect_maps_and_podman_fields_pyctr_leaves_empty():
    assert inspect("{{.Config.Labels.x}}|{{.Config.Labels.a}}|{{.HostConfig.LogConfig.Type}}") == \
        "<no value>|b|k8s-file\n"
    # fields podman has: their zero value, not an error
    assert inspect("{{.IsInfra}}|{{.NetworkSettings.IPAddress}}|{{json .Config.Healthcheck}}|{{.SizeRw}}") == \
        "false||null|<nil>\n"


def test_inspect_through_the_cli_prefix(capsys):
    from pyctr.cli import output

    with pytest.raises(TemplateError) as e:
        output.print_inspect("{{.Name}} {{.Bogus}}", [CONTAINER_DOC], [])
    assert str(e.value) == INSPECT_PREFIX + ('template: inspect:1:23: executing "inspect" at <.Bogus>: can\'t evaluate '
                                             'field Bogus in type interface {}')
    assert capsys.readouterr().out == "f4-c1 "  # what podman printed before failing
    with pytest.raises(TemplateError) as e:  # parse errors come before the prefix
        output.print_inspect("{{.ID", [CONTAINER_DOC], [])
    assert str(e.value) == "template: inspect:1: bad character U+007B '{'"


def test_info_and_version_are_not_ranged():
    info = reporters.typed({"Host": {"Arch": "x86_64"}, "Store": {}}, reporters.INFO_TYPES)
    with pytest.raises(TemplateError) as e:
        gotemplate.report("info", "{{.Host.Bogus}}", [info], ranged=False)
    assert str(e.value) == ('template: info:1:7: executing "info" at <.Host.Bogus>: can\'t evaluate field Bogus in type '
                            '*define.HostInfo')
    assert gotemplate.report("info", "{{.Host.Arch}}", [info], ranged=False) == "x86_64\n"


# ------------------------------------------------------------------ the commands, on real containers

def _normal(text):
    text = re.sub(r"\b[0-9a-f]{64}\b", "<ID64>", text)
    text = re.sub(r"\b[0-9a-f]{12}\b", "<ID12>", text)
    text = re.sub(r"\b[0-9a-f]{25}\b", "<ID25>", text)
    return text


def _setup(pyctr, image):
    pyctr("volume", "create", "f4-vol")
    pyctr("secret", "create", "f4-sec", "-", input="sec")
    pyctr("create", "--name", "f4-c2", image, "true")


def test_listing_commands_as_podman(pyctr, image):
    _setup(pyctr, image)

    # podman 4.3.1: `podman ps -a --format 'table {{.ID}} {{.Names}}'` (one container)
    assert _normal(pyctr("ps", "-a", "--format", "table {{.ID}} {{.Names}}").stdout) == \
        "CONTAINER ID  NAMES\n<ID12>  f4-c2\n"
    # `podman volume ls`
    assert pyctr("volume", "ls").stdout == "DRIVER      VOLUME NAME\nlocal       f4-vol\n"
    assert pyctr("volume", "ls", "--format", "table {{.Name}}", "-f", "name=nomatch").stdout == ""
    # `podman secret ls --format json`: podman 4.3.1 has no json here, it is a template
    assert pyctr("secret", "ls", "--format", "json").stdout == "json\n"
    secrets = pyctr("secret", "ls").stdout.splitlines()  # CREATED as wide as "N seconds ago" and 2
    assert secrets[0].startswith("ID                         NAME        DRIVER      CREATED ")
    assert _normal(secrets[1]).startswith("<ID25>  f4-sec      file        ")
    # `podman images --format 'table {{.Repository}}\t{{.Size}}'`
    repo = image.rsplit(":", 1)[0]
    out = pyctr("images", "--format", "table {{.Repository}}\\t{{.Size}}").stdout
    width = max(12, len(repo) + 2)
    assert out.splitlines()[0] == "REPOSITORY".ljust(width) + "SIZE"
    assert out.splitlines()[1].startswith(repo.ljust(width))
    images = pyctr("images").stdout.splitlines()
    assert images[0] == "REPOSITORY".ljust(width) + "TAG         IMAGE ID      CREATED      SIZE"
    # `podman history IMAGE`
    history = pyctr("history", image).stdout.splitlines()
    assert history[0].startswith("ID            CREATED  ") and history[0].endswith("SIZE        COMMENT")
    assert re.fullmatch(r"[0-9a-f]{12}  .*", history[1])
    # `podman system df --format 'table {{.Type}}'` and {{json .}}: one object per line
    assert pyctr("system", "df", "--format", "table {{.Type}}").stdout == "TYPE\nImages\nContainers\nLocal Volumes\n"
    lines = pyctr("system", "df", "--format", "{{json .}}").stdout.splitlines()
    assert [list(json.loads(line)) for line in lines] == [["Type", "Total", "Active", "Size", "Reclaimable"]] * 3
    assert pyctr("system", "df", "--format", "json").stdout == "json\njson\njson\n"


@pytest.mark.parametrize("args, message", [
    (["ps", "-a"], PODMAN_BOGUS["ps"]),
    (["images"], PODMAN_BOGUS["images"]),
    (["volume", "ls"], PODMAN_BOGUS["volume ls"]),
    (["secret", "ls"], PODMAN_BOGUS["secret ls"]),
    (["system", "df"], PODMAN_BOGUS["system df"]),
])
def test_unknown_fields_fail_with_podmans_line(pyctr, image, args, message):
    _setup(pyctr, image)
    result = pyctr(*args, "--format", "{{.Bogus}}", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (125, "", f"Error: {message}\n")


def test_ps_json_forms(pyctr, image):
    _setup(pyctr, image)
    whole = pyctr("ps", "-a", "--format", "{{json .}}").stdout
    assert whole.startswith("[\n  {\n    \"AutoRemove\": false,\n") and '"Namespaces": {\n      \n    },' in whole
    assert json.loads(whole)[0]["Names"] == ["f4-c2"]
    # not the exact {{json .}}: a row at a time, podman's listed container (Created a time, Status empty)
    row = pyctr("ps", "-a", "--format", "{{.Names}}{{json .}}").stdout
    assert row.startswith("f4-c2{") and row.endswith("}\n")
    doc = json.loads(row[len("f4-c2"):])
    assert list(doc)[:4] == ["AutoRemove", "Command", "Created", "CreatedAt"]
    assert doc["Status"] == "" and doc["CreatedAt"] == "" and doc["Names"] == ["f4-c2"]
    result = pyctr("inspect", "--format", "{{.State.Bogus}}", "f4-c2", check=False)
    assert (result.returncode, result.stderr) == (125, "Error: " + INSPECT_PREFIX + (
        'template: inspect:1:19: executing "inspect" at <.State.Bogus>: can\'t evaluate field Bogus in type '
        '*define.InspectContainerState\n'))
