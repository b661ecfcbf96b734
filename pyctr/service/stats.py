"""containers/{id}/stats: Docker's stats documents, one-shot or streamed once a second."""

from __future__ import annotations

import asyncio
import json
import os
import time

from aiohttp import web

from pyctr.service.app import call, engine, flag


def _cpu(sample, ncpu: int) -> dict:
    # Docker's clients divide the container's CPU time by the host's (all CPUs) between two samples;
    # the wall clock times the CPUs gives the same percentage as podman's.
    if sample is None:
        return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                "system_cpu_usage": 0, "online_cpus": ncpu, "throttling_data": {}}
    return {"cpu_usage": {"total_usage": sample.cpu_ns, "usage_in_kernelmode": 0, "usage_in_usermode": sample.cpu_ns},
            "system_cpu_usage": sample.system_ns * ncpu, "online_cpus": ncpu,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def document(sample, previous, read: float, preread: float) -> dict:
    from pyctr.units import rfc3339_nano

    ncpu = os.cpu_count() or 1
    return {
        "read": rfc3339_nano(read), "preread": rfc3339_nano(preread) if preread else "0001-01-01T00:00:00Z",
        "pids_stats": {"current": sample.pids}, "num_procs": 0,
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": 0, "minor": 0, "op": "read", "value": sample.block_input},
            {"major": 0, "minor": 0, "op": "write", "value": sample.block_output}]},
        "cpu_stats": _cpu(sample, ncpu), "precpu_stats": _cpu(previous, ncpu),
        "memory_stats": {"usage": sample.mem_usage, "limit": sample.mem_limit, "stats": {}},
        "networks": {"eth0": {"rx_bytes": sample.net_input, "tx_bytes": sample.net_output, "rx_packets": 0,
                              "tx_packets": 0, "rx_errors": 0, "tx_errors": 0, "rx_dropped": 0, "tx_dropped": 0}},
        "name": "/" + sample.name, "id": sample.id,
    }


async def stats(request: web.Request) -> web.StreamResponse:
    eng = engine(request)
    container = await call(eng.containers.get, request.match_info["id"])

    async def sample():
        return (await call(eng.containers.stats, [container.id]))[0], time.time()

    stream, one_shot = flag(request, "stream", True), flag(request, "one-shot")
    previous, preread = None, 0.0
    if not stream and not one_shot:  # two samples a second apart: the CPU use over that second
        previous, preread = await sample()
        await asyncio.sleep(1)
    current, read = await sample()
    if not stream:
        response = web.Response(body=json.dumps(document(current, previous, read, preread)).encode() + b"\n",
                                 headers={"Content-Type": "application/json"})
        return response
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    while True:
        await response.write(json.dumps(document(current, previous, read, preread)).encode() + b"\n")
        await asyncio.sleep(1)
        previous, preread = current, read
        current, read = await sample()


ROUTES = [("GET", "/containers/{id}/stats", stats)]
