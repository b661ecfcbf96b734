"""The container's /etc/passwd and /etc/group when its user is missing from them (--passwd,
--passwd-entry) or host users are asked for (--hostuser), as podman 4.3.1 writes them.

The image's files are read safely (never out of the rootfs); the changed copies go into the
container's userdata directory and are bind-mounted over the image's (the image stays as it is).
"""

from __future__ import annotations

import os

from pyctr.errors import InvalidArgument

NAME = "container user"
DEFAULT_ENTRY = "$USERNAME:*:$UID:$GID:$NAME:$HOME:/bin/sh"


def check_host_users(names: list[str]) -> None:
    import pwd

    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            raise InvalidArgument(f"--hostuser: user: unknown user {name}") from None


def contents(passwd_text: str, group_text: str, user: str, uid: int, gid: int, workdir: str, *,
             passwd: bool, entry: str | None, host_users: list[str]) -> tuple[str | None, str | None]:
    """The new (/etc/passwd, /etc/group) texts, None for a file that needs no change."""
    import pwd

    lines = passwd_text.splitlines()
    uids = {fields[2] for fields in (line.split(":") for line in lines) if len(fields) > 2}
    names = {line.split(":")[0] for line in lines}
    added = []
    for name in host_users:
        host = pwd.getpwnam(name)
        if name not in names:
            added.append(f"{host.pw_name}:*:{host.pw_uid}:{host.pw_gid}:{host.pw_gecos}:{workdir}:/bin/sh")
            uids.add(str(host.pw_uid))
    user_part, _, group_part = (user or "").partition(":")
    new_group = None
    if (passwd or entry) and user_part.isdigit() and str(uid) not in uids:
        values = {"USERNAME": str(uid), "UID": str(uid), "GID": str(gid), "NAME": NAME, "HOME": workdir}
        added.append(_expand(entry or DEFAULT_ENTRY, values))
        groups = group_text.splitlines()
        group_gid = gid if group_part else uid
        if not any(len(g.split(":")) > 2 and g.split(":")[2] == str(group_gid) for g in groups):
            new_group = "\n".join(groups + [f"{group_part or uid}:x:{group_gid}:{uid}"]) + "\n"
    new_passwd = "\n".join(lines + added) + "\n" if added else None
    return new_passwd, new_group


def _expand(template: str, values: dict[str, str]) -> str:
    import re

    return re.sub(r"\$(\w+)", lambda m: values.get(m.group(1), m.group(0)), template)


def write_files(userdata: str, rootfs: str, record, uid: int, gid: int) -> dict[str, str]:
    """{container path: host file} of the changed copies (empty when nothing changes)."""
    storage = record.spec.storage
    if not (storage.passwd or storage.passwd_entry or storage.hostusers):
        return {}
    from pyctr.container.userdb import read_file
    from pyctr.linux.fsutil import atomic_write

    new_passwd, new_group = contents(read_file(rootfs, "/etc/passwd"), read_file(rootfs, "/etc/group"), record.user,
                                     uid, gid, record.workdir or "/", passwd=storage.passwd,
                                     entry=storage.passwd_entry, host_users=storage.hostusers)
    files = {}
    for destination, text in (("/etc/passwd", new_passwd), ("/etc/group", new_group)):
        if text is not None:
            path = os.path.join(userdata, os.path.basename(destination))
            atomic_write(path, text.encode(), 0o644)
            files[destination] = path
    return files
