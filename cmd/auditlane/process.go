package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"

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
	outPath := fs.String("out", "", "write events to `FILE` instead of standard output")
	addSettingsFlags(fs, &set, append(processFlags[:len(processFlags):len(processFlags)],
		pipelineFlag{name: "dead-letter", key: "dead_letter_file", usage: "append rejected inputs with their reasons to `FILE` (JSON lines)"}))
	quiet := fs.Bool("quiet", false, "do not print the summary on stderr")
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
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
