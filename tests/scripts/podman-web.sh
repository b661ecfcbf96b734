#!/bin/sh
# A deployment script written for podman 4.3.1; tests/test_podman_script.py runs it with
# `podman` replaced by `pyctr` and nothing else changed.
set -eu
IMAGE=$1
PORT=$2

podman container exists web && podman rm -f web
podman run -d --name web -p "$PORT:80" --label app=demo \
    --health-cmd 'test -f /tmp/ok' --health-interval 1s "$IMAGE" sleep 1000 >/dev/null
podman create --name job --label app=demo "$IMAGE" echo job done >/dev/null
podman container exists web || { echo "web is missing"; exit 1; }
podman container exists nosuch && { echo "nosuch exists"; exit 1; }

echo "== ps"
podman ps --filter name=web --filter label=app=demo --format '{{.Names}} {{.Image}}'
echo "== images"
podman images --sort size --format '{{.Repository}}:{{.Tag}}'
echo "== start --all"
podman start --all | sort
podman wait job
echo "== logs"
podman logs --since 10m job
echo "== health"
podman healthcheck run web || echo "not yet healthy"
podman exec web touch /tmp/ok
podman healthcheck run web && echo "healthy now"
echo "== stats"
podman stats --no-stream --format json web | python3 -c 'import json, sys; s = json.load(sys.stdin); print(len(s), "container:", s[0]["name"])'
echo "== port"
podman port web
echo "== system df"
podman system df --format '{{.Type}} {{.Total}}'
echo "== events"
podman events --since 5m --stream=false --filter container=job --format '{{.Status}}'
podman rm -f web job >/dev/null
