package process

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/primes"
)

func TestFrames(t *testing.T) {
	var b bytes.Buffer
	if err := writeFrame(&b, kDone, 1, 2, 1<<63); err != nil {
		t.Fatal(err)
	}
	if err := writeText(&b, kFail, "bad news"); err != nil {
		t.Fatal(err)
	}
	writeFrame(&b, kHello)
	writeFrame(&b, kAsk)
	writeFrame(&b, kUsage, 123456789, 7<<20)
	wire := slices.Clone(b.Bytes())

	f, err := readFrame(&b)
	if err != nil || f.kind != kDone || !slices.Equal(f.vals, []uint64{1, 2, 1 << 63}) {
		t.Errorf("frame 1 = %v %v, %v; want %v [1 2 2^63]", f.kind, f.vals, err, kDone)
	}
	if f, err := readFrame(&b); err != nil || f.kind != kFail || f.text != "bad news" {
		t.Errorf("frame 2 = %v %q, %v; want %v \"bad news\"", f.kind, f.text, err, kFail)
	}
	if f, err := readFrame(&b); err != nil || f.kind != kHello || len(f.vals) != 0 {
		t.Errorf("frame 3 = %v %v, %v; want %v with no values", f.kind, f.vals, err, kHello)
	}
	if f, err := readFrame(&b); err != nil || f.want(kAsk, 0) != nil {
		t.Errorf("frame 4 = %v %v, %v; want %v with no values", f.kind, f.vals, err, kAsk)
	}
	if f, err := readFrame(&b); err != nil || f.want(kUsage, 2) != nil || !slices.Equal(f.vals, []uint64{123456789, 7 << 20}) {
		t.Errorf("frame 5 = %v %v, %v; want %v [123456789 7340032]", f.kind, f.vals, err, kUsage)
	}
	if _, err := readFrame(&b); err != io.EOF {
		t.Errorf("after the last frame: %v; want io.EOF", err)
	}

	bad := []struct {
		name string
		in   []byte
		want error // nil: any error but EOF
	}{
		{"cut in the header", wire[:3], io.ErrUnexpectedEOF},
		{"cut in the payload", wire[:10], io.ErrUnexpectedEOF},
		{"too long", []byte{'D', 0, 0, 0, 1}, nil},
		{"not whole values", []byte{'D', 3, 0, 0, 0, 1, 2, 3}, nil},
	}
	for _, tt := range bad {
		_, err := readFrame(bytes.NewReader(tt.in))
		if err == nil || err == io.EOF || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: %v; want %v", tt.name, err, cmpOr(tt.want, "an error"))
		}
	}

	if err := f.want(kDone, 2); err == nil {
		t.Errorf("want(kDone, 2) of a 3-value frame: nil; want an error")
	}
}

func cmpOr(err error, s string) any {
	if err != nil {
		return err
	}
	return s
}

// A pool worker, driven frame by frame: its start frame, its hello, jobs
// whose replies carry no usage, and usage reports when asked (kAsk), also
// before any job and twice in a row; a malformed request ends it with a kFail.
func TestPoolWorkerProtocol(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang detector
	defer cancel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	g := newGroup(1)
	jobsR, jobsW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	g.files = append(g.files, jobsW)
	if err := writeFrame(jobsW, kPool, 0); err != nil {
		t.Fatal(err)
	}
	if err := g.start("worker 0", exe, rolePool, []*os.File{jobsR, repW}, repR); err != nil {
		t.Fatal(err)
	}
	defer func() {
		g.close()
		modeltest.NoChildren(t)
	}()
	if err := g.waitReady(ctx); err != nil {
		t.Fatal(err)
	}
	w := g.procs[0]
	next := func(step string) event {
		t.Helper()
		select {
		case ev := <-g.events:
			return ev
		case <-ctx.Done():
			t.Fatalf("%s: no reply: %v", step, ctx.Err())
		}
		panic("unreachable")
	}
	ask := func(step string, k kind, vals ...uint64) frame {
		t.Helper()
		if err := writeFrame(jobsW, k, vals...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		ev := next(step)
		if ev.exited {
			t.Fatalf("%s: the worker exited: %v: %s", step, w.status, w.reason)
		}
		return ev.f
	}
	// CPU is counted from the first job after the previous ask: zero when
	// no job ran.
	usage := func(step string, jobs bool) {
		t.Helper()
		f := ask(step, kAsk)
		if err := f.want(kUsage, 2); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if cpu, peak := f.vals[0], f.vals[1]; (cpu > 0) != jobs || peak == 0 {
			t.Errorf("%s: usage %d ns, %d bytes; want CPU %s and a peak > 0", step, cpu, peak, map[bool]string{true: "> 0", false: "0 (no job ran)"}[jobs])
		}
	}
	usage("usage before any job", false)

	f := ask("primes", kPrimes, 0, 1000)
	if err := f.want(kDone, 3); err != nil {
		t.Fatalf("primes: %v", err)
	}
	if want := []uint64{uint64(primes.Count(0, 1000, nil)), uint64(w.pid)}; !slices.Equal(f.vals[:2], want) {
		t.Errorf("primes: reply %v; want value and pid %v, then the tid", f.vals, want)
	}
	const d = 5 * time.Millisecond
	f = ask("sleep", kSleep, uint64(d))
	if err := f.want(kDone, 5); err != nil {
		t.Fatalf("sleep: %v", err)
	}
	if start, end := int64(f.vals[3]), int64(f.vals[4]); f.vals[0] != 1 || end-start < int64(d) {
		t.Errorf("sleep: reply %v; want value 1 and a wait span of at least %v", f.vals, d)
	}
	usage("usage after jobs", true)
	usage("usage twice in a row", false)

	// A request with values it should not have: the worker gives up.
	if err := writeFrame(jobsW, kAsk, 1); err != nil {
		t.Fatal(err)
	}
	if ev := next("malformed request"); !ev.exited {
		t.Fatalf("malformed request: got %v %v; want the worker to exit", ev.f.kind, ev.f.vals)
	}
	if w.status == nil || !strings.Contains(w.reason, "want") {
		t.Errorf("malformed request: worker ended with %v, %q; want a failure that says what it wanted", w.status, w.reason)
	}
}
