#!/bin/sh
# `make bench`: runs ../shared/bench/bench.sh with Meridian (1 worker) beside nginx and
# HAProxy, scenarios small and large. Extra arguments go to bench.sh (e.g. --quick).
build=${1:-build}; shift 2>/dev/null
root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/../shared/bench
[ -x "$bench/bench.sh" ] || { echo "no $bench/bench.sh: the shared bench harness is missing" >&2; exit 1; }
bash "$bench/setup.sh" >/dev/null || exit 1
"$root/$build/meridian" -c "$root/bench/meridian-bench.yaml" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT INT TERM
sleep 0.5
kill -0 $pid || { echo "meridian did not start" >&2; exit 1; }
"$bench/bench.sh" --builtin nginx,haproxy --scenarios small,large \
    --target "name=meridian,pid=$pid,port=18080,label=meridian $(git -C "$root" rev-parse --short HEAD 2>/dev/null)" \
    --out "$root/build/bench-latest.md" "$@"
