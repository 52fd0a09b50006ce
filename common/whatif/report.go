package whatif

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Volume counts events and bytes before and after the policy. BytesOut is
// what the pipeline ships: the shaped events, as the front ends write
// them (without a line separator).
type Volume struct {
	Events   int64 `json:"events"`
	BytesIn  int64 `json:"bytesIn"`
	Kept     int64 `json:"kept"`
	BytesOut int64 `json:"bytesOut"`
}

func (v *Volume) add(in, out int, kept bool) {
	v.Events++
	v.BytesIn += int64(in)
	if kept {
		v.Kept++
		v.BytesOut += int64(out)
	}
}

// Cost is the monthly projection of a volume at the report's price.
type Cost struct {
	// MonthlyBefore and MonthlyAfter are USD per month without and with
	// the policy.
	MonthlyBefore float64 `json:"monthlyCostBefore"`
	MonthlyAfter  float64 `json:"monthlyCostAfter"`
}

// KeyedVolume is the volume of one user, resource, namespace, verb or
// level.
type KeyedVolume struct {
	Key string `json:"key"`
	Volume
	Cost
}

// RuleRow is the volume a policy rule decided (Rule -1: no rule matched).
type RuleRow struct {
	Rule    int    `json:"rule"`
	Summary string `json:"summary"`
	Level   string `json:"level"`
	Volume
	Cost
}

// TimeBucket is the volume of events whose time falls in
// [Start, Start+Seconds).
type TimeBucket struct {
	Start   time.Time `json:"start"`
	Seconds int64     `json:"seconds"`
	Volume
}

// SecurityRow counts the security-relevant events of one reason and how
// many of them the policy loses (drops, or omits their ResponseComplete
// stage).
type SecurityRow struct {
	Reason string `json:"reason"`
	Events int64  `json:"events"`
	Lost   int64  `json:"lost"`
	// LostByRule maps the deciding rule (-1: none matched) to lost events.
	LostByRule map[int]int64 `json:"lostByRule,omitempty"`
}

// TagRow counts the events carrying one risk tag.
type TagRow struct {
	Tag      string        `json:"tag"`
	Severity string        `json:"severity,omitempty"`
	Events   int64         `json:"events"`
	Lost     int64         `json:"lost"`
	ByRule   map[int]int64 `json:"lostByRule,omitempty"`
}

// PriceRow is the monthly projection at one price model.
type PriceRow struct {
	Price
	MonthlyBefore float64 `json:"monthlyCostBefore"`
	MonthlyAfter  float64 `json:"monthlyCostAfter"`
}

// Report is the what-if result; its JSON form is `policy test --output
// json`. Fields are only ever added.
type Report struct {
	Policy   string   `json:"policy"`
	Inputs   []string `json:"inputs"`
	Settings []string `json:"settings,omitempty"`
	Total    Volume   `json:"total"`
	Dropped  int64    `json:"dropped"`
	// Rejected counts inputs that could not be decoded or shaped.
	Rejected   int64            `json:"rejected"`
	RejectedBy map[string]int64 `json:"rejectedByReason"`
	// Skipped counts provider records that are not audit events.
	Skipped      int64            `json:"skipped,omitempty"`
	SkippedBy    map[string]int64 `json:"skippedByReason,omitempty"`
	BytesSaved   int64            `json:"bytesSaved"`
	SavedPercent float64          `json:"savedPercent"`
	ByLevel      []KeyedVolume    `json:"byLevel"`
	ByRule       []RuleRow        `json:"byRule"`
	TopUsers     []KeyedVolume    `json:"topUsers"`
	TopResources []KeyedVolume    `json:"topResources"`
	TopNS        []KeyedVolume    `json:"topNamespaces"`
	TopVerbs     []KeyedVolume    `json:"topVerbs"`
	Timeline     []TimeBucket     `json:"timeline"`
	// OutsideTimeline counts events with a time too far outside the
	// observed window to draw.
	OutsideTimeline int64 `json:"outsideTimeline,omitempty"`
	// Security counts security-relevant events by reason; SecurityLost is
	// the number of distinct security-relevant events the policy loses.
	Security       []SecurityRow `json:"security"`
	SecurityEvents int64         `json:"securityEvents"`
	SecurityLost   int64         `json:"securityLost"`
	RiskTags       []TagRow      `json:"riskTags"`
	First          time.Time     `json:"firstEvent,omitzero"`
	Last           time.Time     `json:"lastEvent,omitzero"`
	SpanSeconds    float64       `json:"spanSeconds"`
	// MonthlyFactor turns bytes observed into bytes per month at the
	// observed rate (0 when there is no rate).
	MonthlyFactor   float64    `json:"monthlyFactor"`
	PriceModel      string     `json:"priceModel"`
	PricePerGB      float64    `json:"pricePerGB"`
	MonthlyGBBefore float64    `json:"monthlyGBBefore"`
	MonthlyGBAfter  float64    `json:"monthlyGBAfter"`
	MonthlyBefore   float64    `json:"monthlyCostBefore"`
	MonthlyAfter    float64    `json:"monthlyCostAfter"`
	Prices          []PriceRow `json:"prices"`
	CostNote        string     `json:"costNote,omitempty"`
	// Provider is the configured or detected provider ("" unknown);
	// SavingsNote says where the savings apply there.
	Provider    string `json:"provider,omitempty"`
	SavingsNote string `json:"savingsNote"`
	// Providers counts events by detected provider (when detected).
	Providers map[string]int64 `json:"providers,omitempty"`
}

// MonthlyGB projects bytes observed to GB per month (0 without a rate).
func (r *Report) MonthlyGB(bytes int64) float64 {
	return float64(bytes) * r.MonthlyFactor / GB
}

// Cost returns the monthly cost of bytes in and out at the report's price.
func (r *Report) cost(v Volume) Cost {
	return Cost{MonthlyBefore: r.MonthlyGB(v.BytesIn) * r.PricePerGB, MonthlyAfter: r.MonthlyGB(v.BytesOut) * r.PricePerGB}
}

// tally accumulates volumes by key with a bound on distinct keys.
type tally map[string]*Volume

// maxKeys bounds the distinct users, resources, namespaces and verbs
// tracked; beyond it new keys are counted under "(other)".
const maxKeys = 100000

func (t tally) get(k string) *Volume {
	if v, ok := t[k]; ok {
		return v
	}
	if len(t) >= maxKeys {
		k = "(other)"
		if v, ok := t[k]; ok {
			return v
		}
	}
	v := &Volume{}
	t[k] = v
	return v
}

// top returns the n keys with the most bytes in.
func (t tally) top(n int) []KeyedVolume {
	rows := make([]KeyedVolume, 0, len(t))
	for k, v := range t {
		rows = append(rows, KeyedVolume{Key: k, Volume: *v})
	}
	slices.SortFunc(rows, func(a, b KeyedVolume) int {
		if c := cmp.Compare(b.BytesIn, a.BytesIn); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	if n >= 0 && len(rows) > n {
		rows = rows[:n]
	}
	return rows
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

// timeline accumulates volumes by time at a resolution that coarsens
// (second, minute, hour, day) so the number of slots stays bounded.
type timeline struct {
	res    int64 // seconds per slot
	slots  map[int64]*Volume
	events int64
}

const maxSlots = 20000

var resolutions = []int64{1, 60, 3600, 86400}

func (tl *timeline) add(t time.Time, in, out int, kept bool) {
	if tl.slots == nil {
		tl.res, tl.slots = 1, map[int64]*Volume{}
	}
	tl.events++
	k := floorDiv(t.Unix(), tl.res)
	v := tl.slots[k]
	if v == nil {
		if len(tl.slots) >= maxSlots {
			tl.coarsen()
			tl.events--
			tl.add(t, in, out, kept)
			return
		}
		v = &Volume{}
		tl.slots[k] = v
	}
	v.add(in, out, kept)
}

func (tl *timeline) coarsen() {
	next := tl.res * 60
	for _, r := range resolutions {
		if r > tl.res {
			next = r
			break
		}
	}
	if tl.res == resolutions[len(resolutions)-1] {
		next = tl.res * 7
	}
	folded := make(map[int64]*Volume, len(tl.slots)/2)
	for k, v := range tl.slots {
		nk := floorDiv(k*tl.res, next)
		f := folded[nk]
		if f == nil {
			f = &Volume{}
			folded[nk] = f
		}
		f.Events += v.Events
		f.BytesIn += v.BytesIn
		f.Kept += v.Kept
		f.BytesOut += v.BytesOut
	}
	tl.res, tl.slots = next, folded
}

// niceWidths are the bucket widths a chart may use, in seconds.
var niceWidths = []int64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800}

// buckets returns at most maxBuckets buckets covering [lo, hi].
func (tl *timeline) buckets(lo, hi time.Time, maxBuckets int) []TimeBucket {
	if len(tl.slots) == 0 || hi.Before(lo) {
		return nil
	}
	span := hi.Unix() - lo.Unix() + 1
	w := niceWidths[len(niceWidths)-1]
	for _, c := range niceWidths {
		if c >= tl.res && c%tl.res == 0 && (span+c-1)/c <= int64(maxBuckets) {
			w = c
			break
		}
	}
	for (span+w-1)/w > int64(maxBuckets) {
		w *= 2
	}
	start := floorDiv(lo.Unix(), w) * w
	n := floorDiv(hi.Unix(), w) - start/w + 1
	out := make([]TimeBucket, n)
	for i := range out {
		out[i] = TimeBucket{Start: time.Unix(start+int64(i)*w, 0).UTC(), Seconds: w}
	}
	for k, v := range tl.slots {
		sec := k * tl.res
		i := floorDiv(sec-start, w)
		if i < 0 || i >= n {
			continue
		}
		b := &out[i].Volume
		b.Events += v.Events
		b.BytesIn += v.BytesIn
		b.Kept += v.Kept
		b.BytesOut += v.BytesOut
	}
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) != (b < 0) {
		q--
	}
	return q
}
