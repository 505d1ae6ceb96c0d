package runner

import (
	"strings"
	"testing"

	"concurrency-lab/experiments/matrix"
)

func TestLimitsCheck(t *testing.T) {
	lim := Limits{NoFile: 20000, Ports: 28232, Tasks: 32768}
	echoCell := func(model string, conns string) matrix.Cell {
		return matrix.Cell{Experiment: "e", Workload: "echo", Model: model, Params: []matrix.Param{{Key: "connections", Value: conns}}}
	}
	sleepCell := func(model, tasks string) matrix.Cell {
		return matrix.Cell{Experiment: "s", Workload: "sleep", Model: model, Params: []matrix.Param{{Key: "tasks", Value: tasks}, {Key: "workers", Value: "0"}}}
	}
	tests := []struct {
		name string
		c    matrix.Cell
		want string // "" = fits
	}{
		{"echo within", echoCell("loop", "10000"), ""},
		{"echo beyond RLIMIT_NOFILE", echoCell("loop", "19990"), "RLIMIT_NOFILE hard limit 20000"},
		{"echo beyond the ports", echoCell("loop", "30000"), "RLIMIT_NOFILE"}, // fds fail first
		{"sleep threads within", sleepCell("thread", "10000"), ""},
		{"sleep threads beyond the tasks", sleepCell("thread", "32768"), "kernel task limit 32768"},
		{"sleep on the loop needs no task", sleepCell("loop", "40000"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := lim.Check(tt.c)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check: %v; want it to fit", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Check: %v; want an error containing %q", err, tt.want)
			}
		})
	}
	ports := Limits{NoFile: 1 << 20, Ports: 28232}
	if err := ports.Check(echoCell("loop", "30000")); err == nil || !strings.Contains(err.Error(), "ip_local_port_range") {
		t.Errorf("30000 connections with 28232 ports: %v; want the ports named", err)
	}
	if err := (Limits{}).Check(echoCell("loop", "99999")); err != nil {
		t.Errorf("unknown limits: %v; want no check", err)
	}
}
