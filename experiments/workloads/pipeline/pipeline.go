// Package pipeline is the IPC-heavy workload: a source emits Messages payloads
// of PayloadBytes, each of Stages stages does light work on every byte and
// passes the payload on, and a sink verifies every payload.
//
// The per-byte work is kept light on purpose (a SIMD-within-a-register add,
// ~8 bytes per few instructions, and a hardware CRC-32C at the sink) so that
// the cost of moving payloads between workers, which is what the models
// differ in, is what the workload measures.
package pipeline

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Job is one run of the pipeline.
type Job struct {
	Stages       int
	Messages     int
	PayloadBytes int

	want [256]uint32 // CRC-32C of message k after all stages, by k mod 256
}

var table = crc32.MakeTable(crc32.Castagnoli)

// NewJob builds a job and precomputes what the sink must see (outside any
// timed region: call it before the timer starts). Payload contents depend on
// the message index modulo 256, so 256 reference checksums cover any run.
func NewJob(stages, messages, payloadBytes int) (*Job, error) {
	switch {
	case stages < 1:
		return nil, fmt.Errorf("pipeline: stages = %d; want stages ≥ 1", stages)
	case messages < 1:
		return nil, fmt.Errorf("pipeline: messages = %d; want messages ≥ 1", messages)
	case payloadBytes < 1:
		return nil, fmt.Errorf("pipeline: payload_bytes = %d; want payload_bytes ≥ 1", payloadBytes)
	}
	j := &Job{Stages: stages, Messages: messages, PayloadBytes: payloadBytes}
	buf := make([]byte, payloadBytes)
	for k := range min(messages, 256) {
		Fill(buf, k)
		for range stages {
			Stage(buf)
		}
		j.want[k] = crc32.Checksum(buf, table)
	}
	return j, nil
}

// Bytes is the number of payload bytes the source emits in one run.
func (j *Job) Bytes() int64 { return int64(j.Messages) * int64(j.PayloadBytes) }

// Fill writes message k's payload into buf: byte i is i·7 + k (mod 256).
func Fill(buf []byte, k int) {
	b := byte(k)
	for i := range buf {
		buf[i] = b
		b += 7
	}
}

// Stage is one stage's work: add 1 to every byte (mod 256), in place.
func Stage(buf []byte) {
	const lo7, hi1, ones = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080, 0x0101010101010101
	i := 0
	for ; i+8 <= len(buf); i += 8 {
		x := binary.LittleEndian.Uint64(buf[i:])
		// Add 1 to each byte without carries crossing bytes.
		x = ((x & lo7) + ones) ^ (x & hi1)
		binary.LittleEndian.PutUint64(buf[i:], x)
	}
	for ; i < len(buf); i++ {
		buf[i]++
	}
}

// Sink verifies payloads as they arrive, in order.
type Sink struct {
	job  *Job
	next int // index of the next message expected
}

// NewSink returns a sink for one run of j.
func (j *Job) NewSink() *Sink { return &Sink{job: j} }

// Accept checks the next payload: its length and its checksum after every
// stage. A payload that skipped a stage, was reordered or was corrupted fails.
func (s *Sink) Accept(buf []byte) error {
	k := s.next
	if k >= s.job.Messages {
		return fmt.Errorf("pipeline: sink got message %d of %d", k+1, s.job.Messages)
	}
	if len(buf) != s.job.PayloadBytes {
		return fmt.Errorf("pipeline: message %d has %d bytes; want %d", k, len(buf), s.job.PayloadBytes)
	}
	if got, want := crc32.Checksum(buf, table), s.job.want[k%256]; got != want {
		return fmt.Errorf("pipeline: message %d has checksum %08x; want %08x (a stage skipped, reordered or corrupted it)", k, got, want)
	}
	s.next++
	return nil
}

// Received is the number of payloads accepted so far.
func (s *Sink) Received() int { return s.next }

// Verify checks that the sink accepted every message.
func (s *Sink) Verify() error {
	if s.next != s.job.Messages {
		return fmt.Errorf("pipeline: sink received %d of %d messages", s.next, s.job.Messages)
	}
	return nil
}

// QueueDepth is how many payloads may wait between two adjacent stages in the
// in-memory models (thread, loop, goroutine). Processes are joined by pipes,
// whose buffer is counted in bytes instead (see the process model).
const QueueDepth = 16

// InFlight is the most payloads that can exist at once in an in-memory
// pipeline of s stages: a full queue between every pair of neighbours plus one
// held by the source, every stage and the sink. A model that recycles buffers
// needs this many.
func InFlight(stages int) int { return (stages+1)*QueueDepth + stages + 2 }

// NewBuffer returns a payload buffer of n bytes whose pages are resident.
// A large make gets fresh pages from the kernel that are mapped only at their
// first write; a warm model makes its buffers in Start, and touching every
// page there keeps the page faults (the kernel zeroing each 4 KiB page, ~1 µs)
// out of the timed Run, as a pool that had run before would have them.
func NewBuffer(n int) []byte {
	buf := make([]byte, n)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 0
	}
	return buf
}

// Workload is "pipeline", the workload's name in the matrix.
func (j *Job) Workload() string { return "pipeline" }
