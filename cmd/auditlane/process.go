package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/policy"
)

// runProcess decodes events, applies the policy and writes kept events as
// compact JSON lines. Rejected inputs are reported on stderr, counted and
// written to the dead letter when one is configured; the exit status is
// then 1.
func runProcess(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("auditlane process", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policyPath := fs.String("policy", "", "audit policy `FILE`; without it every event is kept unchanged")
	outPath := fs.String("out", "", "write events to `FILE` instead of standard output")
	deadPath := fs.String("dead-letter", "", "append rejected inputs with their reasons to `FILE` (JSON lines)")
	maxSize := fs.Int("max-event-size", audit.DefaultMaxSize, "reject input values larger than `BYTES`")
	quiet := fs.Bool("quiet", false, "do not print the summary on stderr")
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	var pol *policy.Policy
	if *policyPath != "" {
		if pol, err = policy.Load(*policyPath); err != nil {
			return err
		}
	}
	var dead *pipeline.DeadLetter
	if *deadPath != "" {
		if dead, err = pipeline.OpenDeadLetter(*deadPath); err != nil {
			return err
		}
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
	p := pipeline.New(pipeline.Config{Policy: pol})
	var w audit.Rewrite
	var buf []byte
	for _, in := range ins {
		d := audit.NewDecoder(in.r)
		d.MaxSize = *maxSize
		for {
			ev, err := d.Next()
			if err == io.EOF {
				break
			}
			var de *audit.DecodeError
			if errors.As(err, &de) {
				raw := d.Rejected()
				r := p.Reject(err, len(raw))
				fmt.Fprintf(stderr, "auditlane: %s: %v\n", in.name, err)
				if dead != nil {
					if err := dead.Write(pipeline.Letter{Reason: r.Reason, Err: err, Line: de.Line, Source: in.name, Raw: raw}); err != nil {
						return err
					}
				}
				continue
			}
			if err != nil {
				out.Flush()
				return fmt.Errorf("%s: %w", in.name, err)
			}
			r := p.Process(ev, &w, buf[:0])
			if r.Outcome != pipeline.Kept {
				continue
			}
			buf = append(r.Out, '\n')
			if _, err := out.Write(buf); err != nil {
				return err
			}
		}
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
		fmt.Fprintf(stderr, "auditlane: %d events in (%s), %d kept (%s), %d dropped by policy, %d rejected\n",
			c.EventsIn, humanBytes(c.BytesIn), c.Kept, humanBytes(c.BytesOut), c.Dropped, c.Rejected)
	}
	if c.Rejected > 0 {
		return exitError{1}
	}
	return nil
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
