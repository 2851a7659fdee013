# Parley: one entry point for building, running and testing.
GO       ?= go
BIN      := bin/parley
FUZZTIME ?= 30s
NODE_DIRS := test/interop/node test/interop/strophe test/interop/ljm web test/browser

.PHONY: help build run test race fuzz bench lint deps clean web

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/parley
	$(GO) build -trimpath -o $(BIN) ./cmd/parley

run: build ## build and serve https://localhost:8443 (self-signed certificate in ./data)
	$(BIN) serve

web: ## rebuild the browser client bundle in web/dist (commit it with the sources)
	@if [ ! -d web/node_modules ]; then (cd web && npm ci --no-audit --no-fund); fi
	cd web && node build.mjs

# Without node and npm, deps says so and succeeds: the Go tests run and the
# node-based suites skip (under CI=true they fail instead: .ci/run installs node).
deps: ## install the node packages the tests use (npm ci); without node/npm, skip them
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
		if [ -n "$$CI" ]; then echo "make deps: node and npm are required under CI (.ci/run installs them)" >&2; exit 1; fi; \
		echo "make deps: node or npm not found, so the node-based suites (web unit tests, test/interop, test/browser) will be skipped; install Node.js >= 20.10 with npm (and Debian's chromium, firefox-esr for the browser tests) to run them"; \
		exit 0; \
	fi; \
	for d in $(NODE_DIRS); do \
		if [ -f $$d/package-lock.json ] && [ ! -d $$d/node_modules ]; then (cd $$d && npm ci --no-audit --no-fund); fi; \
	done

# The browser suites run last and one at a time: on two cores, a Chromium
# suite beside the Firefox suite and the Go packages missed its waits.
BROWSER_PKGS := ./test/browser ./test/browser/firefox

test: deps ## vet and run every test (Go, fuzz seeds, node interop; browser suites last, alone)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/test/browser')
	$(GO) test -count=1 -timeout 25m -p 1 $(BROWSER_PKGS)

race: deps ## every test under the race detector
	$(GO) test -count=1 -race -timeout 30m ./...

fuzz: ## run each fuzz target for FUZZTIME
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

bench: ## run the Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

lint: ## go vet, staticcheck and gofmt
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean: ## remove build output
	rm -rf bin
