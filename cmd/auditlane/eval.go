package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/policy"
)

// parseArgs parses flags that may appear before, between or after the
// positional arguments, and returns the positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// loadPolicy loads the --policy file, which is required.
func loadPolicy(path string) (*policy.Policy, error) {
	if path == "" {
		return nil, errors.New("--policy FILE is required")
	}
	return policy.Load(path)
}

// runEval prints one decision per input event. The output format is a
// stable contract:
//
//	{"auditID":"…","level":"None|Metadata|Request|RequestResponse","omitStages":[…],"omitManagedFields":false,"dropped":false,"rule":3}
//
// and {"error":"…","line":N} in place of an undecodable event; the exit
// status is then 1. Records of a provider's export that are not audit
// events (not_audit) are skipped and counted on stderr.
func runEval(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("auditlane policy eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policyPath := fs.String("policy", "", "audit `FILE` (Policy YAML, audit.k8s.io/v1, v1beta1 or v1alpha1)")
	maxSize := fs.Int("max-event-size", audit.DefaultMaxSize, "reject input values larger than `BYTES`")
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
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
	out := bufio.NewWriterSize(stdout, 64<<10)
	var buf []byte
	bad, skipped := 0, 0
	err = decodeInputs(ins, *maxSize, func(in *input, ev *audit.Event) error {
		_, err := out.Write(appendDecision(buf[:0], ev, p.Decide(ev)))
		return err
	}, func(in *input, de *audit.DecodeError, _ []byte) error {
		if errors.Is(de, audit.ErrNotAudit) {
			skipped++
			return nil
		}
		bad++
		buf = append(buf[:0], `{"error":`...)
		buf = audit.AppendQuote(buf, in.name+": "+de.Error())
		buf = append(buf, `,"line":`...)
		buf = strconv.AppendInt(buf, int64(de.Line), 10)
		buf = append(buf, "}\n"...)
		_, err := out.Write(buf)
		return err
	})
	if err != nil {
		out.Flush()
		return err
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if skipped > 0 {
		fmt.Fprintf(stderr, "auditlane: %d record(s) skipped: not audit events (not_audit)\n", skipped)
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "auditlane: %d input value(s) could not be decoded\n", bad)
		return exitError{1}
	}
	return nil
}

func appendDecision(b []byte, ev *audit.Event, d policy.Decision) []byte {
	b = append(b, `{"auditID":`...)
	b = audit.AppendQuote(b, ev.AuditID)
	b = append(b, `,"level":"`...)
	b = append(b, d.Level.String()...)
	b = append(b, `","omitStages":[`...)
	for i, s := range d.OmitStages.Names() {
		if i > 0 {
			b = append(b, ',')
		}
		b = audit.AppendQuote(b, s)
	}
	b = append(b, `],"omitManagedFields":`...)
	b = strconv.AppendBool(b, d.OmitManagedFields)
	b = append(b, `,"dropped":`...)
	b = strconv.AppendBool(b, d.Dropped(ev.Stage))
	b = append(b, `,"rule":`...)
	b = strconv.AppendInt(b, int64(d.Rule), 10)
	return append(b, "}\n"...)
}
