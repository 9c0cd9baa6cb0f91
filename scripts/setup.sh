#!/usr/bin/env bash
# setup.sh: install the Debian 12 packages benchd's runtime and tests need.
#
# Usage: sudo scripts/setup.sh   (or as root)
#
# Idempotent: it asks dpkg which packages are already installed, runs
# apt-get update and apt-get install only for the missing ones, and prints
# what it installed. apt starts no daemons here: benchd and its tests start
# redis-server and prometheus themselves. The reference Django target's
# Python packages come from PyPI, not from here: benchd (and the tests) make
# a venv with Debian's python3 from deploy/django/requirements.txt.
set -euo pipefail

packages=(
	# Debian's python3 and its venv module: the reference Django target's
	# venv (deploy.EnsureVenv).
	python3-venv
	# PostgreSQL, the reference target's optional database (the tests start
	# a throwaway cluster as the postgres user; apt starts none here).
	postgresql
	# Services, peers and tools.
	redis-server
	redis-tools # redis-cli, for the tests
	util-linux  # runuser, taskset, setarch
	valgrind    # callgrind and callgrind_control: the instruction-count lane
	systemd     # systemd-analyze, to verify deploy/systemd/benchd.service
	prometheus
	prometheus-alertmanager # amtool, and the alert stack of scripts/stack.sh
	wrk
	nginx-light # a multi-worker target of the process tests (cmd/benchd)
	gcc # go test -race needs cgo
	procps
	curl
	ca-certificates
	chromium # the results UI's browser tests (ui/browser_test.go, chromedp)
)

if [[ ${EUID} -ne 0 ]]; then
	echo "setup.sh: run as root or with sudo" >&2
	exit 1
fi

installed() {
	[[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

missing=()
for pkg in "${packages[@]}"; do
	if ! installed "${pkg}"; then
		missing+=("${pkg}")
	fi
done

if ((${#missing[@]} == 0)); then
	echo "setup.sh: all ${#packages[@]} packages already installed; nothing to do"
else
	echo "setup.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
	for pkg in "${missing[@]}"; do
		if ! installed "${pkg}"; then
			echo "setup.sh: ${pkg} is still not installed" >&2
			exit 1
		fi
	done
	echo "setup.sh: installed ${missing[*]}"
fi
