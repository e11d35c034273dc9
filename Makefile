# Zhili — build, demo and test. Needs Go 1.26, Node 20 and npm.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
BIN      := bin/zhili
# -trimpath keeps checkout paths out of the build cache's keys: a second checkout (a worktree, CI's
# clean clone on a warm runner) reuses what another built, and vet's packages serve the e2e build.
TRIM     := -trimpath
# 30m: the e2e package waits up to 12 minutes for the deployment's midnight when a run would
# cross it (e2e/main_test.go), then runs for about eight.
# -ldflags=-w: test binaries without DWARF (a quarter less link time each; stack traces and race
# reports come from the runtime's own tables and keep their file:line).
# -p 3: three test packages at once on two cores; the browser tests wait on pages and timers
# much of their time, and a third package uses the CPU they leave (README.md, "Tests").
GOFLAGS_TEST ?= -race -count=1 -timeout 30m -p 3 $(TRIM) -ldflags=-w
# The one server binary that the packages starting `zhili serve` use (ZHILI_BIN), built once
# instead of once per test binary.
TESTBIN  := bin/zhili-test

.PHONY: demo build assets test vet bench soak fuzz fuzz-smoke clean

# Front-end: install the locked npm packages and build assets/dist (embedded by go:embed).
assets/node_modules/.package-lock.json: assets/package-lock.json assets/package.json
	cd assets && npm ci --no-audit --no-fund
assets: assets/node_modules/.package-lock.json
	cd assets && npm run build

build: assets
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/zhili

# The demo city (信阳市) with 90 days of history going on live (docs/DEMO.md); prints
# ready-to-click URLs. PORT=18080 for another port; rm -r zhili-data/demo for a fresh history.
PORT ?= 8080
demo: build
	./$(BIN) serve --demo --data zhili-data/demo --listen 127.0.0.1:$(PORT)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(TRIM) ./...

# The tests' temporary files (their ClickHouse, Redis and DuckDB data, servers' data
# directories, the browser's profile, go test's binaries) go to /dev/shm when it is a RAM disk
# with 2 GB free (a run holds at most about 0.4 GB there at once): the throw-away servers create
# thousands of small files (a ClickHouse insert writes two per column) and ask for fsync, which
# on a disk cost a third of the store tests' time. Crash tests kill processes, not the machine,
# so they test the same thing there. Each run has a directory of its own there, removed when the
# run ends, also when it is interrupted (what a killed test binary leaves goes with it).
# TEST_TMPDIR= (empty) keeps $TMPDIR.
TEST_TMPDIR ?= $(shell test -w /dev/shm && df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 && $$4 > 2097152 { print "/dev/shm" }')

# Every test: unit, conformance suites, crash and end-to-end (a real browser when chromium is
# installed; ZHILI_REQUIRE_SERVICES=1 turns a missing browser or server into a failure).
# The two longest packages are named first so that they start first: the rest fill the other
# CPU beside them instead of leaving one of them to run alone at the end.
test: assets vet
	$(GO) build $(TRIM) -ldflags=-w -o $(TESTBIN) ./cmd/zhili
	$(if $(TEST_TMPDIR),tmp=$$(mktemp -d $(TEST_TMPDIR)/zhili-test.XXXXXX) && trap 'rm -rf "$$tmp"' EXIT && trap 'exit 130' INT TERM && TMPDIR=$$tmp )ZHILI_BIN=$(CURDIR)/$(TESTBIN) $(GO) test $(GOFLAGS_TEST) ./e2e ./internal/app ./...

# The JS-heap soak of the live screens (docs/PERFORMANCE.md, "Soak"); not part of `make test`,
# which runs its short form. SOAK=30m for a longer run.
SOAK ?= 10m
soak: assets
	ZHILI_REQUIRE_SERVICES=1 ZHILI_SOAK=$(SOAK) $(GO) test -count=1 -timeout 60m -run '^TestHeapSoak$$' -v ./e2e

# Fuzz targets: ingest decoding and framing, intake-log recovery, access config, region GeoJSON, alert rules.
# `make fuzz` runs each for FUZZTIME (FUZZTIME=10m for a real run). `make fuzz-smoke` (CI) runs each
# for a fixed number of inputs, about five seconds each here: a count has no wall-clock deadline, and
# Go 1.26's fuzz coordinator can report a bare "context deadline exceeded" when a duration expires
# while a worker is mid-input, failing a run that found nothing.
FUZZTIME ?= 10s
FUZZ_TARGETS := FuzzDecode:./event:80000 FuzzSplitBody:./ingest:60000 FuzzWALRecovery:./intake:3500 \
	FuzzParseConfig:./access:40000 FuzzParseTree:./geo:20000 FuzzParseRules:./alerts:10000
fuzz fuzz-smoke:
	@for t in $(FUZZ_TARGETS); do \
	  name=$${t%%:*}; rest=$${t#*:}; pkg=$${rest%%:*}; \
	  budget=$(if $(filter fuzz-smoke,$@),$${rest#*:}x,$(FUZZTIME)); \
	  echo "fuzz $$name ($$pkg) for $$budget"; \
	  $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $$budget $$pkg || exit 1; \
	done

# Benchmarks behind the figures in docs/PERFORMANCE.md.
bench: assets
	$(GO) test -run '^$$' -bench . -benchmem ./aggregator ./dashboard ./intake ./store

clean:
	rm -rf bin assets/dist/*.js assets/dist/*.css assets/dist/*.html
