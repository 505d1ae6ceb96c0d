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
	switch {
	case workers < 1:
		return Job{}, fmt.Errorf("hold: workers = %d; want ≥ 1", workers)
	case bytes < 8:
		return Job{}, fmt.Errorf("hold: result_bytes = %d; want ≥ 8", bytes)
	case keep != Hold && keep != Release && keep != OneAtATime:
		return Job{}, fmt.Errorf("hold: results = %q; want %q, %q or %q", keep, Hold, Release, OneAtATime)
	}
	j := Job{Workers: workers, Bytes: bytes, Keep: keep}
	j.Want = j.want()
	return j, nil
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
