package matrix

import (
	"fmt"
	"slices"
	"sort"
)

// Runtime is who runs a cell's model: Go itself (the built-in runtime "go")
// or an external runtime declared in a [runtimes.<name>] table:
//
//	[runtimes.cpython]         # CPython: multiprocessing, threading, asyncio
//	python = "/usr/bin/python3"  # an interpreter on PATH, or a path
//	start_method = "fork"      # optional, process cells: fork | spawn | forkserver
//	[runtimes.cpython-uvloop]
//	python = "/usr/bin/python3"
//	event_loop = "uvloop"      # loop cells only: asyncio (default) | uvloop
//	[runtimes.native]          # C: fork, pthreads, epoll; built with cc at the start of a run
//	cc = "cc"
//
// An experiment lists the runtimes it runs in (runtimes = ["go", "cpython"]);
// the default is ["go"]. A runtime runs only the models it has: goroutine and
// thread-gil are Go's alone, and a runtime with an event_loop runs only loop
// cells.
type Runtime struct {
	Name string `json:"name"`
	// Kind is "go", "cpython" or "native".
	Kind string `json:"kind"`
	// Python is the interpreter (cpython): a name looked up on PATH or a path.
	Python string `json:"python,omitempty"`
	// EventLoop is the loop cells' event loop (cpython): "asyncio" or
	// "uvloop"; "" when not declared (asyncio). A runtime that declares one
	// runs only loop cells.
	EventLoop string `json:"event_loop,omitempty"`
	// StartMethod is multiprocessing's start method for process cells
	// (cpython): "fork", "spawn" or "forkserver".
	StartMethod string `json:"start_method,omitempty"`
	// CC is the C compiler (native): a name looked up on PATH or a path.
	CC string `json:"cc,omitempty"`
}

// Runtime kinds.
const (
	KindGo      = "go"
	KindCPython = "cpython"
	KindNative  = "native"
)

// Go is the built-in runtime: the lab's own models.
var Go = Runtime{Name: "go", Kind: KindGo}

type runtimeDoc struct {
	Python      *string `toml:"python"`
	EventLoop   *string `toml:"event_loop"`
	StartMethod *string `toml:"start_method"`
	CC          *string `toml:"cc"`
}

// runtimeModels lists the models each kind of runtime implements, and
// runtimeWorkloads the workloads.
var (
	runtimeModels = map[string][]string{
		KindGo:      nil, // every model
		KindCPython: {"process", "thread", "loop"},
		KindNative:  {"process", "thread", "loop"},
	}
	runtimeWorkloads = map[string][]string{
		KindGo:      nil, // every workload
		KindCPython: {"primes", "sleep", "pipeline", "echo", "interleave", "blocking", "spawn", "hold", "convoy"},
		KindNative:  {"primes", "sleep", "pipeline", "echo"},
	}
)

// Runs reports whether the runtime implements model.
func (r Runtime) Runs(model string) bool {
	ms := runtimeModels[r.Kind]
	if ms != nil && !slices.Contains(ms, model) {
		return false
	}
	return r.EventLoop == "" || model == "loop"
}

// Has reports whether the runtime implements workload.
func (r Runtime) Has(workload string) bool {
	ws := runtimeWorkloads[r.Kind]
	return ws == nil || slices.Contains(ws, workload)
}

func (c *checker) runtimes(docs map[string]runtimeDoc) map[string]Runtime {
	out := map[string]Runtime{Go.Name: Go}
	for name, d := range docs {
		at := "runtimes." + name
		if name == Go.Name {
			c.fail(at, "%q is the built-in runtime; declare other runtimes under other names", name)
			continue
		}
		if !nameRe.MatchString(name) {
			c.fail(at, "%q: want a name of letters, digits, '-' and '_' (it becomes part of benchmark names)", name)
		}
		r := Runtime{Name: name}
		switch {
		case d.Python != nil && d.CC != nil:
			c.fail(at, "both python and cc: a runtime is either a CPython interpreter (python) or native C (cc)")
		case d.Python != nil:
			r.Kind, r.Python = KindCPython, *d.Python
			if r.Python == "" {
				c.fail(at+".python", "empty: want an interpreter on PATH, e.g. \"python3\", or a path")
			}
		case d.CC != nil:
			r.Kind, r.CC = KindNative, *d.CC
			if r.CC == "" {
				c.fail(at+".cc", "empty: want a C compiler on PATH, e.g. \"cc\", or a path")
			}
		default:
			c.fail(at, "want python = \"<interpreter>\" (CPython) or cc = \"<compiler>\" (native C)")
		}
		if d.EventLoop != nil {
			switch {
			case r.Kind != KindCPython:
				c.fail(at+".event_loop", "only a CPython runtime (python = ...) takes an event_loop")
			case *d.EventLoop != "asyncio" && *d.EventLoop != "uvloop":
				c.fail(at+".event_loop", "%q: want \"asyncio\" or \"uvloop\"", *d.EventLoop)
			default:
				r.EventLoop = *d.EventLoop
			}
		}
		if d.StartMethod != nil {
			switch {
			case r.Kind != KindCPython:
				c.fail(at+".start_method", "only a CPython runtime (python = ...) takes a start_method")
			case !slices.Contains([]string{"fork", "spawn", "forkserver"}, *d.StartMethod):
				c.fail(at+".start_method", "%q: want \"fork\", \"spawn\" or \"forkserver\"", *d.StartMethod)
			}
			r.StartMethod = *d.StartMethod
		}
		if r.Kind == KindCPython && r.StartMethod == "" {
			r.StartMethod = "fork"
		}
		out[name] = r
	}
	return out
}

// experimentRuntimes checks an experiment's runtimes list against the
// declared runtimes, its workload and its models.
func (c *checker) experimentRuntimes(at string, names []string, declared map[string]Runtime, workload string, models []string) []Runtime {
	if names == nil {
		return []Runtime{Go}
	}
	if len(names) == 0 {
		c.fail(at+".runtimes", "empty list: leave the key out for [\"go\"]")
	}
	var out []Runtime
	seen := map[string]bool{}
	for _, name := range names {
		r, ok := declared[name]
		switch {
		case !ok:
			c.fail(at+".runtimes", "%q is not declared in a [runtimes.%s] table (declared: %s)", name, name, quoteAll(runtimeNames(declared)))
			continue
		case seen[name]:
			c.fail(at+".runtimes", "%q is listed twice", name)
			continue
		case !r.Has(workload):
			c.fail(at+".runtimes", "runtime %q (%s) has no %q workload", name, r.Kind, workload)
			continue
		}
		seen[name] = true
		if !slices.ContainsFunc(models, r.Runs) {
			if r.EventLoop != "" {
				c.fail(at+".runtimes", "runtime %q sets event_loop = %q, which only loop cells use, and the experiment has no loop model", name, r.EventLoop)
			} else {
				c.fail(at+".runtimes", "runtime %q runs none of the models %s (it runs %s)", name, quoteAll(models), quoteAll(runtimeModels[r.Kind]))
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

func runtimeNames(m map[string]Runtime) []string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Describe is the runtime as one line, for messages.
func (r Runtime) Describe() string {
	switch r.Kind {
	case KindCPython:
		s := fmt.Sprintf("CPython (%s", r.Python)
		if r.EventLoop == "uvloop" {
			s += ", uvloop"
		}
		return s + ")"
	case KindNative:
		return fmt.Sprintf("native C (%s)", r.CC)
	}
	return "Go"
}
