"""engine.kube: Kubernetes YAML both ways (podman's generate kube, kube play, kube down).

`generate` turns containers and pods into Kubernetes documents (pyctr.kube.generate); `play` makes the
volumes, pods and containers that documents describe (pyctr.kube.play plans, this carries it out);
`down` removes the pods `play` made from the same documents (not their claims' volumes, as podman 4.3).
"""

from __future__ import annotations

import os
from dataclasses import field
from typing import TYPE_CHECKING

from pyctr.errors import InvalidArgument, NotFound, PyctrError
from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.engine import Engine
    from pyctr.kube.play import PlayOptions, PodPlan

KINDS = ("pod", "deployment")


@value
class PlayedPod:
    id: str
    name: str
    containers: list[str] = field(default_factory=list)  # IDs, in the order of the YAML


@value
class PlayReport:
    volumes: list[str] = field(default_factory=list)  # the claims' volumes made
    pods: list[PlayedPod] = field(default_factory=list)


@value
class DownReport:
    stopped: list[str] = field(default_factory=list)  # pod IDs
    removed: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)  # emptyDir volumes removed with their pods


class Kube:
    def __init__(self, engine: "Engine"):
        self._e = engine

    # -- generate ----------------------------------------------------------------------------

    def generate(self, names: list[str], *, service: bool = False, kind: str = "pod", replicas: int = 1) -> list[dict]:
        """The documents for these containers and pods: one Pod (or Deployment) per pod, one for all the
        containers named alone; with `service`, a NodePort Service before each. -> [dict]"""
        from pyctr.kube import generate as gen
        from pyctr.kube.play import EMPTYDIR_LABEL
        from pyctr.pod.members import members, pod_of

        if not names:
            raise InvalidArgument("requires at least 1 arg(s), only received 0")
        if kind not in KINDS:
            raise InvalidArgument("invalid generation type - only pods and deployments are currently supported")
        if replicas < 1 or (replicas != 1 and kind != "deployment"):
            raise InvalidArgument("--replicas: a positive number, and only with --type deployment")
        store = self._e.services.containers
        pods, alone = [], []
        for name in names:
            try:
                found = store.resolve(name)
            except NotFound:
                pass
            else:
                if pod_of(found):
                    raise InvalidArgument(f"container {found.id} is associated with pod {pod_of(found)}: use generate "
                                          "on the pod itself")
                alone.append(found)
                continue
            try:
                pods.append(self._e.pods.get(name))
            except NotFound:
                raise NotFound(f'name or ID "{name}" not found') from None
        records = store.all() if pods else []
        in_pods = [sorted((r for r in members(records, p.id) if r.id != p.infra_id), key=lambda r: r.created) for p in pods]
        chosen = [r for group in in_pods for r in group] + alone
        # volumes kube play made for emptyDir volumes, by the pod they were made for
        made = {v.name: v.labels[EMPTYDIR_LABEL] for v in self._e.volumes.list() if EMPTYDIR_LABEL in v.labels} \
            if any(m.type == "volume" for r in chosen for m in r.spec.storage.mounts) else {}
        documents = []
        for pod, found in zip(pods, in_pods):
            if not found:
                raise InvalidArgument(f"pod {pod.name} has no containers other than its infra container")
            empty_dirs = {n: n[len(p) + 1:] for n, p in made.items() if p == pod.name and n.startswith(f"{p}-")}
            documents.append(gen.pod_document(pod.name, found, pod_id=pod.id, ports=pod.spec.get("ports") or (),
                                              hostname=pod.hostname, labels=pod.labels, created=pod.created,
                                              empty_dirs=empty_dirs, host_network=pod.spec.get("network_mode") == "host"))
        if alone:
            documents.append(gen.pod_document(f"{alone[0].name}-pod", alone, hostname=alone[0].spec.network.hostname or "",
                                              created=alone[0].created, host_network=alone[0].network == "host"))
        if kind == "deployment":
            documents = [gen.deployment_document(d, replicas) for d in documents]
        if service:
            with_services = []
            for document in documents:
                svc = gen.service_document(document)
                with_services += [svc, document] if svc else [document]
            documents = with_services
        return documents

    # -- play --------------------------------------------------------------------------------

    def play(self, text: str, options: "PlayOptions | None" = None, *, progress=None) -> PlayReport:
        """Make what the YAML `text` describes: claims' volumes, then each pod with its containers (started
        unless options.start is false). A pod whose containers cannot all be made is removed again."""
        from pyctr.kube import play, yamlio

        options = options or play.PlayOptions()
        the_plan = play.plan(yamlio.load(text), options)
        report = PlayReport()
        for pod_plan in the_plan.pods:  # before anything is made
            for host in pod_plan.host_paths:
                _host_path(host)
        volumes = self._e.volumes
        for name in the_plan.volumes:
            if options.replace and volumes.exists(name):
                report.volumes.append(name)
                continue
            report.volumes.append(volumes.create(name).name)
        for pod_plan in the_plan.pods:
            report.pods.append(self._play_pod(pod_plan, options, progress))
        return report

    def _play_pod(self, pod_plan: "PodPlan", options: "PlayOptions", progress) -> PlayedPod:
        from pyctr.kube.play import EMPTYDIR_LABEL

        pods = self._e.pods
        if options.replace and pods.exists(pod_plan.pod.name):
            self._remove_pods([pods.get(pod_plan.pod.name).id], keep_volumes=True)
        for name in pod_plan.empty_dirs:
            self._e.volumes.create(name, labels={EMPTYDIR_LABEL: pod_plan.pod.name}, ignore=True)
        if options.credentials or options.cert_dir:  # pulls that the containers' own pull cannot do
            for spec in pod_plan.containers:
                image = spec.image
                if image.pull == "always" or (image.pull != "never" and not self._e.images.exists(image.name)):
                    self._e.images.pull(image.name, tls_verify=image.tls_verify, authfile=image.authfile,
                                        credentials=options.credentials, cert_dir=options.cert_dir, progress=progress)
                    image.pull = "missing"
        pod = pods.create(pod_plan.pod)
        played = PlayedPod(pod.id, pod.name)
        try:
            for spec in pod_plan.containers:
                spec.lifecycle.pod = pod.id
                played.containers.append(self._e.containers.create(spec, progress=progress).id)
            if options.start:
                failed = [r.error for r in pods.start([pod.id]) if r.error is not None]
                if failed:
                    raise failed[0]
        except BaseException:
            try:
                pods.remove([pod.id], force=True)
            except PyctrError:
                pass
            raise
        return played

    # -- down --------------------------------------------------------------------------------

    def down(self, text: str) -> DownReport:
        """Stop and remove the pods the YAML made (found by their names), and their emptyDir volumes."""
        from pyctr.kube import play, yamlio

        documents = yamlio.load(text)
        play.check_kinds(documents)
        ids = [self._e.pods.get(name).id for name in play.pod_names(documents)]  # every one first (podman's error)
        return self._remove_pods(ids)

    def _remove_pods(self, ids: list[str], *, keep_volumes: bool = False) -> DownReport:
        from pyctr.kube.play import EMPTYDIR_LABEL

        pods = self._e.pods
        names = [pods.get(i).name for i in ids]
        report = DownReport()
        for stopped in pods.stop(ids):
            if stopped.error is not None:
                raise stopped.error
            report.stopped.append(stopped.id)
        for removed in pods.remove(ids, force=True):
            if removed.error is not None:
                raise removed.error
            report.removed.append(removed.id)
        if not keep_volumes and names:
            volumes = self._e.volumes
            made = [v.name for v in volumes.list() if v.labels.get(EMPTYDIR_LABEL) in names]
            for removed in volumes.remove(made) if made else ():
                if removed.error is not None:
                    raise removed.error
                report.volumes.append(removed.name)
        return report


def _host_path(host) -> None:
    """A hostPath volume's source: made when its type says so, else it must be there (as podman's)."""
    if os.path.exists(host.path):
        return
    if host.create == "directory":
        os.makedirs(host.path, 0o755, exist_ok=True)
    elif host.create == "file":
        os.makedirs(os.path.dirname(host.path), 0o755, exist_ok=True)
        open(host.path, "a").close()
    else:
        raise NotFound(f"checking hostPath volume: stat {host.path}: no such file or directory")
