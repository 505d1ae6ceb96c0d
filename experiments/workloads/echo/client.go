package echo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"
)

// Stats is what the load generator measured in one execution.
type Stats struct {
	// Elapsed runs from the first dial to the last connection's close.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Requests is the number of requests whose echo came back verified.
	Requests int `json:"requests"`
	// P50 and P99 are percentiles of the request latency: from the
	// request's first byte written to its echo's last byte read.
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
}

// MaxDialing bounds the connections being opened at once: ten thousand
// simultaneous SYNs would overflow the listen backlog (net.core.somaxconn,
// 4096 here) and retry after a second; real clients do not all arrive in
// the same microsecond.
const MaxDialing = 256

// Generate runs one execution against the server at addr: Connections
// clients, each dialling, making its Requests in turn (Think apart) with
// every echo checked, then closing. It returns at the first failure.
func Generate(ctx context.Context, addr string, j Job) (Stats, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lat := make([][]time.Duration, j.Connections)
	dialing := make(chan struct{}, MaxDialing)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	fail := func(err error) {
		once.Do(func() { first = err; cancel(err) })
	}
	var d net.Dialer
	start := time.Now()
	for c := range j.Connections {
		wg.Go(func() {
			select {
			case dialing <- struct{}{}:
			case <-ctx.Done():
				return
			}
			conn, err := d.DialContext(ctx, "tcp", addr)
			<-dialing
			if err != nil {
				fail(fmt.Errorf("echo: connection %d: %w", c, err))
				return
			}
			// A connection the context ends must not block for ever.
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			defer stop()
			defer conn.Close()
			lat[c] = make([]time.Duration, 0, j.Requests)
			if err := converse(ctx, conn, j, c, &lat[c]); err != nil {
				fail(fmt.Errorf("echo: connection %d: %w", c, err))
			}
		})
	}
	wg.Wait()
	st := Stats{Elapsed: time.Since(start)}
	if first != nil {
		return st, first
	}
	if err := context.Cause(ctx); err != nil {
		return st, err
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	st.Requests = len(all)
	st.P50, st.P99 = Percentile(all, 0.50), Percentile(all, 0.99)
	return st, nil
}

// converse makes connection c's requests and checks their echoes.
func converse(ctx context.Context, conn net.Conn, j Job, c int, lat *[]time.Duration) error {
	out := make([]byte, j.PayloadBytes)
	in := make([]byte, j.PayloadBytes)
	for r := range j.Requests {
		if r > 0 && j.Think > 0 {
			t := time.NewTimer(j.Think)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return context.Cause(ctx)
			}
		}
		Fill(out, c, r)
		t0 := time.Now()
		if _, err := conn.Write(out); err != nil {
			return fmt.Errorf("request %d: write: %w", r, err)
		}
		if _, err := io.ReadFull(conn, in); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return fmt.Errorf("request %d: the server closed the connection before echoing %d bytes", r, j.PayloadBytes)
			}
			return fmt.Errorf("request %d: read: %w", r, err)
		}
		*lat = append(*lat, time.Since(t0))
		if !bytes.Equal(in, out) {
			i := 0
			for i < len(in) && in[i] == out[i] {
				i++
			}
			return fmt.Errorf("request %d: the echo differs from the request at byte %d of %d (dropped, reordered or corrupted)", r, i, j.PayloadBytes)
		}
	}
	return nil
}

// Percentile is the q-quantile of ds (nearest rank); 0 for none. It sorts ds.
func Percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}
