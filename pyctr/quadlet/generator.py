"""The systemd generator: Quadlet files in, service units out.

systemd runs generators early (at boot and on every daemon-reload) as `GENERATOR NORMAL EARLY LATE`;
we write to NORMAL. A file with errors is reported (`PATH:LINE: message`, on stderr, which systemd
sends to its log) and skipped: the other files still become units, and nothing here may stop
the manager. Kept light: no typer, no engine, only the parser and the converters.

Where files are read from (as podman 4.4's quadlet, the same directories):
    system: /etc/containers/systemd, /usr/share/containers/systemd
    user:   $XDG_CONFIG_HOME/containers/systemd (default ~/.config/containers/systemd),
            /etc/containers/systemd/users/$UID, /etc/containers/systemd/users
    QUADLET_UNIT_DIRS (colon-separated absolute paths) replaces either list, for tests.
The first file of a name wins; `NAME.d/*.conf` drop-ins from any of the directories are merged
in name order.
"""

from __future__ import annotations

import os
import sys

from pyctr.quadlet.common import INSTALL, Context
from pyctr.quadlet.unitfile import UnitFile, UnitFileError, split_words

# Volumes and networks first: containers that name them need their resource names.
ORDER = {".volume": 0, ".network": 0, ".container": 1, ".kube": 1}
SYSTEM_DIRS = ("/etc/containers/systemd", "/usr/share/containers/systemd")
USERS_DIR = "/etc/containers/systemd/users"


def unit_dirs(user: bool) -> list[str]:
    override = os.environ.get("QUADLET_UNIT_DIRS")
    if override:
        return [d for d in override.split(":") if os.path.isabs(d)]
    if not user:
        return list(SYSTEM_DIRS)
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return [os.path.join(config, "containers", "systemd"), os.path.join(USERS_DIR, str(os.getuid())), USERS_DIR]


def default_pyctr() -> list[str]:
    """The pyctr command units should run: the console script next to our interpreter (a venv's
    bin/), else this interpreter with -m; the one-file build: that file."""
    from pyctr import dist

    one_file = dist.file_argv()
    if one_file:
        return one_file
    script = os.path.join(os.path.dirname(sys.executable), "pyctr")
    return [script] if os.access(script, os.X_OK) else [sys.executable, "-m", "pyctr"]


class Result:
    def __init__(self):
        self.services: list[UnitFile] = []
        self.errors: list[str] = []


def load(dirs: list[str], result: Result) -> list[UnitFile]:
    units, seen = [], set()
    for directory in dirs:
        try:
            names = sorted(os.listdir(directory))
        except FileNotFoundError:
            continue
        except OSError as exc:
            result.errors.append(f"{directory}: {exc.strerror}")
            continue
        for name in names:
            ext = os.path.splitext(name)[1]
            path = os.path.join(directory, name)
            if ext not in ORDER or name in seen or not os.path.isfile(path):
                continue
            seen.add(name)
            try:
                unit = UnitFile.load(path)
                _merge_dropins(unit, dirs)
            except UnitFileError as exc:
                result.errors.append(str(exc))
            except (OSError, UnicodeDecodeError) as exc:
                result.errors.append(f"{path}: {getattr(exc, 'strerror', None) or exc}")
            else:
                units.append(unit)
    units.sort(key=lambda u: ORDER[os.path.splitext(u.filename)[1]])  # stable: directory order stays
    return units


def _merge_dropins(unit: UnitFile, dirs: list[str]) -> None:
    found: dict[str, str] = {}
    for directory in dirs:
        dropins = os.path.join(directory, unit.filename + ".d")
        try:
            names = os.listdir(dropins)
        except OSError:
            continue
        for name in names:
            if name.endswith(".conf") and name not in found:
                found[name] = os.path.join(dropins, name)
    for name in sorted(found):
        with open(found[name], encoding="utf-8") as f:
            unit.merge_text(f.read(), found[name])


def convert(units: list[UnitFile], ctx: Context, result: Result) -> None:
    from pyctr.quadlet import container, kube, network, volume

    converters = {".container": container, ".volume": volume, ".network": network, ".kube": kube}
    for unit in units:
        module = converters[os.path.splitext(unit.filename)[1]]
        try:
            service = module.convert(unit, ctx)
        except UnitFileError as exc:
            if not exc.path:
                exc.path = unit.path or unit.filename
            result.errors.append(str(exc))
            continue
        if module in (volume, network):
            ctx.resource_names[unit.filename] = module.resource_name(unit)
        result.services.append(service)


def generate(user: bool, pyctr: list[str] | None = None) -> Result:
    result = Result()
    units = load(unit_dirs(user), result)
    convert(units, Context(pyctr or default_pyctr(), user), result)
    return result


def render(service: UnitFile, generated_by: str) -> str:
    return service.text([f"Automatically generated by {generated_by}", ""])


def dryrun_text(result: Result, generated_by: str) -> str:
    """As `quadlet -dryrun`: each unit after a `---NAME---` line."""
    return "".join(f"---{s.filename}---\n{render(s, generated_by)}\n" for s in result.services)


def write(result: Result, output_dir: str, generated_by: str) -> None:
    os.makedirs(output_dir, exist_ok=True)
    for service in result.services:
        path = os.path.join(output_dir, service.filename)
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(render(service, generated_by))
        except OSError as exc:
            result.errors.append(f"writing {path}: {exc.strerror}")
            continue
        _enable(service, output_dir, result)


def _enable(service: UnitFile, output_dir: str, result: Result) -> None:
    """[Install] as `systemctl enable` would do it (a generated unit cannot be enabled): symlinks
    for Alias=, WantedBy= and RequiredBy= in the generator's directory."""
    def names(key: str) -> list[str]:
        found = []
        for entry in service.values(INSTALL, key):
            try:
                found += split_words(entry.value)
            except ValueError as exc:
                result.errors.append(str(entry.error(str(exc))))
        return found

    links = [os.path.normpath(alias) for alias in names("Alias")]
    filename = service.filename
    stem, at, rest = filename.partition("@")
    if at and rest.startswith("."):  # a template: enabled only through its DefaultInstance
        default = service.value(INSTALL, "DefaultInstance")
        filename = f"{stem}@{default}{rest}" if default else ""
    if filename:
        for key, suffix in (("WantedBy", "wants"), ("RequiredBy", "requires")):
            links += [f"{target}.{suffix}/{filename}" for target in names(key) if "/" not in target]
    for link in links:
        path = os.path.join(output_dir, link)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if os.path.lexists(path):
                os.unlink(path)
            os.symlink(os.path.relpath(os.path.join(output_dir, service.filename), os.path.dirname(path)), path)
        except OSError as exc:
            result.errors.append(f"linking {path}: {exc.strerror}")


def main(argv: list[str], user: bool, pyctr: list[str]) -> int:
    """The generator's entry: `argv` is (NORMAL-DIR, EARLY-DIR, LATE-DIR) as systemd passes them."""
    me = f"{os.path.basename(sys.argv[0]) or 'pyctr-quadlet-generator'}[{os.getpid()}]"
    if not argv:
        sys.stderr.write(f"{me}: missing output directory argument\n")
        return 1
    result = generate(user, pyctr)
    write(result, argv[0], sys.argv[0])
    for error in result.errors:
        sys.stderr.write(f"{me}: {error}\n")
    sys.stderr.flush()
    # Non-zero makes systemd log that the generator failed; the units of the good files are written.
    return 1 if result.errors else 0
