package matrix

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadAndExpand(t *testing.T) {
	m, err := Load("testdata/good.toml")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range m.Cells() {
		names = append(names, c.Name())
	}
	want := []string{
		"article/runtime=go/model=process/split=replicate/n=1000/workers=1/start=cold",
		"article/runtime=go/model=process/split=replicate/n=1000/workers=2/start=cold",
		"article/runtime=go/model=thread-gil/split=replicate/n=1000/workers=1/start=cold/switch_interval=5ms",
		"article/runtime=go/model=thread-gil/split=replicate/n=1000/workers=2/start=cold/switch_interval=5ms",
		"naps/runtime=go/model=loop/tasks=10/sleep_ms=1/workers=0/start=warm",
		"naps/runtime=uv/model=loop/tasks=10/sleep_ms=1/workers=0/start=warm",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("cell names (-want +got):\n%s", diff)
	}
	cells := m.Cells()
	if got := cells[0].Settings; got != (Settings{Reps: 3, TargetCI: 0.02, MaxReps: 30, Benchtime: "1x", Timeout: 2 * time.Minute}) {
		t.Errorf("article settings = %+v; want reps 3 from [defaults], timeout 2m", got)
	}
	if got := cells[4].Settings; got != (Settings{Reps: 7, TargetCI: 0.02, MaxReps: 30, Warmup: 1, Benchtime: "1x", Timeout: 10 * time.Minute}) {
		t.Errorf("naps settings = %+v; want reps 7, built-in timeout 10m", got)
	}
	if cells[1].Int("workers") != 2 || cells[2].Duration("switch_interval") != 5*time.Millisecond {
		t.Errorf("typed access: workers %d, switch_interval %v", cells[1].Int("workers"), cells[2].Duration("switch_interval"))
	}
	if got, want := cells[5].Runtime, (Runtime{Name: "uv", Kind: KindCPython, Python: "python3", EventLoop: "uvloop", StartMethod: "fork"}); got != want {
		t.Errorf("naps' second runtime = %+v; want %+v", got, want)
	}
	if cells[0].Runtime != Go {
		t.Errorf("article's runtime = %+v; want the built-in go", cells[0].Runtime)
	}
	if len(m.SHA256) != 64 {
		t.Errorf("SHA256 = %q; want 64 hex digits", m.SHA256)
	}
}

// TestTheRepositoryMatrix keeps the default matrix valid.
func TestTheRepositoryMatrix(t *testing.T) {
	m, err := Load("../../experiments.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Cells()) == 0 {
		t.Error("the default matrix has no cells")
	}
}

const base = `[[experiments]]
name = "x"
workload = "primes"
models = ["thread"]
[experiments.params]
workers = [2]
`

func TestErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		line      int
		key, msg  string
	}{
		{"unknown top key", "modle = 1\n" + base, 1, "modle", "unknown key"},
		{"unknown experiment key", strings.Replace(base, `models = ["thread"]`, `modles = ["thread"]`, 1), 4, "experiments.modles", "unknown key"},
		{"wrong type", strings.Replace(base, `name = "x"`, `name = 3`, 1), 2, "experiments.name", "toml:"},
		{"syntax", "[[experiments]\n", 1, "", "toml:"},
		{"no experiments", "[defaults]\nreps = 2\n", 0, "experiments", "no experiments"},
		{"reps below 1", "[defaults]\nreps = 0\n" + base, 2, "defaults.reps", "reps ≥ 1"},
		{"bad benchtime", strings.Replace(base, "[experiments.params]", "benchtime = \"fast\"\n[experiments.params]", 1), 5, "experiments[0].benchtime", "fast"},
		{"bad timeout", strings.Replace(base, "[experiments.params]", "timeout = \"-1s\"\n[experiments.params]", 1), 5, "experiments[0].timeout", "positive duration"},
		{"bad name", strings.Replace(base, `name = "x"`, `name = "a/b"`, 1), 2, "experiments[0].name", "letters, digits"},
		{"unknown workload", strings.Replace(base, `"primes"`, `"prims"`, 1), 3, "experiments[0].workload", `"prims" is not a workload`},
		{"unknown model", strings.Replace(base, `["thread"]`, `["thred"]`, 1), 4, "experiments[0].models", `"thred" is not a model`},
		{"no models", strings.Replace(base, `["thread"]`, `[]`, 1), 4, "experiments[0].models", "no models"},
		{"model twice", strings.Replace(base, `["thread"]`, `["thread", "thread"]`, 1), 4, "experiments[0].models", "listed twice"},
		{"model without the workload", "[[experiments]]\nname = \"b\"\nworkload = \"blocking\"\nmodels = [\"thread\"]\n[experiments.params]\ntasks = [2]\n", 4, "experiments[0].models", `workload "blocking" runs only under "loop", not "thread"`},
		{"bad offload", "[[experiments]]\nname = \"b\"\nworkload = \"blocking\"\nmodels = [\"loop\"]\n[experiments.params]\ntasks = [2]\noffload = [\"elsewhere\"]\n", 7, "experiments[0].params.offload", `"elsewhere" is not one of`},
		{"native has no spawn", "[runtimes.c]\ncc = \"cc\"\n[[experiments]]\nname = \"s\"\nworkload = \"spawn\"\nmodels = [\"thread\"]\nruntimes = [\"c\"]\n[experiments.params]\nworkers = [2]\n", 7, "experiments[0].runtimes", `has no "spawn" workload`},
		{"param not taken", base + "tasks = [3]\n", 7, "experiments[0].params.tasks", `takes no parameter "tasks"`},
		{"model param without the model", base + "switch_interval = [\"1ms\"]\n", 7, "experiments[0].params.switch_interval", `takes no parameter`},
		{"empty list", base + "n = []\n", 7, "experiments[0].params.n", "empty list"},
		{"not a list", base + "n = 5\n", 7, "experiments[0].params.n", "want a list"},
		{"wrong element type", base + "n = [\"many\"]\n", 7, "experiments[0].params.n", "want an integer"},
		{"workers below 1", strings.Replace(base, "workers = [2]", "workers = [2, 0]", 1), 6, "experiments[0].params.workers", "below the least"},
		{"n below 2", base + "n = [1]\n", 7, "experiments[0].params.n", "below the least"},
		{"bad split", base + "split = [\"halves\"]\n", 7, "experiments[0].params.split", `"halves" is not one of`},
		{"duplicate value", base + "n = [10, 10]\n", 7, "experiments[0].params.n", "listed twice"},
		{"missing required", strings.Replace(base, "workers = [2]", "n = [10]", 1), 5, "experiments[0].params", `"workers" is required`},
		{"bad duration", strings.Replace(base, `["thread"]`, `["thread-gil"]`, 1) + "switch_interval = [\"soon\"]\n", 7, "experiments[0].params.switch_interval", "duration"},
		{"too many processes", strings.Replace(strings.Replace(base, `["thread"]`, `["process"]`, 1), "workers = [2]", "workers = [5000]", 1), 5, "experiments[0].params", "at most 1024"},
		{"too many sleeping processes", "[[experiments]]\nname = \"s\"\nworkload = \"sleep\"\nmodels = [\"process\"]\nparams = { tasks = [10000] }\n", 5, "experiments[0].params", "would need 10000 workers"},
		{"reps word", strings.Replace(base, "[experiments.params]", "reps = \"many\"\n[experiments.params]", 1), 5, "experiments[0].reps", `"many": want a number of samples or "auto"`},
		{"min_reps below 6", strings.Replace(base, "[experiments.params]", "reps = \"auto\"\nmin_reps = 3\n[experiments.params]", 1), 6, "experiments[0].min_reps", "min_reps ≥ 6"},
		{"max below min", strings.Replace(base, "[experiments.params]", "reps = \"auto\"\nmax_reps = 4\n[experiments.params]", 1), 6, "experiments[0].max_reps", "max_reps ≥ min_reps"},
		{"target_ci", strings.Replace(base, "[experiments.params]", "target_ci = 2.0\n[experiments.params]", 1), 5, "experiments[0].target_ci", "in (0, 1)"},
		{"warmup", strings.Replace(base, "[experiments.params]", "warmup = -1\n[experiments.params]", 1), 5, "experiments[0].warmup", "warmup ≥ 0"},
		{"undeclared hardware", strings.Replace(base, "[experiments.params]", "hardware = [\"big\"]\n[experiments.params]", 1), 5, "experiments[0].hardware", `"big" is not declared`},
		{"hardware cpus", "[hardware.small]\ncpus = 0\nmemory_gib = 4\n" + base, 2, "hardware.small.cpus", "cpus ≥ 1"},
		{"hardware memory", "[hardware.small]\ncpus = 1\n" + base, 1, "hardware.small.memory_gib", "in GiB"},
		{"hardware regexp", "[hardware.small]\ncpus = 1\nmemory_gib = 4\ncpu_model = \"(\"\n" + base, 4, "hardware.small.cpu_model", "not a regular expression"},
		{"hardware affinity syntax", "[hardware.small]\ncpus = 1\nmemory_gib = 4\naffinity = \"3-1\"\n" + base, 4, "hardware.small.affinity", "not a CPU list"},
		{"hardware affinity size", "[hardware.small]\ncpus = 1\nmemory_gib = 4\naffinity = \"0-1\"\n" + base, 4, "hardware.small.affinity", "lists 2 CPUs but cpus = 1"},
		{"hardware unknown key", "[hardware.small]\ncpus = 1\nmemory_gib = 4\ncores = 2\n" + base, 4, "hardware.small.cores", "unknown key"},
		{"slurm unknown key", "[hardware.small]\ncpus = 1\nmemory_gib = 4\n[hardware.small.slurm]\npartition = \"p\"\nqueue = \"q\"\n" + base, 6, "hardware.small.slurm.queue", "unknown key"},
		{"slurm without partition", "[hardware.small]\ncpus = 1\nmemory_gib = 4\n[hardware.small.slurm]\nconstraint = \"c\"\n" + base, 4, "hardware.small.slurm.partition", "missing"},
		{"slurm time limit", "[hardware.small]\ncpus = 1\nmemory_gib = 4\n[hardware.small.slurm]\npartition = \"p\"\ntime_limit = \"2 hours\"\n" + base, 6, "hardware.small.slurm.time_limit", "at least a minute"},
		{"slurm name with a space", "[hardware.small]\ncpus = 1\nmemory_gib = 4\n[hardware.small.slurm]\npartition = \"a b\"\n" + base, 5, "hardware.small.slurm.partition", "without spaces"},
		{"runtime unknown key", "[runtimes.py]\npython = \"python3\"\ninterpreter = \"x\"\n" + base, 3, "runtimes.py.interpreter", "unknown key"},
		{"runtime not declared", strings.Replace(base, "[experiments.params]", "runtimes = [\"go\", \"pypy\"]\n[experiments.params]", 1), 5, "experiments[0].runtimes", `"pypy" is not declared in a [runtimes.pypy] table`},
		{"runtime neither", "[runtimes.py]\nstart_method = \"fork\"\n" + base, 1, "runtimes.py", "want python"},
		{"runtime both", "[runtimes.py]\npython = \"python3\"\ncc = \"cc\"\n" + base, 1, "runtimes.py", "both python and cc"},
		{"runtime go reserved", "[runtimes.go]\ncc = \"cc\"\n" + base, 1, "runtimes.go", "built-in"},
		{"event_loop value", "[runtimes.py]\npython = \"python3\"\nevent_loop = \"trio\"\n" + base, 3, "runtimes.py.event_loop", `"trio": want "asyncio" or "uvloop"`},
		{"event_loop on native", "[runtimes.c]\ncc = \"cc\"\nevent_loop = \"uvloop\"\n" + base, 3, "runtimes.c.event_loop", "only a CPython runtime"},
		{"event_loop on a non-loop cell", "[runtimes.uv]\npython = \"python3\"\nevent_loop = \"uvloop\"\n" + strings.Replace(base, "[experiments.params]", "runtimes = [\"uv\"]\n[experiments.params]", 1), 8, "experiments[0].runtimes", "only loop cells use"},
		{"start_method value", "[runtimes.py]\npython = \"python3\"\nstart_method = \"vfork\"\n" + base, 3, "runtimes.py.start_method", `"vfork"`},
		{"runtime without the models", "[runtimes.c]\ncc = \"cc\"\n" + strings.Replace(strings.Replace(base, `["thread"]`, `["goroutine"]`, 1), "[experiments.params]", "runtimes = [\"c\"]\n[experiments.params]", 1), 7, "experiments[0].runtimes", `runs none of the models "goroutine"`},
		{"runtime twice", strings.Replace(base, "[experiments.params]", "runtimes = [\"go\", \"go\"]\n[experiments.params]", 1), 5, "experiments[0].runtimes", "listed twice"},
		{"duplicate experiment", base + "\n" + strings.Replace(base, "[experiments.params]\nworkers = [2]\n", "", 1) + "params = { workers = [1] }\n", 9, "experiments[1].name", "already defined at line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("m.toml", []byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded; want an error about %s", tt.key)
			}
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %v (%T) is not a *matrix.Error", err, err)
			}
			if me.Line != tt.line || me.Key != tt.key || !strings.Contains(me.Msg, tt.msg) {
				t.Errorf("error = %q (line %d, key %q); want line %d, key %q, message containing %q", err, me.Line, me.Key, tt.line, tt.key, tt.msg)
			}
			prefix := "m.toml:"
			if tt.line > 0 {
				prefix += strconv.Itoa(tt.line) + ":"
			}
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not start with %q", err, prefix)
			}
		})
	}
}

func TestRepsAuto(t *testing.T) {
	doc := strings.Replace(base, "[experiments.params]", "reps = \"auto\"\ntarget_ci = 0.05\nmax_reps = 12\n[experiments.params]", 1)
	m, err := Parse("m.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	got := m.Experiments[0].Settings
	if !got.Auto || got.Reps != 6 || got.MaxReps != 12 || got.TargetCI != 0.05 {
		t.Errorf("settings = %+v; want auto, 6 to 12 reps, target 5%%", got)
	}
}

func TestHardware(t *testing.T) {
	doc := "[hardware.lab]\ncpus = 2\nmemory_gib = 24\ncpu_model = \"Xeon\"\naffinity = \"0,1\"\n" +
		"[hardware.lab.slurm]\npartition = \"lab\"\nconstraint = \"epyc\"\ntime_limit = \"90m\"\n" +
		strings.Replace(base, "[experiments.params]", "hardware = [\"lab\"]\n[experiments.params]", 1)
	m, err := Parse("m.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Hardware["lab"]
	if h.CPUs != 2 || h.MemoryGiB != 24 || !h.CPUModel.MatchString("Intel Xeon") || !slices.Equal(h.Affinity, []int{0, 1}) {
		t.Errorf("hardware = %+v", h)
	}
	if want := (Slurm{Partition: "lab", Constraint: "epyc", TimeLimit: 90 * time.Minute}); h.Slurm == nil || *h.Slurm != want {
		t.Errorf("slurm = %+v; want %+v", h.Slurm, want)
	}
	if !slices.Equal(m.Experiments[0].Hardware, []string{"lab"}) {
		t.Errorf("experiment hardware = %v; want [lab]", m.Experiments[0].Hardware)
	}
}

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{"0": {0}, "0-3": {0, 1, 2, 3}, "4,0-1": {0, 1, 4}, " 2 , 5-6": {2, 5, 6}} {
		got, err := ParseCPUList(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseCPUList(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "a", "3-1", "1,1", "-1", "0-"} {
		if _, err := ParseCPUList(in); err == nil {
			t.Errorf("ParseCPUList(%q) succeeded; want an error", in)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/absent.toml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v; want an error wrapping os.ErrNotExist", err)
	}
}

func TestAllErrorsReported(t *testing.T) {
	doc := strings.Replace(base, "workers = [2]", "workers = [0]\nn = [1]", 1)
	_, err := Parse("m.toml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), "params.workers") || !strings.Contains(err.Error(), "params.n") {
		t.Errorf("error = %v; want both the workers and the n problem", err)
	}
}

func TestSmoke(t *testing.T) {
	m, err := Load("../../experiments.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range m.Experiments {
		y := x.Smoke(6)
		cells := y.Cells()
		pairs := 0 // (runtime, model) pairs that exist
		for _, rt := range x.Runtimes {
			for _, m := range x.Models {
				if rt.Runs(m) {
					pairs++
				}
			}
		}
		if len(cells) != pairs {
			t.Errorf("%s: smoke has %d cells; want one per model of each runtime (%d)", x.Name, len(cells), pairs)
		}
		for _, c := range cells {
			if c.Reps != 6 {
				t.Errorf("%s: reps %d; want 6", c.Name(), c.Reps)
			}
			for key, cap := range smokeCaps {
				if v := c.Value(key); v != "" && c.Int(key) > cap {
					t.Errorf("%s: %s = %d above the smoke cap %d", c.Name(), key, c.Int(key), cap)
				}
			}
		}
	}
	x := Experiment{Name: "x", Workload: "primes", Models: []string{"loop"},
		Params: map[string][]string{"workers": {"4", "1", "2"}, "split": {"partition", "replicate"}}}
	got := x.Smoke(6).Cells()[0].Name()
	if want := "x/runtime=go/model=loop/split=partition/n=20000/workers=1/start=warm"; got != want {
		t.Errorf("smoke cell = %s; want %s", got, want)
	}
}

// TestErrorsInLineOrder: a matrix with several errors gives the same
// message every time, its errors in the order of their lines, although some
// checks walk maps.
func TestErrorsInLineOrder(t *testing.T) {
	src := `[[experiments]]
name = "x"
workload = "sleep"
models = ["thread"]
[experiments.params]
tasks = [-1]
sleep_ms = [-5]
workers = [-2]
`
	var first string
	for i := range 20 {
		_, err := Parse("m.toml", []byte(src))
		if err == nil {
			t.Fatal("a matrix with three bad values parsed")
		}
		if i == 0 {
			first = err.Error()
			var lines []int
			for _, l := range strings.Split(first, "\n") {
				n, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(l, "m.toml:"), ":", 2)[0])
				lines = append(lines, n)
			}
			if len(lines) != 3 || !slices.IsSorted(lines) {
				t.Errorf("errors on lines %v; want three, in order:\n%s", lines, first)
			}
		} else if err.Error() != first {
			t.Fatalf("parse %d gave\n%s\nthen\n%s", i+1, first, err)
		}
	}
}

// TestCPURange: "LO..cpus" expands to LO … the CPUs the run may use, merged
// with the other values; its LO is checked like any value.
func TestCPURange(t *testing.T) {
	doc := strings.Replace(base, "workers = [2]", `workers = [1, 2, 4, "1..cpus"]`+"\nsplit = [\"partition\"]", 1)
	m, err := Parse("m.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cpus int
		want []int
	}{{1, []int{1, 2, 4}}, {2, []int{1, 2, 4}}, {6, []int{1, 2, 4, 3, 5, 6}}} {
		m.SetCPUs(tt.cpus)
		var got []int
		for _, c := range m.Cells() {
			got = append(got, c.Int("workers"))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("on %d CPUs: workers %v; want %v", tt.cpus, got, tt.want)
		}
	}
	_, err = Parse("m.toml", []byte(strings.Replace(base, "workers = [2]", `workers = ["0..cpus"]`, 1)))
	if err == nil || !strings.Contains(err.Error(), `"0..cpus": 0 is below the least allowed, 1`) {
		t.Errorf("0..cpus: %v; want an error naming it", err)
	}
}
