"""`app.kube` -> `app.service`: `pyctr kube play --replace YAML` on start, `pyctr kube down YAML` on stop.

podman's unit is Type=notify, made ready by a "service container" (`--service-container=true`)
whose conmon lives as long as the pods. pyctr's kube play has no service container yet, so the
unit is a oneshot that stays active (RemainAfterExit) while the pods run on their own shims.
"""

from __future__ import annotations

from pyctr.quadlet.common import (
    SERVICE, Context, absolute, add_networks, add_published_ports, add_user_remap, all_words, base_name,
    check_kill_mode, exec_line, file_error, service_for, set_default)
from pyctr.quadlet.unitfile import UnitFile

GROUP = "Kube"
KEYS_4_4 = frozenset({"Yaml", "RemapUid", "RemapGid", "RemapUsers", "RemapUidSize", "Network", "ConfigMap",
                      "PublishPort"})
KEYS = KEYS_4_4 | {"UserNS", "LogDriver", "GlobalArgs", "PodmanArgs"}


def convert(unit: UnitFile, ctx: Context) -> UnitFile:
    service = service_for(unit, GROUP, KEYS, f"{base_name(unit.filename)}.service")
    yaml = unit.value(GROUP, "Yaml")
    if not yaml:
        raise file_error(unit, "no Yaml key specified")
    yaml = absolute(unit, yaml)
    global_args = all_words(unit, GROUP, "GlobalArgs")

    check_kill_mode(unit, service)
    service.add(SERVICE, "Environment", "PODMAN_SYSTEMD_UNIT=%n")
    service.set(SERVICE, "Type", "oneshot")
    service.set(SERVICE, "RemainAfterExit", "yes")
    set_default(unit, service, "SyslogIdentifier", "%N")

    args = ["kube", "play", "--replace"]
    add_user_remap(ctx, unit, GROUP, args, manual=False)
    size = unit.last(GROUP, "RemapUidSize")
    if size is not None:
        raise size.error("RemapUidSize is for RemapUsers=auto, which pyctr has not built yet")
    add_networks(ctx, unit, GROUP, service, args)
    for path in all_words(unit, GROUP, "ConfigMap"):
        args += ["--configmap", absolute(unit, path)]
    add_published_ports(unit, GROUP, args)
    log_driver = unit.value(GROUP, "LogDriver")
    if log_driver:
        args += ["--log-driver", log_driver]
    args += all_words(unit, GROUP, "PodmanArgs")
    args.append(yaml)
    service.add(SERVICE, "ExecStart", exec_line(ctx, args, global_args))
    service.add(SERVICE, "ExecStop", exec_line(ctx, ["kube", "down", yaml], global_args))
    return service
