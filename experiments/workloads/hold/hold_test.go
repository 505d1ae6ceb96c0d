package hold

import "testing"

// A Consumer that takes every result, however they reach it, consumes the
// job's Want: taken whole (Hold, Release), made from its index
// (OneAtATime), or as a digest made elsewhere.
func TestConsumerConsumesWant(t *testing.T) {
	for _, keep := range []string{Hold, Release, OneAtATime} {
		j, err := NewJob(4, 1003, keep)
		if err != nil {
			t.Fatal(err)
		}
		c := j.NewConsumer()
		for w := range j.Workers {
			switch {
			case keep == OneAtATime:
				c.Make(w, nil)
			case w == 0: // one digested as it streamed in
				buf := make([]byte, j.Bytes)
				Produce(buf, w)
				c.TakeDigest(Digest(buf))
			default:
				buf := make([]byte, j.Bytes)
				Produce(buf, w)
				c.Take(buf)
			}
		}
		if done, sum := c.Finish(); j.Verify(sum, done) != nil {
			t.Errorf("%s: consumed %d results summing to %#x; want %d, %#x", keep, done, sum, j.Workers, j.Want)
		}
		if keep == Hold && len(c.kept) != 0 {
			t.Errorf("%s: %d results still kept after Finish", keep, len(c.kept))
		}
	}
}

// Check refuses what NewJob refuses.
func TestCheck(t *testing.T) {
	for _, j := range []Job{{}, {Workers: 1, Bytes: 7, Keep: Hold}, {Workers: 1, Bytes: 8, Keep: "x"}} {
		if j.Check() == nil {
			t.Errorf("Check(%+v) succeeded; want an error", j)
		}
	}
}
