// Package hold is the article's memory lesson: many workers that each
// produce a large result. Collected into a list until every worker is done
// (the article's executor.map over a function returning the whole JSON),
// every result is alive at once. Consumed as each arrives and dropped, fewer
// may be, but only if the workers do not all build theirs at once. The
// article's fix makes only one alive at a time: the workers return what a
// result is made from (there, the HTTP response), and the consumer makes
// each result (there, .json()), consumes it and drops it before the next.
package hold

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// What happens to a result once produced.
const (
	// Hold: every result is kept until all workers are done, then
	// consumed.
	Hold = "hold"
	// Release: each result is consumed as soon as it is produced and
	// dropped; only its digest is kept.
	Release = "release"
	// OneAtATime: the article's fix. Each worker returns only what its
	// result is made from (its index); the consumer makes the result
	// (Produce into a new buffer), consumes it and drops it before it
	// makes the next.
	OneAtATime = "one-at-a-time"
)

// Job is Workers workers that each produce a result of Bytes bytes.
type Job struct {
	Workers, Bytes int
	Keep           string // Hold, Release or OneAtATime
	// Want is the Sum of the digests of every worker's result, which an
	// execution must consume.
	Want uint64
}

// NewJob builds a job.
func NewJob(workers, bytes int, keep string) (Job, error) {
	j := Job{Workers: workers, Bytes: bytes, Keep: keep}
	if err := j.Check(); err != nil {
		return Job{}, err
	}
	j.Want = j.want()
	return j, nil
}

// Check reports whether j's parameters make a job, as NewJob requires; a
// model's Start checks a job with it before it starts anything. It does not
// recompute Want, which would produce every result.
func (j Job) Check() error {
	switch {
	case j.Workers < 1:
		return fmt.Errorf("hold: workers = %d; want ≥ 1", j.Workers)
	case j.Bytes < 8:
		return fmt.Errorf("hold: result_bytes = %d; want ≥ 8", j.Bytes)
	case j.Keep != Hold && j.Keep != Release && j.Keep != OneAtATime:
		return fmt.Errorf("hold: results = %q; want %q, %q or %q", j.Keep, Hold, Release, OneAtATime)
	}
	return nil
}

// Workload is "hold", the workload's name in the matrix.
func (j Job) Workload() string { return "hold" }

// Word is worker w's result pattern: the result is this little-endian
// word repeated (the last copy cut short when Bytes is not a multiple of 8).
func Word(w int) uint64 { return uint64(w+1) * 0x9E3779B97F4A7C15 }

// Produce fills buf with worker w's result: every byte written, so that every
// page of it is resident, and different per worker, so that no two results
// share a page.
func Produce(buf []byte, w int) {
	var word [8]byte
	binary.LittleEndian.PutUint64(word[:], Word(w))
	for i := 0; i < len(buf); i += 8 {
		copy(buf[i:], word[:])
	}
}

// Digest is what consuming a result yields: the CRC-32 (IEEE, as zlib.crc32
// computes it) of every byte.
func Digest(buf []byte) uint64 { return uint64(crc32.ChecksumIEEE(buf)) }

// Sum combines the digests of all workers' results (order-independent).
func Sum(digests []uint64) uint64 {
	var s uint64
	for _, d := range digests {
		s += d
	}
	return s
}

// Consumer is the collector of one execution, the same in every model: it
// takes the results as they arrive and consumes each as the job's Keep says.
// With Hold it keeps every result until Finish and only then digests them,
// so all Workers results are alive at once; with Release it digests each
// result as it is taken and drops it; with OneAtATime it is handed only
// indices and makes each result itself (Make), digesting and dropping it
// before it takes the next, so one result is alive at a time. It is not safe
// for concurrent use: one collector takes every result.
type Consumer struct {
	j       Job
	kept    [][]byte // Hold: every result taken, until Finish
	digests []uint64 // one per result consumed
}

// NewConsumer returns the collector of one execution of j. The place it
// keeps results in (Hold) is made here, before any arrives.
func (j Job) NewConsumer() *Consumer {
	c := &Consumer{j: j, digests: make([]uint64, 0, j.Workers)}
	if j.Keep == Hold {
		c.kept = make([][]byte, 0, j.Workers)
	}
	return c
}

// Take takes a result a worker produced: with Hold it is kept until Finish;
// otherwise it is digested at once, and the Consumer keeps nothing of it.
func (c *Consumer) Take(buf []byte) {
	if c.j.Keep == Hold {
		c.kept = append(c.kept, buf)
		return
	}
	c.digests = append(c.digests, Digest(buf))
}

// Make is the OneAtATime collector's work on worker w's index: it makes
// result w in a new buffer of Bytes bytes, every byte written by fill (nil:
// Produce; a model may pass its own, such as one that polls an emulated
// GIL, which must write what Produce writes), digests it and drops it.
func (c *Consumer) Make(w int, fill func(buf []byte, w int)) {
	if fill == nil {
		fill = Produce
	}
	buf := make([]byte, c.j.Bytes)
	fill(buf, w)
	c.digests = append(c.digests, Digest(buf))
}

// TakeDigest takes the digest of a result that was consumed as it streamed
// in, without ever being whole in the collector's memory (the process
// model's Release: it digests each result through its pipe's buffer).
func (c *Consumer) TakeDigest(d uint64) { c.digests = append(c.digests, d) }

// Finish digests and drops the results kept (Hold), one after another, and
// returns how many results were consumed and the Sum of their digests, for
// Result.Done and Result.Digest.
func (c *Consumer) Finish() (done int, sum uint64) {
	for k, buf := range c.kept {
		c.digests = append(c.digests, Digest(buf))
		c.kept[k] = nil
	}
	c.kept = c.kept[:0]
	return len(c.digests), Sum(c.digests)
}

// want is the Sum every execution must consume. It produces every result
// once (NewJob calls it, outside any timed region).
func (j Job) want() uint64 {
	buf := make([]byte, j.Bytes)
	ds := make([]uint64, j.Workers)
	for w := range j.Workers {
		Produce(buf, w)
		ds[w] = Digest(buf)
	}
	return Sum(ds)
}

// Verify checks what an execution consumed: every worker's result, whose
// digests sum to got.
func (j Job) Verify(got uint64, consumed int) error {
	switch {
	case consumed != j.Workers:
		return fmt.Errorf("hold: %d of %d results consumed", consumed, j.Workers)
	case got != j.Want:
		return fmt.Errorf("hold: results' digests sum to %#x; want %#x", got, j.Want)
	}
	return nil
}
