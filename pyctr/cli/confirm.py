"""podman's "Are you sure you want to continue? [y/N]" question, shared by the prune commands."""

import sys

QUESTION = "Are you sure you want to continue? [y/N] "


def confirm(warning: str) -> bool:
    """Print `warning` and the question on stdout; True for an answer that starts with y or Y.
    As podman, a stdin that ends before a whole line is `Error: EOF` (exit 125)."""
    from pyctr.errors import PyctrError

    sys.stdout.write(warning + QUESTION)
    sys.stdout.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        raise PyctrError("EOF")
    return answer[:1].lower() == "y"
