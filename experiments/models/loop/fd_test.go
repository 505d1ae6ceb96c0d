package loop

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
)

// socketpair returns the two ends of a non-blocking stream socket pair,
// closed when the test ends.
func socketpair(t *testing.T) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// pattern is n bytes that make a reordering or a loss visible.
func pattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i/251)
	}
	return p
}

// Tasks wait for sockets, timers and queues side by side, on the one thread.
func TestTasksWaitForFDs(t *testing.T) {
	tests := []struct {
		name string
		// spawn starts the tasks on the pair (a, b) and returns what
		// checks the outcome once the group is done.
		spawn func(g *Group, a, b int) (check func() error)
	}{
		{"read waits for data", func(g *Group, a, b int) func() error {
			var got []byte
			g.Go(func(t *Task) error {
				buf := make([]byte, 16)
				n, err := t.Read(a, buf)
				got = buf[:n]
				return err
			})
			g.Go(func(t *Task) error {
				if err := t.Sleep(time.Millisecond); err != nil {
					return err
				}
				return t.Write(b, []byte("ping"))
			})
			return func() error {
				if string(got) != "ping" {
					return fmt.Errorf("read %q; want %q", got, "ping")
				}
				return nil
			}
		}},
		{"read sees EOF", func(g *Group, a, b int) func() error {
			n := -1
			g.Go(func(t *Task) error {
				var err error
				n, err = t.Read(a, make([]byte, 16))
				return err
			})
			g.Go(func(t *Task) error {
				if err := t.Yield(); err != nil {
					return err
				}
				return unix.Shutdown(b, unix.SHUT_WR)
			})
			return func() error {
				if n != 0 {
					return fmt.Errorf("read %d bytes after the peer shut down; want 0 (EOF)", n)
				}
				return nil
			}
		}},
		{"write waits for room", func(g *Group, a, b int) func() error {
			// Far more than the pair's buffers hold: the writer must
			// wait for the reader, many times.
			want := pattern(4 << 20)
			var got []byte
			g.Go(func(t *Task) error { return t.Write(a, want) })
			g.Go(func(t *Task) error {
				buf := make([]byte, 1000)
				for len(got) < len(want) {
					n, err := t.Read(b, buf)
					if err != nil {
						return err
					}
					if n == 0 {
						return errors.New("EOF before the end")
					}
					got = append(got, buf[:n]...)
				}
				return nil
			})
			return func() error {
				if !bytes.Equal(got, want) {
					return fmt.Errorf("read %d bytes, not the %d written", len(got), len(want))
				}
				return nil
			}
		}},
		{"fd, timer and queue", func(g *Group, a, b int) func() error {
			q := NewQueue[string](1)
			var got []byte
			var trace []string
			g.Go(func(t *Task) error {
				buf := make([]byte, 16)
				n, err := t.Read(a, buf)
				got = buf[:n]
				trace = append(trace, "read")
				return err
			})
			g.Go(func(t *Task) error {
				if err := t.Sleep(time.Millisecond); err != nil {
					return err
				}
				trace = append(trace, "slept")
				return q.Put(t, "via the queue")
			})
			g.Go(func(t *Task) error {
				v, err := q.Get(t)
				if err != nil {
					return err
				}
				trace = append(trace, "got")
				return t.Write(b, []byte(v))
			})
			return func() error {
				if want := []string{"slept", "got", "read"}; string(got) != "via the queue" || !slices.Equal(trace, want) {
					return fmt.Errorf("read %q, trace %v; want %q, %v", got, trace, "via the queue", want)
				}
				return nil
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLoop(t)
			a, b := socketpair(t)
			var check func() error
			var g *Group
			if err := runGroup(t, l, func(grp *Group) { g = grp; check = tt.spawn(grp, a, b) }); err != nil {
				t.Fatal(err)
			}
			if err := check(); err != nil {
				t.Error(err)
			}
			var u model.Usage
			g.IDs().Fill(&u)
			if want := []int{l.TID()}; !slices.Equal(u.TIDs, want) {
				t.Errorf("tasks ran on threads %v; want only the loop thread %v", u.TIDs, want)
			}
		})
	}
}

// An fd wait ends with the fd's event, or else with an error: the group was
// cancelled, the fd unwatched, or another task waits on it already. The
// waiter's slot is freed whichever way it ends.
func TestFDWaitEnds(t *testing.T) {
	stop := errors.New("stop")
	tests := []struct {
		name string
		// end ends the wait of a task blocked reading a.
		end  func(l *Loop, g *Group, a int) error
		want error // from the wait
	}{
		{"cancelled", func(l *Loop, g *Group, a int) error { g.Cancel(stop); return nil }, ErrCancelled},
		{"unwatched", func(l *Loop, g *Group, a int) error { return l.Unwatch(a) }, ErrUnwatched},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLoop(t)
			a, b := socketpair(t)
			done, waited := make(chan error, 1), make(chan error, 1)
			var g *Group
			onLoop(t, l, func() {
				g = l.NewGroup(func(err error) { done <- err })
				g.Go(func(t *Task) error {
					err := t.WaitReadable(a)
					waited <- err
					return err
				})
			})
			var endErr error
			onLoop(t, l, func() { endErr = tt.end(l, g, a) }) // the task is parked by now
			if endErr != nil {
				t.Fatal(endErr)
			}
			if err := <-waited; !errors.Is(err, tt.want) {
				t.Errorf("wait ended with %v; want %v", err, tt.want)
			}
			<-done
			// The fd can be waited on again, and the wait sees new data.
			var got []byte
			err := runGroup(t, l, func(g *Group) {
				g.Go(func(t *Task) error {
					buf := make([]byte, 8)
					n, err := t.Read(a, buf)
					got = buf[:n]
					return err
				})
				g.Go(func(t *Task) error {
					if err := t.Yield(); err != nil {
						return err
					}
					return t.Write(b, []byte("again"))
				})
			})
			if err != nil || string(got) != "again" {
				t.Errorf("second wait: read %q, %v; want %q", got, err, "again")
			}
		})
	}
}

func TestSecondWaiterIsRefused(t *testing.T) {
	l := newLoop(t)
	a, _ := socketpair(t)
	var second error
	err := runGroup(t, l, func(g *Group) {
		g.Go(func(t *Task) error {
			err := t.WaitReadable(a)
			if !errors.Is(err, ErrUnwatched) {
				return fmt.Errorf("first waiter: %v; want %v", err, ErrUnwatched)
			}
			return nil
		})
		g.Go(func(t *Task) error {
			second = t.WaitReadable(a)
			// Unwatching releases the first waiter.
			return t.l.Unwatch(a)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(second, ErrBusy) {
		t.Errorf("second waiter on the same fd: %v; want %v", second, ErrBusy)
	}
}

// A reader callback runs once when added, then once per edge, until removed.
// (It may also run and find nothing, after an edge it had drained already.)
func TestAddReader(t *testing.T) {
	l := newLoop(t)
	a, b := socketpair(t)
	var calls []string // what each call that found data read
	read := func() {
		var got []byte
		buf := make([]byte, 4)
		for { // to EAGAIN: the callback is edge-triggered
			n, err := unix.Read(a, buf)
			if err != nil {
				break
			}
			got = append(got, buf[:n]...)
		}
		if len(got) > 0 {
			calls = append(calls, string(got))
		}
	}
	send := func(s string) {
		if _, err := unix.Write(b, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	var get []string
	probe := func() { onLoop(t, l, func() { get = slices.Clone(calls) }) }

	send("early") // before the reader: the call on adding finds it
	onLoop(t, l, func() {
		if err := l.AddReader(a, read); err != nil {
			t.Error(err)
		}
	})
	probe()
	// The write makes a readable before the probe is submitted, so the
	// loop sees both in the same epoll_wait and runs the callback first.
	send("hello, world")
	probe()
	send("x")
	probe()
	if want := []string{"early", "hello, world", "x"}; !slices.Equal(get, want) {
		t.Errorf("reader calls read %q; want %q", get, want)
	}
	onLoop(t, l, func() {
		if !l.RemoveReader(a) {
			t.Error("RemoveReader: no reader")
		}
	})
	send("unheard")
	probe()
	buf := make([]byte, 16)
	if n, err := unix.Read(a, buf); err != nil || string(buf[:n]) != "unheard" || len(get) != 3 {
		t.Errorf("after RemoveReader: calls %q, and the socket holds %q (%v); want no more calls, and %q left", get, buf[:max(n, 0)], err, "unheard")
	}
	var watched bool
	onLoop(t, l, func() { _, watched = l.fds[a] })
	if !watched {
		t.Errorf("fd %d not watched after RemoveReader; want it watched until Unwatch", a)
	}
	onLoop(t, l, func() {
		if err := l.Unwatch(a); err != nil {
			t.Error(err)
		}
		_, watched = l.fds[a]
	})
	if watched {
		t.Errorf("fd %d still watched after Unwatch", a)
	}
}
