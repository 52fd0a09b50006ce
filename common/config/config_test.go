package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type target struct {
	S    string
	B    bool
	N    int
	Size int
	D    time.Duration
	L    []string
	M    map[string]string
	E    string
}

var testSection = Section{Name: "t", Keys: []Key{
	String("policy_file", "", All, "doc", func(t *target, v string) { t.S = v }),
	Bool("redact_secrets", "off", All, "doc", func(t *target, v bool) { t.B = v }),
	Int("dead_letter_max_files", "5", "files", 1, 10, All, "doc", func(t *target, v int) { t.N = v }),
	Size("max_event_size", "1M", 0, All, "doc", func(t *target, v int) { t.Size = v }),
	Duration("retry_max_elapsed", "2s", FluentBit|Collector, "doc", func(t *target, v time.Duration) { t.D = v }),
	ListOf("risk_rules_disable", "", All, "doc", func(t *target, v []string) { t.L = v }),
	MapOf("log_tags", FluentBit, "doc", func(t *target, v map[string]string) { t.M = v }),
	Enum("layout", "json", []string{"json", "sls"}, All, "doc", func(t *target, v string) { t.E = v }),
}}

func TestSectionDefaultsAndSet(t *testing.T) {
	var x target
	testSection.Defaults(&x)
	if x.B || x.N != 5 || x.Size != 1<<20 || x.D != 2*time.Second || x.E != "json" {
		t.Fatalf("defaults %+v", x)
	}
	for k, v := range map[string]Value{"policy_file": StringValue(" p.yaml "), "redact_secrets": StringValue("ON"),
		"max_event_size": StringValue("256k"), "retry_max_elapsed": StringValue("90"), "risk_rules_disable": {List: []string{"a", "b"}, Kind: List},
		"log_tags": StringValue("a=1, b=2"), "layout": StringValue("SLS")} {
		if err := testSection.Set(&x, k, v); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	if x.S != "p.yaml" || !x.B || x.Size != 256<<10 || x.D != 90*time.Second || len(x.L) != 2 || x.M["b"] != "2" || x.E != "sls" {
		t.Fatalf("set %+v", x)
	}
	m, _ := FromYAML(map[string]any{"k": 1})
	if err := testSection.Set(&x, "log_tags", m); err != nil || x.M["k"] != "1" {
		t.Fatalf("map from YAML: %v %v", err, x.M)
	}
}

func TestErrorsNameTheKeyOnce(t *testing.T) {
	var x target
	for _, c := range []struct {
		key  string
		v    Value
		want string
	}{
		{"redact_secrets", StringValue("maybe"), `redact_secrets: "maybe" is not a boolean (on/off, true/false, yes/no)`},
		{"dead_letter_max_files", StringValue("0"), "dead_letter_max_files: 0 is out of range [1, 10]"},
		{"layout", StringValue("xml"), `layout: "xml" is not one of json, sls`},
		{"policy_file", Value{List: []string{"a"}, Kind: List}, "policy_file: want a single value"},
		{"polcy_file", StringValue("x"), "polcy_file: unknown key (did you mean policy_file?)"},
		{"redact_secret", StringValue("on"), "redact_secret: unknown key (did you mean redact_secrets?)"},
		{"zzz", StringValue("on"), "zzz: unknown key"},
	} {
		err := testSection.Set(&x, c.key, c.v)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: %v, want %q", c.key, err, c.want)
		}
	}
	err := testSection.Set(&x, "polcy_file", StringValue("x"))
	if !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key error does not match ErrUnknownKey")
	}
}

func TestForAndMerge(t *testing.T) {
	fb := testSection.For(FluentBit)
	col := testSection.For(Collector)
	if fb.Lookup("log_tags") == nil || col.Lookup("log_tags") != nil || col.Lookup("retry_max_elapsed") == nil {
		t.Fatal("For does not filter by front end")
	}
	m := Merge("m", testSection, Section{Keys: []Key{String("policy_file", "", All, "", func(*target, string) {}), String("extra", "", All, "", func(*target, string) {})}})
	if len(m.Keys) != len(testSection.Keys)+1 {
		t.Fatalf("merge has %d keys", len(m.Keys))
	}
	if got := strings.Join(SortedNames(testSection)[:2], ","); got != "dead_letter_max_files,layout" {
		t.Fatalf("sorted names %s", got)
	}
}

func TestParsers(t *testing.T) {
	for in, want := range map[string]int{"1024": 1024, "1k": 1024, "2M": 2 << 20, "1G": 1 << 30, "3 KiB": 3072, "5b": 5} {
		if n, err := ParseSize(in); err != nil || n != want {
			t.Errorf("ParseSize(%q) = %d, %v", in, n, err)
		}
	}
	for _, bad := range []string{"", "-1", "lots", "1T"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	if d, err := ParseDuration("1m30s"); err != nil || d != 90*time.Second {
		t.Errorf("ParseDuration: %v %v", d, err)
	}
	if _, err := ParseDuration("-3s"); err == nil {
		t.Error("negative duration accepted")
	}
	if _, err := ParseMap("novalue"); err == nil {
		t.Error("ParseMap accepted a pair without =")
	}
}
