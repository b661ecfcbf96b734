"""`make dist`: build dist/pyctr, one executable file for a machine with only Debian's python3.

    /usr/bin/python3 -m pyctr.dist.build --pip build/dist-venv/bin/python --work build/dist --output dist/pyctr

Run by the interpreter the file is for (its #! line, and the version its modules are compiled for).
1. pip (of the `--pip` interpreter, a plain build venv) installs pyproject.toml's dependencies and
   its `service` extra (aiohttp, for `pyctr system service`: the one file is the whole tool, and
   the core never imports it, so other commands do not pay for it) into WORK/site, from whatever
   index pip is set up for;
2. WORK/payload gets them and the pyctr package, compiled as unchecked-hash .pyc (the payload
   is never edited in place, so no source is stat()ed against its .pyc at import);
3. the output is `#!PYTHON -IS`, then a zip: __main__.py, pyctrboot.py (pyctr/dist/boot.py, with
   the payload's hash and the Python version filled in) and payload.zip, stored.
Why a zip that unpacks once (as shiv) rather than imports from the zip (zipapp, pex) or a frozen
binary (PyInstaller): see the README's install section.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import io
import os
import py_compile
import shutil
import subprocess
import sys
import tomllib
import zipfile

from pyctr.dist import MODULE_ENTRY, PYTHON_FLAGS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOOT = os.path.join(REPO, "pyctr", "dist", "boot.py")
EPOCH = (1980, 1, 1, 0, 0, 0)  # zip entries' times: the same inputs give the same file, and BUILD


EXTRAS = ("service",)


def dependencies(pyproject: str) -> list[str]:
    """The core's requirements, and the EXTRAS' (minus references to pyctr's own extras)."""
    with open(pyproject, "rb") as f:
        project = tomllib.load(f)["project"]
    extras = [r for name in EXTRAS for r in project["optional-dependencies"][name] if not r.startswith("pyctr")]
    return [*project["dependencies"], *extras]


def install(pip_python: str, site: str, requirements: list[str]) -> None:
    version = subprocess.run([pip_python, "-c", "import sys; print(*sys.version_info[:2])"], check=True,
                             capture_output=True, text=True).stdout.split()
    if tuple(map(int, version)) != sys.version_info[:2]:
        raise SystemExit(f"{pip_python} is Python {'.'.join(version)}, the file is for {sys.version.split()[0]}")
    shutil.rmtree(site, ignore_errors=True)
    subprocess.run([pip_python, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check",
                    "--target", site, *requirements], check=True)
    shutil.rmtree(os.path.join(site, "bin"), ignore_errors=True)  # console scripts: not ours to run


def payload_tree(site: str, payload: str) -> None:
    shutil.rmtree(payload, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(site, payload, ignore=ignore)
    shutil.copytree(os.path.join(REPO, "pyctr"), os.path.join(payload, "pyctr"), ignore=ignore)
    if not compileall.compile_dir(payload, quiet=1, workers=0,
                                  invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH):
        # A third party's module that does not compile here would not import either; say so.
        sys.stderr.write("warning: some modules did not compile (above); the rest are in the payload\n")


def _entry(name: str, mode: int = 0o644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, EPOCH)
    info.external_attr = (0o100000 | mode) << 16
    return info


def zip_tree(tree: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for directory, dirs, files in os.walk(tree):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(directory, name)
                info = _entry(os.path.relpath(path, tree))
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(path, "rb") as f:
                    archive.writestr(info, f.read())
    return buffer.getvalue()


def boot_source(build: str) -> str:
    with open(BOOT, encoding="utf-8") as f:
        source = f.read()
    for name, value in (("BUILD", repr(build)), ("PYTHON", repr(tuple(sys.version_info[:2])))):
        line = f"\n{name} = None"
        if line not in source:
            raise SystemExit(f"{BOOT}: no `{name} = None` line to fill in")
        source = source.replace(line, f"\n{name} = {value}", 1)
    if f"\nMODULE_ENTRY = {MODULE_ENTRY!r}" not in source.replace('"', "'"):
        raise SystemExit(f"{BOOT}: MODULE_ENTRY is not pyctr.dist's {MODULE_ENTRY!r}")
    return source


def boot_bytecode(source: str, work: str) -> bytes:
    """pyctrboot's .pyc: zipimport takes it before the source (and compiles nothing)."""
    path = os.path.join(work, "pyctrboot.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(source)
    compiled = py_compile.compile(path, cfile=path + "c", dfile="pyctrboot.py", doraise=True,
                                  invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    with open(compiled, "rb") as f:
        return f.read()


def write_file(output: str, payload: bytes, build: str, work: str) -> None:
    source = boot_source(build)
    temporary = f"{output}.tmp{os.getpid()}"
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(temporary, "wb") as f:
        f.write(f"#!{sys.executable} {PYTHON_FLAGS}\n".encode())
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr(_entry("__main__.py"), "import pyctrboot\npyctrboot.main()\n")
            archive.writestr(_entry("pyctrboot.py"), source)
            archive.writestr(_entry("pyctrboot.pyc"), boot_bytecode(source, work))
            archive.writestr(_entry("payload.zip"), payload)
    os.chmod(temporary, 0o755)
    os.replace(temporary, output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyctr.dist.build", description=__doc__.splitlines()[0])
    parser.add_argument("--pip", required=True, help="the interpreter whose pip installs the dependencies")
    parser.add_argument("--work", default=os.path.join(REPO, "build", "dist"), help="the build's scratch directory")
    parser.add_argument("--output", default=os.path.join(REPO, "dist", "pyctr"), help="the file to write")
    args = parser.parse_args(argv)
    site, payload = os.path.join(args.work, "site"), os.path.join(args.work, "payload")
    os.makedirs(args.work, exist_ok=True)
    install(args.pip, site, dependencies(os.path.join(REPO, "pyproject.toml")))
    payload_tree(site, payload)
    data = zip_tree(payload)
    build = hashlib.sha256(data).hexdigest()[:16]
    write_file(args.output, data, build, args.work)
    print(f"{args.output}: {os.path.getsize(args.output) / 1e6:.1f} MB, build {build}, "
          f"for {sys.executable} (Python {sys.version.split()[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
