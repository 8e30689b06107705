#!/bin/sh
# `make run`: starts two demo origins (tools/origin.py on 127.0.0.1:9001 and :9002), then
# Meridian in the foreground on examples/quickstart.yaml. Ctrl-C stops all three.
build=${1:-build}
cd "$(dirname "$0")/.." || exit 1
pids=""
for port in 9001 9002; do
    /usr/bin/python3 tools/origin.py --port "$port" --name "demo-$((port - 9000))" >/dev/null 2>&1 &
    pids="$pids $!"
done
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT INT TERM
sleep 0.3
echo "demo origins on 127.0.0.1:9001 and :9002; meridian on :8080 -- try: curl localhost:8080/"
"$build/meridian" -c examples/quickstart.yaml
