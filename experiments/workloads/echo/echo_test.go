package echo

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve accepts n connections on ln and hands each to handle, returning when
// all are done.
func serve(t *testing.T, n int, handle func(i int, c net.Conn, peers []net.Conn)) (string, func()) {
	t.Helper()
	ln, addr, err := Listen()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.FileListener(ln)
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		conns := make([]net.Conn, n)
		for i := range n {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns[i] = c
		}
		var wg sync.WaitGroup
		for i, c := range conns {
			wg.Go(func() { defer c.Close(); handle(i, c, conns) })
		}
		wg.Wait()
	}()
	return addr, func() { l.Close(); <-done }
}

func TestGenerateChecksEveryEcho(t *testing.T) {
	j, _ := NewJob(2, 5, 100, time.Millisecond)
	tests := []struct {
		name   string
		handle func(i int, c net.Conn, peers []net.Conn)
		want   string // "" = no error
	}{
		{"echo", func(_ int, c net.Conn, _ []net.Conn) { io.Copy(c, c) }, ""},
		{"dropped", func(_ int, c net.Conn, _ []net.Conn) {
			buf := make([]byte, 100)
			io.ReadFull(c, buf)
			c.Write(buf[:99]) // one byte short, then close
		}, "closed the connection before echoing"},
		{"corrupted", func(_ int, c net.Conn, _ []net.Conn) {
			buf := make([]byte, 100)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				buf[42]++
				c.Write(buf)
			}
		}, "differs from the request at byte 42"},
		{"crossed", func(i int, c net.Conn, peers []net.Conn) {
			// Each request's echo goes to the other connection.
			buf := make([]byte, 100)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				peers[1-i].Write(buf)
			}
		}, "differs from the request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, stop := serve(t, j.Connections, tt.handle)
			defer stop()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			st, err := Generate(ctx, addr, j)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Generate: %v", err)
			case tt.want == "" && (st.Requests != j.Total() || st.P99 < st.P50 || st.P50 <= 0):
				t.Errorf("stats %+v; want %d requests and 0 < p50 ≤ p99", st, j.Total())
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Generate: %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestLoadProcess drives the generator as a process of its own, as the lab
// does: this test binary serves as it (TestMain).
func TestLoadProcess(t *testing.T) {
	j, _ := NewJob(3, 4, 64, 0)
	addr, stop := serve(t, 3, func(_ int, c net.Conn, _ []net.Conn) { io.Copy(c, c) })
	defer stop()
	l, err := StartLoad(selfBinary(t), addr, j)
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.Go("")
	if err != nil || st.Requests != 12 {
		t.Errorf("Go = %+v, %v; want 12 requests", st, err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestNewJobErrors(t *testing.T) {
	for _, args := range [][4]int{{0, 1, 1, 0}, {1, 0, 1, 0}, {1, 1, 0, 0}, {1, 1, 1, -1}} {
		if _, err := NewJob(args[0], args[1], args[2], time.Duration(args[3])); err == nil {
			t.Errorf("NewJob%v succeeded; want an error", args)
		}
	}
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	if p := Percentile(ds, 0.5); p != 5 {
		t.Errorf("p50 = %d; want 5", p)
	}
	if p := Percentile(ds, 0.99); p != 10 {
		t.Errorf("p99 = %d; want 10", p)
	}
	if p := Percentile(nil, 0.5); p != 0 {
		t.Errorf("p50 of nothing = %d; want 0", p)
	}
}
