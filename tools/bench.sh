#!/bin/sh
# `make bench`: runs ../shared/bench/bench.sh with Meridian (1 worker) beside nginx and
# HAProxy, scenarios small and large. Extra arguments go to bench.sh (e.g. --quick).
build=${1:-build}; shift 2>/dev/null
root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/../shared/bench
[ -x "$bench/bench.sh" ] || { echo "no $bench/bench.sh: the shared bench harness is missing" >&2; exit 1; }
bash "$bench/setup.sh" >/dev/null || exit 1
tls_dir=$(cd "$bench" && pwd)/build/tls
[ -f "$tls_dir/cert.pem" ] || bash "$bench/bench.sh" --serve-origins 1 >/dev/null 2>&1
sed "s#@TLS_DIR@#$tls_dir#g" "$root/bench/meridian-bench.yaml" >"$root/$build/bench.yaml"
"$root/$build/meridian" -c "$root/$build/bench.yaml" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT INT TERM
sleep 0.5
kill -0 $pid || { echo "meridian did not start" >&2; exit 1; }
"$bench/bench.sh" --builtin nginx,haproxy --scenarios small,large \
    --target "name=meridian,pid=$pid,port=18080,tls_port=18443,label=meridian $(git -C "$root" rev-parse --short HEAD 2>/dev/null)" \
    --out "$root/build/bench-latest.md" "$@"
