"""Health checks: --health-* flags, the image's HEALTHCHECK, the shim's schedule, `healthcheck run`,
the status in ps and inspect, and --health-on-failure.

What podman 4.3.1 printed for the same commands is recorded below (PODMAN_*), so that the tests
need no podman. The rootless test runs under `flock /tmp/pyctr-rootless-tests.lock` (it creates
a user, as test_rootless does).
"""

from __future__ import annotations

import json
import time

import pytest

from pyctr.container import health
from pyctr.errors import InvalidArgument
from tests.conftest import wait_for
from tests.harness import images
from tests.test_rootless import rootless  # noqa: F401 - the fixture

# podman 4.3.1: `create --health-cmd CMD --health-start-period 2s ...`, then
# `inspect --format '{{json .Config.Healthcheck}}'`.
PODMAN_TESTS = {
    '["ls","/"]': ["CMD", "ls", "/"],
    '["CMD-SHELL","echo hi"]': ["CMD-SHELL", "echo hi"],
    "echo hi": ["CMD-SHELL", "echo hi"],
    "CMD ls /": ["CMD", "ls", "/"],
    '["true"]': ["CMD-SHELL", "true"],
    "none": ["NONE"],
    # podman keeps this JSON list's text as one word ('["CMD","ls","/"]'), a check that never
    # runs; pyctr runs `ls /`.
    '["CMD","ls","/"]': ["CMD", "ls", "/"],
}
PODMAN_CONFIG = {"Test": ["CMD-SHELL", "echo hi"], "StartPeriod": 2000000000, "Interval": 30000000000,
                 "Timeout": 30000000000, "Retries": 3}
# `create ... --health-cmd true <flags>`: stderr, exit code 125.
PODMAN_FLAG_ERRORS = [
    (["--health-interval", "30"], 'Error: invalid healthcheck-interval: time: missing unit in duration "30"\n'),
    (["--health-interval", "bogus"], 'Error: invalid healthcheck-interval: time: invalid duration "bogus"\n'),
    (["--health-retries", "0"], "Error: healthcheck-retries must be greater than 0\n"),
    (["--health-timeout", "0s"], "Error: healthcheck-timeout must be at least 1 second\n"),
    (["--health-start-period", "-1s"], "Error: healthcheck-start-period must be 0 seconds or greater\n"),
    (["--health-on-failure", "bogus"],
     'Error: invalid on-failure action "bogus" for health check: supported actions are none,kill,restart,stop\n'),
    (["--no-healthcheck"], "Error: cannot specify both --no-healthcheck and --health-cmd\n"),
]
# An image built by podman from `HEALTHCHECK --interval=2s --timeout=3s --start-period=1s --retries=2
# CMD test -f /tmp/ok`: its config's Healthcheck, which inspect shows as is.
IMAGE_HEALTHCHECK = {"Test": ["CMD-SHELL", "test -f /tmp/ok"], "StartPeriod": 1000000000, "Interval": 2000000000,
                     "Timeout": 3000000000, "Retries": 2}


# -- pure rules ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, test", PODMAN_TESTS.items())
def test_health_cmd_is_read_as_podman_reads_it(text, test):
    assert health.parse_test(text) == test


def test_config_as_podman_shows_it():
    spec = health.from_flags("echo hi", "30s", 3, "30s", "2s", "none", False)
    shown = health.inspect_config(health.config_of(vars(spec), {}))
    assert shown == PODMAN_CONFIG and list(shown) == list(PODMAN_CONFIG)
    # No start period: not shown, as podman's omitempty.
    spec = health.from_flags("true", "1s", 3, "500ms", "0s", "none", False)
    assert health.inspect_config(health.config_of(vars(spec), {})) == {
        "Test": ["CMD-SHELL", "true"], "Interval": 1000000000, "Timeout": 500000000, "Retries": 3}
    # --no-healthcheck: {"Test": ["NONE"]} and no check, even when the image has one.
    spec = health.from_flags(None, "30s", 3, "30s", "0s", "none", True)
    config = health.config_of(vars(spec), {"Healthcheck": IMAGE_HEALTHCHECK})
    assert config == {"Test": ["NONE"]} and health.command_of(config) is None
    # No --health-cmd: the image's, with --health-interval and friends ignored (as podman).
    spec = health.from_flags(None, "9s", 7, "30s", "0s", "none", False)
    assert health.config_of(vars(spec), {"Healthcheck": IMAGE_HEALTHCHECK}) == IMAGE_HEALTHCHECK
    assert health.config_of(vars(spec), {}) is None


def test_commands():
    assert health.command_of({"Test": ["CMD-SHELL", "test -f /x"]}) == ["/bin/sh", "-c", "test -f /x"]
    assert health.command_of({"Test": ["CMD", "ls", "/"]}) == ["ls", "/"]
    assert health.command_of({"Test": ["NONE"]}) is None
    assert health.command_of(None) is None


@pytest.mark.parametrize("flags, message", PODMAN_FLAG_ERRORS)
def test_flag_errors(flags, message):
    values = {"--health-interval": "30s", "--health-retries": 3, "--health-timeout": "30s",
              "--health-start-period": "0s", "--health-on-failure": "none", "--no-healthcheck": False}
    if flags == ["--no-healthcheck"]:
        values["--no-healthcheck"] = True
    else:
        values[flags[0]] = int(flags[1]) if flags[0] == "--health-retries" else flags[1]
    with pytest.raises(InvalidArgument) as raised:
        spec = health.from_flags("true", *values.values())
        health.validate(vars(spec))
    assert f"Error: {raised.value}\n" == message


def test_status_moves_as_podmans(tmp_path):
    """podman 4.3.1, `healthcheck run` four times on a failing check (retries 3): starting (streak 1),
    starting (2), unhealthy (3), unhealthy (4); after a success: healthy, streak 0; the log keeps 5."""
    path = str(tmp_path / "userdata" / health.STATUS_FILE)
    assert health.read_status(path) == {"Status": "", "FailingStreak": 0, "Log": []}
    health.set_starting(path)

    def result(code: int, in_start_period: bool = False) -> dict:
        now = time.time()
        return health.record_result(path, start=now, end=now + 0.1, exit_code=code, output="", retries=3,
                                    in_start_period=in_start_period)

    assert [(s["Status"], s["FailingStreak"]) for s in (result(1), result(1), result(1), result(1))] == [
        ("starting", 1), ("starting", 2), ("unhealthy", 3), ("unhealthy", 4)]
    done = result(0)
    assert (done["Status"], done["FailingStreak"], len(done["Log"])) == ("healthy", 0, 5)
    assert list(done["Log"][0]) == ["Start", "End", "ExitCode", "Output"]
    # A new start: starting again, the streak and log kept (as podman's).
    result(1)
    again = health.set_starting(path)
    assert (again["Status"], again["FailingStreak"]) == ("starting", 1)
    # Failures within the start period do not count.
    assert result(1, in_start_period=True)["FailingStreak"] == 1


def test_output_is_cut_as_podmans():
    assert health.output_text(b"one\ntwo\n") == "one\ntwo"
    assert len(health.output_text(b"x" * 2000)) == health.MAX_OUTPUT


# -- with runc -------------------------------------------------------------------------------------

def _status(pyctr, name: str) -> str:
    return pyctr("ps", "-a", "--filter", f"name={name}", "--format", "{{.Status}}").stdout.strip()


def test_starting_unhealthy_healthy(pyctr, image):
    """The issue's acceptance: (starting), then (unhealthy) after the retries, then (healthy)."""
    pyctr("run", "-d", "--name", "hc", "--health-cmd", "test -f /tmp/ok", "--health-interval", "1s", image, "sleep", "1000")
    assert _status(pyctr, "hc").endswith("(starting)")
    assert wait_for(lambda: _status(pyctr, "hc").endswith("(unhealthy)"), timeout=20)
    got = json.loads(pyctr("inspect", "--format", "{{json .State.Health}}", "hc").stdout)
    assert got["Status"] == "unhealthy" and got["FailingStreak"] >= 3
    assert {entry["ExitCode"] for entry in got["Log"]} == {1} and 3 <= len(got["Log"]) <= 5
    assert pyctr("ps", "--filter", "health=unhealthy", "--format", "{{.Names}}").stdout == "hc\n"
    pyctr("exec", "hc", "touch", "/tmp/ok")
    assert wait_for(lambda: _status(pyctr, "hc").endswith("(healthy)"), timeout=20)
    assert pyctr("ps", "--filter", "health=healthy", "--format", "{{.Names}}").stdout == "hc\n"
    assert pyctr("healthcheck", "run", "hc").returncode == 0
    config = json.loads(pyctr("inspect", "--format", "{{json .Config.Healthcheck}}", "hc").stdout)
    assert config == {"Test": ["CMD-SHELL", "test -f /tmp/ok"], "Interval": 1000000000, "Timeout": 30000000000, "Retries": 3}
    assert pyctr("inspect", "--format", "{{.Config.HealthcheckOnFailureAction}}", "hc").stdout == "none\n"
    # Stopped, it keeps its last health (podman: `Exited (137) 1 second ago (unhealthy)`).
    pyctr("stop", "-t", "0", "hc")
    assert _status(pyctr, "hc").startswith("Exited (137)") and _status(pyctr, "hc").endswith("(healthy)")


def test_healthcheck_run(pyctr, image):
    """`healthcheck run` as podman 4.3.1: `unhealthy` and exit 1 on failure, nothing and 0 when healthy;
    the interval "disable" leaves the checks to it."""
    cid = pyctr("run", "-d", "--name", "manual", "--health-cmd", "echo checked; test -f /tmp/ok",
                "--health-interval", "disable", image, "sleep", "1000").stdout.strip()
    failed = pyctr("healthcheck", "run", "manual", check=False)
    assert (failed.returncode, failed.stdout, failed.stderr) == (1, "unhealthy\n", "")
    assert _status(pyctr, "manual").endswith("(starting)")  # one failure of three
    pyctr("exec", "manual", "touch", "/tmp/ok")
    passed = pyctr("healthcheck", "run", "manual", check=False)
    assert (passed.returncode, passed.stdout) == (0, "")
    got = json.loads(pyctr("inspect", "--format", "{{json .State.Health}}", "manual").stdout)
    assert (got["Status"], got["FailingStreak"]) == ("healthy", 0)
    assert [(e["ExitCode"], e["Output"]) for e in got["Log"]] == [(1, "checked"), (0, "checked")]
    # podman's errors: unknown container, no check, not running, argument count.
    pyctr("run", "-d", "--name", "nocheck", image, "sleep", "1000")
    nocheck = pyctr("inspect", "--format", "{{.Id}}", "nocheck").stdout.strip()
    created = pyctr("create", "--name", "idle", "--health-cmd", "true", image, "sleep", "1000").stdout.strip()
    for args, message in [
        (["nosuch"], 'Error: unable to look up nosuch to perform a health check: no container with name or ID "nosuch" found: no such container\n'),
        (["nocheck"], f"Error: container {nocheck} has no defined healthcheck\n"),
        (["idle"], f"Error: container {created} is not running\n"),
        ([], "Error: accepts 1 arg(s), received 0\n"),
        (["a", "b"], "Error: accepts 1 arg(s), received 2\n"),
    ]:
        result = pyctr("healthcheck", "run", *args, check=False)
        assert (result.returncode, result.stderr) == (125, message)
    assert cid


def test_timeout_and_start_period(pyctr, image):
    """A check that outlives --health-timeout is killed and counts as failed (exit code -1); during
    the start period failures do not count."""
    pyctr("run", "-d", "--name", "slow", "--health-cmd", "echo begun; sleep 30", "--health-timeout", "1s",
          "--health-interval", "1s", "--health-retries", "1", "--health-start-period", "2s", image, "sleep", "1000")
    assert wait_for(lambda: _status(pyctr, "slow").endswith("(unhealthy)"), timeout=20)
    got = json.loads(pyctr("inspect", "--format", "{{json .State.Health}}", "slow").stdout)
    assert got["Log"][-1]["ExitCode"] == -1 and got["Log"][-1]["Output"] == "begun"
    assert got["FailingStreak"] < len(got["Log"]) or len(got["Log"]) == 5  # the first one was in the start period
    assert "sleep 30" not in pyctr("exec", "slow", "ps").stdout  # the timed-out checks were killed


def test_on_failure_kill_and_restart(pyctr, image):
    pyctr("run", "-d", "--name", "killed", "--health-cmd", "false", "--health-interval", "1s", "--health-retries", "1",
          "--health-on-failure", "kill", image, "sleep", "1000")
    assert wait_for(lambda: _status(pyctr, "killed").startswith("Exited (137)"), timeout=30)
    assert _status(pyctr, "killed").endswith("(unhealthy)")
    started = pyctr("run", "-d", "--name", "again", "--health-cmd", "test -f /tmp/ok", "--health-interval", "1s",
                    "--health-retries", "2", "--health-on-failure", "restart", image, "sleep", "1000")
    assert started.returncode == 0
    first = pyctr("inspect", "--format", "{{.State.StartedAt}}", "again").stdout

    def restarted() -> bool:
        state = pyctr("inspect", "--format", "{{.State.Status}} {{.State.StartedAt}}", "again").stdout
        return state.startswith("running") and state.split()[1] + "\n" != first

    assert wait_for(restarted, timeout=40)
    assert _status(pyctr, "again").endswith(("(starting)", "(unhealthy)"))
    pyctr("rm", "-f", "again")
    result = pyctr("create", "--health-on-failure", "stop", image, "true", check=False)
    assert (result.returncode, result.stderr) == (125, "Error: cannot set on-failure action to stop without a health check\n")


@pytest.mark.parametrize("flags, message", PODMAN_FLAG_ERRORS)
def test_flag_errors_on_the_command_line(pyctr, image, flags, message):
    result = pyctr("create", "--health-cmd", "true", *flags, image, "true", check=False)
    assert (result.returncode, result.stderr) == (125, message)


def test_image_healthcheck(registry, pyctr):
    ref = f"{registry.host}/test/healthcheck:latest"
    if "test/healthcheck:latest" not in registry.pushed:
        image = images.Image([images.busybox_layer()], config_extra={"Healthcheck": IMAGE_HEALTHCHECK})
        images.push(registry, "test/healthcheck", "latest", image)
        registry.pushed["test/healthcheck:latest"] = image
    pyctr("pull", "-q", ref)
    pyctr("run", "-d", "--name", "fromimage", ref, "sleep", "1000")
    config = json.loads(pyctr("inspect", "--format", "{{json .Config.Healthcheck}}", "fromimage").stdout)
    assert config == IMAGE_HEALTHCHECK
    assert wait_for(lambda: _status(pyctr, "fromimage").endswith("(unhealthy)"), timeout=20)
    pyctr("create", "--name", "disabled", "--no-healthcheck", ref, "true")
    assert pyctr("inspect", "--format", "{{json .Config.Healthcheck}}", "disabled").stdout == '{"Test":["NONE"]}\n'


def test_rootless_health_check(rootless, registry):  # noqa: F811 - the fixture
    image = f"{registry.host}/test/busybox"
    rootless.pyctr("run", "-d", "--name", "rlhc", "--health-cmd", "test -f /tmp/ok", "--health-interval", "1s",
                   image, "sleep", "1000")

    def status() -> str:
        return rootless.pyctr("ps", "--format", "{{.Status}}", "--filter", "name=rlhc").stdout.strip()

    assert wait_for(lambda: status().endswith("(unhealthy)"), timeout=30)
    rootless.pyctr("exec", "rlhc", "touch", "/tmp/ok")
    assert wait_for(lambda: status().endswith("(healthy)"), timeout=30)
    assert rootless.pyctr("healthcheck", "run", "rlhc").returncode == 0
    rootless.pyctr("rm", "-f", "rlhc")
