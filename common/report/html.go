package report

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"strings"
	"time"

	"github.com/auditlane/auditlane/common/policy/lint"
	"github.com/auditlane/auditlane/common/policy/suggest"
	"github.com/auditlane/auditlane/common/whatif"
)

// Page is what the HTML report shows.
type Page struct {
	Report *whatif.Report
	// Findings are the lint findings of the policy on the same traffic.
	Findings []lint.Finding
	// Suggestion is a policy suggested for a budget (nil: none asked for,
	// or none possible; SuggestionNote then says why).
	Suggestion     *suggest.Suggestion
	SuggestionNote string
	Generated      time.Time
}

// WriteHTML writes the page as one self-contained HTML document: inline
// CSS and SVG, no script, nothing fetched at view time. Every chart is an
// <svg class="chart" data-chart="NAME">.
func WriteHTML(w io.Writer, p *Page) error {
	r := p.Report
	v := view{Page: p, R: r}
	v.Summary = []card{
		{"Events", fmt.Sprintf("%d", r.Total.Events), fmt.Sprintf("%d kept, %d dropped", r.Total.Kept, r.Dropped)},
		{"Bytes", HumanBytes(r.Total.BytesIn) + " → " + HumanBytes(r.Total.BytesOut), fmt.Sprintf("%.1f%% saved, as shipped", r.SavedPercent)},
		{"Security-relevant events", fmt.Sprintf("%d", r.SecurityEvents), fmt.Sprintf("%d lost by the policy", r.SecurityLost)},
	}
	if r.CostNote == "" {
		v.Summary = append(v.Summary,
			card{"Monthly volume", fmt.Sprintf("%.2f → %.2f GB", r.MonthlyGBBefore, r.MonthlyGBAfter), "at the observed rate"},
			card{"Monthly cost", fmt.Sprintf("%s → %s", usd(r.MonthlyBefore), usd(r.MonthlyAfter)), fmt.Sprintf("at $%.4g/GB (%s)", r.PricePerGB, r.PriceModel)})
	}
	v.Charts = []chart{
		{"totals", "Volume before and after the policy", "bytes observed; the same ratio holds per month", bars([]barRow{
			{label: "all events", before: r.Total.BytesIn, after: r.Total.BytesOut},
		}, "bytes")},
		{"timeline", "Over time", timelineNote(r), timeline(r.Timeline)},
		{"rules", "Per rule", "bytes each rule decided, before and after", bars(ruleRows(r.ByRule), "bytes")},
		{"users", "Per user", "top users by bytes before the policy", bars(keyRows(r.TopUsers), "bytes")},
		{"resources", "Per resource", "top resources by bytes before the policy", bars(keyRows(r.TopResources), "bytes")},
		{"namespaces", "Per namespace", "top namespaces by bytes before the policy", bars(keyRows(r.TopNS), "bytes")},
		{"verbs", "Per verb", "verbs by bytes before the policy", bars(keyRows(r.TopVerbs), "bytes")},
	}
	if r.CostNote == "" {
		var rows []barRow
		for _, pr := range r.Prices {
			rows = append(rows, barRow{label: pr.Name, beforeF: pr.MonthlyBefore, afterF: pr.MonthlyAfter, money: true})
		}
		v.Charts = append(v.Charts[:1], append([]chart{{"cost", "Monthly cost by destination", "USD per month at the observed rate, without and with the policy", bars(rows, "usd")}}, v.Charts[1:]...)...)
	}
	if p.Suggestion != nil {
		v.SuggestionYAML = string(p.Suggestion.YAML)
	}
	return pageTemplate.Execute(w, &v)
}

func timelineNote(r *whatif.Report) string {
	n := "bytes per interval, before (grey) and after (blue) the policy"
	if r.OutsideTimeline > 0 {
		n += fmt.Sprintf("; %d events with times far outside the observed window are counted everywhere else but not drawn", r.OutsideTimeline)
	}
	return n
}

type card struct{ Title, Value, Note string }

type chart struct {
	Name, Title, Note string
	SVG               template.HTML
}

type view struct {
	*Page
	R              *whatif.Report
	Summary        []card
	Charts         []chart
	SuggestionYAML string
}

// barRow is one labelled pair of bars.
type barRow struct {
	label           string
	before, after   int64
	beforeF, afterF float64
	money           bool
}

func (b barRow) values() (float64, float64) {
	if b.money {
		return b.beforeF, b.afterF
	}
	return float64(b.before), float64(b.after)
}

func (b barRow) text(x float64) string {
	if b.money {
		return usd(x)
	}
	return HumanBytes(int64(x))
}

func ruleRows(rows []whatif.RuleRow) []barRow {
	out := make([]barRow, 0, len(rows))
	for _, r := range rows {
		label := fmt.Sprintf("#%d %s", r.Rule, r.Level)
		if r.Rule < 0 {
			label = "no rule"
		}
		out = append(out, barRow{label: label, before: r.BytesIn, after: r.BytesOut})
	}
	return out
}

func keyRows(rows []whatif.KeyedVolume) []barRow {
	out := make([]barRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, barRow{label: r.Key, before: r.BytesIn, after: r.BytesOut})
	}
	return out
}

const (
	chartWidth = 760
	labelWidth = 250
	valueWidth = 170
	barH       = 9
	rowH       = 26
)

func esc(s string) string { return html.EscapeString(s) }

// shorten cuts long labels in the middle.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n/2-1]) + "…" + string(r[len(r)-(n-n/2):])
}

// bars draws a horizontal paired bar chart: before in grey, after in blue.
func bars(rows []barRow, unit string) template.HTML {
	if len(rows) == 0 {
		return template.HTML(`<p class="empty">no data</p>`)
	}
	maxV := 0.0
	for _, r := range rows {
		b, a := r.values()
		maxV = math.Max(maxV, math.Max(b, a))
	}
	if maxV <= 0 {
		maxV = 1
	}
	plot := float64(chartWidth - labelWidth - valueWidth)
	h := len(rows)*rowH + 8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart-svg" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" data-unit="%s">`, chartWidth, h, chartWidth, h, unit)
	for i, r := range rows {
		y := 4 + i*rowH
		bv, av := r.values()
		wb := math.Max(1, plot*bv/maxV)
		wa := plot * av / maxV
		if av > 0 {
			wa = math.Max(1, wa)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="label"><title>%s</title>%s</text>`, labelWidth-8, y+14, esc(r.label), esc(shorten(r.label, 34)))
		fmt.Fprintf(&b, `<rect class="bar before" x="%d" y="%d" width="%.1f" height="%d"><title>before: %s</title></rect>`, labelWidth, y+2, wb, barH, esc(r.text(bv)))
		fmt.Fprintf(&b, `<rect class="bar after" x="%d" y="%d" width="%.1f" height="%d"><title>after: %s</title></rect>`, labelWidth, y+2+barH+1, wa, barH, esc(r.text(av)))
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="value">%s → %s</text>`, chartWidth-valueWidth+6, y+14, esc(r.text(bv)), esc(r.text(av)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// timeline draws bytes per interval as paired columns.
func timeline(buckets []whatif.TimeBucket) template.HTML {
	if len(buckets) == 0 {
		return template.HTML(`<p class="empty">no event times</p>`)
	}
	const h, top, bottom, left = 220, 10, 34, 70
	maxV := int64(1)
	for _, t := range buckets {
		maxV = max(maxV, t.BytesIn)
	}
	plotW := float64(chartWidth - left - 10)
	colW := plotW / float64(len(buckets))
	plotH := float64(h - top - bottom)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart-svg" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, chartWidth, h, chartWidth, h)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, left, h-bottom, chartWidth-10, h-bottom)
	fmt.Fprintf(&b, `<text class="value" x="%d" y="%d" text-anchor="end">%s</text>`, left-6, top+10, esc(HumanBytes(maxV)))
	fmt.Fprintf(&b, `<text class="value" x="%d" y="%d" text-anchor="end">0</text>`, left-6, h-bottom)
	for i, t := range buckets {
		x := float64(left) + float64(i)*colW
		hb := math.Max(1, plotH*float64(t.BytesIn)/float64(maxV))
		ha := plotH * float64(t.BytesOut) / float64(maxV)
		if t.BytesOut > 0 {
			ha = math.Max(1, ha)
		}
		w := math.Max(1, colW*0.42)
		title := fmt.Sprintf("%s (%ds): %d events, %s in, %s out", t.Start.Format(time.RFC3339), t.Seconds, t.Events, HumanBytes(t.BytesIn), HumanBytes(t.BytesOut))
		fmt.Fprintf(&b, `<rect class="bar before" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`, x+colW*0.06, float64(h-bottom)-hb, w, hb, esc(title))
		fmt.Fprintf(&b, `<rect class="bar after" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`, x+colW*0.06+w, float64(h-bottom)-ha, w, ha, esc(title))
	}
	first, last := buckets[0], buckets[len(buckets)-1]
	fmt.Fprintf(&b, `<text class="value" x="%d" y="%d">%s</text>`, left, h-bottom+18, esc(first.Start.Format("2006-01-02 15:04:05Z07:00")))
	fmt.Fprintf(&b, `<text class="value" x="%d" y="%d" text-anchor="end">%s</text>`, chartWidth-10, h-bottom+18, esc(last.Start.Add(time.Duration(last.Seconds)*time.Second).Format("15:04:05Z07:00")))
	fmt.Fprintf(&b, `<text class="value" x="%d" y="%d" text-anchor="middle">%d intervals of %s</text>`, left+int(plotW/2), h-bottom+18, len(buckets), time.Duration(first.Seconds)*time.Second)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"bytes": HumanBytes,
	"usd":   usd,
	"pct":   pct,
	"rule": func(i int) string {
		if i < 0 {
			return "policy"
		}
		return fmt.Sprint(i)
	},
	"time": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>auditlane what-if: {{.R.Policy}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#5b6475;font-size:12px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:10px 14px;min-width:170px}
.card .t{color:#5b6475;font-size:12px}.card .v{font-size:19px;font-weight:600}.card .n{color:#5b6475;font-size:12px}
.note{background:#fff8e5;border:1px solid #f0d68a;border-radius:8px;padding:10px 14px}
section.chart{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:12px 14px;margin:12px 0}
section.chart h2{margin:0}
.chart-svg .bar.before{fill:#b8bfcc}.chart-svg .bar.after{fill:#2f6fde}
.chart-svg text{font-size:11px;fill:#1d2330}.chart-svg .label{text-anchor:end}.chart-svg .axis{stroke:#8a93a3}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;vertical-align:middle}
table{border-collapse:collapse;background:#fff;width:100%;font-size:13px}
th,td{border:1px solid #dde1e8;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.sev-high{color:#b00020;font-weight:600}.sev-medium{color:#9a5b00;font-weight:600}.sev-low{color:#3c6e3c}
pre{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:12px;overflow:auto;font-size:12px}
.empty{color:#5b6475}
</style>
</head>
<body>
<main>
<h1>Audit policy what-if: {{.R.Policy}}</h1>
<div class="meta">Inputs: {{range $i, $in := .R.Inputs}}{{if $i}}, {{end}}{{$in}}{{end}}.
{{if .R.Settings}}Pipeline settings: {{range .R.Settings}}<code>{{.}}</code> {{end}}.{{end}}
Generated {{time .Generated}} by auditlane. Bytes are measured as shipped, with the same pipeline as the Fluent Bit plugin and the collector.</div>

<div class="cards">{{range .Summary}}<div class="card"><div class="t">{{.Title}}</div><div class="v">{{.Value}}</div><div class="n">{{.Note}}</div></div>{{end}}</div>

<p class="note"><strong>Where the savings apply.</strong> {{.R.SavingsNote}}</p>
{{if .R.CostNote}}<p class="note">No monthly projection: {{.R.CostNote}}.</p>{{else}}
<p class="meta">Observed span (central 90% of event times): {{time .R.First}} to {{time .R.Last}}; monthly figures extrapolate that rate to 30 days.</p>{{end}}

<p class="legend"><span style="background:#b8bfcc"></span>before the policy<span style="background:#2f6fde"></span>after the policy (as shipped)</p>
{{range .Charts}}<section class="chart" id="chart-{{.Name}}"><h2>{{.Title}}</h2><p class="meta">{{.Note}}</p>
<div class="chart" data-chart="{{.Name}}">{{.SVG}}</div></section>
{{end}}

<h2>Per rule</h2>
<table><tr><th>rule</th><th>level</th><th>matched</th><th>kept</th><th>bytes in</th><th>bytes out</th><th>cost/month before</th><th>after</th><th>rule</th></tr>
{{range .R.ByRule}}<tr><td class="num">{{rule .Rule}}</td><td>{{.Level}}</td><td class="num">{{.Events}}</td><td class="num">{{.Kept}}</td><td class="num">{{bytes .BytesIn}}</td><td class="num">{{bytes .BytesOut}}</td><td class="num">{{usd .MonthlyBefore}}</td><td class="num">{{usd .MonthlyAfter}}</td><td><code>{{.Summary}}</code></td></tr>
{{end}}</table>

{{if not .R.CostNote}}<h2>Price models</h2>
<table><tr><th>model</th><th>destination</th><th>USD/GB</th><th>per month without policy</th><th>with policy</th><th>basis</th></tr>
{{range .R.Prices}}<tr><td>{{.Name}}</td><td>{{.Destination}}</td><td class="num">{{.USDPerGB}}</td><td class="num">{{usd .MonthlyBefore}}</td><td class="num">{{usd .MonthlyAfter}}</td><td>{{.Basis}}</td></tr>
{{end}}</table>{{end}}

<h2>Security-relevant events</h2>
<table><tr><th>why it matters</th><th>events</th><th>lost by the policy</th></tr>
{{range .R.Security}}<tr><td>{{.Reason}}</td><td class="num">{{.Events}}</td><td class="num">{{.Lost}}</td></tr>
{{end}}</table>
{{if .R.RiskTags}}<table style="margin-top:8px"><tr><th>risk tag</th><th>severity</th><th>events</th><th>lost</th></tr>
{{range .R.RiskTags}}<tr><td>{{.Tag}}</td><td>{{.Severity}}</td><td class="num">{{.Events}}</td><td class="num">{{.Lost}}</td></tr>
{{end}}</table>{{end}}

<h2>Lint findings</h2>
{{if .Findings}}<table id="findings"><tr><th>severity</th><th>code</th><th>rule</th><th>events</th><th>message</th></tr>
{{range .Findings}}<tr><td class="sev-{{.Severity}}">{{.Severity}}</td><td><code>{{.Code}}</code></td><td class="num">{{rule .Rule}}</td><td class="num">{{.Events}}</td><td>{{.Message}}</td></tr>
{{end}}</table>{{else}}<p class="empty">No findings.</p>{{end}}

{{if .Suggestion}}<h2>Suggested policy</h2>
<p>{{.Suggestion.Rules}} rules; on this traffic it ships {{printf "%.3f" .Suggestion.MonthlyGB}} GB/month ({{usd .Suggestion.MonthlyUSD}} at {{.Suggestion.Price.Name}}) of a {{printf "%.3f" .Suggestion.BudgetGB}} GB/month budget, and keeps every security-relevant event. The smallest budget that does so is {{printf "%.3f" .Suggestion.FloorGB}} GB/month.</p>
<pre id="suggested-policy">{{.SuggestionYAML}}</pre>{{else if .SuggestionNote}}<h2>Suggested policy</h2><p class="note">{{.SuggestionNote}}</p>{{end}}
</main>
</body>
</html>
`))
