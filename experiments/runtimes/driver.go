package runtimes

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/sleep"
)

// driver is one running driver process and the protocol's client side.
type driver struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stdout, one protocol line at a time
	stderr *tailBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's error, once done is closed
}

// startDriver starts argv, with extra as its file descriptors 3, 4, …, and
// waits until it says "ready", ctx ends, or it fails. The driver is not tied
// to ctx beyond that: Close stops it.
func startDriver(ctx context.Context, argv []string, extra []*os.File) (*driver, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.ExtraFiles = extra
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	d := &driver{cmd: cmd, stdin: stdin, lines: make(chan string, 1), stderr: &tailBuffer{max: 4096}, done: make(chan struct{})}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	var read sync.WaitGroup
	read.Add(1)
	go func() {
		defer read.Done()
		defer close(d.lines)
		r := bufio.NewReaderSize(stdout, 1<<16)
		for {
			line, err := r.ReadString('\n')
			if line = strings.TrimRight(line, "\r\n"); line != "" {
				d.lines <- line
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		read.Wait() // Wait closes stdout: read it to the end first
		d.err = cmd.Wait()
		close(d.done)
	}()
	line, err := d.next(ctx)
	if err != nil {
		d.kill()
		return nil, fmt.Errorf("driver did not get ready: %w", err)
	}
	if line != "ready" {
		d.kill()
		return nil, d.fail(line)
	}
	return d, nil
}

// next returns the driver's next line.
func (d *driver) next(ctx context.Context) (string, error) {
	select {
	case line, ok := <-d.lines:
		if !ok {
			<-d.done
			return "", d.exited()
		}
		return line, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// exited describes a driver that ended before answering.
func (d *driver) exited() error {
	msg := "exited"
	if d.err != nil {
		msg = d.err.Error()
	}
	if tail := d.stderr.String(); tail != "" {
		msg += ": " + tail
	}
	return errors.New("driver " + msg)
}

// fail turns a line that is not the expected answer into an error.
func (d *driver) fail(line string) error {
	if msg, ok := strings.CutPrefix(line, "error "); ok {
		if tail := d.stderr.String(); tail != "" {
			msg += " (stderr: " + tail + ")"
		}
		return errors.New(msg)
	}
	return fmt.Errorf("driver said %q; want the protocol's answer", truncate(line, 200))
}

// run asks for one execution and parses its result.
func (d *driver) run(ctx context.Context) (model.Result, error) {
	if _, err := io.WriteString(d.stdin, "run\n"); err != nil {
		return model.Result{}, fmt.Errorf("driver: %w (%v)", err, d.exited())
	}
	line, err := d.next(ctx)
	if err != nil {
		return model.Result{}, err
	}
	body, ok := strings.CutPrefix(line, "result ")
	if !ok {
		return model.Result{}, d.fail(line)
	}
	return parseResult(body)
}

// close asks the driver to stop its workers and exit, and kills it if it
// has not within grace.
func (d *driver) close(grace time.Duration) error {
	io.WriteString(d.stdin, "quit\n")
	d.stdin.Close()
	select {
	case <-d.done:
	case <-time.After(grace):
		d.kill()
		return fmt.Errorf("driver did not stop within %v of quit; killed", grace)
	}
	if d.err != nil {
		return fmt.Errorf("driver: %w: %s", d.err, d.stderr.String())
	}
	return nil
}

func (d *driver) kill() {
	d.cmd.Process.Kill()
	d.stdin.Close()
	<-d.done
}

// parseResult reads a result line's key=value fields into a Result.
func parseResult(body string) (model.Result, error) {
	var r model.Result
	seen := map[string]bool{}
	for f := range strings.FieldsSeq(body) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return r, fmt.Errorf("result field %q is not key=value", truncate(f, 80))
		}
		seen[k] = true
		var err error
		switch k {
		case "elapsed_ns":
			var n int64
			n, err = strconv.ParseInt(v, 10, 64)
			r.Timed = time.Duration(n)
		case "cpu_ns":
			var n int64
			n, err = strconv.ParseInt(v, 10, 64)
			r.ChildCPU = time.Duration(n)
		case "peak_rss_b":
			r.ChildPeakRSS, err = strconv.ParseInt(v, 10, 64)
		case "pids":
			r.PIDs, err = ints(v)
		case "tids":
			r.TIDs, err = ints(v)
		case "counts":
			r.Counts, err = ints(v)
		case "slept":
			r.Slept, err = strconv.Atoi(v)
		case "received":
			r.Received, err = strconv.Atoi(v)
		case "served":
			r.Served, err = strconv.Atoi(v)
		case "spans":
			r.Waits, err = spans(v)
		case "orders":
			r.Orders, err = orders(v)
		case "done":
			r.Done, err = strconv.Atoi(v)
		case "digest":
			r.Digest, err = strconv.ParseUint(v, 10, 64)
		case "latencies":
			r.Latencies, err = durations(v)
		case "chunks":
			r.Chunks, err = strconv.Atoi(v)
		}
		if err != nil {
			return r, fmt.Errorf("result field %s: %w", k, err)
		}
	}
	for _, k := range []string{"elapsed_ns", "cpu_ns", "peak_rss_b", "pids", "tids"} {
		if !seen[k] {
			return r, fmt.Errorf("result has no %s", k)
		}
	}
	if r.Timed <= 0 {
		return r, fmt.Errorf("result elapsed_ns = %d; want > 0", r.Timed)
	}
	return r, nil
}

func ints(v string) ([]int, error) {
	if v == "-" || v == "" {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	out := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// orders reads interleave's orders: each a string of task letters.
func orders(v string) ([]string, error) {
	if v == "-" || v == "" {
		return nil, nil
	}
	out := strings.Split(v, ",")
	for _, o := range out {
		if o == "" || strings.Trim(o, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return nil, fmt.Errorf("order %q is not a string of task letters", truncate(o, 80))
		}
	}
	return out, nil
}

// durations reads a list of nanoseconds.
func durations(v string) ([]time.Duration, error) {
	ns, err := ints(v)
	if err != nil {
		return nil, err
	}
	out := make([]time.Duration, len(ns))
	for i, n := range ns {
		out[i] = time.Duration(n)
	}
	return out, nil
}

func spans(v string) ([]sleep.Span, error) {
	if v == "-" || v == "" {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	out := make([]sleep.Span, len(parts))
	for i, p := range parts {
		a, b, ok := strings.Cut(p, ":")
		if !ok {
			return nil, fmt.Errorf("span %q is not START:END", p)
		}
		s, err1 := strconv.ParseInt(a, 10, 64)
		e, err2 := strconv.ParseInt(b, 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		out[i] = sleep.Span{Start: s, End: e}
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// tailBuffer keeps the last max bytes written to it: a driver's stderr, for
// error messages, without letting a chatty driver grow memory.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(bytes.ReplaceAll(t.b, []byte("\n"), []byte(" | "))))
}
