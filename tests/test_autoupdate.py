"""auto-update: which containers it looks at, what it finds newer, and (under a real systemd user
manager) the restart on the new image and the rollback of a unit that does not come back."""

import json
import uuid

from tests.harness.images import Image, Layer, busybox_layer, file, push

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
