package matrix

import (
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// keyLines maps every key path in a TOML document to the line it is defined
// on. Paths look like "defaults.reps", "experiments[1]" (the header of the
// second [[experiments]]) and "experiments[1].params.workers". go-toml's
// decoder reports positions only for keys it rejects, so checks made after
// decoding look lines up here.
func keyLines(data []byte) (map[string]int, error) {
	lines := map[string]int{}
	count := map[string]int{} // array-of-tables path → entries so far
	var p unstable.Parser
	p.Reset(data)
	table := ""
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			path, line := keyPath(&p, e.Key())
			if e.Kind == unstable.ArrayTable {
				n := count[path]
				count[path] = n + 1
				path = fmt.Sprintf("%s[%d]", path, n)
			} else if i := strings.LastIndexByte(path, '.'); i >= 0 {
				// A sub-table of the latest array entry:
				// [experiments.params] belongs to experiments[n].
				if n, ok := count[path[:i]]; ok {
					path = fmt.Sprintf("%s[%d]%s", path[:i], n-1, path[i:])
				}
			}
			table = path
			lines[path] = line
		case unstable.KeyValue:
			keyValueLines(&p, e, table, lines)
		}
	}
	return lines, p.Error()
}

func keyValueLines(p *unstable.Parser, kv *unstable.Node, table string, lines map[string]int) {
	path, line := keyPath(p, kv.Key())
	if table != "" {
		path = table + "." + path
	}
	lines[path] = line
	if v := kv.Value(); v.Kind == unstable.InlineTable {
		for it := v.Children(); it.Next(); {
			keyValueLines(p, it.Node(), path, lines)
		}
	}
}

func keyPath(p *unstable.Parser, it unstable.Iterator) (path string, line int) {
	var parts []string
	for it.Next() {
		k := it.Node()
		if line == 0 {
			line = p.Shape(k.Raw).Start.Line
		}
		parts = append(parts, string(k.Data))
	}
	return strings.Join(parts, "."), line
}

// parent returns the enclosing path of a key path ("" at the top).
func parent(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}
