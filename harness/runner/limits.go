package runner

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/matrix"
)

// Limits are what this machine lets one cell use: file descriptors per
// process (RLIMIT_NOFILE's hard limit: the lab raises the soft limit to it
// where a cell needs more), ephemeral ports for loopback clients, and
// kernel tasks (threads and processes share pid_max). Zero means unknown
// (not checked).
type Limits struct {
	NoFile int `json:"nofile"`      // RLIMIT_NOFILE, hard
	Ports  int `json:"ports"`       // net.ipv4.ip_local_port_range, size
	Tasks  int `json:"tasks"`       // min(kernel.pid_max, kernel.threads-max)
	Soft   int `json:"nofile_soft"` // RLIMIT_NOFILE, soft, as the lab found it
}

// DetectLimits reads this machine's limits (Linux).
func DetectLimits() Limits {
	var l Limits
	var r unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &r) == nil {
		l.NoFile, l.Soft = clampInt(r.Max), clampInt(r.Cur)
	}
	if f := procInts("/proc/sys/net/ipv4/ip_local_port_range"); len(f) == 2 && f[1] >= f[0] {
		l.Ports = f[1] - f[0] + 1
	}
	pid, thr := procInts("/proc/sys/kernel/pid_max"), procInts("/proc/sys/kernel/threads-max")
	switch {
	case len(pid) == 1 && len(thr) == 1:
		l.Tasks = min(pid[0], thr[0])
	case len(pid) == 1:
		l.Tasks = pid[0]
	}
	return l
}

func clampInt(v uint64) int {
	if v > 1<<40 {
		return 1 << 40
	}
	return int(v)
}

func procInts(path string) []int {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil
		}
		out = append(out, n)
	}
	return out
}

// fdSlack is what a process needs besides its connections: standard
// streams, pipes to its workers and the harness, epoll and timer fds.
const fdSlack = 64

// Check says why cell c cannot run within l, or nil. It checks what the cell
// certainly needs: an echo server (and its load generator, a process of its
// own) one file descriptor per connection, and one loopback port per client
// connection; a thread per connection or per sleeping task in the thread
// models, a process per connection or task in the process models.
func (l Limits) Check(c matrix.Cell) error {
	conns := 0
	if c.Workload == "echo" {
		conns = c.Int("connections")
		if need := conns + fdSlack; l.NoFile > 0 && need > l.NoFile {
			return fmt.Errorf("%s: needs %d file descriptors in one process (%d connections + %d), above this machine's RLIMIT_NOFILE hard limit %d (raise it, e.g. in /etc/security/limits.conf, or lower connections)",
				c.Name(), need, conns, fdSlack, l.NoFile)
		}
		if l.Ports > 0 && conns > l.Ports {
			return fmt.Errorf("%s: needs %d loopback client ports at once, above the %d of net.ipv4.ip_local_port_range", c.Name(), conns, l.Ports)
		}
	}
	tasks := conns
	if c.Workload == "sleep" {
		tasks = c.Int("workers")
		if tasks == 0 || tasks > c.Int("tasks") {
			tasks = c.Int("tasks")
		}
	}
	if (c.Model == "thread" || c.Model == "thread-gil" || c.Model == "process") && l.Tasks > 0 && tasks+fdSlack > l.Tasks {
		return fmt.Errorf("%s: needs %d %ss at once, above this machine's kernel task limit %d (kernel.pid_max / kernel.threads-max)", c.Name(), tasks, c.Model, l.Tasks)
	}
	return nil
}
