"""Signal names and numbers as users write them: TERM, SIGTERM, 15, sigkill."""

from __future__ import annotations

import signal

from pyctr.errors import InvalidArgument


def parse_signal(text: str | int) -> int:
    if isinstance(text, int):
        return text
    value = text.strip().upper()
    if value.isdigit():
        number = int(value)
        if 0 < number < signal.NSIG:
            return number
    else:
        name = value if value.startswith("SIG") else f"SIG{value}"
        if hasattr(signal.Signals, name):
            return int(signal.Signals[name])
        if name.startswith("SIGRTMIN+") and name[9:].isdigit():
            return int(signal.SIGRTMIN) + int(name[9:])
    raise InvalidArgument(f"invalid signal: {text}")


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
