package report

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium returns the path of a Chromium binary, or "" when there is none.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser starts headless Chromium for the test, stopped when it ends.
func browser(t *testing.T, bin string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

// forestState is what the browser sees of a page's forests.
type forestState struct {
	Forests int  `json:"forests"` // figure.forest elements
	Drawn   int  `json:"drawn"`   // their images loaded and drawn
	Wide    bool `json:"wide"`    // the first is drawn at least 300 px wide
	First   bool `json:"first"`   // the first comes before every table
}

const forestJS = `(() => {
	const figs = Array.from(document.querySelectorAll('figure.forest'));
	const imgs = figs.map(f => f.querySelector('img')).filter(i => i);
	const table = document.querySelector('table');
	return {
		forests: figs.length,
		drawn: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
		wide: imgs.length > 0 && imgs[0].getBoundingClientRect().width >= 300,
		first: figs.length > 0 && (!table || !!(figs[0].compareDocumentPosition(table) & Node.DOCUMENT_POSITION_FOLLOWING)),
	};
})()`

// TestForestInBrowser opens the claims page and the index in headless
// Chromium: the forest charts are drawn (their SVGs load and have a size)
// and the first comes before any table.
func TestForestInBrowser(t *testing.T) {
	bctx, srv := siteInBrowser(t, synthResults(t, 3))
	for _, tt := range []struct {
		page    string
		forests int
	}{{"claims.html", 1}, {"index.html", 2}} {
		if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/"+tt.page)); err != nil {
			t.Fatalf("%s: %v", tt.page, err)
		}
		st, err := chromedp.Run(bctx, chromedp.Evaluate[forestState](forestJS))
		if err != nil {
			t.Fatalf("%s: %v", tt.page, err)
		}
		if st.Forests != tt.forests || st.Drawn != tt.forests {
			t.Errorf("%s: %d forests, %d drawn; want %d drawn", tt.page, st.Forests, st.Drawn, tt.forests)
		}
		if !st.Wide {
			t.Errorf("%s: the first forest is drawn less than 300 px wide", tt.page)
		}
		if !st.First {
			t.Errorf("%s: a table comes before the first forest", tt.page)
		}
	}
}

// imagesState is what the browser sees of a page's images.
type imagesState struct {
	Images int      `json:"images"`
	Drawn  int      `json:"drawn"`  // loaded, with a natural width
	Broken []string `json:"broken"` // the others' sources
}

const imagesJS = `(() => {
	const imgs = Array.from(document.querySelectorAll('img'));
	const drawn = imgs.filter(i => i.complete && i.naturalWidth > 0);
	return {images: imgs.length, drawn: drawn.length, broken: imgs.filter(i => !drawn.includes(i)).map(i => i.getAttribute('src'))};
})()`

// TestHistoryInBrowser opens the history page of the synthetic 20-run
// tree in headless Chromium: every chart on it (one per experiment) loads
// and is drawn.
func TestHistoryInBrowser(t *testing.T) {
	bctx, srv := siteInBrowser(t, historyTree(t))
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/history/machine-0.html")); err != nil {
		t.Fatal(err)
	}
	st, err := chromedp.Run(bctx, chromedp.Evaluate[imagesState](imagesJS))
	if err != nil {
		t.Fatal(err)
	}
	if st.Images != len(synthMatrix) || st.Drawn != st.Images {
		t.Errorf("history page: %d images, %d drawn (not drawn: %v); want %d, all drawn", st.Images, st.Drawn, st.Broken, len(synthMatrix))
	}
}

// siteInBrowser builds the site of the results under root, serves it, and
// opens a headless Chromium on it (skipping without one); both end with
// the test.
func siteInBrowser(t *testing.T, root string) (context.Context, *httptest.Server) {
	t.Helper()
	bin := chromium()
	if bin == "" {
		t.Skip("no chromium on PATH")
	}
	site := filepath.Join(t.TempDir(), "site")
	if _, err := Build(Options{Results: root, Out: site}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(site)))
	t.Cleanup(srv.Close)
	return browser(t, bin), srv
}
