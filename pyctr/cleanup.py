"""`python -m pyctr.cleanup --root R --runroot RR [OPTIONS] ID`: what a shim runs after its container exited.

OPTIONS: the global options that chose the runtime, the events backend and overlay's mount
program for the command that started the container (pyctr.engine.options.config_argv).

runc delete, unmount, --rm and the restart policy, without the command line's
start-up cost: it runs once per container exit, often while the user's next
command is starting. Often there is nothing left to do: `stop` cleans up itself
(as podman's stop) and leaves a mark, `rm` and `run --rm` remove the container.
That is found out with `os` alone, before the engine is loaded (stop -a starts
one of these per container, all at once). What rm and run --rm left to us (the
removed container's files, renamed away) is deleted last, whatever the path.
"""

from __future__ import annotations

import os
import sys

CLEANED = "cleaned"  # in the run directory: the pid of the shim whose run is cleaned up (see mark_cleaned)


def main(argv: list[str]) -> int:
    # Our parent is the shim that ran the container: the run this cleanup belongs to.
    shim = os.getppid()
    try:
        return 0 if nothing_left(argv, shim) else _clean_up(argv, shim)
    finally:
        sweep(argv, shim)


def _clean_up(argv: list[str], shim: int) -> int:
    from pyctr.config import Config
    from pyctr.engine.options import apply_to_process, parse_argv
    from pyctr.engine.services import Services
    from pyctr.errors import ContainerNotFound, PyctrError

    options, rest = parse_argv(argv[4:])
    if len(argv) < 5 or argv[0] != "--root" or argv[2] != "--runroot" or len(rest) != 1:
        sys.stderr.write("usage: python -m pyctr.cleanup --root ROOT --runroot RUNROOT [OPTIONS] CONTAINER\n")
        return 2
    config = Config.create(argv[1], argv[3])
    try:
        options.apply(config)
        apply_to_process(config)
    except PyctrError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 125
    services = Services(config)
    try:
        record = services.containers.resolve(rest[0])
        if services.tasks.cleanup(record, shim_pid=shim):
            services.tasks.restart_after_exit(record)
        elif (record.spec_data.get("lifecycle") or {}).get("pod"):  # its pod's --exit-policy
            from pyctr.pod.exitpolicy import after_exit

            after_exit(services, record)
    except ContainerNotFound:
        return 0  # removed meanwhile (rm -f): nothing left to do
    except PyctrError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 125
    return 0


def settle_in_shim(command: list[str], shim: int) -> bool:
    """For shim `shim`, about to start its cleanup `command` (as the engine wrote it: ... pyctr.cleanup
    ARGS): whether nothing is left for the command to do (see nothing_left), after deleting what rm
    and run --rm left to it (sweep). Then the command need not start at all: an interpreter that
    would only find that out costs ~12 ms of CPU, at every stop, rm -f and run --rm."""
    try:
        argv = command[command.index("pyctr.cleanup") + 1:]  # (pyctr.dist.module_argv's forms)
    except ValueError:
        return False
    if not nothing_left(argv, shim):
        return False
    sweep(argv, shim)
    return True


def nothing_left(argv: list[str], shim: int) -> bool:
    """Whether the container of this cleanup argv (by full ID) is gone, or the run of `shim` is
    cleaned up. Under the container's lock, so that a stop cleaning it up meanwhile is waited
    for. Anything unexpected: False, and the engine decides. (os and fcntl alone: a shim may
    ask too, instead of starting the command.)"""
    if len(argv) < 5 or argv[0] != "--root" or argv[2] != "--runroot":
        return False
    container_id = argv[-1]
    if not _is_id(container_id):
        return False
    container = os.path.join(argv[1], "containers", container_id)
    lock = os.path.join(container, "lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return not os.path.lexists(container)
    except OSError:
        return False
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if not os.path.samestat(os.fstat(fd), os.stat(lock)):
                return True  # removed while we waited (rm renames it away under this lock)
        except FileNotFoundError:
            return True
        return cleaned(os.path.join(argv[3], "containers", container_id), shim)
    except OSError:
        return False
    finally:
        os.close(fd)


def sweep(argv: list[str], shim: int) -> None:
    """The files of the container, removed (rm, run --rm) while `shim` lived: the remover renamed
    its directory to .removing-ID.SHIM (pyctr.container.store) and left it to the shim's cleanup."""
    if len(argv) < 5 or argv[0] != "--root" or not _is_id(argv[-1]):
        return
    gone = os.path.join(argv[1], "containers", f".removing-{argv[-1]}.{shim}")
    if os.path.lexists(gone):
        import shutil

        shutil.rmtree(gone, ignore_errors=True)


def _is_id(text: str) -> bool:
    return len(text) == 64 and not text.strip("0123456789abcdef")


def cleaned(state_dir: str | os.PathLike, shim: int) -> bool:
    """Whether the run of shim `shim` is cleaned up already (see mark_cleaned)."""
    try:
        with open(os.path.join(state_dir, CLEANED), "rb") as f:
            return f.read() == str(shim).encode()
    except OSError:
        return False


def mark_cleaned(state_dir: str | os.PathLike, shim: int) -> None:
    """Say that the run of shim `shim` is cleaned up and nothing is left for its cleanup command:
    written under the container's lock, once released what the run held. The run directory
    goes at the next start, and at reboot: no fsync."""
    try:
        fd = os.open(os.path.join(state_dir, CLEANED), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    except OSError:
        return  # then the cleanup command runs in full: the same work again, harmless
    try:
        os.write(fd, str(shim).encode())
    finally:
        os.close(fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
