package experiments

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/runtimes"
)

// prepared caches, for this process, each external runtime once prepared.
var prepared struct {
	sync.Mutex
	dir   string
	byRun map[string]runtimes.Entry
}

// prepare returns the prepared runtime of an external cell, or an
// *runtimes.Unavailable error when it is absent.
func prepare(ctx context.Context, rt matrix.Runtime) (*runtimes.Prepared, error) {
	prepared.Lock()
	defer prepared.Unlock()
	if prepared.byRun == nil {
		prepared.byRun = map[string]runtimes.Entry{}
		if path := os.Getenv(runtimes.Env); path != "" {
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			var list []runtimes.Entry
			if err := json.Unmarshal(data, &list); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			for _, p := range list {
				prepared.byRun[p.Name] = p
			}
		}
	}
	p, ok := prepared.byRun[rt.Name]
	if !ok {
		if prepared.dir == "" {
			dir, err := os.MkdirTemp("", "lab-runtimes-")
			if err != nil {
				return nil, err
			}
			prepared.dir = dir
		}
		p = runtimes.PrepareEntry(ctx, rt, prepared.dir)
		prepared.byRun[rt.Name] = p
	}
	if p.Unavailable != nil {
		return nil, p.Unavailable
	}
	if p.Prepared == nil {
		return nil, fmt.Errorf("runtime %s was not prepared", rt.Name)
	}
	return p.Prepared, nil
}

// CleanupRuntimes removes the scratch directory of the runtimes this process
// prepared itself.
func CleanupRuntimes() {
	prepared.Lock()
	defer prepared.Unlock()
	if prepared.dir != "" {
		os.RemoveAll(prepared.dir)
		prepared.dir = ""
	}
}
