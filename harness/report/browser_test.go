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
	bin := chromium()
	if bin == "" {
		t.Skip("no chromium on PATH")
	}
	root := synthResults(t, 3)
	site := filepath.Join(t.TempDir(), "site")
	if _, err := Build(Options{Results: root, Out: site}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(site)))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

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
