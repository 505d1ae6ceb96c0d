// Package matrix reads the lab's experiment matrix (experiments.toml), checks
// it, and expands it into cells: one cell per model and combination of
// parameter values, each a sub-benchmark of BenchmarkLab.
//
// The format, by example:
//
//	[defaults]              # optional; every experiment inherits these
//	reps = 6                # samples per cell
//	benchtime = "1x"        # go test -benchtime: "1x" = one execution per sample
//	timeout = "10m"         # per sample
//
//	[runtimes.cpython]      # optional: runtimes other than Go (see Runtime)
//	python = "/usr/bin/python3"
//	[runtimes.native]
//	cc = "cc"
//
//	[[experiments]]
//	name = "article"        # unique; the first part of every cell's name
//	workload = "primes"     # primes | sleep | pipeline | echo
//	models = ["process", "thread", "thread-gil", "loop", "goroutine"]
//	runtimes = ["go", "cpython", "native"]  # optional; default ["go"]
//	[experiments.params]    # every parameter is a list; cells take the product
//	n = [100000]
//	workers = [2]
//	split = ["replicate"]
//	start = ["cold"]
//
// Decoding is strict: an unknown key, a value of the wrong type, an unknown
// workload, model, runtime or parameter, an empty list or a value out of
// range is an error that names the file, the line and the key.
package matrix

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Matrix is a checked experiment matrix.
type Matrix struct {
	// File is the name the matrix was read from, for messages.
	File     string
	Defaults Settings
	Hardware map[string]Hardware
	// Runtimes holds the declared runtimes and the built-in "go".
	Runtimes    map[string]Runtime
	Experiments []Experiment
	// SHA256 is the hex SHA-256 of the file's bytes: runs record it so that
	// results can be traced to the exact matrix.
	SHA256 string
	// CPUs is what "LO..cpus" parameter values expand to (see SetCPUs).
	CPUs int
}

// Settings are how an experiment is sampled.
type Settings struct {
	// Reps is the number of samples per cell, ≥ 1. With Auto it is the
	// least (MinReps) and sampling goes on until the 95% CI of the median is
	// within TargetCI of the median, or MaxReps samples.
	Reps     int
	Auto     bool
	TargetCI float64 // a fraction of the median, e.g. 0.02
	MaxReps  int
	// Warmup is how many unrecorded executions of a cell precede its sample
	// in every round.
	Warmup    int
	Benchtime string        // go test -benchtime: "Nx" or a duration
	Timeout   time.Duration // per execution
}

// Experiment is one [[experiments]] entry.
type Experiment struct {
	Name        string
	Description string
	Workload    string
	Models      []string
	// Runtimes lists who runs the models, ["go"] unless the matrix says.
	Runtimes []Runtime
	// Hardware lists the declared machines the experiment is meant for;
	// empty means every machine.
	Hardware []string
	Settings
	// Params maps each parameter the matrix lists to its values, as written
	// (integers in decimal, "LO..cpus", strings and durations verbatim);
	// Values gives them as cells take them.
	Params map[string][]string
	// CPUs is what "LO..cpus" values expand to.
	CPUs int
	line int // of the [[experiments]] header
}

// The document as decoded; pointers tell "absent" from zero.
type document struct {
	Defaults    settingsDoc            `toml:"defaults"`
	Hardware    map[string]hardwareDoc `toml:"hardware"`
	Runtimes    map[string]runtimeDoc  `toml:"runtimes"`
	Experiments []experimentDoc        `toml:"experiments"`
}

type settingsDoc struct {
	Reps      any      `toml:"reps"` // an integer or "auto"
	TargetCI  *float64 `toml:"target_ci"`
	MinReps   *int     `toml:"min_reps"`
	MaxReps   *int     `toml:"max_reps"`
	Warmup    *int     `toml:"warmup"`
	Benchtime *string  `toml:"benchtime"`
	Timeout   *string  `toml:"timeout"`
}

type experimentDoc struct {
	Name        string         `toml:"name"`
	Description string         `toml:"description"`
	Workload    string         `toml:"workload"`
	Models      []string       `toml:"models"`
	Runtimes    []string       `toml:"runtimes"`
	Hardware    []string       `toml:"hardware"`
	Params      map[string]any `toml:"params"`
	settingsDoc
}

// Builtin settings, used where neither the experiment nor [defaults] says.
// Six samples are the fewest for which benchmath gives a 95% CI of the median.
var builtin = Settings{Reps: 6, TargetCI: 0.02, MaxReps: 30, Benchtime: "1x", Timeout: 10 * time.Minute}

// Error is a problem in a matrix file. Line is 0 when the problem has no
// single place (e.g. a file that cannot be read).
type Error struct {
	File string
	Line int
	Key  string // the key at fault, as a dotted path, e.g. experiments[2].params.workers
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Key == "" {
		return loc + ": " + e.Msg
	}
	return loc + ": " + e.Key + ": " + e.Msg
}

// Load reads and checks the matrix at path.
func Load(path string) (*Matrix, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("matrix: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and checks a matrix; name is used in messages.
func Parse(name string, data []byte) (*Matrix, error) {
	var doc document
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, decodeError(name, err)
	}
	lines, err := keyLines(data)
	if err != nil {
		return nil, &Error{File: name, Msg: err.Error()}
	}
	sum := sha256.Sum256(data)
	m := &Matrix{File: name, SHA256: hex.EncodeToString(sum[:]), CPUs: usableCPUs()}
	c := checker{file: name, lines: lines, cpus: m.CPUs}
	m.Defaults = c.settings(builtin, doc.Defaults, "defaults")
	m.Hardware = c.hardware(doc.Hardware)
	m.Runtimes = c.runtimes(doc.Runtimes)
	names := map[string]int{}
	for i, e := range doc.Experiments {
		x := c.experiment(i, e, m.Defaults)
		if _, ok := findWorkload(e.Workload); ok {
			x.Runtimes = c.experimentRuntimes(fmt.Sprintf("experiments[%d]", i), e.Runtimes, m.Runtimes, e.Workload, e.Models)
		}
		for _, id := range x.Hardware {
			if _, ok := m.Hardware[id]; !ok {
				c.fail(fmt.Sprintf("experiments[%d].hardware", i), "%q is not declared in a [hardware.%s] table", id, id)
			}
		}
		if prev, dup := names[x.Name]; dup && x.Name != "" {
			c.fail(fmt.Sprintf("experiments[%d].name", i), "experiment %q is already defined at line %d", x.Name, prev)
		}
		names[x.Name] = c.line(fmt.Sprintf("experiments[%d].name", i))
		m.Experiments = append(m.Experiments, x)
	}
	if len(doc.Experiments) == 0 {
		c.fail("experiments", "the matrix defines no experiments ([[experiments]])")
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeError turns go-toml's errors, which carry a position but do not print
// it, into Errors naming the line and key.
func decodeError(file string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for _, e := range strict.Errors {
			row, _ := e.Position()
			errs = append(errs, &Error{File: file, Line: row, Key: dotted(e.Key()), Msg: "unknown key"})
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		return &Error{File: file, Line: row, Key: dotted(de.Key()), Msg: de.Error()}
	}
	return &Error{File: file, Msg: err.Error()}
}

func dotted(key []string) string {
	s := ""
	for i, k := range key {
		if i > 0 {
			s += "."
		}
		s += k
	}
	return s
}

// checker accumulates every problem in a document, so that one run of
// `lab check` shows them all.
type checker struct {
	file  string
	lines map[string]int
	errs  []error
	cpus  int // what "LO..cpus" expands to in the capacity checks
}

func (c *checker) fail(key, format string, args ...any) {
	c.errs = append(c.errs, &Error{File: c.file, Line: c.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// line finds the line of key, or of its nearest enclosing table.
func (c *checker) line(key string) int {
	for k := key; k != ""; k = parent(k) {
		if n, ok := c.lines[k]; ok {
			return n
		}
	}
	return 0
}

// err joins the errors found, in the order of their lines in the file (then
// by key): the checks visit some tables through maps, whose order varies
// from run to run, and the same matrix must always give the same message.
func (c *checker) err() error {
	slices.SortStableFunc(c.errs, func(a, b error) int {
		ea, _ := a.(*Error)
		eb, _ := b.(*Error)
		if ea == nil || eb == nil {
			return 0
		}
		if ea.Line != eb.Line {
			return cmp.Compare(ea.Line, eb.Line)
		}
		return strings.Compare(ea.Key+ea.Msg, eb.Key+eb.Msg)
	})
	return errors.Join(c.errs...)
}

var benchtimeRe = regexp.MustCompile(`^[1-9][0-9]*x$`)

func (c *checker) settings(base Settings, d settingsDoc, at string) Settings {
	s := base
	switch r := d.Reps.(type) {
	case nil:
	case int64:
		if r < 1 {
			c.fail(at+".reps", "%d: want reps ≥ 1 or \"auto\"", r)
		}
		s.Reps, s.Auto = int(r), false
	case string:
		if r != "auto" {
			c.fail(at+".reps", "%q: want a number of samples or \"auto\"", r)
		}
		s.Auto = true
	default:
		c.fail(at+".reps", "%v: want a number of samples or \"auto\"", r)
	}
	if d.MinReps != nil {
		if *d.MinReps < 6 {
			c.fail(at+".min_reps", "%d: want min_reps ≥ 6 (fewer give no 95%% CI of the median)", *d.MinReps)
		}
		s.Reps = *d.MinReps
	}
	if s.Auto && d.MinReps == nil && !base.Auto {
		s.Reps = 6
	}
	if d.MaxReps != nil {
		s.MaxReps = *d.MaxReps
	}
	if s.Auto && s.MaxReps < s.Reps {
		c.fail(at+".max_reps", "%d: want max_reps ≥ min_reps (%d)", s.MaxReps, s.Reps)
	}
	if d.TargetCI != nil {
		if *d.TargetCI <= 0 || *d.TargetCI >= 1 {
			c.fail(at+".target_ci", "%v: want a fraction of the median in (0, 1), e.g. 0.02", *d.TargetCI)
		}
		s.TargetCI = *d.TargetCI
	}
	if d.Warmup != nil {
		if *d.Warmup < 0 {
			c.fail(at+".warmup", "%d: want warmup ≥ 0", *d.Warmup)
		}
		s.Warmup = *d.Warmup
	}
	if d.Benchtime != nil {
		if t, err := time.ParseDuration(*d.Benchtime); !benchtimeRe.MatchString(*d.Benchtime) && (err != nil || t <= 0) {
			c.fail(at+".benchtime", "%q: want a count such as \"1x\" or a duration such as \"2s\"", *d.Benchtime)
		}
		s.Benchtime = *d.Benchtime
	}
	if d.Timeout != nil {
		t, err := time.ParseDuration(*d.Timeout)
		if err != nil || t <= 0 {
			c.fail(at+".timeout", "%q: want a positive duration such as \"10m\"", *d.Timeout)
		}
		s.Timeout = t
	}
	return s
}

func (c *checker) experiment(i int, d experimentDoc, defaults Settings) Experiment {
	at := fmt.Sprintf("experiments[%d]", i)
	x := Experiment{
		Name: d.Name, Description: d.Description, Workload: d.Workload, Models: d.Models,
		Hardware: d.Hardware,
		Settings: c.settings(defaults, d.settingsDoc, at),
		Params:   map[string][]string{},
		CPUs:     c.cpus,
		line:     c.line(at),
	}
	if !nameRe.MatchString(d.Name) {
		c.fail(at+".name", "%q: want a name of letters, digits, '-' and '_' (it becomes part of benchmark names)", d.Name)
	}
	w, ok := findWorkload(d.Workload)
	if !ok {
		c.fail(at+".workload", "%q is not a workload; want one of %s", d.Workload, quoteAll(Workloads()))
	}
	if len(d.Models) == 0 {
		c.fail(at+".models", "no models listed; want some of %s", quoteAll(Models()))
	}
	seen := map[string]bool{}
	var taken []param
	if ok {
		taken = append(taken, w.params...)
	}
	for _, name := range d.Models {
		m, known := findModel(name)
		switch {
		case !known:
			c.fail(at+".models", "%q is not a model; want one of %s", name, quoteAll(Models()))
		case seen[name]:
			c.fail(at+".models", "%q is listed twice", name)
		case ok && w.models != nil && !slices.Contains(w.models, name):
			c.fail(at+".models", "workload %q runs only under %s, not %q", d.Workload, quoteAll(w.models), name)
		default:
			taken = append(taken, m.params...)
		}
		seen[name] = true
	}
	for key, raw := range d.Params {
		pat := at + ".params." + key
		i := indexParam(taken, key)
		if i < 0 {
			if ok {
				c.fail(pat, "workload %q with models %s takes no parameter %q (it takes %s)", d.Workload, quoteAll(d.Models), key, paramNames(taken))
			}
			continue
		}
		x.Params[key] = c.values(pat, taken[i], raw)
	}
	if ok {
		for _, p := range taken {
			if _, listed := d.Params[p.key]; p.def == "" && !listed {
				c.fail(at+".params", "parameter %q is required for workload %q (%s)", p.key, d.Workload, p.doc)
			}
		}
		c.capacity(at, x)
	}
	return x
}

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// values checks one parameter's list and returns its values as strings.
func (c *checker) values(at string, p param, raw any) []string {
	list, ok := raw.([]any)
	if !ok {
		c.fail(at, "want a list of values, e.g. %s = [%s]", p.key, example(p))
		return nil
	}
	if len(list) == 0 {
		c.fail(at, "empty list: give at least one value or leave the key out")
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, v := range list {
		if str, isStr := v.(string); isStr && p.kind == intKind {
			if lo, ok := isCPURange(str); ok {
				if err := p.check(strconv.Itoa(lo)); err != nil {
					c.fail(at, "%q: %v (%s)", str, err, p.doc)
				} else if !seen[str] {
					seen[str] = true
					out = append(out, str)
				}
				continue
			}
		}
		s, ok := asKind(p.kind, v)
		if !ok {
			c.fail(at, "%v is %T; want %s", v, v, p.kind)
			continue
		}
		if err := p.check(s); err != nil {
			c.fail(at, "%v (%s)", err, p.doc)
			continue
		}
		if seen[s] {
			c.fail(at, "%s is listed twice", s)
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

func asKind(k kind, v any) (string, bool) {
	switch k {
	case intKind:
		n, ok := v.(int64)
		return strconv.FormatInt(n, 10), ok
	case stringKind:
		s, ok := v.(string)
		return s, ok
	case durationKind:
		s, ok := v.(string)
		if !ok {
			return "", false
		}
		_, err := time.ParseDuration(s)
		return s, err == nil
	}
	return "", false
}

func example(p param) string {
	switch {
	case p.def != "" && p.kind == intKind:
		return p.def
	case p.def != "":
		return strconv.Quote(p.def)
	case p.kind == intKind:
		return "1, 2"
	}
	return `"…"`
}

// capacity refuses cells that ask a model for more workers than the machine
// can give it, before anything runs.
func (c *checker) capacity(at string, x Experiment) {
	need := 0
	switch x.Workload {
	case "primes":
		need = maxInt(x.Values("workers"))
	case "sleep":
		tasks := maxInt(x.Values("tasks"))
		workers := x.Values("workers")
		if len(workers) == 0 {
			workers = []string{"0"}
		}
		for _, w := range workers {
			n, _ := strconv.Atoi(w)
			if n == 0 || n > tasks {
				n = tasks
			}
			need = max(need, n)
		}
	case "pipeline":
		need = maxInt(x.Values("stages")) + 2
	case "echo":
		// A thread, or a process, per connection being served.
		need = maxInt(x.Values("connections"))
	case "spawn", "hold":
		need = maxInt(x.Values("workers"))
	case "interleave":
		need = maxInt(x.Values("tasks"))
	case "convoy":
		need = maxInt(x.Values("cpu_workers")) + 1
	case "blocking":
		// The loop and its pool: one thread per task when pool is 0.
		need = max(maxInt(x.Values("pool")), maxInt(x.Values("tasks"))) + 1
	}
	for _, name := range x.Models {
		m, _ := findModel(name)
		if m.maxWorkers > 0 && need > m.maxWorkers {
			c.fail(at+".params", "model %q would need %d workers; it allows at most %d (%s)", name, need, m.maxWorkers, m.why)
		}
	}
}

func maxInt(vals []string) int {
	best := 0
	for _, v := range vals {
		n, _ := strconv.Atoi(v)
		best = max(best, n)
	}
	return best
}

func indexParam(ps []param, key string) int {
	for i, p := range ps {
		if p.key == key {
			return i
		}
	}
	return -1
}

func paramNames(ps []param) string {
	var names []string
	for _, p := range ps {
		names = append(names, p.key)
	}
	return quoteAll(names)
}
