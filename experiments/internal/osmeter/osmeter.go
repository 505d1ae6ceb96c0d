// Package osmeter reads what the operating system knows about this process:
// its CPU time, its children's CPU time, and its peak resident memory.
//
// Linux only: peak RSS comes from /proc/self/status (VmHWM), which Linux lets
// a process reset by writing "5" to /proc/self/clear_refs. getrusage's
// ru_maxrss is a lifetime peak that cannot be reset, so it cannot give the
// peak of one benchmark cell inside a long-lived process.
package osmeter

import (
	"bufio"
	"bytes"
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
// peak of what follows.
func ResetPeakRSS() error {
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("osmeter: reset peak RSS: %w", err)
	}
	return nil
}

// PeakRSS returns this process's peak resident set size in bytes since it
// started or since the last ResetPeakRSS.
func PeakRSS() (int64, error) {
	return statusBytes("VmHWM:")
}

// RSS returns this process's current resident set size in bytes.
func RSS() (int64, error) {
	return statusBytes("VmRSS:")
}

func statusBytes(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("osmeter: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte(field)) {
			continue
		}
		// "VmHWM:	   12345 kB"
		f := bytes.Fields(line[len(field):])
		if len(f) != 2 || string(f[1]) != "kB" {
			break
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			break
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("osmeter: no %s line in /proc/self/status", field)
}
