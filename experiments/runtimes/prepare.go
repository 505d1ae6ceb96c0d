package runtimes

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"concurrency-lab/experiments/matrix"
)

//go:embed cpython/driver.py
var driverPy []byte

//go:embed native/driver.c
var driverC []byte

// CFlags are the flags the native driver is compiled with: C11, POSIX and
// Linux (epoll, timerfd, gettid), optimised as a C programmer would ship it.
var CFlags = []string{"-std=c11", "-O2", "-pthread", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror"}

// Identity is what a runtime is, as recorded in run.json: enough to tell two
// interpreters or two compilers apart.
type Identity struct {
	Runtime string `json:"runtime"` // the name in the matrix
	Kind    string `json:"kind"`    // cpython or native
	// Unavailable says why the runtime cannot run here ("" when it can);
	// Hint says how to get it. Its cells are skipped.
	Unavailable string `json:"unavailable,omitempty"`
	Hint        string `json:"hint,omitempty"`

	// CPython.
	Executable         string   `json:"executable,omitempty"`
	Version            string   `json:"version,omitempty"`
	Implementation     string   `json:"implementation,omitempty"`
	GILEnabled         *bool    `json:"gil_enabled,omitempty"`
	FreeThreadedBuild  bool     `json:"free_threaded_build,omitempty"`
	ConfigArgs         string   `json:"config_args,omitempty"`
	PyCFlags           string   `json:"cflags,omitempty"`
	UVLoop             string   `json:"uvloop,omitempty"`
	UVLoopError        string   `json:"uvloop_error,omitempty"`
	EventLoop          string   `json:"event_loop,omitempty"`
	StartMethod        string   `json:"start_method,omitempty"`
	DefaultStartMethod string   `json:"default_start_method,omitempty"`
	StartMethods       []string `json:"start_methods,omitempty"`

	// Native.
	CC        string   `json:"cc,omitempty"`
	CCVersion string   `json:"cc_version,omitempty"`
	Flags     []string `json:"flags,omitempty"`
	// SourceSHA256 is the hash of the driver's source (native) or script
	// (cpython) the cells ran.
	SourceSHA256 string `json:"source_sha256,omitempty"`
}

// Prepared is a runtime ready to start drivers.
type Prepared struct {
	Identity
	// Argv starts a driver; the protocol's arguments follow it.
	Argv []string
}

// Unavailable is the error Prepare returns when a runtime is absent from
// this machine: its cells are skipped, not failed.
type Unavailable struct {
	Runtime string `json:"runtime"`
	Reason  string `json:"reason"`
	Hint    string `json:"hint,omitempty"` // how to get it, e.g. "Debian: apt-get install python3-uvloop"
}

func (u *Unavailable) Error() string {
	s := fmt.Sprintf("runtime %s unavailable: %s", u.Runtime, u.Reason)
	if u.Hint != "" {
		s += " (" + u.Hint + ")"
	}
	return s
}

// Prepare makes rt ready to run in dir (a scratch directory the caller owns
// and removes): it finds the interpreter and writes the CPython driver, or
// compiles the native driver, and records the runtime's identity. A runtime
// that is not there returns an *Unavailable error.
func Prepare(ctx context.Context, rt matrix.Runtime, dir string) (*Prepared, error) {
	switch rt.Kind {
	case matrix.KindCPython:
		return prepareCPython(ctx, rt, dir)
	case matrix.KindNative:
		return prepareNative(ctx, rt, dir)
	}
	return nil, fmt.Errorf("runtimes: %s is not an external runtime", rt.Name)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func prepareCPython(ctx context.Context, rt matrix.Runtime, dir string) (*Prepared, error) {
	python, err := exec.LookPath(rt.Python)
	if err != nil {
		return nil, &Unavailable{Runtime: rt.Name, Reason: fmt.Sprintf("no interpreter %q: %v", rt.Python, err), Hint: "Debian: apt-get install python3"}
	}
	script := filepath.Join(dir, "driver.py")
	if err := os.WriteFile(script, driverPy, 0o644); err != nil {
		return nil, fmt.Errorf("runtimes: %w", err)
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, python, script, "--identity")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, &Unavailable{Runtime: rt.Name, Reason: fmt.Sprintf("%s does not run the driver: %v: %s", python, err, strings.TrimSpace(errb.String())),
			Hint: "the driver needs CPython ≥ 3.8 (Debian: apt-get install python3)"}
	}
	p := &Prepared{Argv: []string{python, script}}
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &p.Identity); err != nil {
		return nil, fmt.Errorf("runtimes: %s --identity: %w", python, err)
	}
	p.Runtime, p.Kind, p.SourceSHA256 = rt.Name, rt.Kind, sha(driverPy)
	p.EventLoop, p.StartMethod = rt.EventLoop, rt.StartMethod
	if p.EventLoop == "" {
		p.EventLoop = "asyncio"
	}
	if rt.EventLoop == "uvloop" && p.UVLoop == "" {
		return p, &Unavailable{Runtime: rt.Name, Reason: fmt.Sprintf("uvloop does not import in %s: %s", python, p.UVLoopError),
			Hint: "Debian: apt-get install python3-uvloop (for /usr/bin/python3); elsewhere: pip install uvloop"}
	}
	return p, nil
}

func prepareNative(ctx context.Context, rt matrix.Runtime, dir string) (*Prepared, error) {
	cc, err := exec.LookPath(rt.CC)
	if err != nil {
		return nil, &Unavailable{Runtime: rt.Name, Reason: fmt.Sprintf("no C compiler %q: %v", rt.CC, err), Hint: "Debian: apt-get install gcc"}
	}
	src := filepath.Join(dir, "driver.c")
	bin := filepath.Join(dir, "native-driver")
	if err := os.WriteFile(src, driverC, 0o644); err != nil {
		return nil, fmt.Errorf("runtimes: %w", err)
	}
	args := append(append([]string{}, CFlags...), "-o", bin, src)
	if out, err := exec.CommandContext(ctx, cc, args...).CombinedOutput(); err != nil {
		return nil, &Unavailable{Runtime: rt.Name, Reason: fmt.Sprintf("%s %s: %v: %s", cc, strings.Join(args, " "), err, strings.TrimSpace(string(out))),
			Hint: "the driver needs a C11 compiler with POSIX threads and Linux headers (Debian: apt-get install gcc)"}
	}
	version, _ := exec.CommandContext(ctx, cc, "--version").Output()
	first, _, _ := strings.Cut(string(version), "\n")
	return &Prepared{
		Identity: Identity{Runtime: rt.Name, Kind: rt.Kind, CC: cc, CCVersion: strings.TrimSpace(first), Flags: CFlags, SourceSHA256: sha(driverC)},
		Argv:     []string{bin},
	}, nil
}

// IsUnavailable reports whether err says a runtime is absent, and why.
func IsUnavailable(err error) (*Unavailable, bool) {
	var u *Unavailable
	ok := errors.As(err, &u)
	return u, ok
}

// Env names a JSON file of prepared runtimes (a list of Entry) that `lab run`
// writes once per run, so that the benchmark processes of its samples
// neither rebuild the native driver nor probe the interpreters again.
// Without it, a benchmark process prepares the runtimes its cells need
// itself, once, in a scratch directory.
const Env = "LAB_RUNTIMES"

// Entry is one runtime as prepared for a run: ready (Prepared), or absent
// (Unavailable; its cells are skipped).
type Entry struct {
	Name        string       `json:"name"`
	Kind        string       `json:"kind"` // cpython or native`
	Prepared    *Prepared    `json:"prepared,omitempty"`
	Unavailable *Unavailable `json:"unavailable,omitempty"`
}

// Identity is the entry's identity for run.json, with the reason it is
// unavailable if it is.
func (e Entry) Identity() Identity {
	var id Identity
	if e.Prepared != nil {
		id = e.Prepared.Identity
	}
	id.Runtime = e.Name
	if id.Kind == "" {
		id.Kind = e.Kind
	}
	if u := e.Unavailable; u != nil {
		id.Unavailable, id.Hint = u.Reason, u.Hint
	}
	return id
}

// PrepareEntry prepares rt in dir (Prepare), giving it a minute. An absent
// runtime is an entry with Unavailable set; any other failure to prepare it
// is reported as unavailable too, with the error as the reason, so that one
// broken runtime never stops the others.
func PrepareEntry(ctx context.Context, rt matrix.Runtime, dir string) Entry {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	p, err := Prepare(ctx, rt, dir)
	if err == nil {
		return Entry{Name: rt.Name, Kind: rt.Kind, Prepared: p}
	}
	if u, ok := IsUnavailable(err); ok {
		return Entry{Name: rt.Name, Kind: rt.Kind, Prepared: p, Unavailable: u}
	}
	return Entry{Name: rt.Name, Kind: rt.Kind, Unavailable: &Unavailable{Runtime: rt.Name, Reason: err.Error()}}
}
