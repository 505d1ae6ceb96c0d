# concurrency-lab. `make bench` measures, `make test` checks. Linux only.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
MATRIX ?= experiments.toml
RESULTS ?= results
# Extra flags for `lab run`, e.g. LAB_FLAGS='--hardware lab-2c --reps 10'.
LAB_FLAGS ?=
SITE ?= site/public

.PHONY: test bench report smoke check vet lab clean aa-check constrained-diff history-demo

## bench: run the default matrix in rounds, then build the report; the last
## line printed is the report's file:// URL
bench: lab
	bin/lab run --matrix $(MATRIX) --out $(RESULTS) $(LAB_FLAGS)
	bin/lab report --results $(RESULTS) --out $(SITE)

## report: rebuild the static report (site/public/) from every run under results/
report: lab
	bin/lab report --results $(RESULTS) --out $(SITE)

## smoke: every experiment at its smallest, 6 reps, in under a minute
smoke: lab
	bin/lab run --smoke --matrix $(MATRIX) --out $(RESULTS) $(LAB_FLAGS)

## check: validate the matrix, count cells, estimate the time
check: lab
	bin/lab check --matrix $(MATRIX)

## test: vet and every test (the race detector on the models, where the
## concurrency is)
test: vet
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -race ./experiments/models/... ./experiments/model/... ./harness/runner/...

## aa-check: two smoke runs diffed; at most 5% of cells may be flagged
## (CPU-heavy: not part of test)
aa-check: lab
	scripts/aa-check

## constrained-diff: one CPU vs two; CPU-bound cells ~2x slower, sleep unchanged
constrained-diff: lab
	scripts/constrained-diff

## history-demo: three runs, the third pinned to one CPU; lab history must
## find the step at run 3 on the CPU-bound cells and none on the sleep cells
history-demo: lab
	scripts/history-demo

vet:
	$(GO) vet ./...

lab:
	$(GO) build -o bin/lab ./harness/cmd/lab

clean:
	rm -rf bin site/public
