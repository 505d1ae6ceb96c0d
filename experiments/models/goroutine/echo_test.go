package goroutine

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/echo"
)

// The server echoes, every Run serves exactly its connections, all in this
// process. Warm and cold run the same server: "warm" runs one Start twice,
// "cold" starts a server for each Run, as a cold cell does.
func TestEcho(t *testing.T) {
	jobs := []struct {
		name string
		job  echo.Job
	}{
		{"3x5x64B", modeltest.EchoJob(t, 3, 5, 64, 0)},
		{"3x5x1KiB/think", modeltest.EchoJob(t, 3, 5, 1024, time.Millisecond)},
	}
	check := func(t *testing.T, rs []model.Result) {
		for i, r := range rs {
			if len(r.PIDs) != 1 || r.PIDs[0] != os.Getpid() {
				t.Errorf("run %d: served in processes %v; want only this one (%d)", i, r.PIDs, os.Getpid())
			}
			if len(r.TIDs) < 1 || len(r.TIDs) > r.Served {
				t.Errorf("run %d: %d TIDs %v for %d connections; want 1 to %d", i, len(r.TIDs), r.TIDs, r.Served, r.Served)
			}
		}
	}
	for _, tt := range jobs {
		t.Run("warm/"+tt.name, func(t *testing.T) {
			check(t, modeltest.Run(t, Model{}, tt.job, 2))
			modeltest.NoChildren(t)
		})
		t.Run("cold/"+tt.name, func(t *testing.T) {
			for range 2 {
				check(t, modeltest.Run(t, Model{}, tt.job, 1))
			}
			modeltest.NoChildren(t)
		})
	}
}

// Servers started on one socket in turn (as a cold cell's executions are)
// each serve and leave the socket listening, and no goroutine behind.
func TestEchoServersShareTheSocketInTurn(t *testing.T) {
	j, ln, addr := modeltest.ListeningEchoJob(t, 3, 2, 100, 0)
	before := runtime.NumGoroutine()
	for i := range 3 {
		x, err := Model{}.Start(t.Context(), j)
		if err != nil {
			t.Fatalf("Start %d: %v", i, err)
		}
		modeltest.ServeEcho(t, x, addr, j)
		modeltest.ServeEcho(t, x, addr, j)
		if err := x.Close(); err != nil {
			t.Fatalf("Close %d: %v", i, err)
		}
		noGoroutinesLeft(t, before)
	}
	modeltest.StillListening(t, ln, addr)
}

// A connection reset by its client fails the Run, promptly and naming the
// reset; Close leaves no goroutine behind nor closes the caller's socket.
func TestEchoResetFailsTheRun(t *testing.T) {
	j, ln, addr := modeltest.ListeningEchoJob(t, 2, 1, 64, 0)
	before := runtime.NumGoroutine()
	x, err := Model{}.Start(t.Context(), j)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang detector
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := x.Run(ctx)
		done <- err
	}()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// A second client, still connected when the Run fails: the server
	// closes it rather than leave it (and its goroutine) hanging.
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetReadDeadline(time.Now().Add(time.Minute)) // a hang detector
	// One echo on each first, so that both are being served.
	modeltest.EchoOnce(t, c)
	modeltest.EchoOnce(t, c2)
	modeltest.Reset(c)
	modeltest.WantFailedAtReset(t, <-done)
	if _, err := c2.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("reading the other connection after the failed Run: %v; want EOF: the server closes it", err)
	}
	if _, err := x.Run(t.Context()); err == nil {
		t.Error("a Run after a failed one succeeded; want an error")
	}
	if err := x.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	noGoroutinesLeft(t, before)
	modeltest.StillListening(t, ln, addr)
}

// A Run waiting for connections that never come ends with its context.
func TestEchoRunHonoursTheContext(t *testing.T) {
	j, ln, addr := modeltest.ListeningEchoJob(t, 2, 1, 64, 0)
	before := runtime.NumGoroutine()
	x, err := Model{}.Start(t.Context(), j)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := x.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v; want an error wrapping %v", err, context.Canceled)
	}
	if err := x.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	noGoroutinesLeft(t, before)
	modeltest.StillListening(t, ln, addr)
}

func TestEchoNeedsAListener(t *testing.T) {
	x, err := Model{}.Start(t.Context(), modeltest.EchoJob(t, 2, 1, 1, 0))
	if err == nil {
		x.Close()
		t.Fatal("Start succeeded without a listening socket; want an error")
	}
	if !strings.Contains(err.Error(), "Listener") {
		t.Errorf("Start: %q; want it to name Job.Listener", err)
	}
}
