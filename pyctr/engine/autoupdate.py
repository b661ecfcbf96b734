"""auto-update: containers labelled io.containers.autoupdate whose image has changed get their
systemd unit restarted on the new image, and a unit that does not come back is rolled back.

As podman: only running containers are considered; the unit is the one named in the container's
PODMAN_SYSTEMD_UNIT label (written at create time from the environment that generated units set);
`registry` compares the digest the registry has for the container's image name with the local
image's, `local` compares the image the name now points to with the container's.
"""

from __future__ import annotations

import os
import subprocess
import time
from typing import TYPE_CHECKING

from pyctr.errors import InvalidArgument, PyctrError, RuntimeFailure
from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.container.store import ContainerRecord
    from pyctr.engine.services import Services

POLICY_LABEL = "io.containers.autoupdate"
AUTHFILE_LABEL = "io.containers.autoupdate.authfile"
UNIT_LABEL = "PODMAN_SYSTEMD_UNIT"
POLICIES = ("disabled", "image", "local", "registry")  # "image": registry's older name
# A restarted unit counts as up once it has stayed active, on one main process, this long: a
# container whose command fails at once has already said READY=1 (--sdnotify=conmon) and only
# then exits, so `systemctl restart` alone would call that a success.
SETTLE_SECONDS = 2.0


@value
class AutoUpdateReport:
    unit: str
    container_id: str
    container_name: str
    image: str  # the name the container was created with
    policy: str
    updated: str  # "true", "false", "pending" (--dry-run), "failed" or "rolled back"


@value
class AutoUpdateResult:
    reports: list[AutoUpdateReport]
    errors: list[PyctrError]


@value
class _Task:
    record: "ContainerRecord"
    unit: str
    image: str
    policy: str
    authfile: str | None


class AutoUpdates:
    def __init__(self, services: "Services"):
        self._s = services

    def run(self, *, dry_run: bool = False, rollback: bool = True, authfile: str | None = None,
            tls_verify: bool | None = None) -> AutoUpdateResult:
        """Check every running container with an auto-update policy; unless `dry_run`, pull what is
        newer and restart the units concerned (each once), rolling back those that fail when `rollback`."""
        tasks, errors = self._tasks()
        reports: list[AutoUpdateReport] = []
        pending: dict[str, list[tuple[_Task, str]]] = {}  # unit -> (task, the image ID it ran)
        for task in tasks:
            try:
                newer = self._newer_image(task, authfile, tls_verify)
            except PyctrError as exc:
                errors.append(type(exc)(f'auto-updating container "{task.record.id}": {exc}'))
                continue
            if not newer or dry_run:
                reports.append(_report(task, "pending" if newer else "false"))
                continue
            if task.policy == "registry":
                try:
                    self._s.images.pull(task.image, tls_verify=tls_verify, authfile=task.authfile or authfile)
                except PyctrError as exc:
                    errors.append(type(exc)(f'auto-updating container "{task.record.id}": image update: {exc}'))
                    reports.append(_report(task, "failed"))
                    continue
            pending.setdefault(task.unit, []).append((task, task.record.image_id))
        manager = SystemdManager(self._s.config.rootless)
        for unit, unit_tasks in sorted(pending.items()):
            error = manager.restart(unit)
            outcome = "true"
            if error is not None and not rollback:
                errors.append(RuntimeFailure(f"restarting unit {unit} during auto-update: {error}"))
                outcome = "failed"
            elif error is not None:  # as podman: a unit back on its previous image is no error, only "rolled back"
                for task, old_image in unit_tasks:
                    self._s.images.tag(old_image, [task.image])
                second = manager.restart(unit)
                outcome = "rolled back" if second is None else "failed"
                if second is not None:
                    errors.append(RuntimeFailure(f"restarting unit {unit} during auto-update: {error}; "
                                                 f"with the previous image: {second}"))
            reports += [_report(task, outcome) for task, _ in unit_tasks]
        reports.sort(key=lambda r: (r.unit, r.container_name))
        return AutoUpdateResult(reports, errors)

    def _tasks(self) -> tuple[list[_Task], list[PyctrError]]:
        store = self._s.containers
        tasks, errors = [], []
        for record in sorted(store.all(), key=lambda r: r.created):
            policy = record.labels.get(POLICY_LABEL)
            if policy is None or policy == "disabled" or store.status(record.id).state != "running":
                continue
            if policy not in POLICIES:
                valid = " ".join(f'"{p}"' for p in POLICIES)
                errors.append(InvalidArgument(f'invalid auto-update policy "{policy}": valid policies are [{valid}]'))
                continue
            unit = record.labels.get(UNIT_LABEL)
            if not unit:
                errors.append(InvalidArgument(f'auto-updating container "{record.id}": no {UNIT_LABEL} label found'))
                continue
            image = record.spec.image.name
            policy = "registry" if policy == "image" else policy
            if policy == "registry" and not _fully_qualified(image):
                errors.append(InvalidArgument(
                    f'auto-updating container "{record.id}": image name "{image}" is not a fully-qualified reference '
                    f'(REGISTRY/REPOSITORY[:TAG]), which the registry policy needs to know what to pull'))
                continue
            tasks.append(_Task(record, unit, image, policy, record.labels.get(AUTHFILE_LABEL)))
        return tasks, errors

    def _newer_image(self, task: _Task, authfile: str | None, tls_verify: bool | None) -> bool:
        images = self._s.images
        if task.policy == "local":
            return images.get(task.image).id != task.record.image_id
        remote = images.remote_digest(task.image, tls_verify=tls_verify, authfile=task.authfile or authfile)
        current = images.index.load().get(task.record.image_id)
        if current is None:  # the container's image is gone: anything the registry has is newer
            return True
        return remote != current.manifest_digest and not any(d.endswith("@" + remote) for d in current.repo_digests)


def _report(task: _Task, updated: str) -> AutoUpdateReport:
    return AutoUpdateReport(task.unit, task.record.id, task.record.name, task.image, task.policy, updated)


def _fully_qualified(name: str) -> bool:
    from pyctr.image.reference import split_domain

    return "/" in name and split_domain(name)[0] == name.partition("/")[0]


class SystemdManager:
    """The systemd instance whose units run our containers, driven through systemctl.

    Rootless: the user's manager. Root: the system manager when systemd is PID 1, else root's own user
    manager if one runs (a machine without systemd as init, as in containers and this project's CI)."""

    def __init__(self, rootless: bool):
        self.user = rootless or not _systemd_is_init()

    def _systemctl(self, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        if self.user:
            env.setdefault("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
        argv = ["systemctl", *(["--user"] if self.user else []), *args]
        try:
            return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return subprocess.CompletedProcess(argv, 1, "", str(exc))

    def _show(self, unit: str) -> dict[str, str]:
        out = self._systemctl("show", "-p", "ActiveState", "-p", "MainPID", "-p", "NRestarts", unit).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def restart(self, unit: str) -> str | None:
        """Restart `unit` and wait until it has settled: None when it runs, else why not."""
        done = self._systemctl("restart", unit)
        if done.returncode != 0:
            return (done.stderr.strip().splitlines() or [f"systemctl exited with {done.returncode}"])[-1]
        first = self._show(unit)
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            now = self._show(unit)
            if now.get("ActiveState") != "active" or now.get("MainPID") != first.get("MainPID") \
                    or now.get("NRestarts") != first.get("NRestarts"):
                return f"unit {unit} did not stay active ({now.get('ActiveState', 'unknown')})"
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)


def _systemd_is_init() -> bool:
    """PID 1 is systemd (the presence of /run/systemd/system alone is no proof: tools create it)."""
    try:
        with open("/proc/1/comm") as f:
            return f.read().strip() == "systemd"
    except OSError:
        return False
