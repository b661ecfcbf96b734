"""`python -m pyctr.cleanup --root R --runroot RR ID`: what a shim runs after its container exited.

runc delete, unmount, --rm and the restart policy, without the command line's
start-up cost: it runs once per container exit, often while the user's next
command is starting.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    from pyctr.config import Config
    from pyctr.engine.services import Services
    from pyctr.errors import ContainerNotFound, PyctrError

    if len(argv) != 5 or argv[0] != "--root" or argv[2] != "--runroot":
        sys.stderr.write("usage: python -m pyctr.cleanup --root ROOT --runroot RUNROOT CONTAINER\n")
        return 2
    services = Services(Config.create(argv[1], argv[3]))
    try:
        # Our parent is the shim that ran the container: the run this cleanup belongs to.
        record = services.containers.resolve(argv[4])
        if services.tasks.cleanup(record, shim_pid=os.getppid()):
            services.tasks.restart_after_exit(record)
    except ContainerNotFound:
        return 0  # removed meanwhile (rm -f): nothing left to do
    except PyctrError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 125
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
