package main

import (
	"encoding/json"
	"errors"
	"flag"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the expected outputs in testdata/script/*.txtar (the second file of each failing cmp) from what lab printed")

// TestMain lets the scripts run `lab` without building it: testscript puts a
// `lab` on the scripts' PATH that re-executes this test binary, which then
// runs main — the real command line, exit status included.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"lab": main})
}

// TestScripts runs testdata/script/*.txtar: each script is a txtar archive
// whose comment is the script (testscript's language, like cmd/go's tests)
// and whose files are the inputs (matrices, run directories) and the
// expected outputs. `go test -run TestScripts/diff -update` refreshes the
// expected outputs of the cmp lines that fail.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitcode,
			"jsonkeys": cmdJSONKeys,
		},
	})
}

// cmdExitcode is the script command
//
//	exitcode N program [args...]
//
// which runs program like exec (stdout and stderr are kept for the commands
// after it) and fails unless program exits with status N: `! exec` only tells
// failure from success, while lab's statuses mean different things (1 an
// error, 2 bad usage or input, 130 interrupted).
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %q is not an exit status", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d; want %d", args[1], got, want)
	}
}

// cmdJSONKeys is the script command
//
//	jsonkeys file key...
//
// which fails unless file (or stdout, or stderr) holds one JSON object whose
// top-level keys are exactly the keys listed, in any order.
func cmdJSONKeys(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! jsonkeys")
	}
	if len(args) < 1 {
		ts.Fatalf("usage: jsonkeys file key...")
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile(args[0])))
	if err := dec.Decode(&obj); err != nil {
		ts.Fatalf("%s: not a JSON object: %v", args[0], err)
	}
	if dec.More() {
		ts.Fatalf("%s: more than one JSON value", args[0])
	}
	var got []string
	for k := range obj {
		got = append(got, k)
	}
	want := slices.Clone(args[1:])
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		ts.Fatalf("%s: top-level keys %q; want %q", args[0], got, want)
	}
}
