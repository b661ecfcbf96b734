"""`python -m pyctr.cleanup --root R --runroot RR [OPTIONS] ID`: what a shim runs after its container exited.

OPTIONS: the global options that chose the runtime, the events backend and overlay's mount
program for the command that started the container (pyctr.engine.options.config_argv).

runc delete, unmount, --rm and the restart policy, without the command line's
start-up cost: it runs once per container exit, often while the user's next
command is starting.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
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
        # Our parent is the shim that ran the container: the run this cleanup belongs to.
        record = services.containers.resolve(rest[0])
        if services.tasks.cleanup(record, shim_pid=os.getppid()):
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
