package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/enrich"
	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/shape"
	"github.com/auditlane/auditlane/common/sink"
)

// runProcess decodes events, applies the policy and writes kept events as
// compact JSON lines. Rejected inputs are reported on stderr, counted and
// written to the dead letter when one is configured; the exit status is
// then 1.
func runProcess(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("auditlane process", flag.ContinueOnError)
	fs.SetOutput(stderr)
	set := pipeline.DefaultSettings()
	fs.StringVar(&set.PolicyFile, "policy", "", "audit policy `FILE`; without it every event keeps the level it has")
	outPath := fs.String("out", "", "write events to `FILE` instead of standard output")
	fs.StringVar(&set.DeadLetterFile, "dead-letter", "", "append rejected inputs with their reasons to `FILE` (JSON lines)")
	fs.IntVar(&set.MaxInputSize, "max-input-size", set.MaxInputSize, "reject input values larger than `BYTES`")
	fs.IntVar(&set.Shape.MaxEventSize, "max-event-size", set.Shape.MaxEventSize, "shape output events to at most `BYTES` (truncate bodies, then shorten strings); 0: no limit")
	fs.StringVar(&set.Enrich.ClusterName, "cluster-name", "", "cluster `NAME` added to every event")
	fs.StringVar(&set.Enrich.ClusterID, "cluster-id", "", "cluster `ID` added to every event")
	fs.StringVar(&set.Enrich.Provider, "provider", "", "`PROVIDER`: eks, ack, gke, aks or self-managed; detected when empty")
	enrichAll := fs.Bool("enrich", true, "derive identity, request, authorization, network fields and risk tags")
	fs.BoolVar(&set.Enrich.Annotations, "enrich-annotations", true, "write derived fields into the event as auditlane.io/* annotations")
	// Flag defaults are the schema's defaults (pipeline.DefaultSettings):
	// a flag only changes what it is given.
	fs.BoolVar(&set.Shape.RedactSecrets, "redact-secrets", set.Shape.RedactSecrets, "replace Secret data even where the policy keeps bodies")
	fs.BoolVar(&set.Shape.RedactTokens, "redact-tokens", set.Shape.RedactTokens, "replace TokenRequest and TokenReview tokens even where the policy keeps bodies")
	fs.BoolVar(&set.Shape.RedactQueryTokens, "redact-query-tokens", set.Shape.RedactQueryTokens, "replace token-like query parameter values in requestURI")
	fs.Func("layout", "output `LAYOUT`: json (default), sls (key/value as JSON) or attributes (flat map as JSON); the same as --set layout=", func(v string) error {
		return set.Set("layout", v)
	})
	fs.StringVar(&set.RiskRulesFile, "risk-rules-file", "", "YAML `FILE` of extra risk rules")
	fs.Func("set", "set any pipeline `key=value` (as in the Fluent Bit plugin); repeatable", func(kv string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("want key=value, got %q", kv)
		}
		return set.Set(k, v)
	})
	quiet := fs.Bool("quiet", false, "do not print the summary on stderr")
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if !*enrichAll {
		set.Set("enrich", "off")
		set.Enrich.Annotations = false
	}
	p, dead, err := set.Build()
	if err != nil {
		return err
	}
	if dead != nil {
		defer dead.Close()
	}
	ins, err := openInputs(files, stdin)
	if err != nil {
		return err
	}
	defer closeInputs(ins)
	dst := stdout
	var outFile *os.File
	if *outPath != "" {
		if outFile, err = os.Create(*outPath); err != nil {
			return err
		}
		defer outFile.Close()
		dst = outFile
	}
	out := bufio.NewWriterSize(dst, 256<<10)
	var scratch pipeline.Scratch
	var line []byte
	reject := func(name string, lineNo int, r *pipeline.Result) error {
		if r.Outcome == pipeline.Skipped {
			return nil // a provider's record that is not an audit event: counted
		}
		fmt.Fprintf(stderr, "auditlane: %s: %v\n", name, r.Err)
		if dead != nil {
			// A decoded event is dead-lettered as shaped (policy applied,
			// redacted); undecodable input as its size, hash and a masked
			// prefix unless dead_letter_raw is on.
			return dead.Write(pipeline.LetterFor(r, name, lineNo))
		}
		return nil
	}
	err = decodeInputs(ins, set.MaxInputSize, func(in *input, ev *audit.Event) error {
		r := p.Process(ev, &scratch)
		switch r.Outcome {
		case pipeline.Dropped, pipeline.Skipped:
			return nil
		case pipeline.Rejected:
			return reject(in.name, ev.Line, &r)
		}
		line = append(append(line[:0], r.Out...), '\n')
		if r.Fields != nil && set.Shape.Layout == shape.LayoutSLS {
			line = appendFields(line[:0], r.Fields)
		}
		_, err := out.Write(line)
		return err
	}, func(in *input, de *audit.DecodeError, raw []byte) error {
		r := p.Reject(de, len(raw))
		r.Raw = raw
		return reject(in.name, de.Line, &r)
	})
	if err != nil {
		out.Flush()
		return err
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if outFile != nil {
		if err := outFile.Close(); err != nil {
			return err
		}
	}
	c := p.Counters()
	if !*quiet {
		fmt.Fprintf(stderr, "auditlane: %d events in (%s), %d kept (%s), %d dropped by policy, %d rejected, %d skipped (not audit)\n",
			c.EventsIn, humanBytes(c.BytesIn), c.Kept, humanBytes(c.BytesOut), c.Dropped, c.Rejected, c.Skipped)
	}
	if en := p.Enricher(); en != nil && en.ProviderMismatches() > 0 {
		fmt.Fprintf(stderr, "auditlane: warning: %d events came from another provider than --provider %s (see annotation %s)\n",
			en.ProviderMismatches(), set.Enrich.Provider, enrich.AnnProviderMismatch)
	}
	if c.Rejected > 0 {
		return exitError{1}
	}
	return nil
}

// appendFields writes a key/value layout as one JSON object line.
func appendFields(b []byte, fields []sink.Field) []byte {
	b = append(b, '{')
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = audit.AppendQuote(b, f.Key)
		b = append(b, ':')
		b = audit.AppendQuote(b, f.Value)
	}
	return append(b, "}\n"...)
}

// humanBytes formats n bytes with a binary unit.
func humanBytes(n int64) string {
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
