package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/harness/hw"
)

func TestPlainProgressWritesOneLinePerSample(t *testing.T) {
	t.Setenv("LAB_FAKE_BENCH", "1")
	var out bytes.Buffer
	self, _ := os.Executable()
	_, err := Run(context.Background(), Options{
		MatrixFile: "m.toml", MatrixText: []byte("# fake"), MatrixSHA: "abc",
		Cells: []matrix.Cell{cell("a", "thread", 2), cell("b", "loop", 2)}, HardwareID: "box",
		Machine: hw.Machine{CPUModel: "fake"}, Software: hw.Software{GoVersion: "go1.26"},
		Binary: self, Results: t.TempDir(), RunID: "r1", Seed: 1, Progress: &out, slack: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d progress lines; want 4 (one per sample):\n%s", len(lines), out.String())
	}
	for i, want := range []string{"lab: round 1/2 · cell 1/2 ·", "lab: round 1/2 · cell 2/2 ·", "lab: round 2/2 · cell 1/2 ·", "lab: round 2/2 · cell 2/2 ·"} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q; want it to start with %q", i+1, lines[i], want)
		}
	}
	if strings.Contains(out.String(), "\r") {
		t.Error("plain progress redraws lines (\\r) on a writer that is not a terminal")
	}
}

func TestLiveProgressRedrawsOneLineWithMessagesAbove(t *testing.T) {
	var out bytes.Buffer
	r := newLiveReporter(&out)
	r.update(status{round: 1, rounds: 6, pos: 1, inRound: 10, taken: 0, left: 60, cell: "sleep/model=loop"})
	r.println("  | a warning")
	r.update(status{round: 1, rounds: 6, pos: 2, inRound: 10, taken: 1, left: 59, elapsed: time.Second, cell: "sleep/model=thread"})
	r.close()
	got := out.String()
	for _, want := range []string{"round 1/6 · cell 1/10", "round 1/6 · cell 2/10", "sleep/model=thread", "1/60", "  | a warning\n", "\r"} {
		if !strings.Contains(got, want) {
			t.Errorf("live output lacks %q:\n%q", want, got)
		}
	}
	// The warning stands on a line of its own: what follows it starts a
	// new line rather than being glued to the status line.
	if i := strings.Index(got, "  | a warning"); i > 0 && got[i-1] != '\r' && got[i-1] != '\n' {
		t.Errorf("the warning is glued to the status line:\n%q", got)
	}
}

func TestReporterIsPlainOffATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := newReporter(f).(plainReporter); !ok {
		t.Error("a regular file gets a live status line; want plain lines")
	}
	if _, ok := newReporter(&bytes.Buffer{}).(plainReporter); !ok {
		t.Error("a buffer gets a live status line; want plain lines")
	}
}
