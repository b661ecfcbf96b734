"""The bootstrap of the one-file build: `pyctrboot` at the top of dist/pyctr (see pyctr.dist.build).

The file is a zip with a #! line: this module, a two-line __main__ and `payload.zip` (pyctr and
its dependencies, compiled). The first run of a build unpacks the payload into
    $PYCTR_DIST_CACHE/BUILD, else ${XDG_CACHE_HOME:-~/.cache}/pyctr/dist/BUILD
(BUILD: the payload's hash, so two builds never mix; as shiv does). Every later run costs one
stat(2) more than the virtualenv: imports come from a plain directory of compiled modules, C
extensions (zstandard) load as usual, and nothing is hashed or read from the zip but this module.

Standard library only, and little of it: everything here runs before pyctr exists.
"""

import os
import sys

BUILD = None  # the payload's hash: set by the build
PYTHON = None  # (major, minor) the payload was compiled for: set by the build
PAYLOAD = "payload.zip"
MODULE_ENTRY = "__module"  # pyctr.dist.MODULE_ENTRY: `FILE __module MODULE ARGS...`
EXIT_ENGINE = 125


def fail(message: str) -> None:
    sys.stderr.write(f"Error: {message}\n")
    sys.stderr.flush()
    os._exit(EXIT_ENGINE)


def cache_dir() -> str:
    """Where this build's payload lives, unpacked."""
    base = os.environ.get("PYCTR_DIST_CACHE", "")
    if not os.path.isabs(base):
        cache = os.environ.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(cache):
            cache = os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(cache, "pyctr", "dist")
    return os.path.join(base, BUILD)


def setup(archive: str) -> str:
    """Make the payload of `archive` (this file) importable, unpacking it on first use; its directory."""
    if sys.version_info[:2] != PYTHON:
        fail(f"{archive} was built for Python {'.'.join(map(str, PYTHON))}, not {sys.version.split()[0]} "
             f"({sys.executable}): rebuild it with `make dist` on this machine")
    target = cache_dir()
    try:
        info = os.stat(target)
    except FileNotFoundError:
        try:
            _unpack(archive, target)
            info = os.stat(target)
        except OSError as exc:
            fail(f"unpacking {archive} into {target}: {exc.strerror or exc} "
                 "(set PYCTR_DIST_CACHE to a writable directory)")
    except OSError as exc:
        fail(f"{target}: {exc.strerror or exc}")
    # Code we are about to run: it must be ours, and nobody else's to change.
    if info.st_uid != os.geteuid() or info.st_mode & 0o022:
        fail(f"{target} belongs to uid {info.st_uid} (mode {info.st_mode & 0o7777:o}), not to this user "
             f"(uid {os.geteuid()}): remove it, or set PYCTR_DIST_CACHE to a directory of your own")
    # First on the path: the payload's modules, never a same-named one of the system's site-packages
    # (when the file is run as `python3 FILE`, without -S).
    sys.path[:] = [target, *(p for p in sys.path if os.path.abspath(p) != archive)]
    import pyctr.dist

    pyctr.dist.archive = archive
    return target


def _unpack(archive: str, target: str) -> None:
    """Unpack into a temporary directory beside `target`, then rename it into place: whoever runs
    first wins, nobody ever sees half a payload."""
    import shutil
    import tempfile
    import time
    import zipfile

    parent = os.path.dirname(target)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    for name in os.listdir(parent):  # what a killed unpack left (an hour is far longer than one takes)
        path = os.path.join(parent, name)
        try:
            if name.startswith(".unpack-") and os.stat(path).st_mtime < time.time() - 3600:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass
    umask = os.umask(0o022)
    temporary = tempfile.mkdtemp(prefix=".unpack-", dir=parent)
    try:
        with zipfile.ZipFile(archive) as outer, outer.open(PAYLOAD) as stream, zipfile.ZipFile(stream) as payload:
            payload.extractall(temporary)
        os.chmod(temporary, 0o755)
        try:
            os.rename(temporary, target)
        except OSError:
            if not os.path.isdir(target):
                raise  # else another pyctr unpacked the same build at the same moment
    finally:
        os.umask(umask)
        if os.path.isdir(temporary):
            shutil.rmtree(temporary, ignore_errors=True)


def main() -> None:
    archive = os.path.abspath(sys.argv[0])
    setup(archive)
    if len(sys.argv) > 2 and sys.argv[1] == MODULE_ENTRY:
        # A process of pyctr's own (pyctr.dist.module_argv): the shim, the cleanup helper, ...
        import runpy

        module = sys.argv[2]
        sys.argv = [archive, *sys.argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return
    from pyctr.cli.fast import main as cli

    sys.argv[0] = archive
    cli()
