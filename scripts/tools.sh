#!/usr/bin/env bash
# tools.sh: install the Go tools benchd's checks use, at pinned versions,
# into bin/ of the checkout (git-ignored). Idempotent: a tool already there
# at its version is kept. Needs only the Go module proxy.
#
# Usage: scripts/tools.sh            (make lint and make test call it)
set -euo pipefail
cd "$(dirname "$0")/.."

# golangci-lint v2: built from source with the go command, as its authors
# advise against `go tool` dependencies in go.mod (they would pin benchd's
# own dependencies to the linter's).
GOLANGCI_LINT_VERSION=v2.15.0

bin="$PWD/bin"
mkdir -p "${bin}"
if [[ -x "${bin}/golangci-lint" ]] && "${bin}/golangci-lint" version 2>/dev/null | grep -q "version ${GOLANGCI_LINT_VERSION#v} "; then
	exit 0
fi
echo "tools.sh: installing golangci-lint ${GOLANGCI_LINT_VERSION} into bin/ (a few minutes on 2 cores)"
GOBIN="${bin}" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@${GOLANGCI_LINT_VERSION}"
"${bin}/golangci-lint" version
