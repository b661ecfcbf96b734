"""The per-container shim (after conmon): `python -m pyctr.shim CONFIG_PATH`.

One small detached process per container. It runs `runc create`, reports
`{"pid": N}` or `{"error": "..."}` on the engine's sync pipe, then owns the
container's stdio (k8s-file log, attach socket, pty master), records the exit
status atomically and runs the engine's cleanup command. An exec session's shim
runs `runc exec --detach` instead (config.exec_process) and serves its process
the same way (as conmon does both).

Everything under this package imports only the standard library,
python-daemon, pyctr.errors, pyctr.linux.fsutil and pyctr.runtime.runc (the one
module that runs runc), so that a shim stays small (see DESIGN.md, "The shim
contract"). Modules:
    config    the JSON config the engine writes
    protocol  attach socket frames (shared with pyctr.runtime.attach, the client)
    klog      k8s-file log records
    linux     prctl, inotify, cgroup OOM counters, pty window size (ctypes)
    runc      `runc create` (or `runc exec`) with the process's stdio, and the console socket
    pump      the event loop: output, stdin, attach clients, child reaping
    health    the container's health check on schedule (imports pyctr.container.health and
              pyctr.events, both small, only for a container that has a check)
    main      the lifecycle: detach, create, sync, run, exit record, cleanup
    handoff   exec()ing the idle pump once only output is left to serve, and resuming from it
    idle      the idle pump (built-in modules and klog only: about a third of a full shim's memory)
    ending    the exit record, and the container's whole end as the idle pump does it
"""
