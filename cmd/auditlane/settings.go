package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/auditlane/auditlane/common/config"
	"github.com/auditlane/auditlane/common/pipeline"
)

// settingsFlags maps command-line flags onto pipeline settings. Every
// flag that sets a pipeline key — the named ones such as --layout, each
// --set key=value and each --config FILE — is applied when it is parsed,
// in command-line order, so when two of them set the same key the last
// one wins.
type settingsFlags struct {
	set *pipeline.Settings
	// given records what was set, as key=value in order, for reports.
	given []string
}

// pipelineFlag is a flag that sets one pipeline key.
type pipelineFlag struct {
	name, key, usage string
	// boolean flags take no value ("--redact-secrets" means on).
	boolean bool
}

// processFlags are the named pipeline flags of process and policy test.
var processFlags = []pipelineFlag{
	{name: "policy", key: "policy_file", usage: "audit policy `FILE`"},
	{name: "max-input-size", key: "max_input_size", usage: "reject input values larger than `BYTES` (k/M/G suffixes)"},
	{name: "max-event-size", key: "max_event_size", usage: "shape output events to at most `BYTES` (truncate bodies, then shorten strings); 0: no limit"},
	{name: "cluster-name", key: "cluster_name", usage: "cluster `NAME` added to every event"},
	{name: "cluster-id", key: "cluster_id", usage: "cluster `ID` added to every event"},
	{name: "provider", key: "provider", usage: "`PROVIDER`: eks, ack, gke, aks or self-managed; detected when empty"},
	{name: "enrich-annotations", key: "enrich_annotations", boolean: true, usage: "write derived fields into the event as auditlane.io/* annotations"},
	{name: "redact-secrets", key: "redact_secrets", boolean: true, usage: "replace Secret data even where the policy keeps bodies"},
	{name: "redact-tokens", key: "redact_tokens", boolean: true, usage: "replace TokenRequest and TokenReview tokens even where the policy keeps bodies"},
	{name: "redact-query-tokens", key: "redact_query_tokens", boolean: true, usage: "replace token-like query parameter values in requestURI"},
	{name: "layout", key: "layout", usage: "output `LAYOUT`: json, sls (key/value as JSON) or attributes (flat map as JSON)"},
	{name: "risk-rules-file", key: "risk_rules_file", usage: "YAML `FILE` of extra risk rules"},
}

// addSettingsFlags registers flags (and --set, --config, --enrich) on fs.
// Defaults are those of pipeline.DefaultSettings, as in every front end.
func addSettingsFlags(fs *flag.FlagSet, set *pipeline.Settings, flags []pipelineFlag) *settingsFlags {
	sf := &settingsFlags{set: set}
	for _, f := range flags {
		f := f
		apply := func(v string) error { return sf.apply(f.key, v) }
		if f.boolean {
			fs.BoolFunc(f.name, f.usage+" (pipeline key "+f.key+")", apply)
		} else {
			fs.Func(f.name, f.usage+" (pipeline key "+f.key+")", apply)
		}
	}
	fs.BoolFunc("enrich", "derive identity, request, authorization, network fields and risk tags; --enrich=false also leaves out the annotations (pipeline keys enrich, enrich_annotations)", func(v string) error {
		on, err := pipeline.ParseBool(v)
		if err != nil {
			return err
		}
		if err := sf.apply("enrich", v); err != nil {
			return err
		}
		if !on {
			return sf.apply("enrich_annotations", "off")
		}
		return nil
	})
	fs.Func("set", "set any pipeline `key=value`, as in the Fluent Bit plugin; repeatable", func(kv string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("want key=value, got %q", kv)
		}
		return sf.apply(strings.TrimSpace(k), v)
	})
	fs.Func("config", "read pipeline keys from a YAML `FILE`: a map of the same keys as the collector's pipeline: section (or a file with that section)", sf.applyFile)
	return sf
}

func (sf *settingsFlags) apply(key, value string) error {
	if err := sf.set.Set(key, value); err != nil {
		return err
	}
	sf.given = append(sf.given, key+"="+value)
	return nil
}

// applyFile applies a YAML map of pipeline keys, in key order, as the
// collector reads its pipeline section (config.FromYAML, SetValue); an
// unknown key fails, naming it.
func (sf *settingsFlags) applyFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if inner, ok := m["pipeline"].(map[string]any); ok && len(m) == 1 {
		m = inner
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if m[k] == nil {
			continue
		}
		v, err := config.FromYAML(m[k])
		if err == nil {
			err = sf.set.SetValue(k, v)
		} else {
			err = config.Errorf(k, "%w", err)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		sf.given = append(sf.given, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return nil
}
