"""`lan.network` -> `lan-network.service`: a oneshot unit that makes the network `systemd-lan`
(`pyctr network create --ignore`), which containers that name `lan.network` require."""

from __future__ import annotations

from pyctr.quadlet.common import Context, base_name, key_values, resource_unit, service_for
from pyctr.quadlet.unitfile import UnitFile

GROUP = "Network"
KEYS_4_5 = frozenset({"DisableDNS", "Driver", "Gateway", "Internal", "IPRange", "IPAMDriver", "IPv6", "Options",
                      "Subnet", "Label"})
KEYS = KEYS_4_5 | {"NetworkName", "GlobalArgs", "PodmanArgs"}


def resource_name(unit: UnitFile) -> str:
    return unit.value(GROUP, "NetworkName") or f"systemd-{base_name(unit.filename)}"


def convert(unit: UnitFile, ctx: Context) -> UnitFile:
    service = service_for(unit, GROUP, KEYS, f"{base_name(unit.filename)}-network.service")

    args = ["network", "create", "--ignore"]
    if unit.boolean(GROUP, "DisableDNS"):
        args.append("--disable-dns")
    driver = unit.value(GROUP, "Driver")
    if driver:
        args.append(f"--driver={driver}")
    subnets, gateways, ranges = (unit.values(GROUP, k) for k in ("Subnet", "Gateway", "IPRange"))
    if not subnets and (gateways or ranges):
        raise (gateways or ranges)[0].error("cannot set gateway or range without subnet")
    for extra, what in ((gateways, "gateways"), (ranges, "ranges")):
        if len(extra) > len(subnets):
            raise extra[len(subnets)].error(f"cannot set more {what} than subnets")
    for n, subnet in enumerate(subnets):
        args.append(f"--subnet={subnet.value}")
        if n < len(gateways):
            args.append(f"--gateway={gateways[n].value}")
        if n < len(ranges):
            args.append(f"--ip-range={ranges[n].value}")
    if unit.boolean(GROUP, "Internal"):
        args.append("--internal")
    ipam = unit.value(GROUP, "IPAMDriver")
    if ipam:
        args.append(f"--ipam-driver={ipam}")
    if unit.boolean(GROUP, "IPv6"):
        args.append("--ipv6")
    for pair in key_values(unit, GROUP, "Options"):
        args += ["--opt", pair]
    return resource_unit(unit, GROUP, service, ctx, args, resource_name(unit))
