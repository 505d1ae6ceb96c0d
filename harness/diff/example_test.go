package diff_test

import (
	"fmt"

	"concurrency-lab/harness/diff"
)

// Cells compares samples given directly; Compare does the same for two run
// directories, matching cells by name.
func ExampleCells() {
	base := []float64{1.00, 1.01, 0.99, 1.02, 0.98, 1.00}
	twice := []float64{2.00, 2.02, 1.98, 2.04, 1.96, 2.00}
	r := diff.Cells([]diff.Input{
		{Name: "article/model=thread", A: base, B: twice},
		{Name: "article/model=process", A: base, B: base},
		{Name: "article/model=loop", A: base[:3], B: base[:3]},
	}, diff.DefaultOptions)
	for _, c := range r.Cells {
		fmt.Println(c.Name, c.Verdict)
	}
	// Output:
	// article/model=thread slower
	// article/model=process same
	// article/model=loop untestable
}
