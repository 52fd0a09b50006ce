// Command gen writes auditlane's bundled sample Kubernetes audit log,
// examples/data/sample-audit.log, and the EventList batch
// examples/data/eventlist.json.
//
// The output is deterministic: the same flags give the same bytes. Events
// come from three simulated clusters (EKS, Alibaba Cloud ACK and a
// self-managed kubeadm cluster) and are recorded as kube-apiserver would under
// ../recorded-policy.yaml. The third-party fixtures embedded from fixtures/
// (Falco's k8s_audit trace files and audit2rbac's demo log) are interleaved
// verbatim.
//
// Usage:
//
//	go run ./examples/data/gen -out examples/data/sample-audit.log
//	go run ./examples/data/gen -format eventlist -n 50 -fixtures=false -out examples/data/eventlist.json
package main

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"
)

//go:embed fixtures
var fixturesFS embed.FS

// config holds the generator's flags.
type config struct {
	seed     uint64
	n        int
	start    time.Time
	format   string // "lines" or "eventlist"
	fixtures bool
}

// Defaults used for the committed sample.
const (
	defaultSeed  = 20240514
	defaultN     = 4000
	defaultStart = "2024-05-14T09:00:00Z"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("gen", flag.ContinueOnError)
	fl.SetOutput(stderr)
	seed := fl.Uint64("seed", defaultSeed, "random seed; the same seed gives the same output")
	n := fl.Int("n", defaultN, "number of generated events (fixture events come on top)")
	start := fl.String("start", defaultStart, "time of the first event, RFC 3339")
	out := fl.String("out", "-", "output file, - for standard output")
	format := fl.String("format", "lines", "lines (JSON lines) or eventlist (one audit.k8s.io/v1 EventList)")
	fixtures := fl.Bool("fixtures", true, "interleave the embedded third-party fixture events (lines format only)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fl.Arg(0))
	}
	t, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		return fmt.Errorf("-start: %w", err)
	}
	cfg := config{seed: *seed, n: *n, start: t, format: *format, fixtures: *fixtures}
	data, err := generate(cfg)
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err = stdout.Write(data)
		return err
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	return nil
}

// generate returns the complete output for cfg.
func generate(cfg config) ([]byte, error) {
	if cfg.n < 0 || cfg.n > 1_000_000 {
		return nil, fmt.Errorf("-n %d: want 0..1000000", cfg.n)
	}
	if cfg.format != "lines" && cfg.format != "eventlist" {
		return nil, fmt.Errorf("-format %q: want lines or eventlist", cfg.format)
	}
	if cfg.format == "eventlist" && cfg.fixtures {
		return nil, errors.New("-format eventlist: fixtures are JSON lines of mixed versions; use -fixtures=false")
	}
	lines, err := events(cfg)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if cfg.format == "eventlist" {
		buf.WriteString(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
		for i, l := range lines {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(l)
		}
		buf.WriteString("]}\n")
		return buf.Bytes(), nil
	}
	var fx [][]byte
	if cfg.fixtures {
		if fx, err = fixtureLines(); err != nil {
			return nil, err
		}
	}
	// Spread the fixture lines evenly through the generated ones.
	next := 0
	for i, l := range lines {
		for next < len(fx) && (next+1)*len(lines) <= i*(len(fx)+1) {
			buf.Write(fx[next])
			buf.WriteByte('\n')
			next++
		}
		buf.Write(l)
		buf.WriteByte('\n')
	}
	for ; next < len(fx); next++ {
		buf.Write(fx[next])
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// events runs the simulation and returns cfg.n encoded events in time order.
func events(cfg config) ([][]byte, error) {
	g := &gen{r: rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15)), now: cfg.start}
	clusters := []*cluster{g.newEKS(), g.newACK(), g.newSelf()}
	weights := []float64{0.5, 0.25, 0.25}
	var total float64
	for _, s := range scenarios {
		total += s.weight
	}
	legacyOK := cfg.format == "lines"
	for len(g.recs) < cfg.n {
		g.tick(450 * time.Millisecond)
		c := clusters[pickWeighted(g, weights)]
		x := g.r.Float64() * total
		s := scenarios[len(scenarios)-1]
		for _, sc := range scenarios {
			if x < sc.weight {
				s = sc
				break
			}
			x -= sc.weight
		}
		first := len(g.recs)
		saved := g.now
		s.run(g, c)
		g.now = saved
		// A few requests are written the way old apiservers and collectors
		// did: v1beta1 with the legacy timestamp fields, or without
		// apiVersion and with sorted keys.
		if legacyOK && len(g.recs) > first && g.r.IntN(300) == 0 {
			v := 1 + g.r.IntN(2)
			for i := first; i < len(g.recs); i++ {
				g.recs[i].legacy = v
			}
		}
	}
	slices.SortStableFunc(g.recs, func(a, b rec) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	recs := g.recs[:cfg.n]
	out := make([][]byte, 0, len(recs))
	for _, r := range recs {
		b, err := encode(r)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func pickWeighted(g *gen, w []float64) int {
	x := g.r.Float64()
	for i, p := range w {
		if x < p {
			return i
		}
		x -= p
	}
	return len(w) - 1
}

// encode writes one event in its modern or legacy layout.
func encode(r rec) ([]byte, error) {
	e := r.e
	if r.legacy == 0 {
		return json.Marshal(e)
	}
	stamp, _ := e.get("stageTimestamp").(string)
	t, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return nil, fmt.Errorf("legacy event: %w", err)
	}
	sec := tsSec(t)
	e = e.without("apiVersion").after("kind", "apiVersion", "audit.k8s.io/v1beta1")
	e = e.after("apiVersion", "metadata", o("creationTimestamp", sec)).after("level", "timestamp", sec)
	if r.legacy == 1 {
		return json.Marshal(e)
	}
	// No apiVersion, every object's keys sorted: the shape of events that
	// went through a Go map (Falco's trace files look like this).
	b, err := json.Marshal(e.without("apiVersion"))
	if err != nil {
		return nil, err
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// fixtureLines returns every non-empty line of the embedded fixtures, in
// file-name order, byte for byte.
func fixtureLines() ([][]byte, error) {
	var lines [][]byte
	err := fs.WalkDir(fixturesFS, "fixtures", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasSuffix(path, ".json") && !strings.HasSuffix(path, ".log") {
			return nil
		}
		f, err := fixturesFS.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for sc.Scan() {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			lines = append(lines, bytes.Clone(sc.Bytes()))
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("fixture %s: %w", path, err)
		}
		return nil
	})
	return lines, err
}
