package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/policy/lint"
	reportfmt "github.com/auditlane/auditlane/common/report"
	"github.com/auditlane/auditlane/common/whatif"
)

// report is the what-if report, `policy test --output json`.
type report = whatif.Report

// priceFlags registers --price-model and --price-per-gb; the returned
// function resolves them (a --price-per-gb makes a custom model).
func priceFlags(fs *flag.FlagSet) func() (whatif.Price, error) {
	model := fs.String("price-model", whatif.Prices[0].Name, "price `MODEL` for costs: cloudwatch-standard, cloudwatch-ia or sls (see README)")
	perGB := -1.0
	fs.Func("price-per-gb", "custom ingestion price in `USD` per GB (overrides --price-model)", func(v string) error {
		_, err := fmt.Sscan(v, &perGB)
		if err == nil && perGB < 0 {
			err = errors.New("must not be negative")
		}
		return err
	})
	return func() (whatif.Price, error) {
		if perGB >= 0 {
			return whatif.CustomPrice(perGB), nil
		}
		return whatif.PriceByName(*model)
	}
}

// runTest is `policy test`: the what-if report of a policy on recorded
// traffic, measured with the pipeline the front ends run.
func runTest(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("auditlane policy test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	set := pipeline.DefaultSettings()
	sf := addSettingsFlags(fs, &set, processFlags)
	price := priceFlags(fs)
	output := fs.String("output", "table", "report `format`: table or json")
	topN := fs.Int("top", 10, "show the top `N` users, resources, namespaces and verbs")
	htmlPath := fs.String("html", "", "also write the report as a self-contained HTML page to `FILE`")
	budget := addBudgetFlags(fs, "with --html, add a policy suggested for this budget: ")
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *output != "table" && *output != "json" {
		return fmt.Errorf("--output must be table or json, not %q", *output)
	}
	if set.PolicyFile == "" {
		return errors.New("--policy FILE (or --set policy_file=FILE) is required")
	}
	if budget.set() && *htmlPath == "" {
		return errors.New("--budget-gb-month and --budget-usd-month add a suggested policy to the --html page; without a page use auditlane policy suggest")
	}
	pr, err := price()
	if err != nil {
		return err
	}
	eng, err := whatif.New(whatif.Options{Settings: set, Price: pr, TopN: *topN})
	if err != nil {
		return err
	}
	ins, err := openInputs(files, stdin)
	if err != nil {
		return err
	}
	defer closeInputs(ins)

	var lin *lint.Linter
	if *htmlPath != "" {
		lin = lint.Check(eng.Policy())
	}
	col, err := budget.collector(set, *htmlPath != "")
	if err != nil {
		return err
	}
	var inputs []string
	for _, in := range ins {
		inputs = append(inputs, in.name)
	}
	lastProgress, seen := time.Now(), 0
	err = decodeInputs(ins, set.MaxInputSize, func(_ *input, ev *audit.Event) error {
		o := eng.Add(ev)
		if lin != nil {
			lin.Observe(ev, &o)
		}
		if col != nil {
			col.Add(ev, &o)
		}
		if seen++; seen%50000 == 0 && time.Since(lastProgress) > 2*time.Second {
			lastProgress = time.Now()
			fmt.Fprintf(stderr, "auditlane: %d events read\n", seen)
		}
		return nil
	}, func(_ *input, de *audit.DecodeError, raw []byte) error {
		eng.Reject(de, len(raw))
		return nil
	})
	if err != nil {
		return err
	}
	rep := eng.Report(set.PolicyFile, inputs, sf.given)
	if *htmlPath != "" {
		page := reportfmt.Page{Report: rep, Findings: lin.Findings(), Generated: time.Now()}
		if col != nil {
			s, err := col.Suggest(rep, budget.value(pr), pr)
			if err != nil {
				var nf *suggestInfeasible
				if !errors.As(err, &nf) {
					return err
				}
				fmt.Fprintf(stderr, "auditlane: %v\n", err)
				page.SuggestionNote = err.Error()
			}
			page.Suggestion = s
		}
		if err := writeHTML(*htmlPath, &page); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "auditlane: report page written to %s\n", *htmlPath)
	}
	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return reportfmt.WriteTable(stdout, rep)
}

func writeHTML(path string, page *reportfmt.Page) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := reportfmt.WriteHTML(f, page); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// humanBytes formats n bytes with a binary unit.
func humanBytes(n int64) string { return reportfmt.HumanBytes(n) }
