package diff

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"concurrency-lab/experiments/runtimes"
	"concurrency-lab/harness/rundir"
)

func TestSettingNamesRuntimeChanges(t *testing.T) {
	py := func(v string) runtimes.Identity {
		return runtimes.Identity{Runtime: "cpython", Kind: "cpython", Executable: "/usr/bin/python3", Version: v}
	}
	cc := runtimes.Identity{Runtime: "native", Kind: "native", CC: "cc", CCVersion: "cc 12.2.0"}
	a := rundir.Run{Runtimes: []runtimes.Identity{py("3.11.2"), cc}}
	// The same runtimes listed in another order are no difference.
	if got := Setting(a, rundir.Run{Runtimes: []runtimes.Identity{cc, py("3.11.2")}}); len(got) != 0 {
		t.Errorf("reordered runtimes: %v; want no difference", got)
	}
	got := Setting(a, rundir.Run{Runtimes: []runtimes.Identity{cc, py("3.12.1")}})
	var paths []string
	for _, c := range got {
		paths = append(paths, c.Path+": "+string(c.A)+" → "+string(c.B))
	}
	if diff := cmp.Diff([]string{`runtimes[0].version: "3.11.2" → "3.12.1"`}, paths); diff != "" {
		t.Errorf("setting (-want +got):\n%s", diff)
	}
}
