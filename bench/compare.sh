#!/usr/bin/env bash
# Compares benchd's load engine with wrk and bombardier in one sitting.
#
# A static JSON file served by Debian's nginx (pinned to core 0) is driven
# by `benchd bench`, `wrk` and `bombardier` in turn (each pinned to core 1)
# at 50, 500 and 2000 connections. For each run it prints requests/s,
# client CPU seconds per 100k requests (user+system from the client's
# rusage, via GNU time), peak RSS, and the ratios benchd/wrk and
# benchd/bombardier. Goals (issue 3): requests/s >= wrk's, CPU per request
# <= wrk's, RSS <= 32 MiB at 2000 connections.
#
# Usage: bench/compare.sh [DURATION]   (default 10s; loopback only)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
CONNS=(50 500 2000)
PORT=${BENCH_PORT:-18080}

need() { command -v "$1" >/dev/null || { echo "missing $1: $2" >&2; exit 1; }; }
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null || ! command -v bc >/dev/null || [ ! -x /usr/bin/time ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light wrk time bc >/dev/null
fi
need nginx "apt-get install -y nginx-light"
need wrk "apt-get install -y wrk"
need taskset "apt-get install -y util-linux"
GOBIN=$(go env GOPATH)/bin
[ -x "$GOBIN/bombardier" ] || go install github.com/codesenberg/bombardier@v1.2.6
go build -o bench/.benchd ./cmd/benchd

work=$(mktemp -d)
trap 'kill $(cat "$work/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/www"
chmod 755 "$work" "$work/www"  # nginx workers run as www-data
printf '{"message":"hello","items":[1,2,3,4,5,6,7,8,9,10]}\n' > "$work/www/index.json"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 8192; }
worker_rlimit_nofile 20000;
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:$PORT backlog=4096;
    root $work/www;
    location / { default_type application/json; }
  }
}
CONF
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work"
sleep 0.5
URL="http://127.0.0.1:$PORT/index.json"
curl -fsS "$URL" >/dev/null

# run NAME CMD...: prints "requests/s cpu_seconds max_rss_kib"
run() {
  local name=$1; shift
  local out="$work/$name.out" tm="$work/$name.time"
  taskset -c 1 /usr/bin/time -f '%U %S %M' -o "$tm" "$@" >"$out" 2>&1
  local rps
  case $name in
    benchd*|wrk*) rps=$(awk '/^Requests\/sec:/ {print $2}' "$out") ;;
    bombardier*) rps=$(awk '/Reqs\/sec/ {print $2; exit}' "$out") ;;
  esac
  read -r user sys rss < "$tm"
  echo "$rps $(echo "$user + $sys" | bc -l) $rss"
}

printf '%-11s %6s %12s %14s %10s\n' client conns requests/s cpu_s/100k_req peak_rss_MiB
for c in "${CONNS[@]}"; do
  declare -A R=()
  read -r r1 c1 m1 < <(run "benchd-$c" bench/.benchd bench -t 1 -c "$c" -d "$DURATION" "$URL")
  read -r r2 c2 m2 < <(run "wrk-$c" wrk -t 1 -c "$c" -d "$DURATION" "$URL")
  read -r r3 c3 m3 < <(run "bombardier-$c" "$GOBIN/bombardier" -c "$c" -d "$DURATION" -p r "$URL")
  for row in "benchd $r1 $c1 $m1" "wrk $r2 $c2 $m2" "bombardier $r3 $c3 $m3"; do
    set -- $row
    printf '%-11s %6d %12.0f %14.3f %10.1f\n' "$1" "$c" "$2" "$(echo "$3 / ($2 * ${DURATION%s}) * 100000" | bc -l)" "$(echo "$4 / 1024" | bc -l)"
  done
  printf '  ratios at %d: requests/s benchd/wrk %.2f, benchd/bombardier %.2f; cpu/request benchd/wrk %.2f, benchd/bombardier %.2f\n' "$c" \
    "$(echo "$r1 / $r2" | bc -l)" "$(echo "$r1 / $r3" | bc -l)" \
    "$(echo "($c1 / $r1) / ($c2 / $r2)" | bc -l)" "$(echo "($c1 / $r1) / ($c3 / $r3)" | bc -l)"
done
