package report

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/rundir"
)

//go:embed templates/*.html style.css
var assets embed.FS

// Marker is a file Build writes at the top of the site, so that it replaces
// only a directory it made.
const Marker = ".lab-report"

// Options say where the results are and where the site goes.
type Options struct {
	Results string // the results root, results/<hardware>/<run-id>/
	Out     string // the site's directory; replaced whole
	// Judging are the options of every judgement the site shows (claims,
	// decision guide, compare page); nil means claims.DefaultOptions.
	Judging *claims.Options
	// HistorySmoke keeps smoke runs in the machines' history pages (left
	// out by default: their sizes are capped, so their levels are not the
	// full runs').
	HistorySmoke bool
}

// Built says what Build wrote.
type Built struct {
	Out     string
	Pages   int
	Charts  int
	Runs    int
	Refused []Refusal
}

// Build reads every run under o.Results and writes the site into o.Out. It
// builds the site in a fresh directory beside o.Out and then puts it in
// place, so that stale pages never survive; it refuses to replace a
// non-empty directory it did not make.
func Build(o Options) (*Built, error) {
	s, err := Load(o.Results)
	if err != nil {
		return nil, err
	}
	if o.Judging != nil {
		s.Options = *o.Judging
	}
	if err := checkOut(o.Out); err != nil {
		return nil, err
	}
	parent := filepath.Dir(filepath.Clean(o.Out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(o.Out)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer os.RemoveAll(tmp)
	b, err := s.write(tmp, o)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if err := os.RemoveAll(o.Out); err != nil {
		return nil, fmt.Errorf("report: replace %s: %w", o.Out, err)
	}
	if err := os.Rename(tmp, o.Out); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	b.Out = o.Out
	return b, nil
}

// checkOut refuses to replace a directory that holds files but is not a site
// Build wrote.
func checkOut(out string) error {
	entries, err := os.ReadDir(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("report: --out %s: %w", out, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(out, Marker)); err != nil {
		return fmt.Errorf("report: --out %s holds files and is not a site lab report wrote (no %s): refusing to replace it", out, Marker)
	}
	return nil
}

// prepare computes what the pages show: charts, headline tables, guides and
// claims. Charts are drawn in parallel, one run per worker.
func (s *Site) prepare() {
	var wg sync.WaitGroup
	runs := make(chan *Run)
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for r := range runs {
				for _, x := range r.Experiments {
					x.charts() // flags the charts it could not draw
					x.Flags = append(flags(x, s.Options.HighCV), x.Flags...)
					x.Skipped = skipped(x)
					x.Rows = rows(x, s.Options.ForRun(r.Dir))
				}
			}
		})
	}
	for _, r := range s.Runs {
		runs <- r
	}
	close(runs)
	for i, m := range s.Machines {
		m.Claims = claims.Judge(m.ID, m.judged(), s.Options)
		m.Forest = machineForest(i, m)
		m.Headline = s.headline(m)
		m.Reference = s.reference(m)
		m.Calibration = s.calibration(m)
		m.Convoy = s.convoy(m)
		m.Latest, _ = latestRun(m)
		m.Guide = s.guide(m)
	}
	wg.Wait()
}

// write renders the site into dir.
func (s *Site) write(dir string, o Options) (*Built, error) {
	s.prepare()
	t, err := templates()
	if err != nil {
		return nil, err
	}
	b := &Built{Runs: len(s.Runs), Refused: s.Refused}
	page := func(name, path, title string, data any) error {
		root := strings.Repeat("../", strings.Count(path, "/"))
		var buf bytes.Buffer
		if err := t[name].ExecuteTemplate(&buf, "layout", pageData{Title: title, Root: root, Site: s, Page: data}); err != nil {
			return fmt.Errorf("report: render %s: %w", path, err)
		}
		b.Pages++
		return writeFile(filepath.Join(dir, path), buf.Bytes())
	}
	css, err := assets.ReadFile("style.css")
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, "style.css"), css); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, Marker), []byte("written by lab report; the directory is replaced whole on every build\n")); err != nil {
		return nil, err
	}
	cp := claimsPage{Forest: s.claimsForest(), Claims: s.claimViews()}
	forests := []*Chart{cp.Forest}
	for _, m := range s.Machines {
		forests = append(forests, m.Forest)
	}
	for _, c := range forests {
		if c != nil && c.svg != nil {
			if err := writeFile(filepath.Join(dir, filepath.FromSlash(c.File)), c.svg); err != nil {
				return nil, err
			}
			b.Charts++
		}
	}
	hs := s.histories(o.HistorySmoke)
	ip := indexPage{Histories: map[*Machine]*historyView{}}
	for _, h := range hs {
		ip.Histories[h.Machine] = h
		for _, c := range h.charts {
			if err := writeFile(filepath.Join(dir, "history", filepath.FromSlash(c.File)), c.svg); err != nil {
				return nil, err
			}
			b.Charts++
		}
		if err := page("history", h.File, "History of machine "+h.Machine.ID, h); err != nil {
			return nil, err
		}
	}
	if err := page("index", "index.html", "concurrency-lab report", ip); err != nil {
		return nil, err
	}
	if err := page("claims", "claims.html", "The article's claims", cp); err != nil {
		return nil, err
	}
	if err := page("methodology", "methodology.html", "Methodology", s); err != nil {
		return nil, err
	}
	cv := s.compare()
	for _, p := range cv.Pairs {
		if p.Chart != nil {
			if err := writeFile(filepath.Join(dir, filepath.FromSlash(p.Chart.File)), p.Chart.svg); err != nil {
				return nil, err
			}
			b.Charts++
		}
	}
	if err := page("compare", "compare.html", "Compare machines", cv); err != nil {
		return nil, err
	}
	for _, r := range s.Runs {
		if err := s.writeRun(dir, r, page); err != nil {
			return nil, err
		}
		for _, x := range r.Experiments {
			b.Charts += len(x.Charts)
		}
	}
	return b, nil
}

func (s *Site) writeRun(dir string, r *Run, page func(name, path, title string, data any) error) error {
	rd := filepath.Join(dir, filepath.FromSlash(r.Path))
	for _, f := range []string{rundir.BenchFile, rundir.RunFile, rundir.SummaryFile} {
		data, err := os.ReadFile(filepath.Join(r.Dir.Path, f))
		if err != nil {
			return fmt.Errorf("report: copy %w", err)
		}
		if err := writeFile(filepath.Join(rd, f), data); err != nil {
			return err
		}
	}
	if r.Dir.Run.Matrix.Text != "" {
		if err := writeFile(filepath.Join(rd, "experiments.toml"), []byte(r.Dir.Run.Matrix.Text)); err != nil {
			return err
		}
		r.Matrix = true
	}
	if err := page("run", r.Path+"/index.html", "Run "+r.ID()+" on "+r.Machine, r); err != nil {
		return err
	}
	for _, x := range r.Experiments {
		for _, c := range x.Charts {
			if err := writeFile(filepath.Join(rd, filepath.FromSlash(c.File)), c.svg); err != nil {
				return err
			}
		}
		if err := page("experiment", r.Path+"/"+x.File, x.Name+" — run "+r.ID()+" on "+r.Machine, expView{Run: r, X: x}); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// pageData is what every template receives.
type pageData struct {
	Title string
	Root  string // relative path to the site's top, "" or "../../../"
	Site  *Site
	Page  any
}

var pageNames = []string{"index", "claims", "methodology", "compare", "run", "experiment", "history"}

func templates() (map[string]*template.Template, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(assets, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("report: templates: %w", err)
	}
	out := map[string]*template.Template{}
	for _, n := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(assets, "templates/"+n+".html")
		if err != nil {
			return nil, fmt.Errorf("report: templates: %w", err)
		}
		out[n] = t
	}
	return out, nil
}
