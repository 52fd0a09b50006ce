package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/policy/lint"
	"github.com/auditlane/auditlane/common/policy/suggest"
	"github.com/auditlane/auditlane/common/whatif"
)

const (
	sample     = "../../examples/data/sample-audit.log"
	costSaving = "../../examples/policies/cost-saving.yaml"
)

// samplePage runs the bundled sample through the what-if engine, lint and
// suggest, as `policy test --html --budget-gb-month 3` does.
func samplePage(t testing.TB) *Page {
	t.Helper()
	set := pipeline.DefaultSettings()
	if err := set.Set("policy_file", costSaving); err != nil {
		t.Fatal(err)
	}
	eng, err := whatif.New(whatif.Options{Settings: set})
	if err != nil {
		t.Fatal(err)
	}
	lin := lint.Check(eng.Policy())
	col, err := suggest.NewCollector(set)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(sample)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := audit.NewDecoder(f)
	for {
		ev, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		o := eng.Add(ev)
		lin.Observe(ev, &o)
		col.Add(ev, &o)
	}
	rep := eng.Report(costSaving, []string{sample}, []string{"policy_file=" + costSaving})
	s, err := col.Suggest(rep, suggest.Budget{GBPerMonth: 3}, whatif.Prices[0])
	if err != nil {
		t.Fatal(err)
	}
	return &Page{Report: rep, Findings: lin.Findings(), Suggestion: s, Generated: time.Now()}
}

var (
	pageOnce sync.Once
	pageHTML []byte
	pageErr  error
)

func sampleHTML(t testing.TB) []byte {
	pageOnce.Do(func() {
		var b bytes.Buffer
		pageErr = WriteHTML(&b, samplePage(t))
		pageHTML = b.Bytes()
	})
	if pageErr != nil {
		t.Fatal(pageErr)
	}
	return pageHTML
}

var chartNames = []string{"totals", "cost", "timeline", "rules", "users", "resources", "namespaces", "verbs"}

// The page needs nothing at view time: no script, stylesheet, image or
// font from anywhere, no URL but the SVG namespace.
func TestPageIsSelfContained(t *testing.T) {
	page := string(sampleHTML(t))
	for _, bad := range []string{"<script", "<link", "<img", "<iframe", "@import", "url(", "src="} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, m := range regexp.MustCompile(`https?://[^"' <]+`).FindAllString(page, -1) {
		if m != "http://www.w3.org/2000/svg" {
			t.Errorf("page refers to %s", m)
		}
	}
	for _, name := range chartNames {
		if !strings.Contains(page, `data-chart="`+name+`"`) {
			t.Errorf("no %s chart", name)
		}
	}
	for _, s := range []string{"Lint findings", "risk-tag-dropped", "Suggested policy", "apiVersion: audit.k8s.io/v1", "Where the savings apply"} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
}

// Labels from the events (user names, paths) are escaped.
func TestPageEscapes(t *testing.T) {
	rep := &whatif.Report{Policy: `<p>`, TopUsers: []whatif.KeyedVolume{{Key: `<script>alert(1)</script>`, Volume: whatif.Volume{BytesIn: 10}}}}
	var b bytes.Buffer
	if err := WriteHTML(&b, &Page{Report: rep}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<script>") || strings.Contains(b.String(), "<p>") {
		t.Errorf("unescaped label in page")
	}
}

// findChromium returns Debian's chromium (installed by .ci/run).
func findChromium() string {
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

type chartSize struct {
	Name        string  `json:"name"`
	SVG         bool    `json:"svg"`
	Width       float64 `json:"width"`
	Height      float64 `json:"height"`
	Bars        int     `json:"bars"`
	VisibleBars int     `json:"visibleBars"`
	Labels      int     `json:"labels"`
}

// browse opens page in a real headless Chromium and returns the size of
// each chart, what the browser reported (console errors and warnings,
// exceptions, error log entries, any request that is not the file itself)
// and a PNG screenshot of the whole page.
func browse(t *testing.T, page []byte) (sizes []chartSize, problems []string, shot []byte) {
	t.Helper()
	bin := findChromium()
	if bin == "" {
		t.Skip("chromium not installed (.ci/run installs it with apt-get)")
	}
	// A browser that fails to start (a busy machine, a missing D-Bus) is
	// not a verdict on the page: start it again, up to three times.
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		sizes, problems, shot, err = browseOnce(t, bin, page)
		if err == nil {
			return sizes, problems, shot
		}
		t.Logf("browser attempt %d: %v", attempt, err)
	}
	t.Fatal(err)
	return nil, nil, nil
}

// browseOnce opens page in a fresh headless Chromium.
func browseOnce(t *testing.T, bin string, page []byte) (sizes []chartSize, problems []string, shot []byte, err error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := os.WriteFile(path, page, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(1200, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()

	var mu sync.Mutex
	if err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				problems = append(problems, "console "+string(ev.Type))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, "log "+string(ev.Entry.Level)+": "+ev.Entry.Text)
			}
		case *network.EventRequestWillBeSent:
			if u := ev.Request.URL; !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") {
				problems = append(problems, "network request: "+u)
			}
		}
	}); err != nil {
		return nil, nil, nil, err
	}
	if err := chromedp.Do(bctx, chromedp.Navigate("file://"+path), chromedp.WaitReady(chromedp.CSS("main"))); err != nil {
		return nil, nil, nil, fmt.Errorf("navigate: %w", err)
	}
	sizes, err = chromedp.Run(bctx, chromedp.Evaluate[[]chartSize](`Array.from(document.querySelectorAll('div[data-chart]')).map(el => {
		const svg = el.querySelector('svg');
		const r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
		const bars = svg ? Array.from(svg.querySelectorAll('rect.bar')) : [];
		return {name: el.dataset.chart, svg: !!svg, width: r.width, height: r.height, bars: bars.length,
			visibleBars: bars.filter(b => { const q = b.getBoundingClientRect(); return q.width > 0 && q.height > 0; }).length,
			labels: svg ? svg.querySelectorAll('text').length : 0};
	})`))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("evaluate: %w", err)
	}
	if shot, err = chromedp.Run(bctx, chromedp.FullScreenshot(100)); err != nil {
		return nil, nil, nil, fmt.Errorf("screenshot: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return sizes, slices.Clone(problems), shot, nil
}

// chartProblems says which expected charts did not render.
func chartProblems(sizes []chartSize) []string {
	got := map[string]chartSize{}
	for _, s := range sizes {
		got[s.Name] = s
	}
	var out []string
	for _, name := range chartNames {
		s, ok := got[name]
		switch {
		case !ok || !s.SVG:
			out = append(out, name+": no SVG rendered")
		case s.Width <= 0 || s.Height <= 0:
			out = append(out, fmt.Sprintf("%s: size %vx%v", name, s.Width, s.Height))
		case s.Bars == 0 || s.VisibleBars == 0:
			out = append(out, fmt.Sprintf("%s: %d bars, %d visible", name, s.Bars, s.VisibleBars))
		case s.Labels == 0:
			out = append(out, name+": no labels")
		}
	}
	return out
}

// TestPageInBrowser opens the report of the bundled sample in a real
// headless Chromium, checks that every chart rendered (an SVG of non-zero
// size with bars of non-zero size and labels), that nothing was fetched
// and no error or warning logged, and keeps a screenshot as a test
// artifact: run `go test -artifacts -outputdir DIR ./common/report/` to
// keep it; its path is logged.
func TestPageInBrowser(t *testing.T) {
	sizes, problems, shot := browse(t, sampleHTML(t))
	out := filepath.Join(t.ArtifactDir(), "report.png")
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(shot))
	if len(shot) < 10000 || !bytes.HasPrefix(shot, []byte("\x89PNG")) {
		t.Errorf("screenshot is %d bytes, not a PNG of the page", len(shot))
	}
	b, _ := json.Marshal(sizes)
	t.Logf("charts: %s", b)
	if p := chartProblems(sizes); len(p) > 0 {
		t.Errorf("charts: %s", strings.Join(p, "; "))
	}
	if len(problems) > 0 {
		t.Errorf("browser reported: %s", strings.Join(problems, "; "))
	}
}

// The browser check catches what it is there for: a console error, a
// script exception, a fetch, a chart that did not render.
func TestBrowserCheckCatchesBrokenPage(t *testing.T) {
	page := sampleHTML(t)
	broken := bytes.Replace(page, []byte(`<div class="chart" data-chart="rules">`), []byte(`<div class="chart" data-chart="rules" hidden>`), 1)
	broken = bytes.Replace(broken, []byte(`<div class="chart" data-chart="users"><svg`), []byte(`<div class="chart" data-chart="users"><nosvg`), 1)
	broken = bytes.Replace(broken, []byte("</main>"), []byte(`<script>console.error("boom"); undefinedFunction();</script><img src="http://127.0.0.1:9/x.png"></main>`), 1)
	sizes, problems, _ := browse(t, broken)
	cp := chartProblems(sizes)
	if len(cp) != 2 || !strings.HasPrefix(cp[0], "rules: size 0x0") || !strings.HasPrefix(cp[1], "users: no SVG") {
		t.Errorf("chart problems %q", cp)
	}
	all := strings.Join(problems, "; ")
	for _, want := range []string{"console error", "exception", "network request: http://127.0.0.1:9/x.png"} {
		if !strings.Contains(all, want) {
			t.Errorf("browser problems %q lack %q", all, want)
		}
	}
}
