"""--log-level: pyctr's own diagnostics on stderr, in the form podman's (logrus's) take when
stderr is not a terminal: `time="..." level=debug msg="..."`. The level comes from the
environment (PYCTR_LOG_LEVEL, set by the command line), so the shim's helpers share it."""

import os
import sys
import time

LEVELS = ("trace", "debug", "info", "warn", "error", "fatal", "panic")


def enabled(level: str) -> bool:
    current = os.environ.get("PYCTR_LOG_LEVEL", "warn")
    return LEVELS.index(level) >= (LEVELS.index(current) if current in LEVELS else 3)


def log(level: str, message: str) -> None:
    if not enabled(level):
        return
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    text = message.replace("\\", "\\\\").replace('"', '\\"')
    try:
        sys.stderr.write(f'time="{stamp}" level={level} msg="{text}"\n')
    except (OSError, ValueError):
        pass  # a closed stderr never fails a command


def debug(message: str) -> None:
    log("debug", message)


def info(message: str) -> None:
    log("info", message)
