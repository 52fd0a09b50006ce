package main

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/policy"
)

// gib is the billing gigabyte: CloudWatch Logs and SLS price per GiB-sized
// "GB" of ingested data.
const gib = 1 << 30

// secondsPerMonth is a 30-day month, the unit of the cost estimate.
const secondsPerMonth = 30 * 24 * 3600

// maxKeys bounds the distinct users, resources and verbs tracked; beyond
// it new keys are counted under "(other)".
const maxKeys = 100000

// volume counts events and bytes before and after the policy.
type volume struct {
	Events   int64 `json:"events"`
	BytesIn  int64 `json:"bytesIn"`
	Kept     int64 `json:"kept"`
	BytesOut int64 `json:"bytesOut"`
}

func (v *volume) add(in, out int, kept bool) {
	v.Events++
	v.BytesIn += int64(in)
	if kept {
		v.Kept++
		v.BytesOut += int64(out)
	}
}

type keyedVolume struct {
	Key string `json:"key"`
	volume
}

type ruleRow struct {
	Rule    int    `json:"rule"`
	Summary string `json:"summary"`
	Level   string `json:"level"`
	volume
}

// report is the what-if result; its JSON form is `--output json`.
type report struct {
	Policy          string           `json:"policy"`
	Inputs          []string         `json:"inputs"`
	Total           volume           `json:"total"`
	Dropped         int64            `json:"dropped"`
	Rejected        int64            `json:"rejected"`
	RejectedBy      map[string]int64 `json:"rejectedByReason"`
	BytesSaved      int64            `json:"bytesSaved"`
	SavedPercent    float64          `json:"savedPercent"`
	ByLevel         []keyedVolume    `json:"byLevel"`
	ByRule          []ruleRow        `json:"byRule"`
	TopUsers        []keyedVolume    `json:"topUsers"`
	TopResources    []keyedVolume    `json:"topResources"`
	TopVerbs        []keyedVolume    `json:"topVerbs"`
	First           time.Time        `json:"firstEvent,omitzero"`
	Last            time.Time        `json:"lastEvent,omitzero"`
	SpanSeconds     float64          `json:"spanSeconds"`
	PricePerGB      float64          `json:"pricePerGB"`
	MonthlyGBBefore float64          `json:"monthlyGBBefore"`
	MonthlyGBAfter  float64          `json:"monthlyGBAfter"`
	MonthlyBefore   float64          `json:"monthlyCostBefore"`
	MonthlyAfter    float64          `json:"monthlyCostAfter"`
	CostNote        string           `json:"costNote,omitempty"`
}

// tally accumulates volumes by key with a bound on distinct keys.
type tally map[string]*volume

func (t tally) get(k string) *volume {
	if v, ok := t[k]; ok {
		return v
	}
	if len(t) >= maxKeys {
		k = "(other)"
		if v, ok := t[k]; ok {
			return v
		}
	}
	v := &volume{}
	t[k] = v
	return v
}

func (t tally) top(n int) []keyedVolume {
	rows := make([]keyedVolume, 0, len(t))
	for k, v := range t {
		rows = append(rows, keyedVolume{k, *v})
	}
	slices.SortFunc(rows, func(a, b keyedVolume) int {
		if c := cmp.Compare(b.BytesIn, a.BytesIn); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	if len(rows) > n {
		rows = rows[:n]
	}
	return rows
}

// resourceKey names what a request touched: group/resource[/subresource]
// ("core" for the core group), or the non-resource path.
func resourceKey(ev *audit.Event) string {
	if !ev.HasObjectRef {
		return ev.Path()
	}
	g := ev.ObjectRef.APIGroup
	if g == "" {
		g = "core"
	}
	k := g + "/" + ev.ObjectRef.Resource
	if ev.ObjectRef.Subresource != "" {
		k += "/" + ev.ObjectRef.Subresource
	}
	return k
}

func runTest(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("auditlane policy test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policyPath := fs.String("policy", "", "audit policy `FILE` to try")
	price := fs.Float64("price-per-gb", 0.50, "ingestion price in `USD` per GB (default: CloudWatch Logs Standard)")
	output := fs.String("output", "table", "report `format`: table or json")
	topN := fs.Int("top", 10, "show the top `N` users, resources and verbs")
	maxSize := fs.Int("max-event-size", audit.DefaultMaxSize, "reject input values larger than `BYTES`")
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *output != "table" && *output != "json" {
		return fmt.Errorf("--output must be table or json, not %q", *output)
	}
	if *price < 0 {
		return fmt.Errorf("--price-per-gb must not be negative")
	}
	p, err := loadPolicy(*policyPath)
	if err != nil {
		return err
	}
	ins, err := openInputs(files, stdin)
	if err != nil {
		return err
	}
	defer closeInputs(ins)

	rep := report{Policy: *policyPath, PricePerGB: *price}
	pipe := pipeline.New(pipeline.Config{Policy: p})
	users, resources, verbs := tally{}, tally{}, tally{}
	levels := make([]volume, 4)
	rules := make([]volume, p.Rules())
	var noMatch volume
	var scratch pipeline.Scratch
	var times reservoir
	lastProgress := time.Now()
	seen := 0
	for _, in := range ins {
		rep.Inputs = append(rep.Inputs, in.name)
	}
	err = decodeInputs(ins, *maxSize, func(_ *input, ev *audit.Event) error {
		r := pipe.Process(ev, &scratch)
		kept := r.Outcome == pipeline.Kept
		in, out := len(ev.Raw), len(r.Out)
		users.get(ev.User.Username).add(in, out, kept)
		resources.get(resourceKey(ev)).add(in, out, kept)
		verbs.get(ev.Verb).add(in, out, kept)
		if kept {
			levels[r.Decision.Level].add(in, out, true)
		}
		if r.Decision.Rule >= 0 {
			rules[r.Decision.Rule].add(in, out, kept)
		} else {
			noMatch.add(in, out, kept)
		}
		if t, ok := ev.Time(); ok {
			times.add(t)
		}
		if seen++; seen%50000 == 0 && time.Since(lastProgress) > 2*time.Second {
			lastProgress = time.Now()
			fmt.Fprintf(stderr, "auditlane: %d events read\n", seen)
		}
		return nil
	}, func(_ *input, de *audit.DecodeError, raw []byte) error {
		pipe.Reject(de, len(raw))
		return nil
	})
	if err != nil {
		return err
	}
	c := pipe.Counters()
	rep.Total = volume{Events: c.EventsIn - c.Rejected - c.Skipped, BytesIn: c.BytesIn, Kept: c.Kept, BytesOut: c.BytesOut}
	rep.Dropped, rep.Rejected, rep.RejectedBy = c.Dropped, c.Rejected, c.RejectedByReason
	rep.BytesSaved = c.BytesIn - c.BytesOut
	if c.BytesIn > 0 {
		rep.SavedPercent = 100 * float64(rep.BytesSaved) / float64(c.BytesIn)
	}
	for l := policy.LevelMetadata; l <= policy.LevelRequestResponse; l++ {
		rep.ByLevel = append(rep.ByLevel, keyedVolume{l.String(), levels[l]})
	}
	for i := range rules {
		rep.ByRule = append(rep.ByRule, ruleRow{Rule: i, Summary: p.RuleSummary(i), Level: p.RuleLevel(i).String(), volume: rules[i]})
	}
	if noMatch.Events > 0 {
		rep.ByRule = append(rep.ByRule, ruleRow{Rule: -1, Summary: "(no rule matched: level None)", Level: "None", volume: noMatch})
	}
	rep.TopUsers, rep.TopResources, rep.TopVerbs = users.top(*topN), resources.top(*topN), verbs.top(*topN)
	// The rate is taken over the central 90% of event times, so stray old
	// or future events (replays, backfills, clock skew) do not stretch the
	// observed window.
	const central = 0.90
	first, last := times.quantile(0.05), times.quantile(0.95)
	rep.First, rep.Last = first, last
	if span := last.Sub(first).Seconds(); span >= 1 && times.n >= 2 {
		rep.SpanSeconds = span
		rep.MonthlyGBBefore = central * float64(c.BytesIn) / gib / span * secondsPerMonth
		rep.MonthlyGBAfter = central * float64(c.BytesOut) / gib / span * secondsPerMonth
		rep.MonthlyBefore = rep.MonthlyGBBefore * *price
		rep.MonthlyAfter = rep.MonthlyGBAfter * *price
	} else {
		rep.CostNote = "the events span less than a second: no rate to extrapolate"
	}
	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writeTable(stdout, &rep)
}

func pct(part, whole int64) string {
	if whole == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(part)/float64(whole))
}

func writeTable(out io.Writer, r *report) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	inputs := strings.Join(r.Inputs, ", ")
	if len(r.Inputs) > 3 {
		inputs = fmt.Sprintf("%s, %s and %d more inputs", r.Inputs[0], r.Inputs[1], len(r.Inputs)-2)
	}
	fmt.Fprintf(tw, "Policy %s on %s\n\n", r.Policy, inputs)
	fmt.Fprintf(tw, "events in\t%d\t%s\n", r.Total.Events, humanBytes(r.Total.BytesIn))
	fmt.Fprintf(tw, "kept\t%d\t%s\t%s of bytes\n", r.Total.Kept, humanBytes(r.Total.BytesOut), pct(r.Total.BytesOut, r.Total.BytesIn))
	fmt.Fprintf(tw, "dropped by policy\t%d\n", r.Dropped)
	if r.Rejected > 0 {
		fmt.Fprintf(tw, "rejected (undecodable)\t%d\t%v\n", r.Rejected, r.RejectedBy)
	}
	fmt.Fprintf(tw, "bytes saved\t%s\t%.1f%%\n\n", humanBytes(r.BytesSaved), r.SavedPercent)

	fmt.Fprintf(tw, "LEVEL\tKEPT\tBYTES OUT\n")
	for _, l := range r.ByLevel {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", l.Key, l.Kept, humanBytes(l.BytesOut))
	}
	fmt.Fprintf(tw, "\nRULE\tLEVEL\tMATCHED\tKEPT\tDROPPED\tBYTES IN\tBYTES OUT\tSUMMARY\n")
	for _, row := range r.ByRule {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", row.Rule, row.Level, row.Events, row.Kept, row.Events-row.Kept,
			humanBytes(row.BytesIn), humanBytes(row.BytesOut), row.Summary)
	}
	for _, sec := range []struct {
		title string
		rows  []keyedVolume
	}{{"USER", r.TopUsers}, {"RESOURCE", r.TopResources}, {"VERB", r.TopVerbs}} {
		fmt.Fprintf(tw, "\nTOP %s (by bytes in)\tEVENTS\tBYTES IN\tKEPT\tBYTES OUT\n", sec.title)
		for _, row := range sec.rows {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", row.Key, row.Events, humanBytes(row.BytesIn), row.Kept, humanBytes(row.BytesOut))
		}
	}
	fmt.Fprintln(tw)
	if r.CostNote != "" {
		fmt.Fprintf(tw, "monthly cost\tn/a: %s\n", r.CostNote)
	} else {
		fmt.Fprintf(tw, "observed span (central 90%% of events)\t%s (%s to %s)\n", time.Duration(r.SpanSeconds*float64(time.Second)).Round(time.Second),
			r.First.Format(time.RFC3339), r.Last.Format(time.RFC3339))
		fmt.Fprintf(tw, "monthly ingestion at this rate\t%.2f GB without policy\t%.2f GB with policy\n", r.MonthlyGBBefore, r.MonthlyGBAfter)
		fmt.Fprintf(tw, "estimated monthly cost at $%.2f/GB\t$%.2f without policy\t$%.2f with policy\tsaves $%.2f\n",
			r.PricePerGB, r.MonthlyBefore, r.MonthlyAfter, r.MonthlyBefore-r.MonthlyAfter)
	}
	return tw.Flush()
}

// reservoir keeps a uniform sample of up to reservoirSize event times
// (Algorithm R with a fixed seed, so reports are reproducible).
type reservoir struct {
	n     int64
	times []time.Time
	rng   uint64
}

const reservoirSize = 100000

func (r *reservoir) add(t time.Time) {
	r.n++
	if len(r.times) < reservoirSize {
		r.times = append(r.times, t)
		return
	}
	// xorshift64*, seeded on first use.
	if r.rng == 0 {
		r.rng = 0x9E3779B97F4A7C15
	}
	r.rng ^= r.rng >> 12
	r.rng ^= r.rng << 25
	r.rng ^= r.rng >> 27
	if j := (r.rng * 2685821657736338717) % uint64(r.n); j < reservoirSize {
		r.times[j] = t
	}
}

// quantile returns the q-quantile of the sampled times (zero if none).
func (r *reservoir) quantile(q float64) time.Time {
	if len(r.times) == 0 {
		return time.Time{}
	}
	if !slices.IsSortedFunc(r.times, time.Time.Compare) {
		slices.SortFunc(r.times, time.Time.Compare)
	}
	return r.times[int(q*float64(len(r.times)-1)+0.5)]
}
