package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// findChromium returns the path of a Chromium binary, or "" when there is
// none (a dev machine; CI installs Debian's chromium).
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestReportInBrowser builds the site from a real smoke run and drives
// headless Chromium over every page: each page and file loads (no 404), every
// image is drawn, no request leaves 127.0.0.1, the console shows no error,
// and the index's screenshot is not blank.
func TestReportInBrowser(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		t.Skip("no chromium on PATH: the browser test needs Debian's chromium package (.ci/run installs it)")
	}
	lab := buildLab(t)
	results := t.TempDir()
	cmd := exec.Command(lab, "run", "--smoke", "--out", results)
	cmd.Dir = repoRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("lab run --smoke: %v\n%s", err, stderr.String())
	}
	site := filepath.Join(t.TempDir(), "public")
	// In process: main.go's command map is the lead's to register.
	if err := reportCmd(context.Background(), []string{"--results", results, "--out", site}, io.Discard, io.Discard); err != nil {
		t.Fatalf("lab report: %v", err)
	}

	var mu sync.Mutex
	var problems []string
	var current string // the path being visited, for messages; under mu
	problem := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, current+": "+fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	files := http.FileServer(http.Dir(site))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat(filepath.Join(site, filepath.FromSlash(r.URL.Path))); err != nil {
			problem("server: %s: not found", r.URL.Path)
		}
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	err := chromedp.Listen(bctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			u := ev.Request.URL
			if !strings.HasPrefix(u, srv.URL+"/") && !strings.HasPrefix(u, "data:") {
				problem("request leaves the machine: %s", u)
			}
		case *network.EventResponseReceived:
			if ev.Response.Status >= 400 {
				problem("%s: HTTP %d", ev.Response.URL, ev.Response.Status)
			}
		case *network.EventLoadingFailed:
			if !ev.Canceled {
				problem("a request failed: %s", ev.ErrorText)
			}
		case *runtime.EventExceptionThrown:
			problem("uncaught exception: %s", ev.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				problem("console.%s", ev.Type)
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				problem("console %s: %s %s", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	// Crawl every same-origin link from the index.
	seen := map[string]bool{}
	queue := []string{srv.URL + "/index.html"}
	pages := 0
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		if seen[u] {
			continue
		}
		seen[u] = true
		mu.Lock()
		current = strings.TrimPrefix(u, srv.URL)
		mu.Unlock()
		if !strings.HasSuffix(u, ".html") {
			// Raw files (bench.txt, run.json, experiments.toml) may be
			// downloads rather than pages: fetch them from the page that
			// links them.
			status, err := chromedp.Run(bctx, chromedp.Evaluate[int](
				fmt.Sprintf("fetch(%q).then(r => r.status)", u), chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatalf("fetch %s: %v", u, err)
			}
			if status != http.StatusOK {
				t.Errorf("%s: HTTP %d", u, status)
			}
			continue
		}
		resp, err := chromedp.Run(bctx, chromedp.NavigateResponse(u))
		if err != nil {
			t.Fatalf("navigate %s: %v", u, err)
		}
		if resp.Status != http.StatusOK {
			t.Errorf("%s: HTTP %d", u, resp.Status)
		}
		pages++
		broken, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](
			`Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)`))
		if err != nil {
			t.Fatalf("%s: images: %v", u, err)
		}
		for _, b := range broken {
			t.Errorf("%s: image not drawn: %s", u, b)
		}
		links, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll('a[href]'), a => a.href)`))
		if err != nil {
			t.Fatalf("%s: links: %v", u, err)
		}
		for _, l := range links {
			if !strings.HasPrefix(l, srv.URL+"/") {
				t.Errorf("%s: link leaves the site: %s", u, l)
				continue
			}
			l, _, _ = strings.Cut(l, "#")
			queue = append(queue, l)
		}
	}
	// index, claims, methodology, one run page and its experiments.
	if pages < 5 {
		t.Errorf("crawled %d pages; want at least 5", pages)
	}
	t.Logf("crawled %d URLs (%d pages)", len(seen), pages)

	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/index.html")); err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b := img.Bounds()
	dark := 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r+g+bl < 3*0xC000 {
				dark++
			}
		}
	}
	if dark < 500 {
		t.Errorf("index screenshot (%dx%d) has %d dark pixels (sampled); want a page with text", b.Dx(), b.Dy(), dark)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
}
