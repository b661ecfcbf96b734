"""`pod create --exit-policy stop` (podman's): once the last container of the pod other than its
infra container has exited, the infra container is stopped too, and the pod reads as Exited.
Run by a member's cleanup (pyctr.cleanup), in the shim's wake, never by the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyctr.container.store import ContainerRecord
    from pyctr.engine.services import Services

POLICIES = ("continue", "stop")
BUSY = ("running", "paused", "stopping", "initialized")


def after_exit(services: "Services", record: "ContainerRecord") -> None:
    from pyctr.pod.members import members, pod_of
    from pyctr.pod.store import PodStore

    pod_id = pod_of(record)
    if not pod_id:
        return
    pod = PodStore(services.config.root).load(pod_id)
    if pod is None or not pod.infra_id or record.id == pod.infra_id or pod.spec.get("exit_policy") != "stop":
        return
    store = services.containers
    found = members(store.all(), pod_id)
    if any(store.status(r.id).state in BUSY for r in found if r.id != pod.infra_id):
        return
    infra = next((r for r in found if r.id == pod.infra_id), None)
    if infra is not None and store.status(infra.id).state in ("running", "paused"):
        services.tasks.stop(infra)
