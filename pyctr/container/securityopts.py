"""What --security-opt asks of the host: AppArmor and SELinux as this host has them, and a seccomp
profile file, read once at create and kept with the container (as podman embeds it), so that a
later start neither needs the file nor sees it changed.
"""

from __future__ import annotations

import os

from pyctr.errors import InvalidArgument

APPARMOR_ENABLED = "/sys/module/apparmor/parameters/enabled"
SELINUX_ENFORCE = "/sys/fs/selinux/enforce"  # there when SELinux is on (selinuxfs mounted)
SECCOMP_COPY = "seccomp.json"  # in the container's directory


def apparmor_enabled() -> bool:
    try:
        with open(APPARMOR_ENABLED) as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


def selinux_enabled() -> bool:
    return os.path.exists(SELINUX_ENFORCE)


def validate(security) -> None:
    """The checks of a SecuritySpec, with podman's words; raises InvalidArgument."""
    if security.apparmor not in ("", "unconfined") and not apparmor_enabled():
        raise InvalidArgument(f'apparmor profile "{security.apparmor}" specified, but Apparmor is not enabled on this system')
    # Without SELinux, podman takes every label= and does nothing with it; with it, pyctr would
    # have to label the process and its files, which it does not do yet.
    wanted = [label for label in security.labels if label != "disable"]
    if wanted and selinux_enabled():
        raise InvalidArgument(f"--security-opt label={wanted[0]}: SELinux labels are not built yet")
    for path in security.mask:
        if not path.startswith("/"):  # podman skips it with an error in its log; we say it
            raise InvalidArgument(f'--security-opt mask: path "{path}" is not an absolute path')
    if security.seccomp not in ("default", "unconfined") and not os.path.isfile(security.seccomp):
        raise InvalidArgument(f"opening seccomp profile failed: open {security.seccomp}: no such file or directory")


def read_seccomp_profile(security) -> bytes | None:
    """The content of the spec's profile file, checked (podman's errors); None for default and unconfined."""
    path = security.seccomp
    if path in ("default", "unconfined"):
        return None
    from pyctr.runtime import seccomp

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise InvalidArgument(f"opening seccomp profile failed: open {path}: {(exc.strerror or str(exc)).lower()}") from None
    seccomp.parse_profile(data, path)
    return data


def keep_seccomp_profile(container_dir: str, data: bytes) -> None:
    from pyctr.linux.fsutil import atomic_write

    atomic_write(os.path.join(container_dir, SECCOMP_COPY), data, 0o600)


def seccomp_for_start(container_dir: str, security) -> str:
    """What the runtime loads: default, unconfined, or the copy kept at create (the file itself for a
    container made before copies were kept)."""
    if security.seccomp in ("default", "unconfined") or not container_dir:
        return security.seccomp
    copy = os.path.join(container_dir, SECCOMP_COPY)
    return copy if os.path.exists(copy) else security.seccomp


def apparmor_for_start(security) -> str:
    """The process's AppArmor profile: the one asked for; "unconfined" on a host without AppArmor
    is none (runc refuses any profile there)."""
    if security.apparmor == "unconfined" and not apparmor_enabled():
        return ""
    return security.apparmor
