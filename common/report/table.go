// Package report presents what-if results: the text table of `auditlane
// policy test` and the self-contained HTML page of `policy test --html`
// (volume and cost before and after a policy, per rule, user, resource,
// namespace, verb and over time, the lint findings and a suggested policy),
// which needs no network to view: charts are inline SVG, styles inline.
package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditlane/auditlane/common/whatif"
)

// HumanBytes formats n bytes with a binary unit.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func pct(part, whole int64) string {
	if whole == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(part)/float64(whole))
}

func usd(v float64) string { return fmt.Sprintf("$%.2f", v) }

// inputsLabel shortens a long input list.
func inputsLabel(in []string) string {
	if len(in) > 3 {
		return fmt.Sprintf("%s, %s and %d more inputs", in[0], in[1], len(in)-2)
	}
	return strings.Join(in, ", ")
}

// WriteTable writes the report as aligned text tables.
func WriteTable(out io.Writer, r *whatif.Report) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Policy %s on %s\n", r.Policy, inputsLabel(r.Inputs))
	if len(r.Settings) > 0 {
		fmt.Fprintf(tw, "Settings %s\n", strings.Join(r.Settings, " "))
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "events in\t%d\t%s\n", r.Total.Events, HumanBytes(r.Total.BytesIn))
	fmt.Fprintf(tw, "kept (as shipped)\t%d\t%s\t%s of bytes\n", r.Total.Kept, HumanBytes(r.Total.BytesOut), pct(r.Total.BytesOut, r.Total.BytesIn))
	fmt.Fprintf(tw, "dropped by policy\t%d\n", r.Dropped)
	if r.Rejected > 0 {
		fmt.Fprintf(tw, "rejected (undecodable or unshapeable)\t%d\t%v\n", r.Rejected, r.RejectedBy)
	}
	if r.Skipped > 0 {
		fmt.Fprintf(tw, "skipped (provider records that are not audit events)\t%d\t%v\n", r.Skipped, r.SkippedBy)
	}
	fmt.Fprintf(tw, "bytes saved\t%s\t%.1f%%\n", HumanBytes(r.BytesSaved), r.SavedPercent)
	fmt.Fprintf(tw, "security-relevant events\t%d\t%d lost by the policy\n\n", r.SecurityEvents, r.SecurityLost)

	fmt.Fprintf(tw, "LEVEL\tKEPT\tBYTES OUT\tCOST/MONTH\n")
	for _, l := range r.ByLevel {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", l.Key, l.Kept, HumanBytes(l.BytesOut), usd(l.MonthlyAfter))
	}
	fmt.Fprintf(tw, "\nRULE\tLEVEL\tMATCHED\tKEPT\tDROPPED\tBYTES IN\tBYTES OUT\tCOST/MONTH BEFORE\tAFTER\tSUMMARY\n")
	for _, row := range r.ByRule {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", row.Rule, row.Level, row.Events, row.Kept, row.Events-row.Kept,
			HumanBytes(row.BytesIn), HumanBytes(row.BytesOut), usd(row.MonthlyBefore), usd(row.MonthlyAfter), row.Summary)
	}
	for _, sec := range []struct {
		title string
		rows  []whatif.KeyedVolume
	}{{"USER", r.TopUsers}, {"RESOURCE", r.TopResources}, {"NAMESPACE", r.TopNS}, {"VERB", r.TopVerbs}} {
		fmt.Fprintf(tw, "\nTOP %s (by bytes in)\tEVENTS\tBYTES IN\tKEPT\tBYTES OUT\tCOST/MONTH BEFORE\tAFTER\n", sec.title)
		for _, row := range sec.rows {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\t%s\n", row.Key, row.Events, HumanBytes(row.BytesIn), row.Kept, HumanBytes(row.BytesOut),
				usd(row.MonthlyBefore), usd(row.MonthlyAfter))
		}
	}
	if r.SecurityEvents > 0 {
		fmt.Fprintf(tw, "\nSECURITY-RELEVANT\tEVENTS\tLOST\n")
		for _, s := range r.Security {
			if s.Events > 0 {
				fmt.Fprintf(tw, "%s\t%d\t%d\n", s.Reason, s.Events, s.Lost)
			}
		}
	}
	fmt.Fprintln(tw)
	if r.CostNote != "" {
		fmt.Fprintf(tw, "monthly cost\tn/a: %s\n", r.CostNote)
	} else {
		fmt.Fprintf(tw, "observed span (central 90%% of events)\t%s (%s to %s)\n", time.Duration(r.SpanSeconds*float64(time.Second)).Round(time.Second),
			r.First.Format(time.RFC3339), r.Last.Format(time.RFC3339))
		fmt.Fprintf(tw, "monthly ingestion at this rate\t%.2f GB without policy\t%.2f GB with policy\n", r.MonthlyGBBefore, r.MonthlyGBAfter)
		fmt.Fprintf(tw, "estimated monthly cost at $%.2f/GB (%s)\t$%.2f without policy\t$%.2f with policy\tsaves $%.2f\n",
			r.PricePerGB, r.PriceModel, r.MonthlyBefore, r.MonthlyAfter, r.MonthlyBefore-r.MonthlyAfter)
		fmt.Fprintf(tw, "\nPRICE MODEL\tUSD/GB\tWITHOUT POLICY\tWITH POLICY\tDESTINATION\n")
		for _, p := range r.Prices {
			fmt.Fprintf(tw, "%s\t%.4g\t%s\t%s\t%s\n", p.Name, p.USDPerGB, usd(p.MonthlyBefore), usd(p.MonthlyAfter), p.Destination)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "\nWhere the savings apply: %s\n", r.SavingsNote)
	return err
}
