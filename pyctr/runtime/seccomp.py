"""Seccomp profiles for containers: pyctr's own default, and user profile files.

The default profile is an allow-list: every system call not named here fails
with EPERM. Calls that change global kernel state, or that exist mostly as
attack surface, stay denied unless the container holds the capability that
the kernel would check anyway (then the filter adds nothing but risk).

Both functions return the OCI `linux.seccomp` object that runc reads.
"""

from __future__ import annotations

import json
import os

from pyctr.errors import InvalidArgument

ENOSYS = 38

# -- what every container may call --------------------------------------------------------

_ALLOWED: dict[str, str] = {
    # Process lifecycle, identity and scheduling (clone/clone3/unshare are filtered below).
    "process": """
        exit exit_group fork vfork execve execveat wait4 waitid waitpid
        getpid getppid gettid getpgid setpgid getpgrp getsid setsid set_tid_address
        prctl arch_prctl capget capset seccomp restart_syscall rseq
        set_robust_list get_robust_list membarrier getcpu uname
        getpriority setpriority ioprio_get ioprio_set
        sched_yield sched_getaffinity sched_setaffinity sched_getparam sched_setparam
        sched_getscheduler sched_setscheduler sched_get_priority_max sched_get_priority_min
        sched_rr_get_interval sched_rr_get_interval_time64 sched_getattr sched_setattr
        getrlimit setrlimit ugetrlimit prlimit64 getrusage times
        pidfd_open pidfd_send_signal landlock_create_ruleset landlock_add_rule landlock_restrict_self
    """,
    # User and group ids (the kernel checks CAP_SETUID/CAP_SETGID), with the 32-bit variants.
    "credentials": """
        getuid geteuid getgid getegid getresuid getresgid getgroups
        setuid setgid setreuid setregid setresuid setresgid setgroups setfsuid setfsgid
        getuid32 geteuid32 getgid32 getegid32 getresuid32 getresgid32 getgroups32
        setuid32 setgid32 setreuid32 setregid32 setresuid32 setresgid32 setgroups32
        setfsuid32 setfsgid32
    """,
    # Signals.
    "signals": """
        kill tkill tgkill rt_sigaction rt_sigprocmask rt_sigreturn rt_sigpending rt_sigsuspend
        rt_sigtimedwait rt_sigtimedwait_time64 rt_sigqueueinfo rt_tgsigqueueinfo sigaltstack
        signalfd signalfd4 sigaction sigprocmask sigreturn sigpending sigsuspend signal alarm pause
    """,
    # Memory management (locking is bounded by RLIMIT_MEMLOCK).
    "memory": """
        brk mmap mmap2 munmap mremap mprotect madvise mincore msync remap_file_pages
        mlock mlock2 munlock mlockall munlockall memfd_create memfd_secret
        pkey_alloc pkey_free pkey_mprotect get_mempolicy
        set_thread_area get_thread_area set_tls cacheflush breakpoint
    """,
    # File descriptors, reading and writing.
    "io": """
        open openat openat2 creat close close_range read write readv writev
        pread64 pwrite64 preadv pwritev preadv2 pwritev2 lseek _llseek
        dup dup2 dup3 fcntl fcntl64 flock ioctl pipe pipe2 eventfd eventfd2
        fsync fdatasync sync syncfs sync_file_range sync_file_range2 arm_sync_file_range
        truncate truncate64 ftruncate ftruncate64 fallocate
        fadvise64 fadvise64_64 arm_fadvise64_64 readahead
        sendfile sendfile64 splice tee vmsplice copy_file_range
    """,
    # Looking at the file system.
    "fs-read": """
        stat lstat fstat stat64 lstat64 fstat64 fstatat64 newfstatat statx
        statfs fstatfs statfs64 fstatfs64 access faccessat faccessat2
        readlink readlinkat getdents getdents64 getcwd chdir fchdir chroot
        getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr name_to_handle_at
        inotify_init inotify_init1 inotify_add_watch inotify_rm_watch
    """,
    # Changing the file system (ownership and device nodes are checked by the kernel).
    "fs-write": """
        mkdir mkdirat rmdir rename renameat renameat2 link linkat symlink symlinkat
        unlink unlinkat mknod mknodat chmod fchmod fchmodat fchmodat2
        chown fchown lchown fchownat chown32 fchown32 lchown32 umask
        utime utimes utimensat utimensat_time64 futimesat
        setxattr lsetxattr fsetxattr removexattr lremovexattr fremovexattr
    """,
    # Waiting: select, poll, epoll, futexes, sleeping and timers.
    "wait": """
        select _newselect pselect6 pselect6_time64 poll ppoll ppoll_time64
        epoll_create epoll_create1 epoll_ctl epoll_wait epoll_pwait epoll_pwait2
        futex futex_time64 futex_waitv nanosleep clock_nanosleep clock_nanosleep_time64
        timer_create timer_delete timer_settime timer_settime64 timer_gettime timer_gettime64
        timer_getoverrun timerfd_create timerfd_settime timerfd_settime64
        timerfd_gettime timerfd_gettime64 getitimer setitimer
    """,
    # Reading the clocks (adjtimex and clock_adjtime only change them with CAP_SYS_TIME).
    "clock": """
        clock_gettime clock_gettime64 clock_getres clock_getres_time64 gettimeofday time
        adjtimex clock_adjtime clock_adjtime64
    """,
    # System V and POSIX IPC (private to the container's IPC namespace).
    "ipc": """
        shmget shmat shmdt shmctl semget semop semtimedop semtimedop_time64 semctl
        msgget msgsnd msgrcv msgctl ipc
        mq_open mq_unlink mq_timedsend mq_timedsend_time64 mq_timedreceive
        mq_timedreceive_time64 mq_notify mq_getsetattr
    """,
    # Sockets (socket itself is filtered below).
    "network": """
        socketpair bind connect listen accept accept4 getsockname getpeername
        sendto recvfrom sendmsg recvmsg sendmmsg recvmmsg recvmmsg_time64 send recv
        shutdown setsockopt getsockopt socketcall
    """,
    # Asynchronous I/O (io_uring is not here: see _CAP_GATED).
    "aio": "io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents io_pgetevents_time64",
    # Odds and ends.
    "misc": "getrandom sysinfo",
}

# -- what a capability unlocks (allowed when the container holds it) ----------------------

_CAP_GATED: dict[str, str] = {
    # Mounting, namespaces, host-wide settings; clone/clone3/unshare lose their filters too.
    "CAP_SYS_ADMIN": """
        mount umount umount2 pivot_root move_mount open_tree fsopen fsconfig fsmount fspick
        mount_setattr setns unshare clone clone3 sethostname setdomainname
        quotactl quotactl_fd fanotify_init fanotify_mark swapon swapoff syslog
        keyctl add_key request_key bpf perf_event_open
        io_uring_setup io_uring_enter io_uring_register
    """,
    "CAP_BPF": "bpf",
    "CAP_PERFMON": "perf_event_open",
    "CAP_SYSLOG": "syslog",
    # Looking into other processes.
    "CAP_SYS_PTRACE": """
        ptrace process_vm_readv process_vm_writev kcmp pidfd_getfd process_madvise userfaultfd
    """,
    "CAP_SYS_TIME": "settimeofday clock_settime clock_settime64 stime",
    "CAP_SYS_BOOT": "reboot kexec_load kexec_file_load",
    "CAP_SYS_MODULE": "init_module finit_module delete_module",
    "CAP_SYS_PACCT": "acct",
    "CAP_SYS_RAWIO": "iopl ioperm",
    "CAP_SYS_TTY_CONFIG": "vhangup",
    "CAP_SYS_NICE": "mbind set_mempolicy set_mempolicy_home_node migrate_pages move_pages",
    # Opening files by handle walks around the mount namespace: only with this capability.
    "CAP_DAC_READ_SEARCH": "open_by_handle_at",
}

# Namespace flags of clone(2) and unshare(2); CLONE_NEWTIME only fits unshare's flags
# (in clone's flags that bit is part of the exit signal).
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x2000000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWTIME = 0x10000000, 0x20000000, 0x40000000, 0x80
CLONE_NS_FLAGS = (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER
                  | CLONE_NEWPID | CLONE_NEWNET)
UNSHARE_NS_FLAGS = CLONE_NS_FLAGS | CLONE_NEWTIME

# personality(2) values that only change what uname reports or select 32-bit mode;
# 0xffffffff queries the current value. ADDR_NO_RANDOMIZE and friends stay denied.
SAFE_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

AF_VSOCK = 40  # talks to the hypervisor host, not to anything in the container's netns

# The native architecture and the compat ones its kernel runs.
ARCHITECTURES = {
    "x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
    "arm64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
    "ppc64le": ["SCMP_ARCH_PPC64LE"],
    "s390x": ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"],
    "riscv64": ["SCMP_ARCH_RISCV64"],
}

# Go's names for machines, used by the `arches` conditions of docker-format profiles.
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
           "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def _names(text: str) -> list[str]:
    return sorted(set(text.split()))


def _rule(names: list[str], action: str = "SCMP_ACT_ALLOW", args: list[dict] | None = None,
          errno_ret: int | None = None) -> dict:
    rule: dict = {"names": names, "action": action}
    if args:
        rule["args"] = args
    if errno_ret is not None:
        rule["errnoRet"] = errno_ret
    return rule


def _arg(index: int, value: int, op: str, value_two: int = 0) -> dict:
    return {"index": index, "value": value, "valueTwo": value_two, "op": op}


def default_profile(caps: set[str], machine: str | None = None) -> dict:
    """pyctr's default profile for a container holding `caps` ("CAP_..." names). For this host
    (no `machine` given), only the compat architectures its kernel runs: x32 costs runc ~5 ms
    of filter building at every start, and most kernels do not run x32 programs at all."""
    host = machine is None
    machine = machine or os.uname().machine  # as platform.machine(), without importing platform
    rules = [_rule(_names(text)) for text in _ALLOWED.values()]
    # Flags are clone's second argument on s390, its first everywhere else.
    flags_index = 1 if machine.startswith("s390") else 0
    if "CAP_SYS_ADMIN" not in caps:
        # New processes and threads, but no new namespaces.
        rules.append(_rule(["clone"], args=[_arg(flags_index, CLONE_NS_FLAGS, "SCMP_CMP_MASKED_EQ", 0)]))
        rules.append(_rule(["unshare"], args=[_arg(0, UNSHARE_NS_FLAGS, "SCMP_CMP_MASKED_EQ", 0)]))
        # clone3 passes its flags in memory, out of the filter's sight: claim it does not
        # exist, and libc falls back to clone.
        rules.append(_rule(["clone3"], "SCMP_ACT_ERRNO", errno_ret=ENOSYS))
    for persona in SAFE_PERSONALITIES:
        rules.append(_rule(["personality"], args=[_arg(0, persona, "SCMP_CMP_EQ")]))
    rules.append(_rule(["socket"], args=[_arg(0, AF_VSOCK, "SCMP_CMP_NE")]))
    gated: set[str] = set()
    for cap, text in _CAP_GATED.items():
        if cap in caps:
            gated.update(text.split())
    if gated:
        rules.append(_rule(sorted(gated)))
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,  # EPERM
        "architectures": [arch for arch in ARCHITECTURES.get(machine, [])
                          if not (host and arch == "SCMP_ARCH_X32" and not kernel_runs_x32())],
        "syscalls": rules,
    }


X32_SYSCALL_BIT = 0x40000000
_X32_GETPID = X32_SYSCALL_BIT | 39


def kernel_runs_x32() -> bool:
    """Whether this x86_64 kernel runs x32 programs (built with CONFIG_X86_X32_ABI, and not
    turned off at boot): it is asked by making one x32 call (getpid), which a kernel without
    x32 refuses with ENOSYS. Only where no seccomp filter applies to us (one without x32 might
    kill us for asking); otherwise, and on any doubt, yes."""
    global _runs_x32
    if _runs_x32 is None:
        _runs_x32 = True
        try:
            with open("/proc/self/status", "rb") as f:
                unfiltered = any(line.split() == [b"Seccomp:", b"0"] for line in f)
            if unfiltered:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                _runs_x32 = libc.syscall(ctypes.c_long(_X32_GETPID)) != -1 or ctypes.get_errno() != ENOSYS
        except (OSError, AttributeError):
            pass
    return _runs_x32


_runs_x32: bool | None = None


# -- profile files ---------------------------------------------------------------------------

ACTIONS = {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
           "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"}
OPERATORS = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
             "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"}


class _Bad(Exception):
    pass


def load_profile(path: str, caps: set[str] | frozenset[str] = frozenset(),
                 machine: str | None = None, kernel: str | None = None) -> dict:
    """Read a seccomp profile file, in docker's format or the OCI one, as an OCI object (see parse_profile)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise InvalidArgument(f"opening seccomp profile failed: open {path}: {(exc.strerror or str(exc)).lower()}") from exc
    return parse_profile(data, path, caps, machine, kernel)


def parse_profile(data: bytes, path: str, caps: set[str] | frozenset[str] = frozenset(),
                  machine: str | None = None, kernel: str | None = None) -> dict:
    """A profile's content (read from `path`, named in errors) as an OCI object.

    Docker's extras are resolved here: `archMap` picks this machine's architectures,
    and rules with `includes`/`excludes` are kept or dropped by `caps` (the container's
    capabilities), the machine and the kernel version.
    """
    try:
        profile = json.loads(data)
    except ValueError as exc:
        raise InvalidArgument(f"loading seccomp profile ({path}) failed: decoding seccomp profile failed: {exc}") from None
    try:
        return _convert(profile, set(caps), machine or os.uname().machine, kernel or os.uname().release)
    except _Bad as exc:
        raise InvalidArgument(f"loading seccomp profile ({path}) failed: {exc}") from None


def _convert(data, caps: set[str], machine: str, kernel: str) -> dict:
    if not isinstance(data, dict):
        raise _Bad("the top level must be a JSON object")
    out: dict = {"defaultAction": _action(data.get("defaultAction"), "defaultAction")}
    for key in ("defaultErrnoRet", "listenerPath", "listenerMetadata", "flags"):
        if data.get(key) is not None:
            out[key] = data[key]
    arches, arch_map = data.get("architectures") or [], data.get("archMap") or []
    if not isinstance(arches, list) or not isinstance(arch_map, list):
        raise _Bad("architectures and archMap must be lists")
    arches = list(arches)
    for entry in arch_map:
        if not isinstance(entry, dict):
            raise _Bad("archMap entries must be objects")
        native = ARCHITECTURES.get(machine, [None])[0]
        if entry.get("architecture") == native:
            arches += [entry["architecture"], *(entry.get("subArchitectures") or [])]
    if not all(isinstance(a, str) and a.startswith("SCMP_ARCH_") for a in arches):
        raise _Bad(f"bad architecture in {arches}")
    out["architectures"] = list(dict.fromkeys(arches))
    rules = data.get("syscalls")
    rules = [] if rules is None else rules
    if not isinstance(rules, list):
        raise _Bad("syscalls must be a list")
    out["syscalls"] = [_convert_rule(r, i) for i, r in enumerate(rules)
                       if _applies(r, caps, machine, kernel)]
    return out


def _action(value, where: str) -> str:
    if value not in ACTIONS:
        raise _Bad(f"{where}: unknown action {value!r}")
    return value


def _applies(rule, caps: set[str], machine: str, kernel: str) -> bool:
    if not isinstance(rule, dict):
        raise _Bad("syscalls entries must be objects")
    goarch = _GOARCH.get(machine, machine)
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if not isinstance(inc, dict) or not isinstance(exc, dict):
        raise _Bad("includes and excludes must be objects")
    if inc.get("caps") and not set(inc["caps"]) <= caps:
        return False
    if inc.get("arches") and goarch not in inc["arches"]:
        return False
    if inc.get("minKernel") and _version(kernel) < _version(inc["minKernel"]):
        return False
    if exc.get("caps") and set(exc["caps"]) & caps:
        return False
    if exc.get("arches") and goarch in exc["arches"]:
        return False
    return True


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in str(text).split("-")[0].split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _convert_rule(rule: dict, index: int) -> dict:
    where = f"syscalls[{index}]"
    names = rule.get("names") or ([rule["name"]] if rule.get("name") else [])
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise _Bad(f"{where}: needs a non-empty list of syscall names")
    out = {"names": list(names), "action": _action(rule.get("action"), where)}
    if rule.get("errnoRet") is not None:
        out["errnoRet"] = rule["errnoRet"]
    args = rule.get("args") or []
    for arg in args:
        if (not isinstance(arg, dict) or not isinstance(arg.get("index"), int) or arg.get("op") not in OPERATORS
                or not all(isinstance(arg.get(k, 0), int) for k in ("value", "valueTwo"))):
            raise _Bad(f"{where}: bad argument condition {arg!r}")
    if args:
        out["args"] = [{"index": a["index"], "value": a.get("value", 0),
                        "valueTwo": a.get("valueTwo", 0), "op": a["op"]} for a in args]
    return out
