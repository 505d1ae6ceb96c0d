package runner

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"concurrency-lab/experiments/workloads/interleave"
	"concurrency-lab/harness/rundir"
)

// parse reads one benchmark process's output: stdout (results, failures,
// configuration lines) and stderr (the cell markers, and what the benchmark
// says) on one goroutine each.
//
// mu guards running, started, got, failing, msgs and tail, which both
// readers touch; s, round, before and total are set before they start.
// settle runs after both readers have returned and reads the fields without
// mu. Lock order: mu before s.mu; progress takes s.mu alone, after mu is
// released.
type parse struct {
	s       *state
	round   int
	before  int // samples of this round taken before this process
	total   int // samples in this round
	mu      sync.Mutex
	running string   // the cell announced last
	started int      // cells announced in this process
	got     []string // cells that produced a result
	failing string   // the cell whose failure (or skip) message is being read
	msgs    map[string][]string
	skipped map[string]bool // cells the benchmark skipped (an absent runtime)
	tail    []string        // the last lines of stderr that were not markers
	// raw holds the interleave orders line (interleave.RawPrefix) printed
	// before a cell's result, kept in bench.txt after that result once it
	// arrives (a failed cell's orders are dropped with it).
	raw map[string]string
}

func (p *parse) stdout(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		switch {
		case strings.HasPrefix(line, "BenchmarkLab/"):
			p.failing = ""
			if name, ok := p.cellName(strings.Fields(line)[0]); ok {
				p.s.mu.Lock()
				p.s.results = append(p.s.results, line)
				if r, ok := p.raw[name]; ok {
					p.s.results = append(p.s.results, r)
					delete(p.raw, name)
				}
				p.s.cells[p.s.byName[name]].samples++
				p.s.taken++
				p.s.mu.Unlock()
				p.got = append(p.got, name)
			}
		case strings.HasPrefix(line, interleave.RawPrefix+" "):
			if f := strings.Fields(strings.TrimPrefix(line, interleave.RawPrefix+" ")); len(f) > 0 {
				if _, known := p.s.byName[f[0]]; known {
					if p.raw == nil {
						p.raw = map[string]string{}
					}
					p.raw[f[0]] = line
				}
			}
		case strings.HasPrefix(line, "--- FAIL: BenchmarkLab/"):
			p.failing, _ = p.cellName(strings.Fields(strings.TrimPrefix(line, "--- FAIL: "))[0])
		case strings.HasPrefix(line, "--- SKIP: BenchmarkLab/"):
			p.failing, _ = p.cellName(strings.Fields(strings.TrimPrefix(line, "--- SKIP: "))[0])
			if p.skipped == nil {
				p.skipped = map[string]bool{}
			}
			p.skipped[p.failing] = true
		case p.failing != "" && (strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "\t")):
			if p.msgs == nil {
				p.msgs = map[string][]string{}
			}
			p.msgs[p.failing] = append(p.msgs[p.failing], strings.TrimSpace(line))
		case isConfigLine(line):
			p.s.mu.Lock()
			if !slices.Contains(p.s.header, line) {
				p.s.header = append(p.s.header, line)
			}
			p.s.mu.Unlock()
		default:
			p.failing = ""
		}
		p.mu.Unlock()
	}
}

// isConfigLine reports a configuration line go test prints before its
// results (benchfmt keeps them with the results that follow).
func isConfigLine(line string) bool {
	for _, k := range []string{"goos: ", "goarch: ", "pkg: ", "cpu: "} {
		if strings.HasPrefix(line, k) {
			return true
		}
	}
	return false
}

// cellName maps "BenchmarkLab/<name>[-N]" to a known cell name.
// (go test omits the suffix when GOMAXPROCS is 1.)
func (p *parse) cellName(bench string) (string, bool) {
	for _, name := range []string{strings.TrimPrefix(bench, "BenchmarkLab/"), trimProcs(strings.TrimPrefix(bench, "BenchmarkLab/"))} {
		if _, ok := p.s.byName[name]; ok {
			return name, true
		}
	}
	return "", false
}

func (p *parse) stderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "lab: start "); ok {
			p.mu.Lock()
			p.running = name
			p.started++
			p.mu.Unlock()
			p.progress(name)
			continue
		}
		p.mu.Lock()
		p.tail = append(p.tail, line)
		if len(p.tail) > 20 {
			p.tail = p.tail[1:]
		}
		p.mu.Unlock()
		p.s.rep.println("  | " + line)
	}
}

func (p *parse) progress(name string) {
	s := p.s
	s.mu.Lock()
	done, left := s.taken, 0
	rounds := 0
	for _, c := range s.cells {
		if c.status == "" {
			reps := c.cell.Reps
			if c.cell.Auto {
				reps = max(reps, min(c.samples+1, c.cell.MaxReps))
			}
			left += max(reps-c.samples, 0)
			rounds = max(rounds, reps)
		}
	}
	s.mu.Unlock()
	s.rep.update(status{round: p.round, rounds: max(rounds, p.round), pos: p.before + p.started, inRound: p.total,
		taken: done, left: left, elapsed: time.Since(s.began), cell: name})
}

// settle records what became of every cell of a finished process.
func (p *parse) settle(cells []int, werr error, killed, interrupted bool) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range cells {
		c := s.cells[i]
		name := c.cell.Name()
		if slices.Contains(p.got, name) {
			continue
		}
		if msg, ok := p.msgs[name]; ok && p.skipped[name] {
			// A runtime the run's preparation found is gone: the
			// benchmark said why it skipped the cell.
			c.err = strings.Join(msg, "\n")
			c.status = rundir.Skipped
			continue
		}
		if msg, ok := p.msgs[name]; ok {
			c.err = strings.Join(msg, "\n")
			c.status = rundir.Failed
			// An execution past its timeout, or workers not ready
			// within it (Measure's two deadlines).
			if strings.Contains(c.err, "timed out after") || strings.Contains(c.err, "not ready within") {
				c.status = rundir.Timeout
			}
			continue
		}
		if name != p.running || interrupted {
			continue // not reached in this process; still pending
		}
		// The process died or was killed while this cell ran.
		switch {
		case killed:
			c.status = rundir.Timeout
			c.err = fmt.Sprintf("the benchmark process was killed after its time budget while this cell ran (%v)", werr)
		default:
			c.status = rundir.Failed
			c.err = fmt.Sprintf("the benchmark process ended while this cell ran: %v; its last output:\n%s", werr, strings.Join(p.tail, "\n"))
		}
	}
}
