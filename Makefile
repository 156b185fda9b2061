# The two commands from the README — `make demo` and `make test` — install what
# they need first. Node.js 24 is bootstrapped into .tools/ when the machine's is
# older; the Kubernetes binaries are built once into ~/.cache/elevate/kube/.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
NODE_BIN := $(shell bash scripts/ensure-node.sh)
export PATH := $(NODE_BIN):$(PATH)
# Native addons must compile against the Node that runs them, not the machine's Node 20 headers.
export npm_config_nodedir := $(abspath $(NODE_BIN)/..)

.PHONY: all build deps crds kube helm-tools postgres schemathesis moto rsyslog test lint typecheck unit integration demo demo-down bench clean

all: build

# `npm install`, not `npm ci`: this npm writes lock files without other platforms' optional packages
# (@biomejs/cli-*) and then refuses them in `npm ci`. The lock file still pins every version.
node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund
	node -e "require('better-sqlite3')(':memory:').close()"
	touch $@

deps: node_modules/.installed

build: deps
	npx tsc -p tsconfig.build.json
	@echo "built: bin/elevate"

kube:
	@bash scripts/build-kube.sh >/dev/null

# The chart's tests render with helm and check every object with kubeconform against the pinned Kubernetes'
# schemas; the binaries and the schemas are made once, into ~/.cache/elevate/helm-tools/ and kube-schemas/.
helm-tools: deps
	@bash scripts/build-helm-tools.sh >/dev/null
	@npx tsx scripts/kube-json-schemas.ts kube >/dev/null

postgres:
	@bash scripts/ensure-postgres.sh

# The API conformance pass (test/integration/api-conformance.test.ts) runs schemathesis from an ignored venv.
schemathesis:
	@bash scripts/ensure-schemathesis.sh >/dev/null

# The S3 and syslog audit sinks' integration test (test/integration/s3-syslog-sinks.test.ts) writes to a
# real moto server (PyPI, ignored venv) and a real rsyslogd (Debian's package; its service is not started).
moto:
	@bash scripts/ensure-moto.sh >/dev/null

rsyslog:
	@bash scripts/ensure-rsyslog.sh >/dev/null

# deploy/kubernetes/crds.yaml from the zod schemas (a unit test fails when it is stale).
crds: deps
	npx tsx scripts/gen-crds.ts

lint: deps
	npx biome check .

typecheck: deps
	npx tsc --noEmit

test: build kube helm-tools postgres schemathesis moto rsyslog lint typecheck
	bash scripts/run-tests.sh

unit: deps
	npx vitest run test/unit

demo: build kube
	bash scripts/demo.sh

demo-down:
	bash scripts/demo.sh down

bench: build kube postgres
	npx tsx bench/decisions.ts
	BENCH_SERVER=process npx tsx bench/latency.ts
	BENCH_SERVER=process npx tsx bench/expiry.ts
	npx tsx bench/restart-catch-up.ts
	npx tsx bench/lease-takeover.ts

clean:
	rm -rf dist node_modules .demo
