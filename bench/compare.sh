#!/usr/bin/env bash
# Compares benchd's load engine with wrk in one sitting, each client run
# several times, interleaved, so that one noisy run is not a measurement.
#
# A static JSON file served by Debian's nginx (one worker, pinned to core
# 0) is driven by `benchd bench`, `wrk` and optionally a second benchd
# binary (main's, say) and bombardier, each pinned to core 1 with one
# thread, at 50, 500, 2000 and 10,000 connections. Every client runs
# ROUNDS times per connection count, interleaved: each round runs every
# client once, in an order rotated from round to round. For each client it
# prints the median and the range (min-max) of requests/s, client CPU
# seconds per 100k requests (user+system from the client's rusage, via GNU
# time), peak RSS (GNU time's maximum resident set: file-backed pages of
# the binary included, about 21 MiB of a 50 MB Go binary) and peak
# anonymous memory (RssAnon from /proc, sampled every 0.1 s: heap, stacks
# and buffers, what the connections cost), then the ratios of the medians to wrk's. Goals (issue
# 16): CPU per request <= 0.9x wrk's, requests/s >= wrk's, RSS <= 24 MiB at
# 2000 connections and <= 64 MiB at 10,000.
#
# Usage: bench/compare.sh [DURATION]   (default 10s; loopback only)
# Environment:
#   BENCHD_BEFORE=PATH  also run the benchd binary PATH, as "benchd-before"
#   BOMBARDIER=1        also run bombardier (installed with go install)
#   LOOPS="unix uring"  also run bench/loopcmp with these backends (unix,
#                       gnet, netpoll, uring), as "loop-NAME": the I/O
#                       mechanism alone, responses counted by length
#   CONNS="50 500"      the connection counts (default 50 500 2000 10000)
#   ROUNDS=3            runs of each client per connection count
#   BENCH_PORT=18080    nginx's port on 127.0.0.1
#   KEEP=DIR            keep every run's output in DIR
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
SECONDS_RUN=${DURATION%s}
read -r -a CONNS <<<"${CONNS:-50 500 2000 10000}"
ROUNDS=${ROUNDS:-3}
PORT=${BENCH_PORT:-18080}
case $PORT in
  8000|8090|6379|9090|9093|9480|9481) echo "port $PORT is taken by the measurements: choose another BENCH_PORT" >&2; exit 1 ;;
esac

need() { command -v "$1" >/dev/null || { echo "missing $1: $2" >&2; exit 1; }; }
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null || ! command -v bc >/dev/null || [ ! -x /usr/bin/time ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light wrk time bc >/dev/null
fi
need nginx "apt-get install -y nginx-light"
need wrk "apt-get install -y wrk"
need taskset "apt-get install -y util-linux"

# 10,000 connections need as many descriptors in the client and in nginx.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fds=$(ulimit -n)
for c in "${CONNS[@]}"; do
  if [ "$c" -gt $((fds - 300)) ]; then
    echo "RLIMIT_NOFILE is $fds: too low for $c connections (raise the hard limit: ulimit -Hn 20000)" >&2
    exit 1
  fi
done

nice -n 19 go build -o bench/.benchd ./cmd/benchd
CLIENTS=(benchd wrk)
if [ -n "${BENCHD_BEFORE:-}" ]; then
  [ -x "$BENCHD_BEFORE" ] || { echo "BENCHD_BEFORE=$BENCHD_BEFORE is not an executable" >&2; exit 1; }
  CLIENTS=(benchd-before benchd wrk)
fi
GOBIN=$(go env GOPATH)/bin
if [ -n "${BOMBARDIER:-}" ]; then
  [ -x "$GOBIN/bombardier" ] || nice -n 19 go install github.com/codesenberg/bombardier@v1.2.6
  CLIENTS+=(bombardier)
fi
if [ -n "${LOOPS:-}" ]; then
  (cd bench/loopcmp && nice -n 19 go build -o ../.loopcmp .)
  for b in $LOOPS; do CLIENTS+=("loop-$b"); done
fi

work=$(mktemp -d)
trap 'kill $(cat "$work/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/www" "$work/out"
chmod 755 "$work" "$work/www"  # nginx workers run as www-data
printf '{"message":"hello","items":[1,2,3,4,5,6,7,8,9,10]}\n' > "$work/www/index.json"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 16384; }
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

# run CLIENT CONNS ROUND: runs one client once and appends
# "client conns round requests/s cpu_seconds max_rss_kib max_anon_kib" to
# results.
run() {
  local name=$1 c=$2 round=$3
  local out="$work/out/$name-$c-$round.out" tm="$work/out/$name-$c-$round.time"
  local cmd
  case $name in
    benchd) cmd=(bench/.benchd bench -t 1 -c "$c" -d "$DURATION" "$URL") ;;
    benchd-before) cmd=("$BENCHD_BEFORE" bench -t 1 -c "$c" -d "$DURATION" "$URL") ;;
    wrk) cmd=(wrk -t 1 -c "$c" -d "$DURATION" "$URL") ;;
    bombardier) cmd=("$GOBIN/bombardier" -c "$c" -d "$DURATION" -p r "$URL") ;;
    loop-*) cmd=(bench/.loopcmp -backend "${name#loop-}" -c "$c" -d "$DURATION" "$URL") ;;
  esac
  taskset -c 1 /usr/bin/time -f '%U %S %M' -o "$tm" "${cmd[@]}" >"$out" 2>&1 &
  local tp=$! cp="" anon=0 k v _
  # Peak RssAnon of the client (GNU time's child), read with builtins only
  # so that the sampler forks nothing while the client runs.
  while kill -0 "$tp" 2>/dev/null; do
    [ -z "$cp" ] && cp=$(pgrep -P "$tp" | head -n 1 || true)
    if [ -n "$cp" ] && [ -r "/proc/$cp/status" ]; then
      while read -r k v _; do
        if [ "$k" = RssAnon: ]; then
          [ "$v" -gt "$anon" ] && anon=$v
          break
        fi
      done <"/proc/$cp/status" 2>/dev/null || true
    fi
    sleep 0.1
  done
  wait "$tp" || true
  local rps
  case $name in
    bombardier) rps=$(awk '/Reqs\/sec/ {print $2; exit}' "$out") ;;
    *) rps=$(awk '/^Requests\/sec:/ {print $2}' "$out") ;;
  esac
  local user sys rss
  read -r user sys rss < <(tail -n 1 "$tm")
  if [ -z "$rps" ]; then
    echo "$name at $c connections printed no Requests/sec:" >&2
    cat "$out" >&2
    exit 1
  fi
  echo "$name $c $round $rps $(echo "$user + $sys" | bc -l) $rss $anon" >> "$work/results"
  sleep 1  # let TIME_WAIT and nginx settle between runs
}

for c in "${CONNS[@]}"; do
  for ((r = 0; r < ROUNDS; r++)); do
    n=${#CLIENTS[@]}
    for ((i = 0; i < n; i++)); do
      run "${CLIENTS[$(((i + r) % n))]}" "$c" "$r"
    done
  done
done
if [ -n "${KEEP:-}" ]; then
  mkdir -p "$KEEP" && cp "$work/out/"* "$work/results" "$KEEP/"
fi

# stats CLIENT CONNS FIELD: "median min max" of a derived column: rps,
# cpu (CPU seconds per 100k requests), rss or anon (MiB).
stats() {
  awk -v cl="$1" -v c="$2" -v f="$3" -v d="$SECONDS_RUN" '
    $1 == cl && $2 == c {
      if (f == "rps") v = $4
      else if (f == "cpu") v = $5 / ($4 * d) * 100000
      else if (f == "rss") v = $6 / 1024
      else v = $7 / 1024
      print v
    }' "$work/results" | sort -g | awk '{ v[NR] = $1 } END {
      if (NR == 0) { print "nan nan nan"; exit }
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%.6f %.6f %.6f\n", m, v[1], v[NR]
    }'
}

echo
echo "$ROUNDS runs of $DURATION per client and connection count, interleaved; median (min-max)"
printf '| %-13s | %6s | %-26s | %-24s | %-22s | %-22s |\n' client conns "requests/s" "CPU s/100k requests" "peak RSS MiB" "peak anon MiB"
printf '|%s|%s|%s|%s|%s|%s|\n' "---------------" "--------" "----------------------------" "--------------------------" "------------------------" "------------------------"
for c in "${CONNS[@]}"; do
  for cl in "${CLIENTS[@]}"; do
    read -r rm rlo rhi < <(stats "$cl" "$c" rps)
    read -r cm clo chi < <(stats "$cl" "$c" cpu)
    read -r mm mlo mhi < <(stats "$cl" "$c" rss)
    read -r am alo ahi < <(stats "$cl" "$c" anon)
    printf '| %-13s | %6d | %8.0f (%6.0f-%6.0f) | %6.3f (%6.3f-%6.3f) | %5.1f (%5.1f-%5.1f) | %5.1f (%5.1f-%5.1f) |\n' \
      "$cl" "$c" "$rm" "$rlo" "$rhi" "$cm" "$clo" "$chi" "$mm" "$mlo" "$mhi" "$am" "$alo" "$ahi"
  done
done
echo
echo "ratios of medians to wrk's (CPU per request, requests/s, peak RSS, peak anonymous memory):"
for c in "${CONNS[@]}"; do
  read -r wr _ _ < <(stats wrk "$c" rps)
  read -r wc _ _ < <(stats wrk "$c" cpu)
  read -r wm _ _ < <(stats wrk "$c" rss)
  read -r wa _ _ < <(stats wrk "$c" anon)
  for cl in "${CLIENTS[@]}"; do
    [ "$cl" = wrk ] && continue
    read -r r _ _ < <(stats "$cl" "$c" rps)
    read -r cp _ _ < <(stats "$cl" "$c" cpu)
    read -r m _ _ < <(stats "$cl" "$c" rss)
    read -r a _ _ < <(stats "$cl" "$c" anon)
    printf '  %6d connections, %-13s cpu/request %.2fx, requests/s %.2fx, RSS %.2fx, anon %.2fx\n' "$c" "$cl" \
      "$(echo "$cp / $wc" | bc -l)" "$(echo "$r / $wr" | bc -l)" "$(echo "$m / $wm" | bc -l)" "$(echo "$a / $wa" | bc -l)"
  done
done
