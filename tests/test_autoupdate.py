"""auto-update: which containers it looks at, what it finds newer, and (under a real systemd user
manager) the restart on the new image and the rollback of a unit that does not come back."""

import json
import uuid

import pytest

from tests.conftest import REPO_ROOT, wait_for
from tests.harness import systemd_user
from tests.harness.images import Image, Layer, busybox_layer, file, push
from tests.harness.systemd_user import UserManager
from tests.test_rootless import rootless  # noqa: F401  (fixture)

UNIT = {"PODMAN_SYSTEMD_UNIT": "container-au.service"}


def _push_version(registry, repo: str, version: str, cmd: list[str] | None = None) -> str:
    """Push a busybox image with /version under repo:latest; its reference."""
    layer = Layer([file("version", version + "\n")], "gzip", comment=f"version {version}")
    push(registry, repo, "latest", Image([busybox_layer(), layer], cmd=cmd or ["sh"]))
    return f"{registry.host}/{repo}:latest"


def _repo() -> str:
    return f"test/au{uuid.uuid4().hex[:8]}"


def test_dry_run_reports_pending_once_the_registry_has_a_newer_image(registry, pyctr):
    ref = _push_version(registry, _repo(), "1")
    pyctr("run", "-d", "--name", "au", "--label", "io.containers.autoupdate=registry", ref, "sleep", "100", env=UNIT)
    assert pyctr("inspect", "au", "--format", "{{.Config.Labels.PODMAN_SYSTEMD_UNIT}}").stdout == "container-au.service\n"
    pyctr("run", "-d", "--name", "plain", ref, "sleep", "100", env=UNIT)  # no policy: not looked at
    short_id = pyctr("inspect", "au", "--format", "{{.Id}}").stdout[:12]

    lines = pyctr("auto-update", "--dry-run").stdout.splitlines()
    assert lines[0].split() == ["UNIT", "CONTAINER", "IMAGE", "POLICY", "UPDATED"]
    assert lines[1].split() == ["container-au.service", short_id, "(au)", ref, "registry", "false"]
    assert len(lines) == 2

    _push_version(registry, ref.split("/", 1)[1].rsplit(":", 1)[0], "2")
    rows = json.loads(pyctr("auto-update", "--dry-run", "--format", "json").stdout)
    assert rows == [{"Unit": "container-au.service", "Container": f"{short_id} (au)", "Image": ref,
                     "Policy": "registry", "Updated": "pending"}]
    assert pyctr("auto-update", "--dry-run", "--format", "{{.Container}}: {{.Updated}}").stdout == f"{short_id} (au): pending\n"
    # A dry run pulls nothing: the container's image is still the only one under that name.
    assert len(pyctr("images", "-q").stdout.split()) == 1


def test_local_policy_compares_the_image_the_name_points_to(registry, pyctr):
    old, new = _push_version(registry, _repo(), "1"), _push_version(registry, _repo(), "2")
    pyctr("pull", "-q", old)
    pyctr("pull", "-q", new)
    pyctr("tag", old, "localhost/app:1")
    pyctr("run", "-d", "--name", "au", "--label", "io.containers.autoupdate=local", "localhost/app:1", "sleep", "100",
          env=UNIT)
    assert pyctr("auto-update", "--dry-run", "--format", "{{.Updated}}").stdout == "false\n"
    pyctr("tag", new, "localhost/app:1")
    assert pyctr("auto-update", "--dry-run", "--format", "{{.Policy}} {{.Updated}}").stdout == "local pending\n"


def test_containers_it_cannot_update_are_one_error_each(registry, pyctr):
    ref = _push_version(registry, _repo(), "1")
    pyctr("run", "-d", "--name", "nounit", "--label", "io.containers.autoupdate=registry", ref, "sleep", "100")
    result = pyctr("auto-update", "--dry-run", check=False)
    nounit = pyctr("inspect", "nounit", "--format", "{{.Id}}").stdout.strip()
    assert (result.returncode, result.stdout) == (125, "")
    assert result.stderr == f'Error: auto-updating container "{nounit}": no PODMAN_SYSTEMD_UNIT label found\n'
    pyctr("rm", "-f", "-t0", "nounit")

    pyctr("run", "-d", "--name", "bogus", "--label", "io.containers.autoupdate=bogus", ref, "sleep", "100", env=UNIT)
    result = pyctr("auto-update", check=False)
    assert result.returncode == 125
    assert result.stderr == ('Error: invalid auto-update policy "bogus": valid policies are '
                             '["disabled" "image" "local" "registry"]\n')
    pyctr("rm", "-f", "-t0", "bogus")

    pyctr("tag", ref, "shortname")  # localhost/shortname: what would a registry policy pull?
    pyctr("run", "-d", "--name", "short", "--label", "io.containers.autoupdate=registry", "shortname", "sleep", "100",
          env=UNIT)
    result = pyctr("auto-update", "--dry-run", check=False)
    assert result.returncode == 125
    assert 'image name "shortname" is not a fully-qualified reference' in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_stopped_and_disabled_containers_are_left_alone(registry, pyctr):
    ref = _push_version(registry, _repo(), "1")
    pyctr("create", "--name", "created", "--label", "io.containers.autoupdate=registry", ref, "true", env=UNIT)
    pyctr("run", "-d", "--name", "off", "--label", "io.containers.autoupdate=disabled", ref, "sleep", "100", env=UNIT)
    result = pyctr("auto-update")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


# -- under a real systemd user manager ---------------------------------------------------------------

def _version(pyctr) -> str:
    return pyctr("exec", "au", "cat", "/version", check=False).stdout.strip()


@pytest.mark.skipif(not systemd_user.available(), reason="needs root, systemd and a cgroup v2 mount")
def test_the_unit_restarts_on_the_new_image_and_rolls_back_a_broken_one(registry, pyctr, store):
    repo = _repo()
    ref = _push_version(registry, repo, "1")
    pyctr("create", "--name", "au", "--network", "none", "--label", "io.containers.autoupdate=registry", ref,
          "sleep", "1000")
    unit = "container-au.service"
    try:
        with UserManager(env={"PYTHONPATH": str(REPO_ROOT)}) as sd:
            manager_env = {"XDG_RUNTIME_DIR": str(sd.runtime_dir)}  # where `systemctl --user` finds root's manager
            sd.install_unit(unit, pyctr("generate", "systemd", "--new", "--name", "--restart-policy", "on-failure",
                                        "au").stdout)
            assert sd.systemctl("start", unit).returncode == 0, sd.diagnostics(unit)
            assert wait_for(lambda: _version(pyctr) == "1", timeout=60), sd.diagnostics(unit)
            assert pyctr("auto-update", "--format", "{{.Unit}} {{.Updated}}", env=manager_env).stdout == f"{unit} false\n"

            _push_version(registry, repo, "2")
            out = pyctr("auto-update", "--format", "{{.Image}} {{.Updated}}", env=manager_env)
            assert out.stdout == f"{ref} true\n", sd.diagnostics(unit)
            assert sd.is_active(unit), sd.diagnostics(unit)
            assert _version(pyctr) == "2"

            # An image whose entrypoint fails at once: the unit does not stay up, so it goes back to version 2.
            broken = Image([busybox_layer(), Layer([file("version", "3\n")], "gzip")],
                           config_extra={"Entrypoint": ["/bin/false"]})
            push(registry, repo, "latest", broken)
            out = pyctr("auto-update", "--format", "{{.Updated}}", env=manager_env)
            assert out.stdout == "rolled back\n", sd.diagnostics(unit)
            assert wait_for(lambda: sd.is_active(unit) and _version(pyctr) == "2", timeout=60), sd.diagnostics(unit)
            assert pyctr("image", "inspect", "--format", "{{.Id}}", ref).stdout == \
                pyctr("inspect", "--format", "{{.Image}}", "au").stdout

            # Without rollback the failure is an error, and the unit is left as it is.
            out = pyctr("auto-update", "--rollback=false", "--format", "{{.Updated}}", env=manager_env, check=False)
            assert (out.returncode, out.stdout) == (125, "failed\n")
            assert out.stderr.startswith(f"Error: restarting unit {unit} during auto-update: ")
            sd.systemctl("stop", unit, timeout=120)
    finally:
        pyctr("rm", "-f", "--all", check=False)


@pytest.mark.skipif(not systemd_user.available(), reason="needs root, systemd and a cgroup v2 mount")
def test_a_rootless_unit_follows_its_image(rootless, registry):  # noqa: F811
    """Rootless, the user's own manager restarts the unit (run under flock /tmp/pyctr-rootless-tests.lock)."""
    repo = _repo()
    ref = _push_version(registry, repo, "1")
    rootless.pyctr("create", "--name", "au", "--network", "none", "--label", "io.containers.autoupdate=registry", ref,
                   "sleep", "1000")
    unit = "container-au.service"
    try:
        with UserManager(user=rootless.name, runtime_dir=rootless.runtime, env=rootless.env()) as sd:
            sd.install_unit(unit, rootless.pyctr("generate", "systemd", "--new", "--name", "au").stdout)
            assert sd.systemctl("start", unit).returncode == 0, sd.diagnostics(unit)
            assert wait_for(lambda: _version(rootless.pyctr) == "1", timeout=60), sd.diagnostics(unit)
            _push_version(registry, repo, "2")
            out = rootless.pyctr("auto-update", "--format", "{{.Unit}} {{.Updated}}")
            assert out.stdout == f"{unit} true\n", sd.diagnostics(unit)
            assert wait_for(lambda: _version(rootless.pyctr) == "2", timeout=60), sd.diagnostics(unit)
            sd.systemctl("stop", unit, timeout=120)
    finally:
        rootless.pyctr("rm", "-f", "--all", check=False)
