"""Kubernetes documents (plain dicts) to what pyctr makes: volumes, pods and their containers' specs.

Pure: `plan()` reads the documents and the options and returns a Plan; pyctr.engine.kube carries it out
(creates volumes and pods, pulls, creates and starts containers). What Kubernetes can say and pyctr
cannot do yet is refused in one line, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import field

from pyctr.container.spec import ContainerSpec, ImageSpec, Mount, PortMapping, RestartPolicy
from pyctr.errors import InvalidArgument
from pyctr.pod.store import PodSpec
from pyctr.values import value

WORKLOADS = ("Pod", "Deployment")
KNOWN_KINDS = (*WORKLOADS, "PersistentVolumeClaim", "ConfigMap")
IGNORED_KINDS = ("Service",)  # podman 4.3.1 passes them over too (no cluster to route through)
RESTART = {"Always": "always", "OnFailure": "on-failure", "Never": "no"}
PULL = {"Always": "always", "IfNotPresent": "missing", "Never": "never"}
EMPTYDIR_LABEL = "io.pyctr.kube.emptydir"  # the pod an emptyDir volume was made for (kube down removes it)
# podman's own annotations (generate kube writes them; they are not the containers')
PODMAN_ANNOTATIONS = ("io.kubernetes.cri-o.", "io.podman.annotations.")


@value
class PlayOptions:
    """`kube play`'s options that shape what is made."""

    start: bool = True
    replace: bool = False
    network: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)  # one per pod, in order
    macs: list[str] = field(default_factory=list)
    no_hosts: bool = False
    log_driver: str | None = None
    log_opts: list[str] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)
    publish: list[str] = field(default_factory=list)  # more -p PORT specs for every pod
    configmaps: list[dict] = field(default_factory=list)  # ConfigMap documents from --configmap files
    authfile: str | None = None
    tls_verify: bool | None = None
    credentials: str | None = None  # USER:PASSWORD for pulls
    cert_dir: str | None = None
    userns: str | None = None


@value
class HostPath:
    path: str
    create: str = ""  # "directory" or "file": made when missing (DirectoryOrCreate, FileOrCreate)


@value
class PodPlan:
    pod: PodSpec
    containers: list[ContainerSpec]
    host_paths: list[HostPath] = field(default_factory=list)
    empty_dirs: list[str] = field(default_factory=list)  # volumes to make, labelled EMPTYDIR_LABEL=<pod>


@value
class Plan:
    volumes: list[str]  # PersistentVolumeClaims: named volumes to make
    pods: list[PodPlan]


def pod_names(documents: list[dict]) -> list[str]:
    """The pods these documents make (kube down removes them)."""
    names = []
    for doc in documents:
        if doc.get("kind") in WORKLOADS:
            names.append(_pod_name(doc))
    return names


def _pod_name(doc: dict) -> str:
    name = _name(doc)
    return f"{name}-pod-0" if doc["kind"] == "Deployment" else name  # podman's name for a Deployment's pod


def _name(doc: dict) -> str:
    name = (doc.get("metadata") or {}).get("name")
    if not name:
        raise InvalidArgument(f"a {doc.get('kind')} without metadata.name")
    return str(name)


def check_kinds(documents: list[dict]) -> None:
    kinds = [doc.get("kind") for doc in documents]
    for kind in kinds:
        if kind not in KNOWN_KINDS and kind not in IGNORED_KINDS and kind is not None:
            if kind in ("Secret", "DaemonSet", "Job", "StatefulSet", "ReplicaSet"):
                raise InvalidArgument(f"kube kind {kind} is not built yet (pyctr plays Pod, Deployment, "
                                      "PersistentVolumeClaim and ConfigMap)")
    if not any(k in KNOWN_KINDS for k in kinds):
        raise InvalidArgument("YAML document does not contain any supported kube kind")


def plan(documents: list[dict], options: PlayOptions | None = None) -> Plan:
    options = options or PlayOptions()
    check_kinds(documents)
    configmaps = {_name(d): d for d in [*documents, *options.configmaps] if d.get("kind") == "ConfigMap"}
    volumes = [_name(d) for d in documents if d.get("kind") == "PersistentVolumeClaim"]
    pods = []
    for number, doc in enumerate(d for d in documents if d.get("kind") in WORKLOADS):
        if doc["kind"] == "Deployment":
            spec = doc.get("spec") or {}
            replicas = spec.get("replicas", 1)
            if replicas not in (None, 0, 1):
                raise InvalidArgument(f"Deployment {_name(doc)}: {replicas} replicas: more than one replica is not "
                                      "built yet (their pods would share names and ports on one host)")
            template = spec.get("template") or {}
            pod_doc = {"metadata": {**(template.get("metadata") or {}), "name": _pod_name(doc)},
                       "spec": template.get("spec") or {}}
        else:
            pod_doc = doc
        pods.append(_pod_plan(pod_doc, configmaps, options, number))
    return Plan(volumes, pods)


def _pod_plan(doc: dict, configmaps: dict, options: PlayOptions, number: int) -> PodPlan:
    from pyctr.container import flags

    metadata, spec = doc.get("metadata") or {}, doc.get("spec") or {}
    name = str(metadata["name"])
    if spec.get("initContainers"):
        raise InvalidArgument(f"pod {name}: initContainers are not built yet")
    containers = spec.get("containers") or []
    if not containers:
        raise InvalidArgument(f"pod {name}: no containers")
    pod = PodSpec(name=name, labels={str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
                  hostname=spec.get("hostname") or name, no_hosts=options.no_hosts)
    if options.userns:
        raise InvalidArgument("kube play --userns: pod-level user namespaces are not built yet")
    ip = options.ips[number] if number < len(options.ips) else None
    mac = options.macs[number] if number < len(options.macs) else None
    if spec.get("hostNetwork"):
        pod.network_mode = "host"
    elif options.network or ip or mac:
        pod.network_mode, pod.networks = flags.networks(list(options.network), ip=ip, mac=mac)
    for text in options.publish:
        pod.ports += flags.publish(text)
    for container in containers:  # a hostPort is published; a containerPort alone is not (as podman's)
        pod.ports += [PortMapping(int(p["hostPort"]), int(p["containerPort"]), str(p.get("protocol") or "TCP").lower(),
                                  str(p.get("hostIP") or "")) for p in container.get("ports") or () if p.get("hostPort")]
    for entry in spec.get("hostAliases") or ():
        pod.add_hosts += [f"{host}:{entry['ip']}" for host in entry.get("hostnames") or ()]
    dns = spec.get("dnsConfig") or {}
    pod.dns, pod.dns_search = [str(s) for s in dns.get("nameservers") or ()], [str(s) for s in dns.get("searches") or ()]
    pod.dns_options = [f"{o['name']}:{o['value']}" if o.get("value") is not None else str(o["name"])
                       for o in dns.get("options") or ()]
    result = PodPlan(pod, [])
    volumes = _pod_volumes(name, spec.get("volumes") or [], result)
    restart = RESTART.get(spec.get("restartPolicy") or "Always")
    if restart is None:
        raise InvalidArgument(f"invalid restartPolicy {spec.get('restartPolicy')!r}: Always, OnFailure or Never")
    annotations = {k: str(v) for k, v in (metadata.get("annotations") or {}).items()}
    for container in containers:
        result.containers.append(_container(container, name, spec, volumes, configmaps, options, restart, annotations))
    return result


def _pod_volumes(pod: str, items: list[dict], result: PodPlan) -> dict[str, Mount]:
    """The pod's volumes by name, as mounts without a destination (each volumeMount gives one)."""
    found = {}
    for item in items:
        name = item.get("name")
        if "hostPath" in item:
            host = item["hostPath"] or {}
            kind = host.get("type") or ""
            path = str(host.get("path") or "")
            if not path.startswith("/"):
                raise InvalidArgument(f"volume {name}: hostPath {path!r} is not an absolute path")
            if kind in ("DirectoryOrCreate", "FileOrCreate"):
                result.host_paths.append(HostPath(path, "directory" if kind == "DirectoryOrCreate" else "file"))
            elif kind in ("", "Directory", "File", "Socket", "CharDevice", "BlockDevice"):
                result.host_paths.append(HostPath(path))
            else:
                raise InvalidArgument(f"volume {name}: hostPath type {kind} is not known")
            found[name] = Mount("bind", "/", path)
        elif "persistentVolumeClaim" in item:
            claim = item["persistentVolumeClaim"] or {}
            found[name] = Mount("volume", "/", str(claim["claimName"]), ["ro"] if claim.get("readOnly") else [])
        elif "emptyDir" in item:
            medium = (item["emptyDir"] or {}).get("medium") or ""
            if medium == "Memory":
                found[name] = Mount("tmpfs", "/")
            else:  # a volume of the pod's, shared by its containers (kube down removes it)
                volume = f"{pod}-{name}"
                result.empty_dirs.append(volume)
                found[name] = Mount("volume", "/", volume)
        else:
            kind = next((k for k in item if k != "name"), "?")
            raise InvalidArgument(f"volume {name}: {kind} volumes are not built yet (hostPath, persistentVolumeClaim "
                                  "and emptyDir are)")
    return found


def _container(doc: dict, pod: str, pod_spec: dict, volumes: dict, configmaps: dict, options: PlayOptions,
               restart: str, annotations: dict) -> ContainerSpec:
    from pyctr.container import flags

    name = str(doc.get("name") or "")
    if not name:
        raise InvalidArgument(f"pod {pod}: a container without a name")
    if not doc.get("image"):
        raise InvalidArgument(f"container {name}: no image")
    pull = PULL.get(doc.get("imagePullPolicy") or "IfNotPresent")
    if pull is None:
        raise InvalidArgument(f"container {name}: invalid imagePullPolicy {doc.get('imagePullPolicy')!r}")
    spec = ContainerSpec(ImageSpec(str(doc["image"]), pull=pull, authfile=options.authfile, tls_verify=options.tls_verify))
    process = spec.process
    if doc.get("command"):
        process.entrypoint = [str(a) for a in doc["command"]]
    process.command = [str(a) for a in doc.get("args") or ()]
    process.env = _environment(doc, pod, configmaps)
    process.workdir = doc.get("workingDir") or None
    process.tty, process.stdin = bool(doc.get("tty")), bool(doc.get("stdin"))
    if annotations.get(f"io.podman.annotations.init/{name}") == "TRUE":
        process.init = True
    _security(spec, {**(pod_spec.get("securityContext") or {}), **(doc.get("securityContext") or {})}, name)
    _resources(spec, doc.get("resources") or {}, name)
    for item in doc.get("volumeMounts") or ():
        if item.get("subPath") or item.get("subPathExpr"):
            raise InvalidArgument(f"container {name}: volumeMounts subPath is not built yet")
        source = volumes.get(item.get("name"))
        if source is None:
            raise InvalidArgument(f"container {name}: no volume named {item.get('name')!r} in the pod")
        options_ = list(source.options) + (["ro"] if item.get("readOnly") and "ro" not in source.options else [])
        spec.storage.mounts.append(Mount(source.type, str(item["mountPath"]), source.source, options_))
    lifecycle = spec.lifecycle
    lifecycle.name, lifecycle.pod = f"{pod}-{name}", pod
    lifecycle.restart = RestartPolicy(restart)
    if pod_spec.get("terminationGracePeriodSeconds") is not None:  # the wait before SIGKILL at stop
        process.stop_timeout = int(pod_spec["terminationGracePeriodSeconds"])
    lifecycle.annotations = {**{k: v for k, v in annotations.items() if not k.startswith(PODMAN_ANNOTATIONS)},
                             **options.annotations}
    if options.log_driver:
        lifecycle.log_driver = options.log_driver
    if options.log_opts:
        from pyctr.container import logdriver

        lifecycle.log_max_size = flags.log_max_size(list(options.log_opts))
        opts = logdriver.log_options(list(options.log_opts))
        lifecycle.log_path, lifecycle.log_tag = opts.get("path"), opts.get("tag")
    return spec


def _environment(doc: dict, pod: str, configmaps: dict) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in doc.get("envFrom") or ():
        prefix = str(source.get("prefix") or "")
        if "configMapRef" in source:
            ref = source["configMapRef"] or {}
            data = _configmap(configmaps, ref.get("name"), ref.get("optional"))
            env.update({f"{prefix}{k}": str(v) for k, v in data.items()})
        else:
            raise InvalidArgument(f"envFrom {next(iter(source), '?')} is not built yet (configMapRef is)")
    for item in doc.get("env") or ():
        key = str(item["name"])
        if "valueFrom" not in item:
            env[key] = "" if item.get("value") is None else str(item["value"])
            continue
        source = item["valueFrom"] or {}
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"] or {}
            data = _configmap(configmaps, ref.get("name"), ref.get("optional"))
            if ref.get("key") in data:
                env[key] = str(data[ref["key"]])
            elif not ref.get("optional"):
                raise InvalidArgument(f"cannot set env {key}: key {ref.get('key')} not found in configmap {ref.get('name')}")
        elif "fieldRef" in source and (source["fieldRef"] or {}).get("fieldPath") == "metadata.name":
            env[key] = pod
        else:
            raise InvalidArgument(f"cannot set env {key}: valueFrom {next(iter(source), '?')} is not built yet "
                                  "(configMapKeyRef is)")
    return env


def _configmap(configmaps: dict, name: str | None, optional) -> dict:
    if name in configmaps:
        return dict(configmaps[name].get("data") or {})
    if optional:
        return {}
    raise InvalidArgument(f"configmap {name} not found")


def _security(spec: ContainerSpec, context: dict, name: str) -> None:
    security = spec.security
    security.privileged = bool(context.get("privileged"))
    spec.storage.read_only = bool(context.get("readOnlyRootFilesystem"))
    if context.get("allowPrivilegeEscalation") is False:
        security.no_new_privileges = True
    caps = context.get("capabilities") or {}
    security.cap_add = [str(c) for c in caps.get("add") or ()]
    security.cap_drop = [str(c) for c in caps.get("drop") or ()]
    uid, gid = context.get("runAsUser"), context.get("runAsGroup")
    if uid is not None:
        spec.process.user = f"{uid}:{gid}" if gid is not None else str(uid)
    elif gid is not None:
        raise InvalidArgument(f"container {name}: runAsGroup without runAsUser is not built yet")
    seccomp = (context.get("seccompProfile") or {}).get("type")
    if seccomp == "Unconfined":
        security.seccomp = "unconfined"
    elif seccomp not in (None, "RuntimeDefault"):
        raise InvalidArgument(f"container {name}: seccompProfile {seccomp} is not built yet")


_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIXES = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30,
             "Ti": 1 << 40, "m": 0.001}


def quantity(text) -> float:
    """A Kubernetes quantity ("64Mi", "500m", "1.5", 2) as a number."""
    match = _QUANTITY.match(str(text).strip())
    if not match or match.group(2) not in _SUFFIXES:
        raise InvalidArgument(f"invalid quantity {text!r}")
    return float(match.group(1)) * _SUFFIXES[match.group(2)]


def _resources(spec: ContainerSpec, resources: dict, name: str) -> None:
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    if "memory" in limits:
        spec.resources.memory = int(quantity(limits["memory"]))
    if "cpu" in limits:
        spec.resources.cpus = quantity(limits["cpu"])
    if "memory" in requests:  # as podman: the soft limit
        spec.resources.memory_reservation = int(quantity(requests["memory"]))
