package diff

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	gocmp "github.com/google/go-cmp/cmp"

	"concurrency-lab/experiments/runtimes"
	"concurrency-lab/harness/hw"
	"concurrency-lab/harness/rundir"
)

// Change is one difference between the settings of two runs.
type Change struct {
	// Path names the field by its JSON names, e.g.
	// "hardware.detected.logical_cpus", "software.go_version",
	// "matrix.lines[12]" (a line of the matrix file, 1-based).
	Path string `json:"path"`
	// A and B are the values, as JSON; null when the value is absent on
	// that side (a line only in one matrix, a missing declaration).
	A json.RawMessage `json:"a"`
	B json.RawMessage `json:"b"`
}

// setting is what Setting compares: everything about how a run was obtained
// that can explain a difference in its numbers. The run's id, times and
// seed are left out: they always differ and explain nothing.
type setting struct {
	Hardware rundir.RunHardware `json:"hardware"`
	Software hw.Software        `json:"software"`
	Matrix   matrixSetting      `json:"matrix"`
	Options  rundir.RunOptions  `json:"options"`
	Complete bool               `json:"complete"`
	Cells    int                `json:"cells"`
	// Runtimes are the reference runtimes (CPython, C) as each run found
	// them: an interpreter or compiler upgrade is a setting difference.
	Runtimes []runtimes.Identity `json:"runtimes"`
}

type matrixSetting struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	// Lines is the matrix text by line, so that an edit shows as the lines
	// it touched rather than as two whole files.
	Lines lines `json:"lines"`
}

type lines []string

func settingOf(r rundir.Run) setting {
	return setting{
		Hardware: r.Hardware, Software: r.Software, Options: r.Options,
		Complete: r.Complete, Cells: r.Cells,
		// By name: the order runs list them in says nothing.
		Runtimes: slices.SortedFunc(slices.Values(r.Runtimes), func(a, b runtimes.Identity) int { return strings.Compare(a.Runtime, b.Runtime) }),
		Matrix: matrixSetting{File: r.Matrix.File, SHA256: r.Matrix.SHA256,
			Lines: strings.Split(r.Matrix.Text, "\n")},
	}
}

// Setting lists the differences between two runs' declared and detected
// hardware, software, options and matrix, in a stable order (fields in
// declaration order, slices by an edit script, map keys sorted).
func Setting(a, b rundir.Run) []Change {
	var rep reporter
	gocmp.Equal(settingOf(a), settingOf(b), gocmp.Reporter(&rep))
	if rep.changes == nil {
		return []Change{}
	}
	return rep.changes
}

// reporter is a go-cmp Reporter that records each unequal leaf with a path
// spelled in JSON names; cmp.Diff's own text is deliberately unstable.
type reporter struct {
	path    gocmp.Path
	changes []Change
}

func (r *reporter) PushStep(ps gocmp.PathStep) { r.path = append(r.path, ps) }
func (r *reporter) PopStep()                   { r.path = r.path[:len(r.path)-1] }

func (r *reporter) Report(res gocmp.Result) {
	if res.Equal() {
		return
	}
	vx, vy := r.path.Last().Values()
	r.changes = append(r.changes, Change{Path: jsonPath(r.path), A: rawValue(vx), B: rawValue(vy)})
}

// jsonPath spells a cmp path with the JSON names of its fields.
func jsonPath(p gocmp.Path) string {
	var b strings.Builder
	for i, step := range p {
		switch s := step.(type) {
		case gocmp.StructField:
			name := s.Name()
			if i > 0 {
				if t := p[i-1].Type(); t.Kind() == reflect.Struct {
					if tag := t.Field(s.Index()).Tag.Get("json"); tag != "" {
						if n, _, _ := strings.Cut(tag, ","); n != "" && n != "-" {
							name = n
						}
					}
				}
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(name)
		case gocmp.SliceIndex:
			ix, iy := s.SplitKeys()
			k := iy
			if ix >= 0 {
				k = ix
			}
			if s.Type() == reflect.TypeFor[string]() && p[i-1].Type() == reflect.TypeFor[lines]() {
				k++ // matrix lines are 1-based, like an editor's
			}
			if ix >= 0 && iy >= 0 && ix != iy {
				fmt.Fprintf(&b, "[%d→%d]", ix, iy)
			} else {
				fmt.Fprintf(&b, "[%d]", k)
			}
		case gocmp.MapIndex:
			fmt.Fprintf(&b, "[%v]", s.Key())
		}
	}
	return b.String()
}

func rawValue(v reflect.Value) json.RawMessage {
	if !v.IsValid() {
		return json.RawMessage("null")
	}
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return json.RawMessage("null")
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		b, _ = json.Marshal(fmt.Sprint(v.Interface()))
	}
	return b
}
