"""`inspect` of an exec session: the document of the Docker API's `GET /exec/{id}/json`
(podman serves the same one; its command line has no `exec inspect`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyctr.container.execs import ExecSession


def exec_document(session: "ExecSession") -> dict:
    return {
        "ID": session.id,
        "Running": session.running,
        "ExitCode": session.exit_code if session.exit_code is not None else 0,
        "Pid": session.pid if session.running else 0,
        "ProcessConfig": {
            "entrypoint": session.command[0] if session.command else "",
            "arguments": list(session.command[1:]),
            "tty": session.tty,
            "privileged": session.privileged,
            "user": session.user,
        },
        "OpenStdin": session.open_stdin,
        "OpenStdout": not session.detached,
        "OpenStderr": not session.detached,
        "ContainerID": session.container_id,
        "WorkingDir": session.workdir,
        "CanRemove": session.can_remove,
        "DetachKeys": "",
    }
