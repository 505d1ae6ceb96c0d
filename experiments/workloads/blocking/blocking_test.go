package blocking

import (
	"testing"
	"time"
)

// Verify's bound is Ideal: on the loop every call after another, offloaded
// ⌈Tasks/PoolSize⌉ rounds of calls, then a wait.
func TestVerifyWantsIdeal(t *testing.T) {
	const block, wait = 10 * time.Millisecond, 5 * time.Millisecond
	for _, c := range []struct {
		offload string
		pool    int
		ideal   time.Duration
	}{
		{None, 0, 4*block + wait},
		{Pool, 0, block + wait},
		{Pool, 3, 2*block + wait},
	} {
		j, err := NewJob(4, block, wait, c.offload, c.pool)
		if err != nil {
			t.Fatal(err)
		}
		if got := j.Ideal(); got != c.ideal {
			t.Errorf("%s/%d: Ideal %v; want %v", c.offload, c.pool, got, c.ideal)
		}
		if err := j.Verify(j.Tasks, c.ideal); err != nil {
			t.Errorf("%s/%d: Verify at Ideal: %v", c.offload, c.pool, err)
		}
		if err := j.Verify(j.Tasks, c.ideal-time.Microsecond); err == nil {
			t.Errorf("%s/%d: Verify below Ideal succeeded; want an error", c.offload, c.pool)
		}
		if err := j.Verify(j.Tasks-1, c.ideal); err == nil {
			t.Errorf("%s/%d: Verify of %d of %d tasks succeeded; want an error", c.offload, c.pool, j.Tasks-1, j.Tasks)
		}
	}
	if err := (Job{Tasks: 1, Offload: Pool}).Check(); err == nil {
		t.Errorf("Check of an offloaded job without a pool succeeded; want an error")
	}
}
