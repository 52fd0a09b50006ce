// Command auditlane filters, enriches and forwards Kubernetes audit events.
//
// Usage:
//
//	auditlane policy eval --policy FILE [LOG...]     one decision per event, as JSON lines
//	auditlane policy test --policy FILE LOG...       what-if report: volume, savings, cost, as shipped
//	auditlane policy lint --policy FILE [LOG...]     findings a security reviewer would raise
//	auditlane policy suggest --budget-gb-month N LOG...  a policy for a monthly budget
//	auditlane process --policy FILE [--out FILE] [LOG...]
//
// LOG arguments are files of JSON lines, EventList objects or JSON arrays
// of audit events (gzip-compressed files too); "-" or no argument reads
// standard input.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `auditlane filters, enriches and forwards Kubernetes audit events.

Usage:
  auditlane policy eval --policy FILE [LOG...]
        Print the policy decision for every event as one JSON object per line.
  auditlane policy test --policy FILE [--set key=value] [--config FILE] [--price-model M | --price-per-gb P]
                        [--output table|json] [--html FILE [--budget-gb-month N]] LOG...
        Report what a policy keeps and drops and what it costs, measured as the
        front ends ship it; optionally as a self-contained HTML page.
  auditlane policy lint --policy FILE [--output table|json] [LOG...]
        Findings a security reviewer would raise; exit 1 on a high finding.
  auditlane policy suggest (--budget-gb-month N | --budget-usd-month N) [--set key=value] LOG...
        Write a policy that fits the budget and keeps every security-relevant
        event; exit 2 and print the smallest budget that works if none does.
  auditlane process [--policy FILE] [--set key=value] [--config FILE] [--out FILE] [--dead-letter FILE] [LOG...]
        Decode, apply the policy and write the kept events as JSON lines.
  auditlane pull --from cloudwatch|sls ... --since 2h [--until T] [--out FILE]
        Fetch audit history from CloudWatch Logs (EKS) or SLS (ACK) as JSON lines.

LOG files hold JSON lines, EventList objects or JSON arrays of audit events
(gzip-compressed too); "-" or no LOG reads standard input.
Run "auditlane COMMAND -h" for a command's flags.
`

// exitError carries a process exit code.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "auditlane:", err)
		os.Exit(2)
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError{2}
	}
	switch args[0] {
	case "policy":
		if len(args) < 2 {
			fmt.Fprint(stderr, usage)
			return exitError{2}
		}
		switch args[1] {
		case "eval":
			return runEval(args[2:], stdin, stdout, stderr)
		case "test":
			return runTest(args[2:], stdin, stdout, stderr)
		case "lint":
			return runLint(args[2:], stdin, stdout, stderr)
		case "suggest":
			return runSuggest(args[2:], stdin, stdout, stderr)
		}
		return fmt.Errorf("unknown command %q; see auditlane -h", "policy "+args[1])
	case "process":
		return runProcess(args[1:], stdin, stdout, stderr)
	case "pull":
		return runPull(args[1:], stdin, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q; see auditlane -h", args[0])
}
