package runtimes

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestParseResultOptionalKeys: the keys of the later workloads are read when
// present and zero when absent (the native driver does not print them).
func TestParseResultOptionalKeys(t *testing.T) {
	base := "elapsed_ns=5 cpu_ns=1 peak_rss_b=2 pids=7 tids=7,8 counts=- slept=0 spans=- received=0 served=0"
	r, err := parseResult(base)
	if err != nil {
		t.Fatalf("without the optional keys: %v", err)
	}
	if r.Orders != nil || r.Done != 0 || r.Digest != 0 || r.Latencies != nil || r.Chunks != 0 {
		t.Errorf("absent keys gave %+v; want zero values", r)
	}
	r, err = parseResult(base + " orders=ABAB,AABB done=3 digest=18446744073709551615 latencies=100,250 chunks=4")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Orders, []string{"ABAB", "AABB"}) || r.Done != 3 || r.Digest != 1<<64-1 ||
		!slices.Equal(r.Latencies, []time.Duration{100, 250}) || r.Chunks != 4 {
		t.Errorf("parsed %+v", r)
	}
	for _, bad := range []string{"orders=AB,a1", "orders=AB,,AB", "digest=-1", "latencies=1,x", "done=x", "chunks=1.5"} {
		if _, err := parseResult(base + " " + bad); err == nil || !strings.Contains(err.Error(), strings.SplitN(bad, "=", 2)[0]) {
			t.Errorf("%s: err = %v; want an error naming the key", bad, err)
		}
	}
}
