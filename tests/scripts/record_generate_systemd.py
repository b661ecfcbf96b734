"""Record podman 4.3.1's `generate systemd` units for tests/golden/podman-generate-systemd.json:

    python3 tests/scripts/record_generate_systemd.py > tests/golden/podman-generate-systemd.json

(podman with the store of DESIGN.md's reference setup: /tmp/pmc, and localhost:5050/test/busybox in it;
the names it makes, g-*, are removed at the end.)
"""
import json, os, subprocess, tempfile
P = ["podman", "--root", "/tmp/pmc/root", "--runroot", "/tmp/pmc/run"]
env = {**os.environ, "CONTAINERS_CONF": "/tmp/pmc/containers.conf"}
IMG = "localhost:5050/test/busybox"
def pm(*args, check=True, extra_env=None):
    r = subprocess.run(P + list(args), capture_output=True, text=True, env={**env, **(extra_env or {})})
    if check and r.returncode:
        raise SystemExit(f"{args}: {r.stderr}")
    return r
for n in ("g-web", "g-esc", "g-esc2", "g-web2", "g-ctr", "g-pc1", "g-pc2"):
    pm("rm", "-f", n, check=False)
pm("pod", "rm", "-f", "g-pod", check=False)
containers = {
    "g-web": ["create", "--name", "g-web", "-p", "18080:80", IMG, "httpd", "-f", "-p", "80", "-h", "/www"],
    "g-esc": ["create", "--name", "g-esc", "-e", "A=b c", "--label", "x=y\\z", IMG, "sh", "-c", 'echo "hi $HOME" 100% `x` \\n'],
    "g-esc2": ["create", "--name", "g-esc2", "-it", "--rm=false", "--cidfile=" + os.path.join(tempfile.mkdtemp(), "g-cid"), "--cgroups", "enabled",
               "--restart=on-failure:3", "--replace=true", IMG, "sleep", "1"],
    "g-web2": ["create", "--name", "g-web2", "--stop-timeout", "20", "-e", "FOO", "-e", "BAR=1", "--restart=always",
               "--sdnotify=container", "--replace=false", IMG, "sleep", "100"],
    "g-ctr": ["container", "create", "--name", "g-ctr", IMG, "sleep", "1"],
}
for name, argv in containers.items():
    pm(*argv, extra_env={"FOO": "from-create"} if name == "g-web2" else None)
pod = ["pod", "create", "--name", "g-pod", "-p", "18081:80"]
pm(*pod)
members = {"g-pc1": ["create", "--pod", "g-pod", "--name", "g-pc1", IMG, "sleep", "100"],
           "g-pc2": ["create", "--pod", "g-pod", "--name", "g-pc2", IMG, "sleep", "200"]}
for argv in members.values():
    pm(*argv)
OPTS = ["--restart-policy", "always", "--start-timeout", "30", "--stop-timeout", "7", "--wants", "a.service",
        "--wants", "a2.service", "--after", "b.service", "--requires", "c.service", "--env", "FOO=bar"]
cases = {
    "web-old": ["--name", "g-web"],
    "web-new": ["--new", "--name", "g-web"],
    "web-ids": ["--new", "g-web"],
    "web-opts-new": ["--new", "--name", *OPTS, "g-web"],
    "web-opts-old": ["--name", *OPTS, "g-web"],
    "web-template": ["--template", "--name", "g-web"],
    "web-prefix": ["--new", "--name", "--container-prefix", "ctr", "--separator", "_", "--restart-policy", "no", "g-web"],
    "esc-new": ["--new", "--name", "g-esc"],
    "esc2-new": ["--new", "--name", "g-esc2"],
    "web2-new": ["--new", "--name", "-e", "BAZ", "-e", "FOO", "-e", "UNSET", "g-web2"],
    "web2-old": ["--name", "g-web2"],
    "ctr-new": ["--new", "--name", "g-ctr"],
    "pod-old": ["--name", "g-pod"],
    "pod-new": ["--new", "--name", "g-pod"],
    "pod-opts-new": ["--new", "--name", *OPTS, "g-pod"],
}
out = {"_about": "podman 4.3.1 `generate systemd --no-header --format json` for the containers and pod created by "
                 "`create`; recorded by tests/scripts/record_generate_systemd.py with --root /tmp/pmc/root "
                 "--runroot /tmp/pmc/run and the image localhost:5050/test/busybox",
       "create": {**containers, "g-pod": pod, **members},
       "ids": {}, "cases": {}, "errors": {}}
for name in [*containers, *members]:
    out["ids"][name] = pm("inspect", "--format", "{{.Id}}", name).stdout.strip()
out["ids"]["g-pod"] = pm("pod", "inspect", "--format", "{{.Id}}", "g-pod").stdout.strip()
out["ids"]["g-pod-infra"] = pm("pod", "inspect", "--format", "{{.InfraContainerID}}", "g-pod").stdout.strip()
for case, args in cases.items():
    r = pm("generate", "systemd", "--no-header", "--format", "json", *args, extra_env={"BAZ": "bz", "FOO": "fooval"})
    out["cases"][case] = {"args": args, "env": {"BAZ": "bz", "FOO": "fooval"}, "units": json.loads(r.stdout), "stderr": r.stderr}
errors = {"missing": ["nope"], "policy": ["--restart-policy", "bogus", "g-web"], "format": ["--format", "yaml", "g-web"],
          "noargs": [], "twoargs": ["g-web", "g-esc"], "pod-template": ["--new", "--template", "g-pod"]}
for case, args in errors.items():
    r = pm("generate", "systemd", *args, check=False)
    out["errors"][case] = {"args": args, "stderr": r.stderr, "rc": r.returncode, "stdout": r.stdout}
r = pm("generate", "systemd", "--name", "g-pod", check=False)
out["text_order"] = [line[2:] for line in r.stdout.splitlines() if line.startswith("# ") and line.endswith(".service")]
print(json.dumps(out, indent=1))
for n in (*containers, *members):
    pm("rm", "-f", n, check=False)
pm("pod", "rm", "-f", "g-pod", check=False)
