package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/policy"
	"github.com/auditlane/auditlane/common/policy/lint"
	"github.com/auditlane/auditlane/common/policy/suggest"
	"github.com/auditlane/auditlane/common/whatif"
)

// budgetFlags are --budget-gb-month and --budget-usd-month.
type budgetFlags struct {
	gb, usd float64
}

func addBudgetFlags(fs *flag.FlagSet, prefix string) *budgetFlags {
	b := &budgetFlags{}
	fs.Float64Var(&b.gb, "budget-gb-month", 0, prefix+"at most `GB` shipped per month")
	fs.Float64Var(&b.usd, "budget-usd-month", 0, prefix+"at most `USD` per month at the price model")
	return b
}

func (b *budgetFlags) set() bool { return b.gb != 0 || b.usd != 0 }

func (b *budgetFlags) check() error {
	switch {
	case b.gb != 0 && b.usd != 0:
		return errors.New("give --budget-gb-month or --budget-usd-month, not both")
	case b.gb < 0 || b.usd < 0:
		return errors.New("a budget must be positive")
	}
	return nil
}

func (b *budgetFlags) value(_ whatif.Price) suggest.Budget {
	return suggest.Budget{GBPerMonth: b.gb, USDPerMonth: b.usd}
}

// collector returns a suggestion collector when a budget is set (and
// wanted), nil otherwise.
func (b *budgetFlags) collector(set pipeline.Settings, wanted bool) (*suggest.Collector, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	if !b.set() || !wanted {
		return nil, nil
	}
	return suggest.NewCollector(set)
}

type suggestInfeasible = suggest.Infeasible

// runSuggest is `policy suggest`: a policy from observed traffic within a
// monthly budget, on standard output. When no policy meets the budget
// without losing a security-relevant event it writes nothing, prints the
// smallest budget that works and exits 2.
func runSuggest(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("auditlane policy suggest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	set := pipeline.DefaultSettings()
	sf := addSettingsFlags(fs, &set, processFlags[1:]) // every pipeline flag but --policy
	price := priceFlags(fs)
	budget := addBudgetFlags(fs, "")
	outPath := fs.String("out", "", "write the policy to `FILE` instead of standard output")
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := budget.check(); err != nil {
		return err
	}
	if !budget.set() {
		return errors.New("--budget-gb-month N or --budget-usd-month N is required")
	}
	pr, err := price()
	if err != nil {
		return err
	}
	// The traffic is measured without a policy: every event as recorded.
	if set.PolicyFile != "" {
		return errors.New("policy suggest measures the traffic as recorded: remove policy_file from --set or --config")
	}
	eng, err := whatif.New(whatif.Options{Settings: set, Price: pr})
	if err != nil {
		return err
	}
	col, err := suggest.NewCollector(set)
	if err != nil {
		return err
	}
	ins, err := openInputs(files, stdin)
	if err != nil {
		return err
	}
	defer closeInputs(ins)
	var inputs []string
	for _, in := range ins {
		inputs = append(inputs, in.name)
	}
	err = decodeInputs(ins, set.MaxInputSize, func(_ *input, ev *audit.Event) error {
		o := eng.Add(ev)
		col.Add(ev, &o)
		return nil
	}, func(in *input, de *audit.DecodeError, raw []byte) error {
		if eng.Reject(de, len(raw)).Outcome == pipeline.Skipped {
			return nil // a provider's record that is not an audit event
		}
		fmt.Fprintf(stderr, "auditlane: %s: %v (skipped)\n", in.name, de)
		return nil
	})
	if err != nil {
		return err
	}
	rep := eng.Report("", inputs, sf.given)
	s, err := col.Suggest(rep, budget.value(pr), pr)
	var inf *suggest.Infeasible
	if errors.As(err, &inf) {
		fmt.Fprintf(stderr, "auditlane: %v\n", err)
		return exitError{2}
	}
	if err != nil {
		return err
	}
	if *outPath != "" {
		if err := os.WriteFile(*outPath, s.YAML, 0o644); err != nil {
			return err
		}
	} else if _, err := stdout.Write(s.YAML); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "auditlane: %d rules; ships %.3f GB/month ($%.2f at %s) of a %.3f GB/month budget; %d events kept, %d dropped; the smallest budget that works is %.3f GB/month\n",
		s.Rules, s.MonthlyGB, s.MonthlyUSD, pr.Name, s.BudgetGB, s.Kept, s.Dropped, s.FloorGB)
	return nil
}

// runLint is `policy lint`: findings a security reviewer would raise. Exit
// status 1 when any finding is high, 0 otherwise, 2 on bad input.
func runLint(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("auditlane policy lint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	set := pipeline.DefaultSettings()
	addSettingsFlags(fs, &set, processFlags)
	output := fs.String("output", "table", "`format`: table or json")
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *output != "table" && *output != "json" {
		return fmt.Errorf("--output must be table or json, not %q", *output)
	}
	if set.PolicyFile == "" {
		return errors.New("--policy FILE is required")
	}
	var pol *policy.Policy
	var eng *whatif.Engine
	if len(files) == 0 {
		// Static checks only: LOG arguments are optional here, and standard
		// input is not read unless "-" is given.
		if pol, err = policy.Load(set.PolicyFile); err != nil {
			return err
		}
	} else {
		if eng, err = whatif.New(whatif.Options{Settings: set}); err != nil {
			return err
		}
		pol = eng.Policy()
	}
	lin := lint.Check(pol)
	if eng != nil {
		ins, err := openInputs(files, stdin)
		if err != nil {
			return err
		}
		defer closeInputs(ins)
		bad := 0
		err = decodeInputs(ins, set.MaxInputSize, func(_ *input, ev *audit.Event) error {
			o := eng.Add(ev)
			lin.Observe(ev, &o)
			return nil
		}, func(in *input, de *audit.DecodeError, raw []byte) error {
			if eng.Reject(de, len(raw)).Outcome != pipeline.Skipped {
				bad++
			}
			return nil
		})
		if err != nil {
			return err
		}
		if bad > 0 {
			fmt.Fprintf(stderr, "auditlane: %d input value(s) could not be decoded and were skipped\n", bad)
		}
	}
	fsd := lin.Findings()
	if *output == "json" {
		err = lint.WriteJSON(stdout, fsd)
	} else {
		err = lint.WriteTable(stdout, fsd)
	}
	if err != nil {
		return err
	}
	if code := lint.ExitCode(fsd); code != 0 {
		return exitError{code}
	}
	return nil
}
