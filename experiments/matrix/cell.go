package matrix

import (
	"strconv"
	"strings"
	"time"
)

// Cell is one measured configuration: an experiment's workload under one
// model with one value for each parameter.
type Cell struct {
	Experiment string
	Workload   string
	Runtime    Runtime
	Model      string
	// Params holds every parameter the workload and model take, in the
	// schema's order, with defaults filled in.
	Params []Param
	Settings
}

// Param is one parameter's value, as written in the matrix.
type Param struct{ Key, Value string }

// Name is the cell's sub-benchmark name below BenchmarkLab:
// "<experiment>/runtime=<runtime>/model=<model>/<key>=<value>/…", the
// key=value form that benchstat's -col /runtime, -col /model and -row
// /workers project on.
func (c Cell) Name() string {
	var b strings.Builder
	b.WriteString(c.Experiment)
	b.WriteString("/runtime=")
	b.WriteString(c.runtimeName())
	b.WriteString("/model=")
	b.WriteString(c.Model)
	for _, p := range c.Params {
		b.WriteString("/")
		b.WriteString(p.Key)
		b.WriteString("=")
		b.WriteString(p.Value)
	}
	return b.String()
}

func (c Cell) runtimeName() string {
	if c.Runtime.Name == "" {
		return Go.Name
	}
	return c.Runtime.Name
}

// Value returns the value of a parameter, "" if the cell has none.
func (c Cell) Value(key string) string {
	for _, p := range c.Params {
		if p.Key == key {
			return p.Value
		}
	}
	return ""
}

// Int returns an integer parameter; the matrix has checked its syntax.
func (c Cell) Int(key string) int {
	n, _ := strconv.Atoi(c.Value(key))
	return n
}

// Duration returns a duration parameter; the matrix has checked its syntax.
func (c Cell) Duration(key string) time.Duration {
	d, _ := time.ParseDuration(c.Value(key))
	return d
}

// Cells expands every experiment into its cells, in matrix order: experiments
// as listed, then runtimes as listed, then the models each runtime runs, as
// listed, then the product of parameter values with the first parameter
// varying slowest.
func (m *Matrix) Cells() []Cell {
	var cells []Cell
	for _, x := range m.Experiments {
		cells = append(cells, x.Cells()...)
	}
	return cells
}

// Cells expands one experiment.
func (x Experiment) Cells() []Cell {
	w, _ := findWorkload(x.Workload)
	var cells []Cell
	rts := x.Runtimes
	if len(rts) == 0 {
		rts = []Runtime{Go}
	}
	for _, rt := range rts {
		cells = append(cells, x.cellsIn(w, rt)...)
	}
	return cells
}

func (x Experiment) cellsIn(w workloadSpec, rt Runtime) []Cell {
	var cells []Cell
	for _, name := range x.Models {
		if !rt.Runs(name) {
			continue
		}
		m, _ := findModel(name)
		ps := append(append([]param{}, w.params...), m.params...)
		combos := [][]Param{nil}
		for _, p := range ps {
			vals := x.Values(p.key)
			if len(vals) == 0 {
				vals = []string{p.def}
			}
			var next [][]Param
			for _, combo := range combos {
				for _, v := range vals {
					next = append(next, append(append([]Param{}, combo...), Param{p.key, v}))
				}
			}
			combos = next
		}
		for _, combo := range combos {
			cells = append(cells, Cell{Experiment: x.Name, Workload: x.Workload, Runtime: rt, Model: name, Params: combo, Settings: x.Settings})
		}
	}
	return cells
}
