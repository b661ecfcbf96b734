"""Thin ctypes wrappers for the few Linux system calls the os module lacks.

Each wrapper raises OSError (with the errno) like the os module does, and
raises OSError(ENOSYS) where the architecture or the kernel lacks the call.
"""

from __future__ import annotations

import ctypes
import errno
import os

# openat2(2) `resolve` flags (linux/openat2.h).
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
RESOLVE_CACHED = 0x20

# openat2 was added after the syscall tables were unified: 437 everywhere
# except on the few architectures with a historical offset (not listed here).
_NR_OPENAT2 = {
    "x86_64": 437,
    "aarch64": 437,
    "arm64": 437,
    "armv7l": 437,
    "armv8l": 437,
    "i686": 437,
    "i386": 437,
    "ppc64le": 437,
    "ppc64": 437,
    "s390x": 437,
    "riscv64": 437,
    "loongarch64": 437,
}.get(os.uname().machine)  # as platform.machine(), without importing platform


class _OpenHow(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    ]


_syscall = None


def _libc_syscall():
    global _syscall
    if _syscall is None:
        fn = ctypes.CDLL(None, use_errno=True).syscall
        fn.restype = ctypes.c_long
        _syscall = fn
    return _syscall


def openat2(dirfd: int, path: str | bytes, flags: int, mode: int = 0, resolve: int = 0) -> int:
    """openat2(2): open `path` relative to `dirfd`; return the new fd.

    Pass O_CLOEXEC in `flags` yourself. Retries on EINTR only: EAGAIN (which
    RESOLVE_IN_ROOT/RESOLVE_BENEATH may return when a rename races with a
    `..` lookup) is left to the caller.
    """
    if _NR_OPENAT2 is None:
        raise OSError(errno.ENOSYS, "openat2 is not known on this architecture")
    how = _OpenHow(flags, mode, resolve)
    raw = os.fsencode(path)
    call = _libc_syscall()
    while True:
        fd = call(
            ctypes.c_long(_NR_OPENAT2),
            ctypes.c_int(dirfd),
            ctypes.c_char_p(raw),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        if fd >= 0:
            return fd
        err = ctypes.get_errno()
        if err != errno.EINTR:
            raise OSError(err, os.strerror(err), os.fsdecode(raw))
