"""_ping, version, info, events, system/df, auth."""

from __future__ import annotations

import json
import threading
import time

from aiohttp import web

from pyctr.service.app import API_VERSION, MIN_API_VERSION, call, engine, filters, reply
from pyctr.service.streams import from_thread

_PING_HEADERS = {"API-Version": API_VERSION, "Docker-Experimental": "false", "Ostype": "linux",
                 "Builder-Version": "1", "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}


async def ping(request: web.Request) -> web.Response:
    if request.method == "HEAD":
        return web.Response(headers=_PING_HEADERS, content_type="text/plain")
    return web.Response(text="OK", headers=_PING_HEADERS, content_type="text/plain")


async def version(request: web.Request) -> web.Response:
    import platform

    info = await call(engine(request).system.version)
    component = {"Name": "Engine", "Version": info.version,
                 "Details": {"ApiVersion": API_VERSION, "Arch": info.arch, "MinAPIVersion": MIN_API_VERSION,
                             "Os": info.os, "KernelVersion": platform.release(), "GoVersion": "python" + info.python_version,
                             "GitCommit": "", "BuildTime": "", "Experimental": "false"}}
    return reply({"Platform": {"Name": "pyctr"}, "Components": [component],
                  "Version": info.version, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
                  "GitCommit": "", "GoVersion": "python" + info.python_version, "Os": info.os, "Arch": info.arch,
                  "KernelVersion": platform.release(), "BuildTime": ""})


async def info(request: web.Request) -> web.Response:
    import os
    import socket

    eng = engine(request)
    found = await call(eng.system.info)
    rows = await call(eng.containers.list, all_containers=True)
    states = [r.state for r in rows]
    return reply({
        "ID": "", "Containers": len(rows), "ContainersRunning": states.count("running"),
        "ContainersPaused": states.count("paused"), "ContainersStopped": len(rows) - states.count("running") - states.count("paused"),
        "Images": found.image_count, "Driver": found.graph_driver,
        "DriverStatus": [["Backing Filesystem", "overlay"]], "DockerRootDir": found.graph_root,
        "Plugins": {"Volume": ["local"], "Network": ["bridge"], "Log": ["k8s-file", "json-file", "none"]},
        "MemoryLimit": True, "SwapLimit": True, "KernelMemory": False, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True, "BridgeNfIptables": True,
        "BridgeNfIp6tables": True, "Debug": False, "NFd": 0, "OomKillDisable": True, "NGoroutines": 0,
        "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs", "CgroupVersion": "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1",
        "NEventsListener": 0, "KernelVersion": found.kernel, "OperatingSystem": "pyctr", "OSVersion": "",
        "OSType": "linux", "Architecture": found.arch, "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"], "Mirrors": []},
        "NCPU": os.cpu_count() or 1, "MemTotal": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "GenericResources": None, "HttpProxy": os.environ.get("HTTP_PROXY", ""), "HttpsProxy": os.environ.get("HTTPS_PROXY", ""),
        "NoProxy": os.environ.get("NO_PROXY", ""), "Name": socket.gethostname(), "Labels": [],
        "ExperimentalBuild": False, "ServerVersion": found.version,
        "Runtimes": {"runc": {"path": found.oci_runtime.path}}, "DefaultRuntime": "runc",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False, "Error": "",
                  "RemoteManagers": None},
        "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "", "SecurityOptions": ["name=seccomp,profile=default"]
                                                                         + (["name=rootless"] if found.rootless else []),
        "Warnings": [],
    })


async def df(request: web.Request) -> web.Response:
    usage = await call(engine(request).system.df)
    images = [{"Id": "sha256:" + i.id, "ParentId": "", "RepoTags": list(i.names), "RepoDigests": [],
               "Created": _created(i.created), "Size": i.size, "SharedSize": i.shared_size, "VirtualSize": i.size,
               "Labels": {}, "Containers": i.containers} for i in usage.images]
    containers = [{"Id": c.id, "Names": ["/" + c.name], "Image": c.image_id, "ImageID": "sha256:" + c.image_id,
                   "Command": " ".join(c.command), "Created": int(c.created), "SizeRw": c.size, "SizeRootFs": c.size,
                   "State": c.state, "Status": c.state, "Labels": {}, "Mounts": []} for c in usage.containers]
    volumes = [{"Name": v.name, "Driver": "local", "Mountpoint": "", "Labels": {}, "Scope": "local", "Options": None,
                "UsageData": {"Size": v.size, "RefCount": v.links}} for v in usage.volumes]
    return reply({"LayersSize": sum(i.size for i in usage.images), "Images": images, "Containers": containers,
                  "Volumes": volumes, "BuildCache": []})


def _created(text: str) -> int:
    from pyctr.units import parse_created

    return int(parse_created(text) or 0)


async def events(request: web.Request) -> web.StreamResponse:
    """Docker's event messages, one JSON document per line; streamed unless `until` is given."""
    eng = engine(request)
    since, until = request.query.get("since"), request.query.get("until")
    stop = threading.Event()
    wanted = filters(request)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)

    def produce():
        return eng.events.list(filters=wanted, since=since, until=until, stream=not until, stop=stop.is_set)

    async for event in from_thread(produce, stop):
        attributes = {**(event.attributes or {}), "name": event.name}
        if event.image:
            attributes["image"] = event.image
        if event.status == "died":
            attributes["exitCode"] = str(event.exit_code)
        message = {"status": event.status, "id": event.id, "from": event.image, "Type": event.type,
                   "Action": event.status, "Actor": {"ID": event.id, "Attributes": attributes}, "scope": "local",
                   "time": int(event.timestamp), "timeNano": int(event.timestamp * 1e9)}
        await response.write(json.dumps(message).encode() + b"\n")
    await response.write_eof()
    return response


async def auth(request: web.Request) -> web.Response:
    body = await request.json()
    server = (body.get("serveraddress") or "docker.io").replace("https://", "").replace("http://", "").rstrip("/")
    await call(engine(request).images.login, server, body.get("username", ""), body.get("password", ""))
    return reply({"Status": "Login Succeeded", "IdentityToken": ""})


ROUTES = [
    ("GET", "/_ping", ping), ("HEAD", "/_ping", ping),
    ("GET", "/version", version), ("GET", "/info", info), ("GET", "/events", events),
    ("GET", "/system/df", df), ("POST", "/auth", auth),
]
