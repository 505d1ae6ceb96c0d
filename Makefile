# concurrency-lab. `make bench` measures, `make test` checks. Linux only.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
MATRIX ?= experiments.toml
RESULTS ?= results
# Samples per cell (the matrix's reps is honoured once `lab run` drives the
# rounds; until then every cell gets this many consecutive samples).
COUNT ?= 6

.PHONY: test bench smoke vet clean

## test: vet and every test (the race detector on the models, where the
## concurrency is)
test: vet
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -race ./experiments/models/... ./experiments/model/...

vet:
	$(GO) vet ./...

## bench: the default matrix under go test -bench; raw output kept under
## results/<host>/<UTC time>/bench.txt (readable by benchstat)
bench:
	dir=$(RESULTS)/$$(hostname -s)/$$(date -u +%Y%m%dT%H%M%SZ); mkdir -p $$dir; \
	LAB_MATRIX=$(abspath $(MATRIX)) $(GO) test ./experiments -run '^$$' -bench BenchmarkLab \
		-benchtime 1x -count $(COUNT) -timeout 0 | tee $$dir/bench.txt.partial; \
	mv $$dir/bench.txt.partial $$dir/bench.txt; echo $$dir

## smoke: a tiny matrix end to end, in seconds
smoke:
	LAB_MATRIX=$(abspath experiments/testdata/tiny.toml) $(GO) test ./experiments -run '^$$' \
		-bench BenchmarkLab -benchtime 1x -count 1

clean:
	rm -rf bin site/public
