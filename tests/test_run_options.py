"""run/create's finer options through the real runc (as root): namespaces, sysctls, umask, time zone,
environment, --timeout, -P, --volumes-from, --requires, pid files, -a, user namespace mappings.

What podman 4.3.1 does was compared side by side; the expectations below record it."""

from __future__ import annotations

import os

from tests.conftest import wait_for


def test_process_options_inside(pyctr, image):
    result = pyctr("run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=12345",
                   "--umask", "0027", "--tz", "Europe/Berlin", "--oom-score-adj", "100", image, "sh", "-c",
                   "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/self/oom_score_adj; umask; date +%Z")
    assert result.stdout.split() == ["1", "12345", "100", "0027", result.stdout.split()[4]]
    assert result.stdout.split()[4] in ("CET", "CEST")


def test_host_namespaces(pyctr, image):
    host_procs = len([p for p in os.listdir("/proc") if p.isdigit()])
    pids = pyctr("run", "--rm", "--pid", "host", image, "sh", "-c", "ls /proc | grep -c '^[0-9]'").stdout
    assert int(pids) > min(host_procs, 20)  # the host's processes, not just our two
    assert pyctr("run", "--rm", "--uts", "host", "--ipc", "host", image, "hostname").stdout.strip() == os.uname().nodename
    assert pyctr("run", "--rm", "--ipc", "host", image, "readlink", "/proc/self/ns/ipc").stdout.strip() == \
        os.readlink("/proc/self/ns/ipc")


def test_sharing_another_containers_namespaces_starts_it(pyctr, image):
    pyctr("create", "--name", "h2-base", image, "sleep", "60")
    out = pyctr("run", "--rm", "--pid", "container:h2-base", "--ipc", "container:h2-base", image, "ps").stdout
    assert "sleep 60" in out  # the dependency was started first, as podman does
    assert pyctr("inspect", "--format", "{{.State.Status}}", "h2-base").stdout.strip() == "running"
    pyctr("rm", "-f", "h2-base")


def test_requires_starts_the_required_container(pyctr, image):
    pyctr("create", "--name", "h2-db", image, "sleep", "60")
    pyctr("create", "--name", "h2-app", "--requires", "h2-db", image, "true")
    pyctr("start", "h2-app")
    assert pyctr("inspect", "--format", "{{.State.Status}}", "h2-db").stdout.strip() == "running"
    refused = pyctr("rm", "-f", "h2-db", check=False)  # podman: the dependents go first, even with -f
    assert refused.returncode == 125 and "has dependent containers which must be removed before it" in refused.stderr
    missing = pyctr("create", "--requires", "h2-nonexistent", image, "true", check=False)
    assert missing.returncode == 125
    assert missing.stderr.strip() == ('Error: "h2-nonexistent" is not a valid container, cannot be used as a dependency: '
                                      'no container with name or ID "h2-nonexistent" found: no such container')
    pyctr("rm", "-f", "h2-app", "h2-db")


def test_environment_options(pyctr, image):
    env = {"H2_FROM_HOST": "yes", "http_proxy": "http://proxy:3128"}
    lines = pyctr("run", "--rm", "--unsetenv", "container", "--env-merge", "P2=/x:${PATH}", image, "env", env=env).stdout.splitlines()
    assert "P2=/x:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in lines
    assert "http_proxy=http://proxy:3128" in lines and not any(line.startswith("container=") for line in lines)
    assert not any(line.startswith("H2_FROM_HOST=") for line in lines)
    lines = pyctr("run", "--rm", "--env-host", "--http-proxy=false", image, "env", env=env).stdout.splitlines()
    assert "H2_FROM_HOST=yes" in lines
    lines = pyctr("run", "--rm", "--unsetenv-all", "-e", "PATH=/bin", image, "env").stdout.splitlines()
    assert sorted(line.split("=")[0] for line in lines) == ["HOME", "HOSTNAME", "PATH"]  # podman keeps these two


def test_timeout_kills_with_255(pyctr, image):
    result = pyctr("run", "--rm", "--timeout", "1", image, "sleep", "30", check=False)
    assert result.returncode == 255  # podman 4.3.1 (conmon --timeout) reports 255


def test_attach_selects_streams(pyctr, image):
    command = [image, "sh", "-c", "echo out; echo err >&2"]
    only_out = pyctr("run", "--rm", "-a", "stdout", *command)
    assert (only_out.stdout, only_out.stderr) == ("out\n", "")
    only_err = pyctr("run", "--rm", "-a", "stderr", *command)
    assert (only_err.stdout, only_err.stderr) == ("", "err\n")
    bad = pyctr("run", "--rm", "-a", "foo", image, "true", check=False)
    assert (bad.returncode, bad.stderr.strip()) == (
        125, 'Error: invalid stream "foo" for --attach - must be one of stdin, stdout, or stderr: invalid argument')


def test_publish_all_and_expose(pyctr, image):
    pyctr("create", "--name", "h2-ports", "--expose", "8080", "--expose", "9000-9001/udp", "-P", image, "true")
    lines = pyctr("port", "h2-ports").stdout.splitlines()
    assert [line.split(" -> ")[0] for line in lines] == ["8080/tcp", "9000/udp", "9001/udp"]
    assert all(line.split(" -> ")[1].startswith("0.0.0.0:") for line in lines)
    pyctr("rm", "h2-ports")


def test_publish_all_forwards(pyctr, image):
    import socket

    pyctr("run", "-d", "--name", "h2-web", "--expose", "8000", "-P", image,
          "sh", "-c", "echo hello-from-p | nc -l -p 8000")
    port = int(pyctr("port", "h2-web", "8000").stdout.strip().rsplit(":", 1)[1])

    def answer() -> bytes:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                return conn.recv(100)
        except OSError:
            return b""

    assert wait_for(lambda: answer() == b"hello-from-p\n")
    pyctr("rm", "-f", "h2-web")


def test_volumes_from(pyctr, image, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    pyctr("create", "--name", "h2-src", "-v", f"{shared}:/data", "-v", "h2vol:/named", image, "true")
    out = pyctr("run", "--rm", "--volumes-from", "h2-src", image, "sh", "-c", "echo hi > /data/f; echo x > /named/g; cat /data/f").stdout
    assert out == "hi\n" and (shared / "f").read_text() == "hi\n"
    ro = pyctr("run", "--rm", "--volumes-from", "h2-src:ro", image, "sh", "-c", "echo no > /data/f", check=False)
    assert ro.returncode != 0 and (shared / "f").read_text() == "hi\n"
    pyctr("rm", "h2-src")
    assert "h2vol" in pyctr("volume", "ls", "-q").stdout  # a named volume stays


def test_pidfiles(pyctr, image, tmp_path):
    pidfile, shimfile = tmp_path / "pid", tmp_path / "shim.pid"
    pyctr("run", "-d", "--name", "h2-pids", "--pidfile", pidfile, "--conmon-pidfile", shimfile, image, "sleep", "60")
    pid = int(pidfile.read_text())
    assert pyctr("inspect", "--format", "{{.State.Pid}}", "h2-pids").stdout.strip() == str(pid)
    shim = int(shimfile.read_text())
    assert shim != pid and os.path.exists(f"/proc/{shim}")
    pyctr("rm", "-f", "h2-pids")


def test_label_file_and_labels(pyctr, image, tmp_path):
    labels = tmp_path / "labels"
    labels.write_text("# comment\na=1\nb=2\n")
    pyctr("create", "--name", "h2-labels", "--label-file", labels, "--label", "b=3", image, "true")
    assert pyctr("inspect", "--format", "{{.Config.Labels.a}} {{.Config.Labels.b}}", "h2-labels").stdout.split() == ["1", "3"]
    pyctr("rm", "h2-labels")


def test_systemd_mode_mounts(pyctr, image):
    # podman 4.3.1 (root, cgroup v1): tmpfs on /run, /run/lock, /tmp, /var/log/journal, the systemd
    # cgroup hierarchy bound writable, and container_uuid in the environment.
    out = pyctr("run", "--rm", "--systemd", "always", image, "sh", "-c", "cut -d' ' -f2,3,4 /proc/mounts; env").stdout
    lines = out.splitlines()
    tmpfs = {line.split()[0] for line in lines if len(line.split()) == 3 and line.split()[1] == "tmpfs"}
    assert {"/run", "/run/lock", "/tmp", "/var/log/journal"} <= tmpfs
    systemd = [line for line in lines if line.startswith("/sys/fs/cgroup/systemd ")]
    assert systemd[-1].split()[2].startswith("rw")  # the last mount there is the one the container sees
    assert any(line.startswith("container_uuid=") for line in lines)


def test_cpu_and_memory_tuning_applies_as_root(pyctr, image):
    # Root on cgroup v1: runc sets them, and the container's cgroup mount shows its own values.
    files = ["cpu/cpu.shares", "cpuset/cpuset.cpus", "cpu/cpu.cfs_quota_us", "memory/memory.soft_limit_in_bytes",
             "memory/memory.memsw.limit_in_bytes", "memory/memory.swappiness"]
    out = pyctr("run", "--rm", "--cpu-shares", "512", "--cpuset-cpus", "0", "--cpu-quota", "50000", "--cpu-period", "100000",
                "--memory", "64m", "--memory-reservation", "32m", "--memory-swap", "128m", "--memory-swappiness", "10",
                "--oom-kill-disable", image, "cat", *[f"/sys/fs/cgroup/{f}" for f in files]).stdout
    assert out.split() == ["512", "0", "50000", str(32 << 20), str(128 << 20), "10"]


def test_preserve_fds(pyctr, image, store, tmp_path):
    import subprocess

    source = tmp_path / "fd3"
    source.write_text("from-fd3\n")
    # The shell opens the file as fd 3 and runs pyctr with it, as a script would.
    child = subprocess.run(["sh", "-c", 'exec "$@" 3<"$0"', str(source), *pyctr.argv("run", "--rm", "--preserve-fds", "1",
                           image, "sh", "-c", "cat <&3")], env=store.env(), capture_output=True, text=True, timeout=60)
    assert (child.returncode, child.stdout) == (0, "from-fd3\n")
    missing = pyctr("run", "--rm", "--preserve-fds", "2", image, "true", check=False)
    assert (missing.returncode, missing.stderr.strip().splitlines()[-1]) == (
        125, "Error: file descriptor 3 is not available - the preserve-fds option requires that file descriptors must be passed")


def test_inspect_shows_the_options_as_podman(pyctr, image):
    pyctr("create", "--name", "h2-inspect", "--cpu-shares", "512", "--pid", "host", "--umask", "0027", "--tz", "Europe/Berlin",
          "--timeout", "5", "--oom-score-adj", "10", "--memory-swappiness", "10", image, "true")
    template = ("{{.HostConfig.CpuShares}} {{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}} "
                "{{.Config.Umask}} {{.Config.Timeout}} {{.Config.Timezone}} {{.HostConfig.OomScoreAdj}} "
                "{{.HostConfig.MemorySwappiness}} {{.HostConfig.Cgroups}}")
    # podman 4.3.1 printed this line for the same flags
    assert pyctr("inspect", "--format", template, "h2-inspect").stdout == "512 host shareable private 0027 5 Europe/Berlin 10 10 default\n"
    pyctr("rm", "h2-inspect")


def test_ipc_container_shares_dev_shm(pyctr, image, store):
    # podman 4.3.1 prints "hi": /dev/shm is the shared container's (its userdata/shm tmpfs)
    pyctr("run", "-d", "--name", "g3-ipc", "--ipc", "shareable", image, "sh", "-c", "echo hi > /dev/shm/x; sleep 60")
    assert wait_for(lambda: pyctr("exec", "g3-ipc", "cat", "/dev/shm/x", check=False).stdout == "hi\n")
    assert pyctr("run", "--rm", "--ipc", "container:g3-ipc", image, "cat", "/dev/shm/x").stdout == "hi\n"
    assert pyctr("run", "--rm", "--shm-size", "2m", image, "df", "-k", "/dev/shm").stdout.split()[-5] == "2048"
    pyctr("rm", "-f", "-t", "0", "g3-ipc")
    assert not [m for m in store.mounts() if m.endswith("/userdata/shm")]  # unmounted when it ended
    donor = pyctr("create", "--ipc", "private", image, "true").stdout.strip()
    refused = pyctr("run", "--rm", "--ipc", f"container:{donor}", image, "true", check=False)
    assert (refused.returncode, refused.stderr.strip()) == (125, (  # podman 4.3.1's words
        f"Error: joining IPC of container {donor} is not allowed: non-shareable IPC "
        "(hint: use IpcMode:shareable for the donor container)"))
    pyctr("rm", donor)


def test_refused_combinations_fail_before_creating(pyctr, image):
    for args, message in ((["--hostname", "foo", "--uts", "host"], "cannot set hostname when running in the host UTS namespace"),
                          (["--init", "--pid", "host"], "cannot add init binary as PID 1 (PID namespace isn't private)"),
                          (["--dns", "1.1.1.1", "--network", "none"], "conflicting options: dns and the network mode: none"),
                          (["--userns", "private"], "must provide at least one UID or GID mapping"),
                          (["--uidmap", "0:100000:65536"], "--uidmap: a user namespace for a container run as root is not built yet")):
        result = pyctr("run", "--rm", *args, image, "true", check=False)
        assert result.returncode == 125 and message in result.stderr, args
        assert len(result.stderr.strip().splitlines()) == 1
    assert pyctr("ps", "-aq").stdout == ""


def test_group_add_names_and_ulimit_host(pyctr, image):
    # the test image's /etc/group has app:1234 and nogroup:65534; podman 4.3.1 prints the same groups
    out = pyctr("run", "--rm", "--group-add", "nogroup", "--group-add", "1234", image, "id").stdout
    assert out.strip() == "uid=0(root) gid=0(root) groups=1234(app),65534(nogroup)"
    missing = pyctr("run", "--rm", "--group-add", "wheel", image, "true", check=False)
    assert missing.returncode == 126  # podman: at start, 126
    assert missing.stderr.strip().endswith("Unable to find group wheel: no matching entries in group file")
    import resource

    out = pyctr("run", "--rm", "--ulimit", "nofile=10", "--ulimit", "host", image, "sh", "-c", "ulimit -Hn; ulimit -n").stdout
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert out.split() == [str(hard), str(soft)]


def test_rmi_without_rm_tries_and_reports(pyctr, image):
    # podman 4.3.1: the container stays, the image is in use by it; one error line, the container's exit code
    result = pyctr("run", "--name", "g3-rmi", "--rmi", image, "true", check=False)
    assert result.returncode == 0 and "image is in use by a container" in result.stderr
    assert pyctr("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["g3-rmi"]
    pyctr("rm", "g3-rmi")


def test_other_platform_is_pulled_with_podmans_warning(pyctr, image):
    never = pyctr("run", "--rm", "--pull", "never", "--arch", "arm64", image, "true", check=False)
    assert (never.returncode, never.stderr.strip()) == (125, f"Error: {image}: image not known")
    result = pyctr("run", "--rm", "--arch", "arm64", image, "true")
    assert ("image platform ({amd64 linux  [] }) does not match the expected platform ({arm64 linux  [] })"
            in result.stderr)
