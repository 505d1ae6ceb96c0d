// Package osmeter reads what the operating system knows about this process:
// its CPU time, its children's CPU time, and its peak resident memory.
//
// Linux only: peak RSS comes from /proc/self/status (VmHWM), which Linux lets
// a process reset by writing "5" to /proc/self/clear_refs. getrusage's
// ru_maxrss is a lifetime peak that cannot be reset, so it cannot give the
// peak of one benchmark cell inside a long-lived process.
package osmeter

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// CPU returns the user+system CPU time used so far by this process
// (unix.RUSAGE_SELF: every thread) or by its waited-for descendants
// (unix.RUSAGE_CHILDREN: counted only once they have been reaped).
func CPU(who int) (time.Duration, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(who, &ru); err != nil {
		return 0, fmt.Errorf("osmeter: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// ResetPeakRSS returns freed Go heap to the OS and resets this process's peak
// resident set size to its current size, so that PeakRSS then reports the
// peak of what follows. It runs a garbage collection: call it outside any
// timed region.
func ResetPeakRSS() error {
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("osmeter: reset peak RSS: %w", err)
	}
	return nil
}

// PeakRSS returns this process's peak resident set size in bytes since it
// started or since the last reset.
func PeakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("osmeter: %w", err)
	}
	return statusKB(b, "VmHWM")
}

// RSS returns this process's current resident set size in bytes.
func RSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("osmeter: %w", err)
	}
	return statusKB(b, "VmRSS")
}

// Meter resets and reads this process's peak RSS many times cheaply: it keeps
// /proc/self/status and /proc/self/clear_refs open, and its reset does not
// collect garbage, so a worker can use it around each job without adding
// work to the job.
type Meter struct {
	status, clearRefs int // open fds
	buf               []byte
}

// OpenMeter opens a Meter; Close releases it.
func OpenMeter() (*Meter, error) {
	status, err := unix.Open("/proc/self/status", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("osmeter: %w", err)
	}
	clearRefs, err := unix.Open("/proc/self/clear_refs", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(status)
		return nil, fmt.Errorf("osmeter: %w", err)
	}
	return &Meter{status: status, clearRefs: clearRefs, buf: make([]byte, 8192)}, nil
}

// ResetPeak resets the peak RSS to the current RSS.
func (m *Meter) ResetPeak() error {
	if _, err := unix.Write(m.clearRefs, []byte("5")); err != nil {
		return fmt.Errorf("osmeter: reset peak RSS: %w", err)
	}
	return nil
}

// Peak returns the peak RSS in bytes since the process started or since the
// last reset.
func (m *Meter) Peak() (int64, error) {
	n, err := unix.Pread(m.status, m.buf, 0)
	if err != nil {
		return 0, fmt.Errorf("osmeter: %w", err)
	}
	return statusKB(m.buf[:n], "VmHWM")
}

// Close closes the meter's files.
func (m *Meter) Close() error {
	return errors.Join(unix.Close(m.status), unix.Close(m.clearRefs))
}

// statusKB finds a "<field>:   1234 kB" line in the text of /proc/<pid>/status
// and returns its value in bytes.
func statusKB(status []byte, field string) (int64, error) {
	key := []byte(field + ":")
	line := status
	for {
		i := bytes.Index(line, key)
		if i < 0 {
			return 0, fmt.Errorf("osmeter: no %s line in /proc/self/status", field)
		}
		if i == 0 || line[i-1] == '\n' {
			line = line[i+len(key):]
			break
		}
		line = line[i+len(key):]
	}
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	f := bytes.Fields(line)
	if len(f) != 2 || string(f[1]) != "kB" {
		return 0, fmt.Errorf("osmeter: %s line %q; want \"<n> kB\"", field, line)
	}
	kb, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("osmeter: %s: %w", field, err)
	}
	return kb << 10, nil
}
