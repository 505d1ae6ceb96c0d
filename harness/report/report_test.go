package report

import (
	"html"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var refRE = regexp.MustCompile(`(?:href|src)="([^"]*)"`)
var idRE = regexp.MustCompile(` id="([^"]*)"`)

// checkLinks checks that every href and src of every page of the site at
// dir is local and resolves to a file (and its #fragment to an id), and
// returns the pages.
func checkLinks(t *testing.T, dir string) []string {
	t.Helper()
	var pages []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".html") {
			pages = append(pages, p)
		}
		return err
	})
	ids := map[string]map[string]bool{}
	idsOf := func(p string) map[string]bool {
		if ids[p] == nil {
			ids[p] = map[string]bool{}
			b, _ := os.ReadFile(p)
			for _, m := range idRE.FindAllStringSubmatch(string(b), -1) {
				ids[p][html.UnescapeString(m[1])] = true
			}
		}
		return ids[p]
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range refRE.FindAllStringSubmatch(string(b), -1) {
			ref := html.UnescapeString(m[1])
			if ref == "data:," {
				continue
			}
			u, err := url.Parse(ref)
			if err != nil || u.Scheme != "" || u.Host != "" {
				t.Errorf("%s: link %q is not a relative path", p, ref)
				continue
			}
			target := p
			if u.Path != "" {
				target = filepath.Join(filepath.Dir(p), filepath.FromSlash(u.Path))
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s: link %q: %v", p, ref, err)
				continue
			}
			if u.Fragment != "" && !idsOf(target)[u.Fragment] {
				t.Errorf("%s: link %q: no id %q in %s", p, ref, u.Fragment, target)
			}
		}
	}
	return pages
}

func TestBuildLinksResolve(t *testing.T) {
	root := synthResults(t, 3)
	out := filepath.Join(t.TempDir(), "site")
	b, err := Build(Options{Results: root, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	pages := checkLinks(t, out)
	// index, claims, methodology, compare, a history page per machine (2)
	// + per run: its page and 6 experiments.
	if want := 4 + 2 + 3*(1+len(synthMatrix)); len(pages) != want || b.Pages != want {
		t.Errorf("Build wrote %d pages (found %d); want %d", b.Pages, len(pages), want)
	}
	if b.Charts == 0 {
		t.Errorf("Build drew no chart")
	}
	claims, err := os.ReadFile(filepath.Join(out, "claims.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"seed 20261125", "no data: no complete run on this machine has these cells", "interleave, models loop and thread", "judged on:</strong> the Go emulation (this run has no CPython cells for it)", "machine-0", "machine-1"} {
		if !strings.Contains(string(claims), want) {
			t.Errorf("claims.html does not say %q", want)
		}
	}
	// A rebuild replaces the site; a directory it did not write is refused.
	if _, err := Build(Options{Results: root, Out: out}); err != nil {
		t.Errorf("rebuild: %v", err)
	}
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o644)
	if _, err := Build(Options{Results: root, Out: foreign}); err == nil {
		t.Errorf("Build into a directory of other files: no error; want a refusal")
	}
	if _, err := os.Stat(filepath.Join(foreign, "notes.txt")); err != nil {
		t.Errorf("Build removed a file it did not write: %v", err)
	}
}

// TestHostileResultsEscaped builds a site from a run whose hostname, CPU
// model and hardware id are HTML; no page may contain them unescaped.
func TestHostileResultsEscaped(t *testing.T) {
	root := t.TempDir()
	const host = `<script>alert("host")</script>`
	const cpu = `"><img src=x onerror=alert(1)>`
	writeSynthRun(t, root, `hw<b>bold&"q"`, "run1", host, cpu, 1) // one path segment: no slash
	out := filepath.Join(t.TempDir(), "site")
	if _, err := Build(Options{Results: root, Out: out}); err != nil {
		t.Fatal(err)
	}
	if pages := checkLinks(t, out); len(pages) < 4 {
		t.Fatalf("site has %d pages; want the run's pages too", len(pages))
	}
	found := map[string]bool{}
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".html") {
			return err
		}
		b, _ := os.ReadFile(p)
		s := string(b)
		for _, bad := range []string{"<script", "<img src=x", "<b>bold"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s contains %q unescaped", p, bad)
			}
		}
		if strings.Contains(s, "&lt;script&gt;alert(&#34;host&#34;)&lt;/script&gt;") {
			found["host"] = true
		}
		if strings.Contains(s, "hw&lt;b&gt;bold&amp;&#34;q&#34;") {
			found["hw"] = true
		}
		return nil
	})
	if !found["host"] || !found["hw"] {
		t.Errorf("escaped hostname shown: %v, escaped hardware id shown: %v; want both shown, escaped", found["host"], found["hw"])
	}
}

// TestRefusedRuns builds a site from one good run, one with a corrupt
// summary.json and one of an unknown schema: the bad ones are refused, named,
// and the good one is built.
func TestRefusedRuns(t *testing.T) {
	root := t.TempDir()
	writeSynthRun(t, root, "hw", "good", "host", "cpu", 1)
	corrupt := writeSynthRun(t, root, "hw", "corrupt", "host", "cpu", 2)
	os.WriteFile(filepath.Join(corrupt, "summary.json"), []byte(`{"schema": 1, "cells": [`), 0o644)
	future := writeSynthRun(t, root, "hw", "future", "host", "cpu", 3)
	os.WriteFile(filepath.Join(future, "run.json"), []byte(`{"schema": 99}`), 0o644)
	out := filepath.Join(t.TempDir(), "site")
	b, err := Build(Options{Results: root, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if b.Runs != 1 || len(b.Refused) != 2 {
		t.Fatalf("Build: %d runs, %d refused; want 1 and 2", b.Runs, len(b.Refused))
	}
	index, _ := os.ReadFile(filepath.Join(out, "index.html"))
	for _, want := range []string{filepath.Join(corrupt, "summary.json"), filepath.Join(future, "run.json"), "schema 99"} {
		if !strings.Contains(string(index), html.EscapeString(want)) {
			t.Errorf("index.html does not name %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "runs", "hw", "good", "article.html")); err != nil {
		t.Errorf("the good run's pages: %v", err)
	}
	checkLinks(t, out)
}

// BenchmarkBuild10Runs builds the site from 10 runs of the default matrix's
// shape (66 cells, 6 samples each) on two machines.
func BenchmarkBuild10Runs(b *testing.B) {
	root := synthResults(b, 10)
	out := filepath.Join(b.TempDir(), "site")
	for b.Loop() {
		if _, err := Build(Options{Results: root, Out: out}); err != nil {
			b.Fatal(err)
		}
	}
}
