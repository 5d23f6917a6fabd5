# pier — make targets. Everything a target needs is installed by the target
# itself (Go modules through the module proxy); nothing is assumed to be
# installed by hand beyond Go and git.

GO        ?= go
BIN       := $(CURDIR)/.bin
CUE       := cuelang.org/go/cmd/cue@v0.17.1
CATALOG   ?= catalog-example
DATA      ?= $(CURDIR)/data
LISTEN    ?= 127.0.0.1:8080
N         ?= 20000
FUZZTIME  ?= 60s
FUZZLONG  ?= 10m
# A fuzz input that allocates without bound (a jq template can) is a
# finding, not a reason to starve the machine: fuzz-long runs under this
# address-space limit (KiB), and the worker's death is reported with the input.
FUZZMEM   ?= 8000000

.PHONY: all build run test bench bench-large fuzz fuzz-long lint clean screenshots

all: lint test

## build: the pier binary in .bin/pier
build:
	$(GO) build -o $(BIN)/pier ./cmd/pier

## run: serve catalog-example from a local SQLite file, reloading on every
## edit. dev/pier.yaml holds API clients for local development only; the
## catalog's secrets (PIER_SECRET_*) are set here: the access broker's and
## the platform event bridge's, each its own.
run: build
	@mkdir -p $(DATA)
	PIER_SECRET_ACCESS_BROKER=dev-broker-secret PIER_SECRET_PLATFORM_EVENTS=dev-events-secret \
	$(BIN)/pier serve --config dev/pier.yaml --repo $(CATALOG) --db $(DATA)/pier.db --listen $(LISTEN)

## test: every test, as CI runs them (under ten minutes on 2 cores)
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 9m ./...

## bench: the figures the issues ask for, measured side by side in one run
## (the daemon on SQLite and on a throwaway PostgreSQL from the installed
## server binaries; BENCH_DB=sqlite measures SQLite alone)
BENCH_DB  ?= sqlite,postgres
bench: build $(BIN)/cue
	$(GO) run ./internal/bench -n $(N) -db $(BENCH_DB) -pier $(BIN)/pier -cue $(BIN)/cue
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/validate/ ./internal/query/ ./internal/api/ ./internal/store/sqlite/ ./internal/store/postgres/ ./internal/gitfs/ ./internal/review/
	PIER_WEB_BENCH=1 $(GO) test -count=1 -v -run '^TestPageTimes$$' ./internal/web/

## screenshots: a PNG of every portal page over catalog-example, in
## docs/screenshots (headless chromium; apt-get install chromium)
screenshots:
	PIER_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^TestScreenshots$$' ./cmd/pier/

## bench-large: the loader figures on 100,000 services
bench-large: build $(BIN)/cue
	$(GO) run ./internal/bench -n 100000 -runs 3 -pier $(BIN)/pier -cue $(BIN)/cue

$(BIN)/cue:
	GOBIN=$(BIN) $(GO) install $(CUE)

## fuzz: the differential fuzz target (Go validator vs CUE), FUZZTIME long
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzValidatorAgreesWithCUE -fuzztime $(FUZZTIME) ./internal/validate/

## fuzz-long: every parser's fuzz target, FUZZLONG each, one after the
## other on one core (go test fuzzes one target at a time). New
## interesting inputs are minimized for at most 10s, not 60s: the seeds
## are whole catalog files and webhook payloads. A failing input is
## written to the package's testdata/fuzz/<Target>/; the others still run.
FUZZ_TARGETS := \
	FuzzQuery:./internal/query/ \
	FuzzSearchAgreesWithScan:./internal/api/ \
	FuzzWebhook:./internal/webhook/ \
	FuzzConfigFile:./internal/config/ \
	FuzzTemplate:./internal/jqtmpl/ \
	FuzzParse:./internal/loader/
fuzz-long:
	@ulimit -v $(FUZZMEM); failed=""; \
	for t in $(FUZZ_TARGETS); do \
		name=$${t%%:*}; pkg=$${t#*:}; \
		echo "== $$name $$pkg $(FUZZLONG)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZLONG) -fuzzminimizetime 10s -parallel 1 $$pkg || failed="$$failed $$name"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz-long: failed:$$failed"; exit 1; fi

## lint: formatting and vet
lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN) $(DATA)
