#!/usr/bin/env bash
# stack.sh: start (or stop) Debian's prometheus and prometheus-alertmanager on
# 127.0.0.1 beside a benchd on 127.0.0.1:9480, with benchd's scrape config,
# alerting rules and Alertmanager routing from deploy/.
#
# Usage: scripts/stack.sh [start|stop|status]   (from anywhere; default start)
#
#   prometheus    http://127.0.0.1:9090  (deploy/prometheus/prometheus.yml, data in data/prometheus)
#   alertmanager  http://127.0.0.1:9093  (deploy/alertmanager/alertmanager.yml, data in data/alertmanager)
#
# Alertmanager's receivers post to benchd's webhook
# (http://127.0.0.1:9480/api/v1/alertmanager/webhook) with the bearer token in
# data/benchd.token, which benchd makes at its first start with the embedded
# default matrix.
#
# Both run in the background; their pid files and logs are in data/stack/.
# `start` is idempotent: a process whose pid file names a live process is
# left running. Install the packages first: scripts/setup.sh (or
# apt-get install -y prometheus prometheus-alertmanager). Then run benchd
# itself (`make run`, or ./benchd serve), and open Grafana on
# deploy/grafana/provisioning (see the README).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${root}/data"
run="${data}/stack"

PROMETHEUS="${PROMETHEUS:-/usr/bin/prometheus}"
ALERTMANAGER="${ALERTMANAGER:-/usr/bin/prometheus-alertmanager}"

need() {
	if [[ ! -x "$1" ]]; then
		echo "stack.sh: $1 not found: apt-get install -y $2 (or scripts/setup.sh)" >&2
		exit 1
	fi
}

# running NAME: true when NAME's pid file names a live process.
running() {
	local pid
	[[ -f "${run}/$1.pid" ]] || return 1
	pid="$(<"${run}/$1.pid")"
	[[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null
}

# launch NAME CMD...: start CMD in the background, logging to data/stack/NAME.log.
launch() {
	local name="$1"
	shift
	if running "${name}"; then
		echo "stack.sh: ${name} already running (pid $(<"${run}/${name}.pid"))"
		return
	fi
	nohup "$@" >>"${run}/${name}.log" 2>&1 </dev/null &
	echo $! >"${run}/${name}.pid"
	echo "stack.sh: started ${name} (pid $!, log ${run}/${name}.log)"
}

# ready NAME URL: wait up to 30 s for URL to answer, else show the log and fail.
ready() {
	local i
	for ((i = 0; i < 60; i++)); do
		if curl -fs -o /dev/null "$2"; then
			echo "stack.sh: ${1} ready at ${2%/-/ready}"
			return
		fi
		if ! running "$1"; then
			break
		fi
		sleep 0.5
	done
	echo "stack.sh: ${1} did not become ready; last lines of ${run}/${1}.log:" >&2
	tail -n 20 "${run}/${1}.log" >&2
	exit 1
}

start() {
	need "${PROMETHEUS}" prometheus
	need "${ALERTMANAGER}" prometheus-alertmanager
	mkdir -p "${run}" "${data}/prometheus" "${data}/alertmanager"
	launch alertmanager "${ALERTMANAGER}" \
		--config.file="${root}/deploy/alertmanager/alertmanager.yml" \
		--storage.path="${data}/alertmanager" \
		--web.listen-address=127.0.0.1:9093 \
		--cluster.listen-address=
	# exemplar-storage keeps the trace IDs benchd attaches to its latency
	# histogram, for the dashboards' exemplar links. Native histograms stay
	# off: Debian's 2.42 would then ingest only their native form.
	launch prometheus "${PROMETHEUS}" \
		--config.file="${root}/deploy/prometheus/prometheus.yml" \
		--storage.tsdb.path="${data}/prometheus" \
		--web.listen-address=127.0.0.1:9090 \
		--web.enable-lifecycle \
		--enable-feature=exemplar-storage
	ready alertmanager http://127.0.0.1:9093/-/ready
	ready prometheus http://127.0.0.1:9090/-/ready
	echo "stack.sh: prometheus scrapes benchd at 127.0.0.1:9480 (start it with: make run, or ./benchd serve)"
	if [[ ! -f "${data}/benchd.token" ]]; then
		echo "stack.sh: no ${data}/benchd.token yet: alertmanager's notifications to benchd fail until benchd has made it (its first start)"
	fi
}

# halt NAME: SIGTERM the process of NAME's pid file, SIGKILL after 10 s.
halt() {
	local pid i
	if ! running "$1"; then
		echo "stack.sh: ${1} not running"
		rm -f "${run}/${1}.pid"
		return
	fi
	pid="$(<"${run}/${1}.pid")"
	kill "${pid}"
	for ((i = 0; i < 20; i++)); do
		kill -0 "${pid}" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "${pid}" 2>/dev/null; then
		kill -KILL "${pid}"
	fi
	rm -f "${run}/${1}.pid"
	echo "stack.sh: stopped ${1} (pid ${pid})"
}

status() {
	local name
	for name in prometheus alertmanager; do
		if running "${name}"; then
			echo "${name}: running (pid $(<"${run}/${name}.pid"))"
		else
			echo "${name}: stopped"
		fi
	done
}

case "${1:-start}" in
start) start ;;
stop)
	halt prometheus
	halt alertmanager
	;;
status) status ;;
*)
	echo "usage: scripts/stack.sh [start|stop|status]" >&2
	exit 2
	;;
esac
