#!/usr/bin/env bash
# A/A on real runs (issue 14 item 7; docs/regressions.md, "A/A on real
# runs"): `benchd serve` on bench/aa.yml (the reference Django project under
# gunicorn-gevent, 6 cells), RUNS runs posted one after another, a busy-loop
# process (`while :; do :; done`) during a random third of them, and after
# each run the regression verdicts benchd exports. With BURN set, the
# target burns that many rounds per request (BENCHD_DJANGO_BURN_LOOPS) from
# run BURN_FROM on: a CPU-per-request step.
#
# Prints one line per run (busy or not, the alarms raised); writes every
# stored result as CSV to OUT (the columns regress/resampled_test.go reads).
# The history stays in STATE for further runs (a second call appends).
#
# Usage: bench/aa.sh [RUNS] [OUT]   env: STATE (default bench/.aa), SEED,
#        BUSY_SHARE (default 3: RUNS/3 busy runs, rounded down), BURN,
#        BURN_FROM (default 1), AA_PORT (serve's port, default 9481),
#        CONFIG (default bench/aa.yml; bench/aa-rate.yml: fixed rates below
#        saturation, for CPU per request)
# Loopback only; takes about a minute a run. Needs a quiet machine. A STATE
# without a venv links data/venv when `make run` made one, else serve makes
# its own first (about a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-30}
OUT=${2:-bench/aa.csv}
STATE=${STATE:-bench/.aa}
SEED=${SEED:-$RANDOM}
BUSY_SHARE=${BUSY_SHARE:-3}
BURN=${BURN:-0}
BURN_FROM=${BURN_FROM:-1}
ADDR=127.0.0.1:${AA_PORT:-9481}
CONFIG=${CONFIG:-bench/aa.yml}
go build -o bench/.benchd ./cmd/benchd
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
[ -s "$STATE/token" ] || { openssl rand -hex 32 > "$STATE/token"; chmod 600 "$STATE/token"; }
[ -e "$STATE/venv" ] || [ ! -d data/venv ] || ln -s "$PWD/data/venv" "$STATE/venv"
sed "s|dir: ../deploy/django|dir: $PWD/deploy/django|" "$CONFIG" > "$STATE/aa.yml"
TOKEN=$(cat "$STATE/token")

# The busy runs: a random third (SEED makes the choice repeatable).
mapfile -t BUSY < <(python3 -c "import random,sys; r=random.Random($SEED); n=$RUNS; print(*sorted(r.sample(range(1,n+1), n//$BUSY_SHARE)), sep='\n')")
echo "runs $RUNS, seed $SEED, busy runs: ${BUSY[*]:-none}, burn $BURN from run $BURN_FROM" >&2

serve_pid= hog=
stop_serve() { [ -z "$serve_pid" ] || { kill -TERM "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null || true; serve_pid=; }; }
trap '[ -z "$hog" ] || kill "$hog" 2>/dev/null; stop_serve' EXIT
start_serve() { # $1: burn rounds
  BENCHD_DJANGO_BURN_LOOPS=$1 bench/.benchd serve --config.file "$STATE/aa.yml" --storage.path "$STATE" \
    --web.listen-address "$ADDR" >>"$STATE/serve.log" 2>&1 &
  serve_pid=$!
  for _ in $(seq 600); do
    curl -sf -o /dev/null "http://$ADDR/healthz" && return
    kill -0 "$serve_pid" 2>/dev/null || { serve_pid=; echo "benchd serve exited; the end of $STATE/serve.log:" >&2; tail -3 "$STATE/serve.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "benchd serve did not become healthy in 5 minutes; see $STATE/serve.log" >&2; exit 1
}
status() { curl -sf "http://$ADDR/api/v1/status" | python3 -c 'import json,sys; r=json.load(sys.stdin).get("run",{}); print(r.get("running",""), r.get("id",""))'; }

burn=0
[ "$BURN_FROM" -le 1 ] && burn=$BURN
start_serve "$burn"
for i in $(seq 1 "$RUNS"); do
  if [ "$BURN" != 0 ] && [ "$i" = "$BURN_FROM" ] && [ "$burn" = 0 ]; then stop_serve; burn=$BURN; start_serve "$burn"; fi
  busy=0
  if printf '%s\n' "${BUSY[@]}" | grep -qx "$i"; then busy=1; (exec bash -c 'while :; do :; done') & hog=$!; fi
  before=$(status | cut -d' ' -f2) || { echo "GET /api/v1/status failed; see $STATE/serve.log" >&2; exit 1; }
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" "http://$ADDR/api/v1/runs")
  [ "$code" = 202 ] || { echo "POST /api/v1/runs answered $code (want 202); see $STATE/serve.log" >&2; exit 1; }
  for _ in $(seq 900); do
    read -r running id < <(status) || true
    [ "$running" = False ] && [ "$id" != "$before" ] && break
    sleep 1
  done
  [ -z "$hog" ] || { kill "$hog"; wait "$hog" 2>/dev/null || true; hog=; }
  echo "$id" "$busy" "$burn" >> "$STATE/busy.txt"
  alarms=$(curl -sf "http://$ADDR/metrics" | awk '/^benchd_regression_detected\{/ && $NF == 1' |
    sed -E 's/.*endpoint="([^"]*)".*signal="([^"]*)".*/\1:\2/' | tr '\n' ' ')
  echo "run $i/$RUNS $id busy=$busy burn=$burn load=$(cut -d' ' -f1 /proc/loadavg) alarms=[${alarms% }]"
  sleep 3
done
stop_serve

# Every stored result, in run order, as CSV.
bench/.benchd runs --storage.path "$STATE" --format json --limit 100000 > "$STATE/runs.json"
python3 - "$STATE" "$OUT" <<'PY'
import csv, json, subprocess, sys
state, out = sys.argv[1], sys.argv[2]
busy = {l.split()[0]: l.split()[1:] for l in open(f"{state}/busy.txt")}
runs = sorted((r for r in json.load(open(f"{state}/runs.json")) if r["outcome"] != "running"), key=lambda r: r["start"])
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["run", "run_id", "busy", "burn", "scenario", "valid", "reasons", "foreign_cpu", "scheduler_latency_p99", "throughput",
                "latency_p50", "latency_p99", "error_ratio", "timeout_ratio", "cpu_per_request"])
    for n, r in enumerate(runs, 1):
        rep = subprocess.run(["bench/.benchd", "report", "--storage.path", state, "--config.file", f"{state}/aa.yml",
                              "--run", r["id"], "--format", "json"], capture_output=True, text=True, check=True)
        for s in json.loads(rep.stdout):
            lat, cpu = s.get("latency_seconds") or {}, s.get("cpu") or {}
            b = busy.get(r["id"], ["?", "?"]) + ["0"]
            w.writerow([n, r["id"], b[0], b[1], s["scenario"], int(bool(s.get("valid"))),
                        " ".join(s.get("invalid_reasons") or []), cpu.get("foreign_ratio", ""),
                        s.get("scheduler_latency_p99_seconds", ""),
                        s.get("requests_per_second", ""), lat.get("p50", ""), lat.get("p99", ""),
                        s.get("error_ratio", ""), s.get("timeout_ratio", ""), cpu.get("target_seconds_per_request", "")])
print(f"wrote {out}", file=sys.stderr)
PY
