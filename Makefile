# benchd. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
PKG := github.com/benchd/benchd
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/prometheus/common/version.Version=$(VERSION) \
	-X github.com/prometheus/common/version.Revision=$(REVISION) \
	-X github.com/prometheus/common/version.Branch=$(shell git rev-parse --abbrev-ref HEAD 2>/dev/null) \
	-X github.com/prometheus/common/version.BuildUser=$(USER)@$(shell hostname) \
	-X github.com/prometheus/common/version.BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)
# Tests that start real servers (Django, Prometheus) share 2 cores: one
# package at a time keeps their timings meaningful.
TESTFLAGS ?= -race -shuffle=on -p 1 -timeout 25m

.PHONY: help
help: ## Show this help.
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F ':.*?## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: setup
setup: ## Install the Debian packages benchd and its tests need (idempotent; uses sudo when not root).
	@if [ "$$(id -u)" = 0 ]; then bash scripts/setup.sh; else sudo bash scripts/setup.sh; fi

.PHONY: build
build: ## Build ./benchd with version metadata.
	$(GO) build -ldflags '$(LDFLAGS)' -o benchd ./cmd/benchd

.PHONY: run
run: setup build ## Install what is missing, build, and run the daemon on the embedded default matrix (metrics on 127.0.0.1:9480).
	./benchd serve

.PHONY: test
test: setup lint ## Run the whole test suite, real servers included (race detector on), after the linters.
	$(GO) mod download
	$(GO) test $(TESTFLAGS) ./...
	@# The regression detector's statistical trials: long, and without -race.
	$(GO) test -count=1 -run TestTrials ./regress

.PHONY: test-short
test-short: ## Run the fast tests only (no real Django/Prometheus).
	$(GO) test -short -race ./...

.PHONY: fmt
fmt: ## Format the code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## go vet and a gofmt check.
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

.PHONY: lint
lint: vet ## Static checks: go vet, gofmt, and golangci-lint (.golangci.yml: import directions, docs, slog, errors), installed by scripts/tools.sh.
	bash scripts/tools.sh
	bin/golangci-lint run ./...

.PHONY: tidy-check
tidy-check: ## Fail if go.mod/go.sum are not tidy.
	$(GO) mod tidy -diff

.PHONY: stack
stack: setup ## Start Prometheus (127.0.0.1:9090) and Alertmanager (127.0.0.1:9093) with benchd's rules; make stack-stop stops them.
	bash scripts/stack.sh start

.PHONY: stack-stop
stack-stop: ## Stop what make stack started.
	bash scripts/stack.sh stop

.PHONY: dashboards
dashboards: ## Regenerate grafana/dashboards/*.json.
	$(GO) generate ./grafana

.PHONY: check-generated
check-generated: dashboards ## Fail if generated files differ from the committed ones.
	git diff --exit-code -- grafana/dashboards
	@test -z "$$(git status --porcelain -- grafana/dashboards)"

.PHONY: bench
bench: setup ## Compare benchd with wrk and bombardier on a pinned nginx (bench/compare.sh).
	bash bench/compare.sh
