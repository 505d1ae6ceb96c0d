package spawn

import "testing"

func TestJob(t *testing.T) {
	if _, err := NewJob(0); err == nil {
		t.Error("NewJob(0) gave no error")
	}
	j, err := NewJob(4)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Verify(4); err != nil {
		t.Error(err)
	}
	if err := j.Verify(3); err == nil {
		t.Error("Verify(3 of 4) gave no error")
	}
}
