"""The arguments and flags of `run` and `create`, each declared once.

Each command's signature (pyctr.cli.run) lists the ones it takes, as `rm: bool = flag.rm`;
typer copies a declaration for every command that uses it.
"""

import typer

from pyctr.cli.common import authfile_option, tls_verify_option

image = typer.Argument(..., metavar="IMAGE", help="Image to run.")
command = typer.Argument(None, metavar="COMMAND", help="Command and arguments (default: the image's).")

# run only
detach = typer.Option(False, "--detach", "-d", help="Run in the background and print the container ID.")
sig_proxy = typer.Option(True, "--sig-proxy", help="Forward signals received by pyctr to the container (default true).")
detach_keys = typer.Option("ctrl-p,ctrl-q", "--detach-keys", metavar="KEYS", help="Keys that detach from the container.")
rmi = typer.Option(False, "--rmi", help="Remove the image after the container exits (with --rm).")

# run and create
interactive = typer.Option(False, "--interactive", "-i", help="Keep stdin open.")
tty = typer.Option(False, "--tty", "-t", help="Allocate a pseudo-terminal.")
rm = typer.Option(False, "--rm", help="Remove the container when it exits.")
name = typer.Option(None, "--name", metavar="NAME", help="Name of the container.")
env = typer.Option([], "--env", "-e", metavar="KEY=VALUE", help="Set an environment variable (KEY alone copies pyctr's).")
env_file = typer.Option([], "--env-file", metavar="PATH", help="Read environment variables from a file.")
workdir = typer.Option(None, "--workdir", "-w", metavar="DIR", help="Working directory inside the container.")
user = typer.Option(None, "--user", "-u", metavar="USER[:GROUP]", help="User (name or UID) and group to run as.")
entrypoint = typer.Option(None, "--entrypoint", metavar="CMD", help="Override the image's entrypoint (a JSON list for several words).")
hostname = typer.Option(None, "--hostname", "-h", metavar="NAME", help="Container host name (default: the short ID).")
volume = typer.Option([], "--volume", "-v", metavar="SRC:DEST[:OPTS]", help="Bind mount a host path or a named volume.")
mount = typer.Option([], "--mount", metavar="type=TYPE,...", help="Attach a bind, volume or tmpfs mount.")
tmpfs = typer.Option([], "--tmpfs", metavar="DEST[:OPTS]", help="Mount a tmpfs.")
read_only = typer.Option(False, "--read-only", help="Mount the root filesystem read-only.")
cap_add = typer.Option([], "--cap-add", metavar="CAP", help="Add a capability.")
cap_drop = typer.Option([], "--cap-drop", metavar="CAP", help="Drop a capability.")
privileged = typer.Option(False, "--privileged", help="All capabilities, no seccomp, no masked paths.")
security_opt = typer.Option([], "--security-opt", metavar="OPT", help="no-new-privileges, seccomp=unconfined or seccomp=PROFILE.json.")
ulimit = typer.Option([], "--ulimit", metavar="NAME=SOFT[:HARD]", help="Resource limit, e.g. nofile=1024:2048.")
init = typer.Option(False, "--init", help="Run an init (tini) as PID 1 that reaps zombies and forwards signals.")
stop_signal = typer.Option(None, "--stop-signal", metavar="SIGNAL", help="Signal that stops the container (default SIGTERM).")
stop_timeout = typer.Option(None, "--stop-timeout", metavar="SECONDS", help="Seconds to wait before killing on stop (default 10).")
cidfile = typer.Option(None, "--cidfile", metavar="PATH", help="Write the container ID to this file.")
replace = typer.Option(False, "--replace", help="Replace a container with the same name.")
label = typer.Option([], "--label", "-l", metavar="KEY=VALUE", help="Add a label.")
annotation = typer.Option([], "--annotation", metavar="KEY=VALUE", help="Add an OCI annotation.")
pull = typer.Option("missing", "--pull", metavar="POLICY", help="Pull policy: always, missing, never or newer.")
network = typer.Option(None, "--network", "--net", metavar="MODE", help="none, host, private (loopback only) or slirp4netns (default rootless, and with -p).")
publish = typer.Option([], "--publish", "-p", metavar="[IP:]HOSTPORT:PORT[/PROTO]", help="Publish a container port on the host.")
add_host = typer.Option([], "--add-host", metavar="HOST:IP", help="Add a line to /etc/hosts.")
shm_size = typer.Option(None, "--shm-size", metavar="SIZE", help="Size of /dev/shm (default 64m).")
memory = typer.Option(None, "--memory", "-m", metavar="SIZE", help="Memory limit, e.g. 256m (not applied rootless).")
cpus = typer.Option(None, "--cpus", metavar="N", help="CPU limit, e.g. 1.5 (not applied rootless).")
dns = typer.Option([], "--dns", metavar="IP", help="DNS server for the container.")
dns_search = typer.Option([], "--dns-search", metavar="DOMAIN", help="DNS search domain.")
dns_option = typer.Option([], "--dns-option", metavar="OPT", help="DNS resolver option.")
group_add = typer.Option([], "--group-add", metavar="GID", help="Add a supplementary group.")
restart = typer.Option("no", "--restart", metavar="POLICY", help="no, on-failure[:MAX], always or unless-stopped.")
platform = typer.Option(None, "--platform", metavar="OS/ARCH", help="Platform to pull.")
tls_verify = tls_verify_option()
authfile = authfile_option()
quiet = typer.Option(False, "--quiet", "-q", help="Do not show pull progress.")
