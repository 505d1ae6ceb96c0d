package goroutine

import (
	"os"
	"testing"

	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/primes"
)

func TestConformance(t *testing.T) { modeltest.Conformance(t, Model{}) }

func TestRunsInThisProcess(t *testing.T) {
	for _, r := range modeltest.Run(t, Model{}, mustPrimes(t), 1) {
		if len(r.PIDs) != 1 || r.PIDs[0] != os.Getpid() {
			t.Errorf("goroutines ran in processes %v; want only this one (%d)", r.PIDs, os.Getpid())
		}
	}
}

func mustPrimes(t *testing.T) primes.Job {
	j, err := primes.NewJob(2000, 2, primes.Replicate)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestStartRejectsUnknownWork(t *testing.T) {
	if x, err := (Model{}).Start(t.Context(), modeltest.UnknownWork{}); err == nil {
		x.Close()
		t.Error("Start accepted work of an unknown workload")
	}
}
