"""--format templates: the Go text/template subset podman and docker users write."""

import subprocess
import sys

import pytest

from pyctr.cli.gotemplate import TemplateError, is_json_format, render, render_rows
from pyctr.errors import PyctrError

IMAGE = {
    "Id": "sha256:" + "ab" * 32,
    "Repository": "docker.io/library/busybox",
    "Tag": "latest",
    "RepoTags": ["busybox:latest", "busybox:1.36"],
    "Labels": {"a.b": "dotted", "maintainer": "me"},
    "Config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "Entrypoint": None, "StopSignal": "SIGTERM"},
    "Size": 4261550,
}
CONTAINER = {
    "ID": "0123456789abcdef",
    "Names": ["web", "frontend"],
    "State": {"Status": "running", "ExitCode": 0, "Pid": 42, "Running": True},
    "Mounts": [{"Source": "/a", "Destination": "/b"}, {"Source": "/c", "Destination": "/d"}],
    "Ports": {},
    "Nothing": None,
}


def ok(template, data, expected):
    assert render(template, data) == expected


# ------------------------------------------------------------------ examples

@pytest.mark.parametrize(
    "template, data, expected",
    [
        ("{{.Repository}}:{{.Tag}}", IMAGE, "docker.io/library/busybox:latest"),
        ("{{.State.ExitCode}}", CONTAINER, "0"),
        ("{{json .Config}}", IMAGE, '{"Env":["PATH=/bin"],"Cmd":["sh"],"Entrypoint":null,"StopSignal":"SIGTERM"}'),
        ("{{range .RepoTags}}{{.}} {{end}}", IMAGE, "busybox:latest busybox:1.36 "),
        ('{{index .Labels "a.b"}}', IMAGE, "dotted"),
        ('{{.Names | join ","}}', CONTAINER, "web,frontend"),
        ("{{.Config | json}}", {"Config": {"b": 1, "a": [True, None]}}, '{"b":1,"a":[true,null]}'),
        ('{{if (eq .State.Status "running")}}up{{else}}down{{end}}', CONTAINER, "up"),
        ('{{if eq .State.Status "exited"}}up{{else}}down{{end}}', CONTAINER, "down"),
        ("{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}", CONTAINER, "/a:/b /c:/d "),
        ("{{.State.Pid}}/{{.State.Running}}", CONTAINER, "42/true"),
    ],
)
def test_podman_examples(template, data, expected):
    ok(template, data, expected)


# ---------------------------------------------------------- fields and dot

@pytest.mark.parametrize(
    "template, data, expected",
    [
        ("plain text", {}, "plain text"),
        ("", {}, ""),
        ("{{.}}", "x", "x"),
        ("{{.}}", 7, "7"),
        ("{{.}}", None, "<nil>"),
        ("{{.A.B.C}}", {"A": {"B": {"C": "deep"}}}, "deep"),
        ("{{.state.exitcode}}", CONTAINER, "<no value>"),  # Go's maps: keys are case-sensitive
        ("{{.name}}/{{.Name}}", {"Name": "upper", "name": "lower"}, "lower/upper"),
        ("{{.Missing}}", {}, "<no value>"),
        ("{{.Missing.Deeper}}", {}, "<no value>"),
        ("{{.Labels.nope}}", IMAGE, "<no value>"),
        ("{{.Nothing}}", CONTAINER, "<nil>"),
        ("{{.Ports}}", CONTAINER, "map[]"),
        ("{{.A}}{{.B}}", {"A": 1, "B": "x"}, "1x"),
        ("}} stray {{`{{`}}", {}, "}} stray {{"),
    ],
)
def test_fields(template, data, expected):
    ok(template, data, expected)


# -------------------------------------------------------- printing values

@pytest.mark.parametrize(
    "value, expected",
    [
        ("text", "text"),
        (0, "0"),
        (-12, "-12"),
        (True, "true"),
        (False, "false"),
        (None, "<nil>"),
        (1.5, "1.5"),
        (1.0, "1"),
        (-2.25, "-2.25"),
        (0.1, "0.1"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1e21, "1e+21"),
        (0.0, "0"),
        (float("inf"), "+Inf"),
        (float("nan"), "NaN"),
        ([], "[]"),
        (["a", "b", "c"], "[a b c]"),
        ([1, "a", True, None, 1.5, [2]], "[1 a true <nil> 1.5 [2]]"),
        ({}, "map[]"),
        ({"b": 2, "a": 1}, "map[a:1 b:2]"),
        ({"k": {"z": [1], "y": None}}, "map[k:map[y:<nil> z:[1]]]"),
    ],
)
def test_prints_like_go_fmt(value, expected):
    ok("{{.}}", value, expected)
    ok("{{.V}}", {"V": value}, expected)


# --------------------------------------------------- literals and lexing

@pytest.mark.parametrize(
    "template, expected",
    [
        ('{{"a\\tb\\"c\\\\"}}', 'a\tb"c\\'),
        ('{{"\\u00e9\\x41\\101"}}', "éAA"),
        ("{{`raw \\t {{ }}`}}", "raw \\t {{ }}"),
        ("{{'a'}} {{'\\n'}}", "97 10"),
        ("{{42}} {{-7}} {{+3}}", "42 -7 3"),
        ("{{0x1F}} {{010}} {{0o17}} {{0b101}} {{1_000}}", "31 8 15 5 1000"),
        ("{{1.50}} {{1e3}} {{.5}} {{2.0}}", "1.5 1000 0.5 2"),
        ("{{true}} {{false}}", "true false"),
        ("{{print nil}}", "<nil>"),
    ],
)
def test_literals(template, expected):
    ok(template, {}, expected)


@pytest.mark.parametrize(
    "template, expected",
    [
        ("a  {{- .X -}}  b", "aXb"),
        ("a \n\t {{- .X}}", "aX"),
        ("{{.X -}} \n\n b", "Xb"),
        ("{{-3}}", "-3"),  # not a trim marker without the space
        ("{{- 3 -}}", "3"),
        ("{{range .L -}}\n  {{.}}\n{{- end}}", "12"),
        ("a{{/* a comment */}}b", "ab"),
        ("a {{- /* trimmed */ -}} b", "ab"),
        ("{{\n.X\n}}", "X"),  # newlines inside actions
        ("a\\tb\\nc", "a\tb\nc"),  # podman's escapes in text
        ("{{.X}}\\t{{.X}}", "X\tX"),
    ],
)
def test_trim_comments_escapes(template, expected):
    ok(template, {"X": "X", "L": [1, 2]}, expected)


# -------------------------------------------------------------- variables

@pytest.mark.parametrize(
    "template, data, expected",
    [
        ("{{$}}", "root", "root"),
        ("{{$x := .A}}[{{$x}}]", {"A": "a"}, "[a]"),
        ("{{$x := 1}}{{$x = 2}}{{$x}}", {}, "2"),
        ("{{$s := .State}}{{$s.Status}}", CONTAINER, "running"),
        ("{{range .Names}}{{$.ID}}:{{.}} {{end}}", CONTAINER, "0123456789abcdef:web 0123456789abcdef:frontend "),
        ("{{range $i, $e := .L}}{{$i}}={{$e}},{{end}}", {"L": ["a", "b"]}, "0=a,1=b,"),
        ("{{range $e := .L}}{{$e}}{{end}}", {"L": ["a", "b"]}, "ab"),
        ("{{range $k, $v := .M}}{{$k}}={{$v}};{{end}}", {"M": {"b": 1, "a": 2}}, "a=2;b=1;"),
        ("{{with $x := .A}}{{$x}}{{.}}{{end}}", {"A": "q"}, "qq"),
        ("{{if $x := .A}}{{$x}}{{end}}", {"A": "z"}, "z"),
        ("{{$x := 0}}{{range .L}}{{$x = .}}{{end}}{{$x}}", {"L": [1, 2, 3]}, "3"),
        ("{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", {}, "21"),
    ],
)
def test_variables(template, data, expected):
    ok(template, data, expected)


# ------------------------------------------------------------- control flow

TRUTHY = [True, 1, -1, 0.5, "a", [0], {"a": 0}, [None]]
FALSY = [False, 0, 0.0, "", [], {}, None]


@pytest.mark.parametrize("value", TRUTHY)
def test_truthy(value):
    ok("{{if .V}}T{{else}}F{{end}}", {"V": value}, "T")


@pytest.mark.parametrize("value", FALSY)
def test_falsy(value):
    ok("{{if .V}}T{{else}}F{{end}}", {"V": value}, "F")
    ok("{{with .V}}T{{else}}F{{end}}", {"V": value}, "F")


@pytest.mark.parametrize(
    "template, data, expected",
    [
        ("{{if .Missing}}T{{else}}F{{end}}", {}, "F"),
        ("{{if .A}}a{{else if .B}}b{{else}}c{{end}}", {"A": 1, "B": 1}, "a"),
        ("{{if .A}}a{{else if .B}}b{{else}}c{{end}}", {"B": 1}, "b"),
        ("{{if .A}}a{{else if .B}}b{{else}}c{{end}}", {}, "c"),
        ("{{if .A}}a{{else if .B}}b{{else if .C}}c{{end}}", {"C": 1}, "c"),
        ("{{if and .A .B}}both{{end}}", {"A": 1, "B": 0}, ""),
        ("{{with .State}}{{.Status}}{{end}}", CONTAINER, "running"),
        ("{{with .Nothing}}x{{else}}{{.ID}}{{end}}", CONTAINER, "0123456789abcdef"),
        ("{{with .A}}a{{else with .B}}{{.}}{{end}}", {"B": "bb"}, "bb"),
        ("{{range .L}}{{.}}{{else}}none{{end}}", {"L": []}, "none"),
        ("{{range .L}}{{.}}{{else}}none{{end}}", {"L": None}, "none"),
        ("{{range .Missing}}{{.}}{{else}}none{{end}}", {}, "none"),
        ("{{range .M}}{{.}}{{end}}", {"M": {"b": 2, "c": 3, "a": 1}}, "123"),
        ("{{range 3}}{{.}}{{end}}", {}, "012"),
        ("{{range .L}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}",
         {"L": [1, 2, 3, 4, 5]}, "13"),
        ("{{range .L}}[{{range .}}{{.}}{{end}}]{{end}}", {"L": [[1, 2], [], [3]]}, "[12][][3]"),
    ],
)
def test_control(template, data, expected):
    ok(template, data, expected)


# ---------------------------------------------------------------- functions

@pytest.mark.parametrize(
    "template, data, expected",
    [
        # json: compact, keys in the given order, no HTML escaping, Go's number style
        ("{{json .}}", {"b": 1, "a": "x"}, '{"b":1,"a":"x"}'),
        ("{{json .}}", [1.0, 2.5, 1e21, 1e20, 1e-7, None, True], "[1,2.5,1e+21,100000000000000000000,1e-7,null,true]"),
        ("{{json .}}", "<é>&\n", '"<é>&\\n"'),
        ("{{json .Missing}}", {}, "null"),
        ("{{json .}}", {}, "{}"),
        # index
        ("{{index .L 1}}", {"L": ["a", "b"]}, "b"),
        ("{{index .M 0 1}}", {"M": [[1, 2]]}, "2"),
        ('{{index .M "k" 0}}', {"M": {"k": ["v"]}}, "v"),
        ('{{index .Labels "maintainer"}}', IMAGE, "me"),
        ('[{{index .Labels "nope"}}]', IMAGE, "[]"),  # zero value of a map of strings
        ('[{{index .Labels "nope"}}]', {"Labels": {}}, "[]"),
        ('[{{index .Labels "nope"}}]', {"Labels": None}, "[]"),
        ('{{index .M "nope"}}', {"M": {"n": 1}}, "<no value>"),
        ('{{index "abc" 1}}', {}, "98"),
        ("{{index .}}", "x", "x"),
        # len
        ("{{len .L}} {{len .M}} {{len .S}} {{len .N}}", {"L": [1, 2], "M": {"a": 1}, "S": "héllo", "N": None}, "2 1 6 0"),
        # join, split
        ('{{join .Names ", "}}', CONTAINER, "web, frontend"),
        ('{{join .L "-"}}', {"L": []}, ""),
        ('{{split "a:b:c" ":"}}', {}, "[a b c]"),
        ('{{index (split .S "/") 1}}', {"S": "x/y"}, "y"),
        ('{{len (split "" ",")}}', {}, "1"),
        # case
        ("{{lower .S}} {{upper .S}}", {"S": "MiXed"}, "mixed MIXED"),
        ('{{title "hello wide-world foo_bar"}}', {}, "Hello Wide-World Foo_bar"),
        # truncate, pad (podman extensions)
        ("{{truncate .ID 12}}", CONTAINER, "0123456789ab"),
        ('{{truncate "short" 12}}', {}, "short"),
        ('[{{pad "x" 1 2}}]', {}, "[ x  ]"),
        ('{{slice "abcd" 1 3}} {{slice .L 1}}', {"L": [1, 2, 3]}, "bc [2 3]"),
        # print, println
        ('{{print 1 2}}|{{print "a" 1 "b"}}|{{print 1 "a"}}|{{print}}', {}, "1 2|a1b|1a|"),
        ('{{println "a" 1}}', {}, "a 1\n"),
        ("{{print .L .M}}", {"L": [1], "M": {"k": "v"}}, "[1] map[k:v]"),
    ],
)
def test_functions(template, data, expected):
    ok(template, data, expected)


@pytest.mark.parametrize(
    "template, expected",
    [
        ('{{printf "%s" "x"}}', "x"),
        ('{{printf "%d" 42}}', "42"),
        ('{{printf "%v %v %v" 1 "a" true}}', "1 a true"),
        ('{{printf "%q" "a\\"b\\n"}}', '"a\\"b\\n"'),
        ('{{printf "%-10s|" "left"}}', "left      |"),
        ('{{printf "%10s|" "right"}}', "     right|"),
        ('{{printf "%5d|%-5d|%05d" 42 42 -42}}', "   42|42   |-0042"),
        ('{{printf "%+d % d" 5 5}}', "+5  5"),
        ('{{printf "%x %X %#x %o %b %c %U" 255 255 255 8 5 65 65}}', "ff FF 0xff 10 101 A U+0041"),
        ('{{printf "%.2f %6.2f %e %g %v" 3.14159 2.5 1234.5 0.5 1e6}}', "3.14   2.50 1.234500e+03 0.5 1e+06"),
        ('{{printf "%t %v" true false}}', "true false"),
        ('{{printf "%.3s|%5.1s|" "abcdef" "xyz"}}', "abc|    x|"),
        ('{{printf "%x" "hi"}}', "6869"),
        ('{{printf "100%%"}}', "100%"),
        ('{{printf "%s" .L}}', "[a b]"),
        ('{{printf "%q" .L}}', '["a" "b"]'),
        ('{{printf "%v" .M}}', "map[k:1]"),
        ('{{printf "%d" "abc"}}', "%!d(string=abc)"),
        ('{{printf "%s" 5}}', "%!s(int=5)"),
        ('{{printf "%d" 1.5}}', "%!d(float64=1.5)"),
        ('{{printf "%s" nil}}', "%!s(<nil>)"),
        ('{{printf "%v" nil}}', "<nil>"),
        ('{{printf "%d %d" 1}}', "1 %!d(MISSING)"),
        ('{{printf "x" 1 "y"}}', "x%!(EXTRA int=1, string=y)"),
        ('{{printf "%"}}', "%!(NOVERB)"),
        ('{{.S | printf "<%s>"}}', "<str>"),
        ('{{"b" | printf "%s-%s" "a"}}', "a-b"),
    ],
)
def test_printf(template, expected):
    ok(template, {"L": ["a", "b"], "M": {"k": 1}, "S": "str"}, expected)


@pytest.mark.parametrize(
    "template, expected",
    [
        ('{{eq 1 1}} {{eq "a" "b"}} {{eq 1 2 3 1}} {{eq true true}} {{eq 1.5 1.5}}', "true false true true true"),
        ('{{ne 1 2}} {{ne "a" "a"}}', "true false"),
        ('{{lt 1 2}} {{lt 2 1}} {{lt "a" "b"}} {{lt 1.5 2.5}}', "true false true true"),
        ("{{le 2 2}} {{le 3 2}} {{gt 3 2}} {{gt 2 2}} {{ge 2 2}} {{ge 1 2}}", "true false true false true false"),
        ("{{eq .State.ExitCode 0}} {{eq .Missing nil}} {{eq .Nothing nil}} {{eq \"a\" nil}}", "true true true false"),
        ("{{and 1 0}} {{and 1 2}} {{or 0 \"\" \"x\"}} [{{or 0 \"\"}}] {{not 0}} {{not .ID}}", "0 2 x [] true false"),
        ("{{and false (index .Names 99)}} {{or true (len 3)}}", "false true"),  # short-circuit
        ("{{.ID | and 1}} {{0 | or \"\"}}", "0123456789abcdef 0"),
        ("{{if and (eq .State.Status \"running\") (not .Nothing)}}yes{{end}}", "yes"),
        ("{{if or (lt .State.Pid 10) (gt .State.Pid 40)}}yes{{end}}", "yes"),
    ],
)
def test_comparison_and_logic(template, expected):
    ok(template, CONTAINER, expected)


@pytest.mark.parametrize(
    "template, data, expected",
    [
        ('{{.Names | join "," | upper}}', CONTAINER, "WEB,FRONTEND"),
        ("{{.State | json}}", CONTAINER, '{"Status":"running","ExitCode":0,"Pid":42,"Running":true}'),
        ("{{(index .Mounts 1).Source}}", CONTAINER, "/c"),
        ("{{(.State).Status}}", CONTAINER, "running"),
        ('{{len (index .L 0)}}', {"L": [[1, 2, 3]]}, "3"),
        ("{{.ID | truncate 5}}", {"ID": 9}, None),  # argument order matters: truncate 5 9 -> error
    ],
)
def test_pipelines(template, data, expected):
    if expected is None:
        with pytest.raises(TemplateError):
            render(template, data)
    else:
        ok(template, data, expected)


# ------------------------------------------------------------------- errors

@pytest.mark.parametrize(
    "template, message",
    [
        ("{{.A", "template: :1: unclosed action"),
        ("a\n{{.A", "template: :2: unclosed action"),
        ("{{foo}}", 'template: :1: function "foo" not defined'),
        ("line1\n{{.A | bar}}", 'template: :2: function "bar" not defined'),
        ("{{if .A}}x", "template: :1: unexpected EOF"),
        ("{{range .A}}x{{else}}", "template: :1: unexpected EOF"),
        ("{{end}}", "template: :1: unexpected {{end}}"),
        ("{{else}}", "template: :1: unexpected {{else}}"),
        ("{{if 1}}{{else}}{{else}}{{end}}", "template: :1: expected end; found {{else}}"),
        ("{{}}", "template: :1: missing value for command"),
        ("{{ }}", "template: :1: missing value for command"),
        ("{{if}}{{end}}", "template: :1: missing value for if"),
        ("{{range}}{{end}}", "template: :1: missing value for range"),
        ('{{"abc}}', "template: :1: unterminated quoted string"),
        ("{{`abc}}", "template: :1: unterminated raw quoted string"),
        ('{{"\\q"}}', "template: :1: invalid syntax"),
        ("{{12ab}}", 'template: :1: bad number syntax: "12ab"'),
        ("{{!}}", "template: :1: unexpected \"!\" in command"),  # Go lexes printable ASCII as a char item
        ("{{$x}}", 'template: :1: undefined variable "$x"'),
        ("{{if 1}}{{$x := 1}}{{end}}{{$x}}", 'template: :1: undefined variable "$x"'),
        ("{{(.A}}", "template: :1: unclosed left paren"),
        ("{{.A)}}", "template: :1: unexpected right paren"),
        ("{{.A | 3}}", "template: :1: non executable command in pipeline stage 2"),
        ("{{break}}", "template: :1: {{break}} outside {{range}}"),
        ("{{$a, $b := .}}", "template: :1: too many declarations in command"),
        ("{{end 1}}", 'template: :1: unexpected {{end}}'),
        ("{{if 1}}{{end 1}}", 'template: :1: unexpected "1" in end'),
        ('{{template "x"}}', "template: :1: {{template}} is not supported"),
        ("{{/* open", "template: :1: unclosed comment"),
        ("{{.A | }}", "template: :1: missing value for command"),
        ("{{range .L}}{{else if .A}}{{end}}", 'template: :1: unexpected "if" in else'),
        ("{{.A := 1}}", 'template: :1: unexpected ":=" in operand'),
        ('{{"s".Foo}}', 'template: :1: unexpected . after term "\\"s\\""'),
    ],
)
def test_parse_errors(template, message):
    with pytest.raises(TemplateError) as e:
        render(template, {"A": 1})
    assert str(e.value) == message.replace('\\"', '"')


@pytest.mark.parametrize(
    "template, data, message",
    [
        ("{{.Foo.Bar}}", {"Foo": "s"},
         'template: :1:6: executing "" at <.Foo.Bar>: can\'t evaluate field Bar in type string'),
        ("{{.Foo}}", ["x"], 'template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type []interface {}'),
        ("x\n  {{.A.B}}", {"A": None}, 'template: :2:6: executing "" at <.A.B>: nil pointer evaluating interface {}.B'),
        ("{{index .L 5}}", {"L": [1]},
         'template: :1:2: executing "" at <index .L 5>: error calling index: index out of range: 5'),
        ('{{index .M 1}}', {"M": {}}, "error calling index: value has type int; should be string"),
        ("{{len}}", {}, 'template: :1:2: executing "" at <len>: wrong number of args for len: want 1 got 0'),
        ("{{and}}", {}, "wrong number of args for and: want at least 1 got 0"),
        ("{{len 3}}", {}, "error calling len: len of type int"),
        ('{{eq 1 "a"}}', {}, "error calling eq: incompatible types for comparison"),
        ("{{eq 1 1.0}}", {}, "error calling eq: incompatible types for comparison"),
        ("{{eq 1}}", {}, "error calling eq: missing argument for comparison"),
        ("{{eq .L .L}}", {"L": [1]}, "error calling eq: non-comparable type [1]: []interface {}"),
        ("{{lt true false}}", {}, "error calling lt: invalid type for comparison"),
        ("{{upper 3}}", {}, "wrong type for value; expected string; got int"),
        ("{{upper .Missing}}", {}, "invalid value; expected string"),
        ("{{range .S}}{{end}}", {"S": "abc"}, "range can't iterate over abc"),
        ("{{.A 1}}", {"A": {}}, "A is not a method but has arguments"),
        ('{{"x" 1}}', {}, 'can\'t give argument to non-function "x"'),
        ("{{nil}}", {}, "nil is not a command"),
        ("{{json .F}}", {"F": float("nan")}, "error calling json: json: unsupported value: NaN"),
        ('{{index .M "a" "b"}}', {"M": {"x": 1}}, "error calling index: index of untyped nil"),
        ("{{range $i, $e := 3}}{{end}}", {}, "can't use 3 to iterate over more than one variable"),
        ("{{.A | .B}}", {"A": 1, "B": 2}, "B is not a method but has arguments"),
    ],
)
def test_exec_errors(template, data, message):
    with pytest.raises(TemplateError) as e:
        render(template, data)
    assert str(e.value).endswith(message)
    assert str(e.value).startswith("template: :")


def test_errors_are_one_line_pyctr_errors():
    with pytest.raises(TemplateError) as e:
        render("{{range .S}}{{end}}", {"S": "multi\nline"})
    assert "\n" not in str(e.value)
    assert isinstance(e.value, PyctrError) and e.value.exit_code == 125


# --------------------------------------------------------------- render_rows

ROWS = [
    {"ID": "0123456789ab", "Names": "web", "CreatedSince": "2 hours ago", "State": {"Status": "up"}},
    {"ID": "fedcba987654", "Names": "database-primary", "CreatedSince": "3 days ago", "State": {"Status": "exited"}},
]


def test_rows_without_table():
    assert render_rows("{{.ID}}", ROWS) == "0123456789ab\nfedcba987654\n"
    assert render_rows("{{.Names}}\n", ROWS) == "web\ndatabase-primary\n"  # no doubled newline
    assert render_rows("{{.Names}}\\n", ROWS) == "web\ndatabase-primary\n"
    assert render_rows("{{.ID}}", []) == ""


@pytest.mark.parametrize("tab", ["\t", "\\t"])
def test_rows_without_table_keep_tabs(tab):
    assert render_rows("{{.ID}}" + tab + "{{.Names}}", ROWS) == "0123456789ab\tweb\nfedcba987654\tdatabase-primary\n"


@pytest.mark.parametrize("tab", ["\t", "\\t"])
def test_table_header_and_alignment(tab):
    out = render_rows(f"table {{{{.ID}}}}{tab}{{{{.Names}}}}{tab}{{{{.CreatedSince}}}}", ROWS, {"ID": "CONTAINER ID"})
    assert out == (
        "CONTAINER ID  NAMES             CREATED SINCE\n"
        "0123456789ab  web               2 hours ago\n"
        "fedcba987654  database-primary  3 days ago\n"
    )


def test_table_last_column_not_padded_and_header_wider_than_cells():
    out = render_rows("table {{.Names}}\t{{.State.Status}}", [{"Names": "a", "State": {"Status": "up"}}], minwidth=0)
    assert out == "NAMES  STATUS\na      up\n"


def test_table_without_rows_prints_header():
    assert render_rows("table {{.ID}}\t{{.Names}}", [], {"ID": "CONTAINER ID"}) == "CONTAINER ID  NAMES\n"


def test_table_minwidth():
    # podman's tabwriter: minwidth 12, padding 2
    assert render_rows("table {{.A}}\t{{.B}}", [{"A": "x", "B": "y"}]) == "A           B\nx           y\n"
    assert render_rows("table {{.A}}\t{{.B}}", [{"A": "x", "B": "y"}], minwidth=0) == "A  B\nx  y\n"


def test_table_spaces_separate_columns_like_podman():
    rows = [{"Repository": "docker.io/library/busybox", "Tag": "latest", "Names": ["a", "b"]},
            {"Repository": "localhost/app", "Tag": "v1", "Names": ["c"]}]
    assert render_rows("table {{.Repository}} {{.Tag}}", rows) == (
        "REPOSITORY                 TAG\n"
        "docker.io/library/busybox  latest\n"
        "localhost/app              v1\n"
    )
    # only template text is split, not string literals inside actions
    assert render_rows('table {{join .Names ", "}}', rows) == "NAMES\na, b\nc\n"
    # without table, spaces stay spaces
    assert render_rows("{{.Repository}} {{.Tag}}", rows[1:]) == "localhost/app v1\n"


@pytest.mark.parametrize(
    "template, headers, expected_header",
    [
        ("table {{.CreatedSince}}", None, "CREATED SINCE"),
        ("table {{.RepoDigests}}", None, "REPO DIGESTS"),
        ("table {{.ID}}", None, "ID"),
        ("table {{.HTTPProxy}}", None, "HTTP PROXY"),
        ("table {{.Names | join \",\"}}", None, "NAMES"),
        ("table {{upper .Names}}", None, "NAMES"),
        ("table {{.State.Status}}", None, "STATUS"),
        ("table {{.State.Status}}", {"State.Status": "STATE"}, "STATE"),
        ("table {{.id}}", {"ID": "CONTAINER ID"}, "CONTAINER ID"),
        ("table {{.Size}}", {"Size": ""}, ""),
        ("table ID={{.ID}} {{range .Names}}{{.}}{{end}}", None, "ID=ID       NAMES"),
        ("table {{$x := .ID}}{{$x}}", None, ""),
    ],
)
def test_table_headers(template, headers, expected_header):
    out = render_rows(template, [], headers)
    assert out == expected_header + "\n"


def test_tabwriter_blocks():
    # Lines without a cell in a column end that column's block, as in Go's text/tabwriter.
    rows = [{"L": "a\tb"}, {"L": "cccccc"}, {"L": "d\te"}, {"L": "ffff\tg"}]
    assert render_rows("table {{.L}}", rows, minwidth=0) == "L\na  b\ncccccc\nd     e\nffff  g\n"


def test_rows_render_errors_raise():
    with pytest.raises(TemplateError):
        render_rows("{{.ID.X}}", ROWS)


# -------------------------------------------------------------------- misc

@pytest.mark.parametrize(
    "fmt, expected",
    [
        ("json", True),
        (" json ", True),
        ("{{json .}}", True),
        ("{{ json . }}", True),
        ("{{json}}", True),
        ("{{json .Config}}", False),
        ("JSON", False),
        ("table", False),
        ("", False),
        ("{{.ID}}", False),
    ],
)
def test_is_json_format(fmt, expected):
    assert is_json_format(fmt) is expected


def test_template_is_reusable_and_data_untouched():
    data = {"L": [3, 1, 2], "M": {"b": 1, "a": 2}}
    for _ in range(2):
        assert render("{{range .L}}{{.}}{{end}}{{range $k, $v := .M}}{{$k}}{{end}}", data) == "312ab"
    assert data == {"L": [3, 1, 2], "M": {"b": 1, "a": 2}}


def test_imports_fast():
    code = "import sys; import pyctr.cli.gotemplate; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split())
    assert not loaded & {"typer", "httpx", "jinja2", "decimal", "subprocess", "datetime", "zstandard"}
