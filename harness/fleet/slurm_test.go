package fleet

import (
	"context"
	"errors"
	"os/exec"
	"testing"
)

// fakeSlurm stands in for Slurm's commands: out maps a command to what it
// prints; a command not in out is not on PATH.
func fakeSlurm(t *testing.T, out map[string]string) Slurm {
	t.Helper()
	return Slurm{
		LookPath: func(name string) (string, error) {
			if _, ok := out[name]; !ok {
				return "", exec.ErrNotFound
			}
			return "/fake/" + name, nil
		},
		Command: func(_ context.Context, name string, args ...string) ([]byte, error) {
			if v, ok := out[name]; ok {
				return []byte(v), nil
			}
			return nil, errors.New("not faked")
		},
	}
}
