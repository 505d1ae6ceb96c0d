// Package echo is the network workload: a TCP echo server on the loopback
// interface, under the model being measured, and a load generator that is the
// same for every model and runs in a process of its own, so that its cost
// never lands on the server's figures.
//
// Connections clients each send Requests messages of PayloadBytes and wait
// for each echo before the next, Think apart (0: fast I/O; more: slow
// clients). The generator checks every echo (content and order per
// connection) and times every request.
//
// The listening socket is made by the measuring code before any timed region
// and handed to the model (Job.Listener), so that a cold server's timed
// region starts from the same bound socket in every model and runtime, as a
// socket-activated service does.
package echo

import (
	"fmt"
	"os"
	"time"
)

// Job is one execution of the workload, as the server sees it.
type Job struct {
	Connections  int
	Requests     int // per connection
	PayloadBytes int
	Think        time.Duration // between a connection's requests
	// Listener is the listening socket (127.0.0.1), made before the job
	// is started; the server accepts on it and must not close it (the
	// measuring code does). Nil until the measuring code sets it.
	Listener *os.File
}

// NewJob checks the parameters.
func NewJob(connections, requests, payloadBytes int, think time.Duration) (Job, error) {
	switch {
	case connections < 1:
		return Job{}, fmt.Errorf("echo: connections = %d; want ≥ 1", connections)
	case requests < 1:
		return Job{}, fmt.Errorf("echo: requests = %d; want ≥ 1", requests)
	case payloadBytes < 1:
		return Job{}, fmt.Errorf("echo: payload_bytes = %d; want ≥ 1", payloadBytes)
	case think < 0:
		return Job{}, fmt.Errorf("echo: think = %v; want ≥ 0", think)
	}
	return Job{Connections: connections, Requests: requests, PayloadBytes: payloadBytes, Think: think}, nil
}

// Workload is "echo", the workload's name in the matrix.
func (j Job) Workload() string { return "echo" }

// Total is the number of requests one execution makes.
func (j Job) Total() int { return j.Connections * j.Requests }

// Fill writes request r of connection c into buf: byte i is 7·i + 13·c + r
// (mod 256), so that an echo that comes back to the wrong connection or out
// of order differs from what was sent.
func Fill(buf []byte, c, r int) {
	b := byte(13*c + r)
	for i := range buf {
		buf[i] = b
		b += 7
	}
}

// Verify checks what the server reports having served: every connection
// accepted and closed.
func (j Job) Verify(served int) error {
	if served != j.Connections {
		return fmt.Errorf("echo: the server served %d of %d connections", served, j.Connections)
	}
	return nil
}
