package whatif

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/enrich"
	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/policy"
)

// Options configure an Engine.
type Options struct {
	// Settings are the pipeline settings, exactly as a front end would
	// take them (policy_file, enrichment, layout, max_event_size,
	// redaction...). A dead_letter_file is ignored: a what-if writes
	// nothing.
	Settings pipeline.Settings
	// Price is the model the per-row costs use; zero means
	// cloudwatch-standard.
	Price Price
	// TopN bounds the user, resource, namespace and verb tables (default
	// 10; negative: all).
	TopN int
	// TimelineBuckets bounds the timeline (default 60).
	TimelineBuckets int
}

// Engine runs events through the pipeline the front ends build from the
// same settings and accounts for what it would ship. It is not safe for
// concurrent use.
type Engine struct {
	opts  Options
	pipe  *pipeline.Pipeline
	facts *pipeline.Pipeline
	pol   *policy.Policy
	ps    pipeline.Scratch
	fs    pipeline.Scratch

	users, resources, namespaces, verbs tally
	levels                              [4]Volume
	rules                               []Volume
	noMatch                             Volume
	times                               reservoir
	tl                                  timeline
	providers                           map[string]int64
	security                            [numReasons]SecurityRow
	secEvents, secLost                  int64
	tags                                map[string]*TagRow
}

// Observation is what the Engine saw of one event. Tags and Enrich are
// valid until the next call to Add.
type Observation struct {
	// Result is the pipeline's outcome with the configured settings.
	Result pipeline.Result
	// BytesIn is the event as read; BytesOut what is shipped (0 unless
	// Kept).
	BytesIn, BytesOut int
	// Enrich is the event's enrichment with every part on, whatever the
	// policy decides (nil if the event could not be enriched).
	Enrich *enrich.Result
	// Reasons says why the event is security-relevant (0: it is not).
	Reasons Reasons
	// Completion reports that the event is a request's completion record
	// (stage ResponseComplete or Panic, or no stage): the one record a
	// policy must keep for a security-relevant request.
	Completion bool
	// Lost reports that the policy loses this request's completion
	// record: level None, or ResponseComplete omitted.
	Lost bool
}

// New builds the pipeline from opts.Settings, as Settings.Build does for
// the front ends.
func New(opts Options) (*Engine, error) {
	if opts.Price == (Price{}) {
		opts.Price = Prices[0]
	}
	if opts.TopN == 0 {
		opts.TopN = 10
	}
	if opts.TimelineBuckets <= 0 {
		opts.TimelineBuckets = 60
	}
	set := opts.Settings
	if err := set.Set("dead_letter_file", ""); err != nil {
		return nil, err
	}
	pipe, dead, err := set.Build()
	if err != nil {
		return nil, err
	}
	if dead != nil {
		dead.Close()
	}
	// The facts pipeline enriches every event, kept or not, with the
	// configured risk rules, so security accounting sees what the policy
	// drops.
	fset := set
	for _, kv := range [][2]string{{"policy_file", ""}, {"enrich", "on"}, {"max_event_size", "0"}, {"layout", "json"}} {
		if err := fset.Set(kv[0], kv[1]); err != nil {
			return nil, fmt.Errorf("whatif: %w", err)
		}
	}
	facts, dead, err := fset.Build()
	if err != nil {
		return nil, err
	}
	if dead != nil {
		dead.Close()
	}
	e := &Engine{
		opts: opts, pipe: pipe, facts: facts, pol: pipe.Policy(),
		users: tally{}, resources: tally{}, namespaces: tally{}, verbs: tally{},
		providers: map[string]int64{}, tags: map[string]*TagRow{},
	}
	if e.pol != nil {
		e.rules = make([]Volume, e.pol.Rules())
	}
	return e, nil
}

// Policy returns the policy under test (nil when none is configured).
func (e *Engine) Policy() *policy.Policy { return e.pol }

// Add runs one decoded event through the pipeline and accounts for it.
func (e *Engine) Add(ev *audit.Event) Observation {
	r := e.pipe.Process(ev, &e.ps)
	o := Observation{Result: r, BytesIn: len(ev.Raw)}
	kept := r.Outcome == pipeline.Kept
	if kept {
		o.BytesOut = len(r.Out)
	}
	if fr := e.facts.Eval(ev, &e.fs); fr.Outcome == pipeline.Kept {
		o.Enrich = &e.fs.Enrich
	}
	o.Reasons = Classify(ev, o.Enrich)
	o.Completion = ev.Stage == "" || ev.Stage == audit.StageResponseComplete || ev.Stage == audit.StagePanic
	d := r.Decision
	o.Lost = d.Level == policy.LevelNone || d.OmitStages&policy.StageResponseComplete != 0

	in, out := o.BytesIn, o.BytesOut
	if r.Outcome == pipeline.Rejected || r.Outcome == pipeline.Skipped {
		// Shaping refused it: counted as rejected, not in the tables.
		return o
	}
	e.users.get(ev.User.Username).add(in, out, kept)
	e.resources.get(ResourceKey(ev)).add(in, out, kept)
	ns := "(cluster)"
	if !ev.HasObjectRef {
		ns = "(non-resource)"
	} else if ev.ObjectRef.Namespace != "" {
		ns = ev.ObjectRef.Namespace
	}
	e.namespaces.get(ns).add(in, out, kept)
	e.verbs.get(ev.Verb).add(in, out, kept)
	if kept {
		e.levels[d.Level].add(in, out, true)
	}
	if d.Rule >= 0 && d.Rule < len(e.rules) {
		e.rules[d.Rule].add(in, out, kept)
	} else {
		e.noMatch.add(in, out, kept)
	}
	if t, ok := ev.Time(); ok {
		e.times.add(t)
		e.tl.add(t, in, out, kept)
	}
	if o.Enrich != nil && o.Enrich.Provider != "" {
		e.providers[o.Enrich.Provider]++
	}
	if o.Completion && o.Reasons != 0 {
		e.secEvents++
		if o.Lost {
			e.secLost++
		}
		for i := range numReasons {
			if o.Reasons&(1<<i) == 0 {
				continue
			}
			row := &e.security[i]
			row.Events++
			if o.Lost {
				row.Lost++
				if row.LostByRule == nil {
					row.LostByRule = map[int]int64{}
				}
				row.LostByRule[d.Rule]++
			}
		}
	}
	if o.Completion && o.Enrich != nil {
		for _, tag := range o.Enrich.Tags {
			row := e.tags[tag]
			if row == nil {
				row = &TagRow{Tag: tag, Severity: tagSeverity(tag)}
				e.tags[tag] = row
			}
			row.Events++
			if o.Lost {
				row.Lost++
				if row.ByRule == nil {
					row.ByRule = map[int]int64{}
				}
				row.ByRule[d.Rule]++
			}
		}
	}
	return o
}

// Reject counts an input that could not be decoded (or, for a provider's
// record that is not an audit event, skipped) and returns its result.
func (e *Engine) Reject(err error, size int) pipeline.Result { return e.pipe.Reject(err, size) }

// Counters returns the pipeline's counters.
func (e *Engine) Counters() pipeline.Counters { return e.pipe.Counters() }

// Report summarises everything added so far. policyName and inputs label
// the report; settings lists the key=value pairs that were given.
func (e *Engine) Report(policyName string, inputs, settings []string) *Report {
	c := e.pipe.Counters()
	rep := &Report{
		Policy: policyName, Inputs: inputs, Settings: settings,
		PriceModel: e.opts.Price.Name, PricePerGB: e.opts.Price.USDPerGB,
	}
	rep.Total = Volume{Events: c.EventsIn - c.Rejected - c.Skipped, BytesIn: c.BytesIn, Kept: c.Kept, BytesOut: c.BytesOut}
	rep.Dropped, rep.Rejected, rep.RejectedBy = c.Dropped, c.Rejected, c.RejectedByReason
	rep.Skipped, rep.SkippedBy = c.Skipped, c.SkippedByReason
	rep.BytesSaved = c.BytesIn - c.BytesOut
	if c.BytesIn > 0 {
		rep.SavedPercent = 100 * float64(rep.BytesSaved) / float64(c.BytesIn)
	}

	// The rate is taken over the central 90% of event times, so stray old
	// or future events (replays, backfills, clock skew) do not stretch the
	// observed window.
	const central = 0.90
	first, last := e.times.quantile(0.05), e.times.quantile(0.95)
	rep.First, rep.Last = first, last
	if span := last.Sub(first).Seconds(); span >= 1 && e.times.n >= 2 {
		rep.SpanSeconds = span
		rep.MonthlyFactor = central / span * SecondsPerMonth
	} else {
		rep.CostNote = "the events span less than a second: no rate to extrapolate"
	}
	rep.MonthlyGBBefore, rep.MonthlyGBAfter = rep.MonthlyGB(c.BytesIn), rep.MonthlyGB(c.BytesOut)
	rep.MonthlyBefore, rep.MonthlyAfter = rep.MonthlyGBBefore*rep.PricePerGB, rep.MonthlyGBAfter*rep.PricePerGB
	models := append([]Price(nil), Prices...)
	if e.opts.Price.Name == "custom" {
		models = append(models, e.opts.Price)
	}
	for _, p := range models {
		rep.Prices = append(rep.Prices, PriceRow{Price: p, MonthlyBefore: rep.MonthlyGBBefore * p.USDPerGB, MonthlyAfter: rep.MonthlyGBAfter * p.USDPerGB})
	}

	for l := policy.LevelMetadata; l <= policy.LevelRequestResponse; l++ {
		rep.ByLevel = append(rep.ByLevel, KeyedVolume{Key: l.String(), Volume: e.levels[l], Cost: rep.cost(e.levels[l])})
	}
	for i := range e.rules {
		rep.ByRule = append(rep.ByRule, RuleRow{Rule: i, Summary: e.pol.RuleSummary(i), Level: e.pol.RuleLevel(i).String(), Volume: e.rules[i], Cost: rep.cost(e.rules[i])})
	}
	if e.noMatch.Events > 0 || e.pol == nil {
		summary, level := "(no rule matched: level None)", "None"
		if e.pol == nil {
			summary, level = "(no policy: every event keeps its level)", "-"
		}
		rep.ByRule = append(rep.ByRule, RuleRow{Rule: -1, Summary: summary, Level: level, Volume: e.noMatch, Cost: rep.cost(e.noMatch)})
	}
	withCost := func(rows []KeyedVolume) []KeyedVolume {
		for i := range rows {
			rows[i].Cost = rep.cost(rows[i].Volume)
		}
		return rows
	}
	n := e.opts.TopN
	rep.TopUsers, rep.TopResources = withCost(e.users.top(n)), withCost(e.resources.top(n))
	rep.TopNS, rep.TopVerbs = withCost(e.namespaces.top(n)), withCost(e.verbs.top(n))
	if e.times.n > 0 {
		// The chart covers the observed window with a margin; stragglers
		// far outside it (replays, clock skew) are counted, not drawn.
		lo, hi := e.times.quantile(0), e.times.quantile(1)
		if rep.SpanSeconds > 0 {
			margin := time.Duration(rep.SpanSeconds * 0.1 * float64(time.Second))
			lo, hi = later(lo, first.Add(-margin)), earlier(hi, last.Add(margin))
		}
		rep.Timeline = e.tl.buckets(lo, hi, e.opts.TimelineBuckets)
		var drawn int64
		for _, b := range rep.Timeline {
			drawn += b.Events
		}
		rep.OutsideTimeline = e.tl.events - drawn
	}

	rep.SecurityEvents, rep.SecurityLost = e.secEvents, e.secLost
	for i := range numReasons {
		row := e.security[i]
		row.Reason = reasonNames[i]
		rep.Security = append(rep.Security, row)
	}
	for _, row := range e.tags {
		rep.RiskTags = append(rep.RiskTags, *row)
	}
	sort.Slice(rep.RiskTags, func(i, j int) bool {
		a, b := rep.RiskTags[i], rep.RiskTags[j]
		if a.Lost != b.Lost {
			return a.Lost > b.Lost
		}
		if a.Events != b.Events {
			return a.Events > b.Events
		}
		return a.Tag < b.Tag
	})

	rep.Provider = e.opts.Settings.Enrich.Provider
	if rep.Provider == "" && len(e.providers) > 0 {
		rep.Providers = e.providers
		var best, total int64
		for p, n := range e.providers {
			total += n
			if n > best || n == best && p < rep.Provider {
				rep.Provider, best = p, n
			}
		}
		// Events from several providers (a central collector): no single
		// answer.
		if float64(best) < 0.95*float64(total) {
			rep.Provider = ""
		}
	}
	rep.SavingsNote = SavingsNote(rep.Provider)
	if rep.Provider == "" && len(rep.Providers) > 1 {
		names := make([]string, 0, len(rep.Providers))
		for p := range rep.Providers {
			names = append(names, p)
		}
		sort.Strings(names)
		rep.SavingsNote += " These events come from clusters on " + strings.Join(names, ", ") + "."
	}
	return rep
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// ResourceKey names what a request touched: group/resource[/subresource]
// ("core" for the core group), or the non-resource path.
func ResourceKey(ev *audit.Event) string {
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

func tagSeverity(tag string) string {
	for _, r := range enrich.Rules {
		if r.Name == tag {
			return r.Severity.String()
		}
	}
	return ""
}

// ErrNoRate is returned by budget conversions when the events span less
// than a second.
var ErrNoRate = errors.New("the events span less than a second: no rate to extrapolate a monthly volume from")

// BytesForMonthlyGB converts a monthly volume in GB to the number of bytes
// the observed events may ship to stay within it.
func (r *Report) BytesForMonthlyGB(gb float64) (int64, error) {
	if r.MonthlyFactor <= 0 {
		return 0, ErrNoRate
	}
	return int64(gb * GB / r.MonthlyFactor), nil
}
