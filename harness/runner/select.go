package runner

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"concurrency-lab/experiments/matrix"
)

// Select expands the experiments of m meant for a run on hardware (a
// declared id, or "" for none: experiments declared for some hardware are
// then left out), with lab run's selections: only the cells whose name
// matches the regular expression only, reps samples each when reps > 0,
// and the smoke sizes when smoke is set. It is an error when no cell is
// left.
func Select(m *matrix.Matrix, hardware, only string, reps int, smoke bool) ([]matrix.Cell, error) {
	var re *regexp.Regexp
	if only != "" {
		var err error
		if re, err = regexp.Compile(only); err != nil {
			return nil, fmt.Errorf("--only: %w", err)
		}
	}
	var cells []matrix.Cell
	for _, x := range m.Experiments {
		if len(x.Hardware) > 0 && !slices.Contains(x.Hardware, hardware) {
			continue // declared for other machines
		}
		if smoke {
			x = x.Smoke(6)
		}
		for _, c := range x.Cells() {
			if re != nil && !re.MatchString(c.Name()) {
				continue
			}
			if reps > 0 {
				c.Reps, c.Auto = reps, false
			}
			cells = append(cells, c)
		}
	}
	if len(cells) == 0 {
		return nil, errors.New("no cell to run (check --only and the experiments' hardware lists)")
	}
	return cells, nil
}
