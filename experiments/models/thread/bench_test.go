package thread

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/pipeline"
	"concurrency-lab/experiments/workloads/primes"
	"concurrency-lab/experiments/workloads/sleep"
)

// BenchmarkSleepWarm measures the sleep workload's warm cell (every task
// waits 100 ms, all at once; the threads exist before the timer starts) on
// the thread model and on the C reference, in one run:
//
//	go test -run '^$' -bench SleepWarm -benchtime 1x -count 6 ./experiments/models/thread/
//
// For impl=thread the timed region is Run, as in the lab's warm cells. For
// impl=c it is what sleepfloor reports (release to the last thread done),
// which replaces the benchmark's own ns/op.
func BenchmarkSleepWarm(b *testing.B) {
	const d = 100 * time.Millisecond
	tasks := []int{10, 100, 1000, 10000}
	b.Run("impl=thread", func(b *testing.B) {
		for _, n := range tasks {
			b.Run("tasks="+strconv.Itoa(n), func(b *testing.B) {
				job, err := sleep.NewJob(n, 0, d)
				if err != nil {
					b.Fatal(err)
				}
				benchWarm(b, Model{}, job)
			})
		}
	})
	b.Run("impl=c", func(b *testing.B) {
		bin := buildSleepFloor(b, b.TempDir())
		for _, n := range tasks {
			b.Run("tasks="+strconv.Itoa(n), func(b *testing.B) {
				var total time.Duration
				for range b.N {
					r, err := runSleepFloor(bin, n, d)
					if err != nil {
						b.Fatal(err)
					}
					if r.slept != n {
						b.Fatalf("%d of %d C threads completed their sleep", r.slept, n)
					}
					total += r.elapsed
				}
				b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/op")
			})
		}
	})
}

// BenchmarkPipelineWarm measures the thread model on the default matrix's
// pipeline cells (3 stages), warm.
func BenchmarkPipelineWarm(b *testing.B) {
	for _, c := range []struct{ messages, bytes int }{{20000, 64}, {20000, 4096}, {1000, 65536}, {1000, 1 << 20}} {
		b.Run(fmt.Sprintf("messages=%d/payload_bytes=%d", c.messages, c.bytes), func(b *testing.B) {
			job, err := pipeline.NewJob(3, c.messages, c.bytes)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(job.Bytes())
			benchWarm(b, Model{}, job)
		})
	}
}

// BenchmarkPrimesWarm measures both models on the default matrix's primes
// cells (n = 100 000, replicate), warm, reporting GIL hand-overs per second
// for thread-gil.
func BenchmarkPrimesWarm(b *testing.B) {
	for _, m := range []Model{{}, {GIL: true}} {
		for _, workers := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("model=%s/workers=%d", m.Name(), workers), func(b *testing.B) {
				job, err := primes.NewJob(100000, workers, primes.Replicate)
				if err != nil {
					b.Fatal(err)
				}
				benchWarm(b, m, job)
			})
		}
	}
}

// benchWarm starts m on w with the timer stopped, times b.N Runs on the warm
// Exec, verifies each with the timer stopped, and closes the Exec.
func benchWarm(b *testing.B, m Model, w model.Work) {
	b.StopTimer()
	ctx := context.Background()
	x, err := m.Start(ctx, w)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := x.Close(); err != nil {
			b.Error(err)
		}
	}()
	peak := 0
	var switches int64
	var total time.Duration
	var gil *GIL
	if g, ok := x.(interface{ GIL() *GIL }); ok {
		gil = g.GIL() // nil without the GIL
	}
	for range b.N {
		var before int64
		if gil != nil {
			before = gil.Stats().Switches
		}
		b.StartTimer()
		start := time.Now()
		r, err := x.Run(ctx)
		elapsed := time.Since(start)
		b.StopTimer()
		total += elapsed
		if gil != nil {
			switches += gil.Stats().Switches - before
		}
		if err == nil {
			err = model.Verify(w, r, elapsed)
		}
		if err != nil {
			b.Fatal(err)
		}
		if r.Waits != nil {
			peak = max(peak, sleep.PeakWaiting(r.Waits))
		}
	}
	if _, ok := w.(sleep.Job); ok {
		b.ReportMetric(float64(peak), "peak-waiting")
	}
	if gil != nil {
		b.ReportMetric(float64(switches)/total.Seconds(), "switches/s")
	}
}
