// Command demo runs an audit log through the Fluent Bit plugin as Fluent
// Bit would, without Fluent Bit: it packs the log into event-format v2
// chunks of {"log": line} records (what the tail input produces without a
// parser) and drives auditlane.so through the C harness (flbharness), with
// the file destination, so no cloud account is needed.
//
//	go run ./fluentbit/harness/demo -plugin bin/auditlane.so -harness bin/flbharness \
//	    -policy examples/policies/cost-saving.yaml -in examples/data/sample-audit.log -out out/fluentbit-audit.jsonl
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/auditlane/auditlane/fluentbit/internal/chunk"
)

func main() {
	plugin := flag.String("plugin", "bin/auditlane.so", "the plugin `FILE`")
	harness := flag.String("harness", "bin/flbharness", "the harness `BINARY`")
	policy := flag.String("policy", "examples/policies/cost-saving.yaml", "audit policy `FILE`")
	in := flag.String("in", "examples/data/sample-audit.log", "audit log `FILE` (JSON lines)")
	out := flag.String("out", "out/fluentbit-audit.jsonl", "output `FILE`")
	dead := flag.String("dead-letter", "out/fluentbit-dead-letter.jsonl", "dead-letter `FILE`")
	perChunk := flag.Int("records-per-chunk", 512, "records per chunk")
	flag.Parse()
	if err := run(*plugin, *harness, *policy, *in, *out, *dead, *perChunk); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(plugin, harness, policy, in, out, dead string, perChunk int) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "auditlane-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, f := range []string{out, dead} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return err
		}
		os.Remove(f)
	}
	script := []string{
		"new 0",
		"set 0 destination file",
		"set 0 file_path " + out,
		"set 0 policy_file " + policy,
		"set 0 cluster_name demo",
		"set 0 dead_letter_file " + dead,
		"init 0",
	}
	var lines [][]byte
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
		}
	}
	t0 := time.Now()
	for n, lo := 0, 0; lo < len(lines); n, lo = n+1, lo+perChunk {
		var b []byte
		for i, l := range lines[lo:min(lo+perChunk, len(lines))] {
			rec := msgp.AppendMapHeader(nil, 1)
			rec = msgp.AppendString(rec, "log")
			rec = msgp.AppendStringFromBytes(rec, l)
			b = chunk.AppendRecordV2(b, t0.Add(time.Duration(lo+i)*time.Microsecond), rec)
		}
		name := filepath.Join(dir, fmt.Sprintf("chunk-%04d.msgpack", n))
		if err := os.WriteFile(name, b, 0o600); err != nil {
			return err
		}
		script = append(script, "flush 0 kube.audit "+name)
	}
	script = append(script, "exit 0")
	scriptFile := filepath.Join(dir, "script")
	if err := os.WriteFile(scriptFile, []byte(strings.Join(script, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(harness, plugin, scriptFile)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("harness: %w", err)
	}
	ok, total := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "flush" {
			total++
			if f[2] == "1" { // FLB_OK
				ok++
			}
		}
		if len(f) == 3 && (f[0] == "init" || f[0] == "exit") && f[2] != "1" {
			return fmt.Errorf("plugin %s returned %s", f[0], f[2])
		}
	}
	kept := 0
	if b, err := os.ReadFile(out); err == nil {
		kept = bytes.Count(b, []byte("\n"))
	}
	fmt.Printf("fluent bit plugin: %d records in %d chunks, %d/%d flushes FLB_OK; %d events written to %s\n",
		len(lines), total, ok, total, kept, out)
	if ok != total {
		return fmt.Errorf("%d flushes did not return FLB_OK", total-ok)
	}
	return nil
}
