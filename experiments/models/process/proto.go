package process

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The parent and a worker talk in frames: a kind byte, a little-endian uint32
// payload length in bytes, then the payload. Every payload is a sequence of
// little-endian uint64 values except kFail's, which is text. Pipeline
// payloads are not framed: they travel raw on the stages' data pipes.
type kind byte

const (
	// Worker → parent.
	kHello kind = 'H' // ready: pid, tid
	kDone  kind = 'D' // a pool job finished: value, pid, tid, and for kSleep the wait's start and end (ns of CLOCK_MONOTONIC); a stage's run finished: messages, pid, tid, CPU (ns) from the run's first payload to its last, peak RSS (bytes)
	kUsage kind = 'U' // a pool worker's answer to kAsk: CPU (ns) used from its first job since the previous kAsk (or its hello) until this one, peak RSS (bytes) since then
	kFail  kind = 'F' // text: why the worker gives up; it exits right after
	// An echo worker served a connection to its end and closed it: pid,
	// tid of the thread that served it, and for a per-connection worker
	// (cold) its peak RSS (bytes) over its whole life.
	kServed kind = 'V'

	// Parent → pool worker. kPool comes once, before its hello; then jobs
	// (their arguments only) and kAsk, one at a time, each answered before
	// the next is sent.
	kPool   kind = 'C' // start fault kind (0: none; kHangStart is the only one)
	kPrimes kind = 'P' // lo, hi: count the primes in [lo, hi]
	kSleep  kind = 'S' // ns: block the thread in nanosleep for ns
	kAsk    kind = 'Q' // no values: report usage (kUsage), then reset the peak RSS

	// Parent → echo worker: only kAsk, at any time (a warm echo worker
	// serves connections from the listening socket, not jobs).

	// The interleave, spawn, hold and convoy workers' own kinds are defined
	// with their roles (interleave.go, spawn.go, hold.go, convoy.go); they
	// also use kHello, kDone, kAsk, kUsage and kFail as a pool worker does.

	// Parent → stage, once, before its hello.
	kStage kind = 'G' // payload bytes, messages per run, fault kind, fault run

	// Test-only faults (see envFaults): the worker honours them only when its
	// environment allows it. Production runs never send them.
	kCrash     kind = 'X' // job, no values: exit with crashStatus in the middle of the job
	kHang      kind = 'Z' // job, no values: block in the middle of the job until killed
	kHangStart kind = 'B' // in kPool or kStage: block before the hello until killed
)

// crashStatus is the exit status of a worker crashing on purpose (kCrash).
const crashStatus = 3

// maxFrame bounds a payload so that a corrupt length cannot make the reader
// allocate without limit.
const maxFrame = 1 << 16

type frame struct {
	kind kind
	vals []uint64
	text string
}

func (k kind) String() string { return fmt.Sprintf("%q", byte(k)) }

// writeFrame writes one numeric frame in a single write: a frame is far
// below PIPE_BUF, so it reaches the pipe whole.
func writeFrame(w io.Writer, k kind, vals ...uint64) error {
	b := make([]byte, 5+8*len(vals))
	b[0] = byte(k)
	binary.LittleEndian.PutUint32(b[1:], uint32(8*len(vals)))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(b[5+8*i:], v)
	}
	_, err := w.Write(b)
	return err
}

// writeText writes a frame whose payload is text, cut to maxFrame bytes.
func writeText(w io.Writer, k kind, s string) error {
	s = s[:min(len(s), maxFrame)]
	b := make([]byte, 5+len(s))
	b[0] = byte(k)
	binary.LittleEndian.PutUint32(b[1:], uint32(len(s)))
	copy(b[5:], s)
	_, err := w.Write(b)
	return err
}

// readFrame reads one frame. It returns io.EOF only when the pipe ended on a
// frame boundary; a frame cut short is io.ErrUnexpectedEOF.
func readFrame(r io.Reader) (frame, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{kind: kind(h[0])}
	n := binary.LittleEndian.Uint32(h[1:])
	if n > maxFrame {
		return frame{}, fmt.Errorf("frame %v of %d bytes; the limit is %d", f.kind, n, maxFrame)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return frame{}, err
	}
	if f.kind == kFail {
		f.text = string(p)
		return f, nil
	}
	if n%8 != 0 {
		return frame{}, fmt.Errorf("frame %v of %d bytes; want a multiple of 8", f.kind, n)
	}
	f.vals = make([]uint64, n/8)
	for i := range f.vals {
		f.vals[i] = binary.LittleEndian.Uint64(p[8*i:])
	}
	return f, nil
}

// want checks that f is of kind k with n values.
func (f frame) want(k kind, n int) error {
	if f.kind != k || len(f.vals) != n {
		return fmt.Errorf("got frame %v with %d values; want %v with %d", f.kind, len(f.vals), k, n)
	}
	return nil
}
