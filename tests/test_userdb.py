"""pyctr.container.userdb: --user against an image's /etc/passwd and /etc/group, safely."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from pyctr.linux import syscalls
from pyctr.container import userdb
from pyctr.errors import InvalidArgument
from pyctr.container.userdb import ExecUser, resolve_user

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
# a comment, then a blank line

daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:100::/home/bob:/bin/sh
broken line without fields
bad:x:notanumber:0::/:/bin/sh
+nis
"""
GROUP = """\
root:x:0:root
daemon:x:1:
users:x:100:
alice:x:1000:
wheel:x:10:root,alice
audio:x:29:alice,bob
video:x:44: bob , alice
staff:x:50:bob
"""

# What a passwd file outside the rootfs would say: reading it would make "evil" resolve.
HOST_SECRET = "evil:x:4242:4242::/evil:/bin/sh\nroot:x:4242:4242::/evil:/bin/sh\n"


@pytest.fixture
def rootfs(tmp_path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    return root


@pytest.fixture(params=["openat2", "by-hand"])
def resolver(request, monkeypatch):
    """Every test runs with openat2 and with the user-space walk used without it."""
    if request.param == "by-hand":
        def no_openat2(*args, **kwargs):
            raise OSError(errno.ENOSYS, "no openat2")
        monkeypatch.setattr(syscalls, "openat2", no_openat2)
    return request.param


@pytest.mark.parametrize("user, expected", [
    ("", ExecUser(0, 0, [10], "/root")),
    (None, ExecUser(0, 0, [10], "/root")),
    ("root", ExecUser(0, 0, [10], "/root")),
    ("alice", ExecUser(1000, 1000, [10, 29, 44], "/home/alice")),
    ("1000", ExecUser(1000, 1000, [10, 29, 44], "/home/alice")),
    ("bob", ExecUser(1001, 100, [29, 44, 50], "/home/bob")),
    ("alice:users", ExecUser(1000, 100, [10, 29, 44], "/home/alice")),
    ("alice:10", ExecUser(1000, 10, [29, 44], "/home/alice")),
    ("1000:wheel", ExecUser(1000, 10, [29, 44], "/home/alice")),
    ("alice:4000", ExecUser(1000, 4000, [10, 29, 44], "/home/alice")),
    ("5000", ExecUser(5000, 0, [], "/")),
    ("5000:5001", ExecUser(5000, 5001, [], "/")),
    ("5000:staff", ExecUser(5000, 50, [], "/")),
    ("daemon", ExecUser(1, 1, [], "/usr/sbin")),
])
def test_resolve_user(rootfs, resolver, user, expected):
    assert resolve_user(str(rootfs), user) == expected


def test_unknown_names(rootfs, resolver):
    with pytest.raises(InvalidArgument) as info:
        resolve_user(str(rootfs), "mallory")
    assert str(info.value) == "unable to find user mallory: no matching entries in passwd file"
    with pytest.raises(InvalidArgument, match="unable to find group nogroup: no matching entries in group file"):
        resolve_user(str(rootfs), "alice:nogroup")
    with pytest.raises(InvalidArgument, match="unable to find user -1"):
        resolve_user(str(rootfs), "-1")
    with pytest.raises(InvalidArgument, match="USER"):
        resolve_user(str(rootfs), "a:b:c")


def test_no_passwd_file(tmp_path, resolver):
    (tmp_path / "empty").mkdir()
    assert resolve_user(str(tmp_path / "empty"), "") == ExecUser(0, 0, [], "/")
    assert resolve_user(str(tmp_path / "empty"), "123:456") == ExecUser(123, 456, [], "/")
    with pytest.raises(InvalidArgument, match="unable to find user root"):
        resolve_user(str(tmp_path / "empty"), "root")
    with pytest.raises(InvalidArgument, match="rootfs"):
        resolve_user(str(tmp_path / "missing"), "")


# -- a hostile image ----------------------------------------------------------------------------

def _hostile(rootfs: Path, tmp_path: Path, target_for) -> None:
    secret = tmp_path / "host" / "etc" / "passwd"
    secret.parent.mkdir(parents=True)
    secret.write_text(HOST_SECRET)
    (rootfs / "etc" / "passwd").unlink()
    os.symlink(target_for(secret), rootfs / "etc" / "passwd")


@pytest.mark.parametrize("target_for", [
    lambda secret: str(secret),  # absolute
    lambda secret: "../" * 30 + str(secret).lstrip("/"),  # relative, climbing out
], ids=["absolute", "relative"])
def test_symlink_out_of_rootfs_is_not_followed(rootfs, tmp_path, resolver, target_for):
    _hostile(rootfs, tmp_path, target_for)
    with pytest.raises(InvalidArgument, match="unable to find user evil"):
        resolve_user(str(rootfs), "evil")
    assert resolve_user(str(rootfs), "").uid == 0


@pytest.mark.parametrize("target", ["/etc/shadow", "../../../../etc/shadow", "../../../../../../../../etc/shadow"])
def test_symlink_to_host_shadow(rootfs, resolver, target):
    """The host's shadow file parses as passwd lines ("root:HASH:LASTCHANGE:0:..."): reading
    it would make root resolve to uid LASTCHANGE, or would find the host's accounts."""
    (rootfs / "etc" / "passwd").unlink()
    os.symlink(target, rootfs / "etc" / "passwd")
    with pytest.raises(InvalidArgument, match="unable to find user root"):
        resolve_user(str(rootfs), "root")


def test_symlinks_inside_rootfs_are_followed_within_it(rootfs, tmp_path, resolver):
    (rootfs / "usr" / "share").mkdir(parents=True)
    (rootfs / "etc" / "passwd").rename(rootfs / "usr" / "share" / "passwd")
    os.symlink("/usr/share/passwd", rootfs / "etc" / "passwd")  # absolute, meant for the container
    assert resolve_user(str(rootfs), "alice").uid == 1000
    (rootfs / "etc" / "passwd").unlink()
    os.symlink("../../../usr/./share//passwd", rootfs / "etc" / "passwd")  # too many "..": stops at /
    assert resolve_user(str(rootfs), "alice").uid == 1000
    os.symlink("/usr", rootfs / "lib")  # a directory symlink in the middle of the path
    (rootfs / "etc" / "passwd").unlink()
    os.symlink("/lib/share/passwd", rootfs / "etc" / "passwd")
    assert resolve_user(str(rootfs), "bob").uid == 1001


def test_symlink_loop_and_special_files(rootfs, resolver):
    passwd = rootfs / "etc" / "passwd"
    passwd.unlink()
    os.symlink("passwd", passwd)  # loops onto itself
    assert resolve_user(str(rootfs), "1234") == ExecUser(1234, 0, [], "/")
    passwd.unlink()
    os.mkfifo(passwd)  # must not block
    assert userdb.read_file(str(rootfs), "/etc/passwd") == ""
    passwd.unlink()
    passwd.mkdir()
    assert userdb.read_file(str(rootfs), "/etc/passwd") == ""
    (rootfs / "etc" / "group").unlink()
    os.symlink("/dev/zero", rootfs / "etc" / "group")  # no /dev/zero in the rootfs: missing
    assert userdb.read_file(str(rootfs), "/etc/group") == ""
