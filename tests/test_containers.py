"""Containers through the shim and runc, as root (real runc, real overlay mounts)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import wait_for




def test_run_rm_echo(pyctr, image, store):
    result = pyctr("run", "--rm", image, "echo", "hello")
    assert result.stdout == "hello\n"
    assert result.returncode == 0
    assert wait_for(lambda: pyctr("ps", "-a", "-q").stdout == "")
    assert store.mounts() == []


def test_exit_codes(pyctr, image):
    assert pyctr("run", "--rm", image, "sh", "-c", "exit 3", check=False).returncode == 3
    missing = pyctr("run", "--rm", image, "nonexistent", check=False)
    assert missing.returncode == 127
    assert "nonexistent" in missing.stderr and "Traceback" not in missing.stderr
    assert pyctr("run", "--rm", image, "/etc/passwd", check=False).returncode == 126
    # Killed by a signal: 128+N (PID 1 cannot SIGKILL itself, so the signal comes from outside).
    pyctr("run", "-d", "--name", "victim", image, "sleep", "30")
    pyctr("kill", "-s", "KILL", "victim")
    assert pyctr("wait", "victim").stdout.strip() == "137"


def test_stdout_and_stderr_are_separate(pyctr, image):
    result = pyctr("run", "--rm", image, "sh", "-c", "echo out; echo err >&2")
    assert result.stdout == "out\n"
    assert result.stderr.endswith("err\n")


def test_interactive_stdin(pyctr, image):
    result = pyctr("run", "--rm", "-i", image, "cat", input="piped through\n")
    assert result.stdout == "piped through\n"


def test_detached_lifecycle(pyctr, image):
    cid = pyctr("run", "-d", "--name", "web", image, "sh", "-c", "while true; do echo tick; sleep 0.2; done").stdout.strip()
    assert len(cid) == 64
    listed = pyctr("ps").stdout.splitlines()
    assert listed[0].split()[:2] == ["CONTAINER", "ID"]
    assert cid[:12] in listed[1] and "web" in listed[1] and "Up" in listed[1]
    assert wait_for(lambda: "tick" in pyctr("logs", "web").stdout)
    assert pyctr("inspect", "--format", "{{.State.Status}} {{.Name}} {{.Id}}", "web").stdout.split() == ["running", "web", cid]
    ps_in = pyctr("exec", "web", "ps").stdout
    assert "sleep" in ps_in or "sh" in ps_in
    assert pyctr("exec", "web", "sh", "-c", "exit 5", check=False).returncode == 5
    start = time.monotonic()
    assert pyctr("stop", "-t", "2", "web").stdout.strip() == "web"
    assert time.monotonic() - start < 8
    assert pyctr("inspect", "--format", "{{.State.Status}}", "web").stdout.strip() == "exited"
    assert pyctr("rm", "web").stdout.strip() == "web"
    gone = pyctr("inspect", "web", check=False)
    assert gone.returncode == 125 and "no such object" in gone.stderr


def test_stop_falls_back_to_sigkill(pyctr, image):
    pyctr("run", "-d", "--name", "stubborn", image, "sh", "-c", "trap '' TERM; while true; do sleep 0.1; done")
    start = time.monotonic()
    pyctr("stop", "-t", "1", "stubborn")
    assert 0.9 < time.monotonic() - start < 10
    assert pyctr("inspect", "--format", "{{.State.ExitCode}}", "stubborn").stdout.strip() == "137"


def test_logs_follow_ends_with_the_container(pyctr, image):
    pyctr("run", "-d", "--name", "counter", image, "sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done")
    result = pyctr("logs", "-f", "counter", timeout=20)
    assert result.stdout.split() == ["1", "2", "3"]
    assert pyctr("logs", "--tail", "1", "counter").stdout == "3\n"
    stamped = pyctr("logs", "-t", "counter").stdout.splitlines()[0]
    assert stamped.endswith(" 1") and stamped[:4].isdigit()


def test_wait_prints_the_exit_code(pyctr, image):
    pyctr("run", "-d", "--name", "w", image, "sh", "-c", "sleep 0.3; exit 7")
    assert pyctr("wait", "w").stdout.strip() == "7"


def test_create_then_start_attached(pyctr, image):
    cid = pyctr("create", "--name", "later", image, "echo", "started").stdout.strip()
    assert pyctr("inspect", "--format", "{{.State.Status}}", cid).stdout.strip() == "created"
    assert pyctr("start", "-a", "later").stdout == "started\n"
    assert pyctr("start", "-a", "later").stdout == "started\n"  # and again


def test_names_are_unique(pyctr, image):
    pyctr("create", "--name", "same", image, "true")
    again = pyctr("create", "--name", "same", image, "true", check=False)
    assert again.returncode == 125
    assert 'the container name "same" is already in use' in again.stderr
    unknown = pyctr("rm", "nothing-like-this", check=False)
    assert unknown.returncode != 0 and 'no container with name or ID "nothing-like-this" found' in unknown.stderr


def test_ten_parallel_creates_with_one_name(pyctr, image, store):
    procs = [subprocess.Popen(pyctr.argv("create", "--name", "race", image, "true"), env=store.env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(10)]
    results = [(p.wait(timeout=60), p.stderr.read()) for p in procs]
    assert sorted(code for code, _ in results) == [0] + [125] * 9
    assert all("already in use" in err for code, err in results if code)


def test_twenty_parallel_detached_runs(pyctr, image, store):
    procs = [subprocess.Popen(pyctr.argv("run", "-d", image, "sleep", "60"), env=store.env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(20)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 20, outputs
    ids = {out.strip() for out, _ in outputs}
    assert len(ids) == 20
    names = pyctr("ps", "--format", "{{.Names}}").stdout.split()
    assert len(set(names)) == 20
    pyctr("rm", "-f", "--all", timeout=120)
    assert pyctr("ps", "-a", "-q").stdout == ""


def test_kill_9_of_pyctr_does_not_lose_the_container(pyctr, image, store):
    proc = subprocess.Popen(pyctr.argv("run", "--rm", "--name", "survivor", image, "sh", "-c", "sleep 1; exit 4"),
                            env=store.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: "survivor" in pyctr("ps", "--format", "{{.Names}}").stdout)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "survivor" in pyctr("ps", "--format", "{{.Names}}").stdout  # still running
    assert wait_for(lambda: pyctr("ps", "-a", "-q").stdout == "", timeout=15)  # --rm still happened


def test_exit_status_survives_a_killed_cli(pyctr, image, store):
    proc = subprocess.Popen(pyctr.argv("run", "--name", "kept", image, "sh", "-c", "sleep 0.5; exit 9"),
                            env=store.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: "kept" in pyctr("ps", "--format", "{{.Names}}").stdout)
    proc.kill()
    assert pyctr("wait", "kept").stdout.strip() == "9"


def test_shim_is_adopted_and_light(pyctr, image, store):
    pyctr("run", "-d", "--name", "light", image, "sleep", "30")
    shim_pid = int((store.runroot / "containers" / pyctr("inspect", "-f", "{{.Id}}", "light").stdout.strip() / "shim.pid").read_text())
    status = open(f"/proc/{shim_pid}/status").read()
    ppid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
    assert ppid != os.getpid()
    rss_kib = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    assert rss_kib < 15 * 1024
    cmdline = open(f"/proc/{shim_pid}/cmdline").read()
    assert "pyctr.shim" in cmdline


def test_security_defaults_inside(pyctr, image):
    status = pyctr("run", "--rm", image, "cat", "/proc/self/status").stdout
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["Seccomp"].strip() == "2"
    assert int(fields["CapBnd"], 16) == 0x800405fb
    assert pyctr("run", "--rm", image, "sh", "-c", "cat /proc/kcore | wc -c").stdout.strip() == "0"
    assert pyctr("run", "--rm", image, "touch", "/proc/sys/kernel/x", check=False).returncode != 0
    assert pyctr("run", "--rm", image, "ls", "/proc/self/fd").stdout.split() == ["0", "1", "2", "3"]


def test_user_env_workdir_hostname(pyctr, image):
    out = pyctr("run", "--rm", "-u", "app", "-e", "GREETING=hi", "-w", "/tmp", "--hostname", "box", image,
                "sh", "-c", "id -u; id -g; echo $GREETING; pwd; hostname").stdout.split()
    assert out == ["1234", "1234", "hi", "/tmp", "box"]


def test_volumes_and_read_only(pyctr, image, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("from host\n")
    out = pyctr("run", "--rm", "-v", f"{data}:/data", image, "sh", "-c", "cat /data/in.txt; echo back > /data/out.txt").stdout
    assert out == "from host\n" and (data / "out.txt").read_text() == "back\n"
    assert pyctr("run", "--rm", "--read-only", image, "touch", "/x", check=False).returncode != 0
    pyctr("volume", "create", "vol1")
    pyctr("run", "--rm", "-v", "vol1:/v", image, "sh", "-c", "echo kept > /v/f")
    assert pyctr("run", "--rm", "-v", "vol1:/v", image, "cat", "/v/f").stdout == "kept\n"
    assert "vol1" in pyctr("volume", "ls", "-q").stdout


def test_image_in_use_cannot_be_removed(pyctr, image):
    pyctr("create", "--name", "user", image, "true")
    result = pyctr("rmi", image, check=False)
    assert result.returncode == 2 and "in use" in result.stderr
    pyctr("run", "-d", "--name", "user2", image, "sleep", "30")
    pyctr("rmi", "-f", image)  # as podman: the containers go with it
    assert pyctr("ps", "-a", "-q").stdout == "" and pyctr("images", "-q").stdout == ""


def test_cp_both_ways_and_export(pyctr, image, tmp_path):
    pyctr("run", "-d", "--name", "files", image, "sh", "-c", "echo inside > /tmp/in.txt; ln -s /etc/shadow-not-here /tmp/link; sleep 30")
    time.sleep(0.5)
    pyctr("cp", "files:/tmp/in.txt", str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "inside\n"
    (tmp_path / "host.txt").write_text("from host\n")
    pyctr("cp", str(tmp_path / "host.txt"), "files:/tmp/")
    assert pyctr("exec", "files", "cat", "/tmp/host.txt").stdout == "from host\n"
    # A symlink in the container never makes cp read the host's file.
    pyctr("exec", "files", "ln", "-s", "/etc/passwd", "/tmp/passwd-link")
    pyctr("cp", "files:/tmp/passwd-link", str(tmp_path / "pw"))
    assert (tmp_path / "pw").read_text() == pyctr("exec", "files", "cat", "/etc/passwd").stdout
    assert (tmp_path / "pw").read_text() != open("/etc/passwd").read()
    pyctr("exec", "files", "sh", "-c", "mkdir -p /tmp/tree/sub && echo deep > /tmp/tree/sub/f && ln -s /etc /tmp/tree/etc-link")
    pyctr("cp", "files:/tmp/tree", str(tmp_path / "tree"))
    assert (tmp_path / "tree" / "sub" / "f").read_text() == "deep\n"
    assert os.readlink(tmp_path / "tree" / "etc-link") == "/etc"
    pyctr("stop", "-t", "0", "files")
    exported = tmp_path / "fs.tar"
    pyctr("export", "-o", str(exported), "files")
    import tarfile
    names = tarfile.open(exported).getnames()
    assert "bin/busybox" in names and "tmp/host.txt" in names


def test_security_flags(pyctr, image):
    def caps(*flags):
        status = pyctr("run", "--rm", *flags, image, "cat", "/proc/self/status").stdout
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        return int(fields["CapBnd"], 16), fields["Seccomp"].strip(), fields["NoNewPrivs"].strip()

    default_caps, seccomp, nnp = caps()
    assert (seccomp, nnp) == ("2", "0")
    dropped, _, _ = caps("--cap-drop", "chown")
    assert dropped == default_caps & ~1
    added, _, _ = caps("--cap-add", "NET_ADMIN")
    assert added == default_caps | (1 << 12)
    assert caps("--security-opt", "seccomp=unconfined")[1] == "0"
    assert caps("--security-opt", "no-new-privileges")[2] == "1"
    privileged, seccomp, _ = caps("--privileged")
    assert seccomp == "0" and privileged > default_caps
    assert pyctr("run", "--rm", "--ulimit", "nofile=512:1024", image, "sh", "-c", "ulimit -n").stdout.strip() == "512"
    too_high = pyctr("run", "--rm", "--ulimit", "nofile=999999999:999999999", image, "true", check=False)
    assert too_high.returncode == 125 and "Traceback" not in too_high.stderr
    bad = pyctr("run", "--rm", "--cap-add", "NOT_A_CAP", image, "true", check=False)
    assert bad.returncode == 125 and "NOT_A_CAP" in bad.stderr


def test_init_reaps_and_forwards(pyctr, image):
    assert pyctr("run", "--rm", "--init", image, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '").stdout.startswith("/run/pyctr-init")
    pyctr("run", "-d", "--init", "--name", "inited", image, "sleep", "60")
    start = time.monotonic()
    pyctr("stop", "-t", "10", "inited")
    assert time.monotonic() - start < 5  # tini passes SIGTERM on to sleep


def test_exec_options(pyctr, image):
    pyctr("run", "-d", "--name", "ex", image, "sleep", "60")
    out = pyctr("exec", "-u", "app", "-w", "/tmp", "-e", "X=1", "ex", "sh", "-c", "id -u; pwd; echo $X").stdout.split()
    assert out == ["1234", "/tmp", "1"]
    assert pyctr("exec", "-i", "ex", "cat", input="to exec\n").stdout == "to exec\n"
    missing = pyctr("exec", "ex", "nothing-here", check=False)
    assert missing.returncode == 127
    pyctr("exec", "-d", "ex", "sh", "-c", "echo detached > /tmp/d")
    assert wait_for(lambda: pyctr("exec", "ex", "cat", "/tmp/d", check=False).stdout == "detached\n")
    stopped = pyctr("exec", "ex", "true", check=False)
    assert stopped.returncode == 0
    pyctr("stop", "-t", "0", "ex")
    not_running = pyctr("exec", "ex", "true", check=False)
    assert not_running.returncode == 255 and "container state improper" in not_running.stderr  # as podman 4.3.1


def test_pull_policy_and_missing_image(pyctr, registry):
    never = pyctr("run", "--rm", "--pull", "never", f"{registry.host}/test/oci", "true", check=False)
    assert never.returncode == 125 and "image not known" in never.stderr
    pulled = pyctr("run", "--rm", "--pull", "missing", f"{registry.host}/test/oci", "echo", "ok")
    assert pulled.stdout == "ok\n" and "Trying to pull" in pulled.stderr
    unknown = pyctr("run", "--rm", f"{registry.host}/test/absent", "true", check=False)
    assert unknown.returncode == 125 and "manifest unknown" in unknown.stderr


def test_exec_exit_codes_for_paths(pyctr, image):
    pyctr("run", "-d", "--name", "paths", image, "sleep", "60")
    assert pyctr("exec", "paths", "/nonexistent", check=False).returncode == 127
    assert pyctr("exec", "paths", "/etc/passwd", check=False).returncode == 126
    assert pyctr("exec", "paths", "/bin/true").returncode == 0


def test_restart_is_not_undone_by_the_old_cleanup(pyctr, image):
    pyctr("run", "-d", "--name", "again", image, "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done")
    for _ in range(3):
        pyctr("restart", "-t", "5", "again")
        time.sleep(0.5)  # the previous run's cleanup has had time to run
        assert pyctr("inspect", "-f", "{{.State.Status}}", "again").stdout.strip() == "running"


def test_run_rm_frees_the_name_before_returning(pyctr, image):
    for _ in range(3):
        assert pyctr("run", "--rm", "--name", "once", image, "true").returncode == 0


def test_a_name_left_by_a_crash_can_be_taken(pyctr, image, store):
    names = store.root / "containers" / "names"
    names.mkdir(parents=True)
    (names / "orphan").write_text("f" * 64)  # a name whose record never got written
    pyctr("create", "--name", "orphan", image, "true")
    assert pyctr("inspect", "-f", "{{.Name}}", "orphan").stdout.strip() == "orphan"


def test_pause_and_unpause(pyctr, image):
    pyctr("run", "-d", "--name", "pz", image, "sh", "-c", "while true; do echo x; sleep 0.05; done")
    time.sleep(0.3)
    pyctr("pause", "pz")
    assert pyctr("ps", "--format", "{{.Status}}").stdout.strip() == "Paused"  # podman 4.3.1's word
    assert pyctr("inspect", "-f", "{{.State.Status}}", "pz").stdout.strip() == "paused"
    before = len(pyctr("logs", "pz").stdout.split())
    time.sleep(0.4)
    assert len(pyctr("logs", "pz").stdout.split()) == before
    pyctr("unpause", "pz")
    assert wait_for(lambda: len(pyctr("logs", "pz").stdout.split()) > before)
    again = pyctr("unpause", "pz", check=False)
    assert again.returncode == 125 and "not paused" in again.stderr


def test_signals_reach_the_container_through_a_foreground_run(pyctr, image, store):
    proc = subprocess.Popen(pyctr.argv("run", "--rm", "--name", "proxied", image, "sh", "-c",
                                       "trap 'echo got TERM; exit 7' TERM; while true; do sleep 0.1; done"),
                            env=store.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: "proxied" in pyctr("ps", "--format", "{{.Names}}").stdout)
    time.sleep(0.3)  # the trap is set
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 7 and "got TERM" in out


def test_limits_dns_and_groups(pyctr, image):
    out = pyctr("run", "--rm", "--memory", "64m", "--cpus", "0.5", "--dns", "192.0.2.53", "--dns-search", "example.org",
                "--group-add", "1234", image, "sh", "-c",
                "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us; "
                "grep -v '^#' /etc/resolv.conf; id -G").stdout.splitlines()
    assert out == ["67108864", "50000", "search example.org", "nameserver 192.0.2.53", "0 1234"]
    bad = pyctr("run", "--rm", "--dns", "not-an-ip", image, "true", check=False)
    assert bad.returncode == 125 and "not an ip address" in bad.stderr


def test_restart_policies(pyctr, image):
    pyctr("run", "-d", "--name", "flaky", "--restart", "on-failure:2", image, "sh", "-c", "echo run; exit 1")
    assert wait_for(lambda: pyctr("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "flaky").stdout.split() == ["exited", "2"], timeout=20)
    time.sleep(1)  # and no third run
    assert pyctr("logs", "flaky").stdout.split() == ["run", "run", "run"]
    pyctr("run", "-d", "--name", "always", "--restart", "always", image, "sleep", "0.2")
    assert wait_for(lambda: int(pyctr("inspect", "-f", "{{.RestartCount}}", "always").stdout) >= 2, timeout=20)
    pyctr("stop", "-t", "1", "always")
    count = pyctr("inspect", "-f", "{{.RestartCount}}", "always").stdout
    time.sleep(1.5)
    assert pyctr("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "always").stdout.split() == ["exited", count.strip()]
    conflict = pyctr("run", "--rm", "--restart", "always", image, "true", check=False)
    assert conflict.returncode == 125 and "conflicts with --restart" in conflict.stderr


def test_failed_start_with_rm_is_quick_and_leaves_nothing(pyctr, image):
    start = time.monotonic()
    assert pyctr("run", "--rm", image, "nonexistent", check=False).returncode == 127
    assert time.monotonic() - start < 10
    assert pyctr("ps", "-a", "-q").stdout == ""


def test_slow_reader_gets_all_the_output(pyctr, image, store):
    reader = "import sys, time; time.sleep(1.5); print(len(sys.stdin.buffer.read()))"
    pipeline = f"{' '.join(pyctr.argv('run', '--rm', image, 'head', '-c', '5000000', '/dev/zero'))} | {sys.executable} -c '{reader}'"
    result = subprocess.run(["sh", "-c", pipeline], env=store.env(), capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "5000000", result.stderr


def test_kill_and_stop_are_final_for_restart_policies(pyctr, image):
    pyctr("run", "-d", "--name", "killed", "--restart", "always", image, "sleep", "30")
    pyctr("kill", "killed")
    time.sleep(1.5)
    assert pyctr("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "killed").stdout.split() == ["exited", "0"]
    pyctr("run", "-d", "--name", "looping", "--restart", "always", image, "sh", "-c", "exit 1")
    assert wait_for(lambda: int(pyctr("inspect", "-f", "{{.RestartCount}}", "looping").stdout) >= 1)
    pyctr("stop", "looping")  # possibly between two runs
    count = pyctr("inspect", "-f", "{{.RestartCount}}", "looping").stdout
    time.sleep(2)
    assert pyctr("inspect", "-f", "{{.RestartCount}}", "looping").stdout == count


def test_rm_exit_codes_are_podmans(pyctr, image):
    """podman rm: 1 when a container does not exist, 2 when it runs (without -f); volume rm alike."""
    missing = pyctr("rm", "nosuch", check=False)
    assert missing.returncode == 1 and missing.stderr.startswith('Error: no container with name or ID "nosuch" found')
    pyctr("run", "-d", "--name", "busy", image, "sleep", "30")
    assert pyctr("rm", "busy", check=False).returncode == 2
    assert pyctr("rm", "-f", "-t", "0", "busy").stdout == "busy\n"
    assert pyctr("volume", "rm", "nosuch", check=False).returncode == 1
    nothing = pyctr("volume", "rm", check=False)
    assert nothing.returncode == 125 and nothing.stderr == "Error: choose either one or more volumes or all\n"


def test_start_attach_gives_a_terminal_container_the_users_size_from_the_start(pyctr, image):
    import shlex

    pyctr("create", "-t", "--name", "tt", image, "busybox", "stty", "size")
    start = " ".join(shlex.quote(a) for a in pyctr.argv("start", "-a", "tt"))
    result = pyctr.run(["script", "-qec", f"stty rows 33 cols 111; {start}", "/dev/null"])
    assert "33 111" in result.stdout


def test_exists_commands_answer_with_their_exit_code_only(pyctr, image):
    """podman's container|image|volume exists: exit 0 or 1, nothing printed (scripts: `exists web || run ...`)."""
    def exists(*args) -> tuple[int, str]:
        result = pyctr(*args, check=False)
        return result.returncode, result.stdout + result.stderr

    assert exists("container", "exists", "web") == (1, "")
    pyctr("create", "--name", "web", image, "true")
    assert exists("container", "exists", "web") == (0, "")
    assert exists("container", "exists", "--external", "web") == (0, "")
    assert exists("image", "exists", image) == (0, "")
    assert exists("image", "exists", "localhost/never-pulled") == (1, "")
    assert exists("volume", "exists", "data") == (1, "")
    pyctr("volume", "create", "data")
    assert exists("volume", "exists", "data") == (0, "")


def test_version(pyctr):
    import json

    from pyctr import __version__

    assert pyctr("version", "--format", "{{.Client.Version}}").stdout == f"{__version__}\n"
    client = json.loads(pyctr("version", "--format", "json").stdout)["Client"]
    assert client["Version"] == __version__ and client["OsArch"].startswith("linux/")
    lines = pyctr("version").stdout.splitlines()
    assert lines[0].split() == ["Client:", "pyctr"] and lines[1].split() == ["Version:", __version__]


def test_stop_returns_once_the_container_is_cleaned_up(pyctr, store, image):
    """As podman's stop: the shim records the exit, then unmounts and tears the network down; stop
    waits for that, so that a script's next command finds the rootfs unmounted."""
    for n in range(3):
        pyctr("run", "-d", "--name", f"c{n}", image, "sleep", "100")
        pyctr("stop", "-t", "0", f"c{n}")
        assert not [m for m in store.mounts() if "/containers/" in m], n
