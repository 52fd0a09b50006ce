package enrich

import (
	"strings"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
)

func TestJSONNav(t *testing.T) {
	obj := []byte(` {"a" : {"b":[1,"x\"}",{"c":true}]}, "k\u0065y":"v\\", "n":null,"e":{}} `)
	if got := string(field(obj, "a", "b")); got != `[1,"x\"}",{"c":true}]` {
		t.Errorf("field a.b = %s", got)
	}
	if strAt(obj, "key") != `v\` {
		t.Errorf("escaped key: %q", strAt(obj, "key"))
	}
	if field(obj, "n") == nil || object(obj, "n") != nil || object(obj, "e") == nil || field(obj, "missing") != nil {
		t.Error("null / empty object / missing")
	}
	var els []string
	eachElement(field(obj, "a", "b"), func(v []byte) { els = append(els, string(v)) })
	if strings.Join(els, "|") != `1|"x\"}"|{"c":true}` {
		t.Errorf("elements %q", els)
	}
	if !boolean([]byte(els[2]), "c") {
		t.Error("boolean c")
	}
	if boolean(obj, "a", "b") {
		t.Error("boolean of an array")
	}
}

// FuzzJSONNav: the navigator must neither panic nor loop on any input.
func FuzzJSONNav(f *testing.F) {
	for _, s := range []string{`{"a":[1,"b",{"c":"d"}]}`, `[}`, `{"a"`, `{"a":}`, `["x\`, `{"":{"":""}}`, `[,,]`, `{"a":1,,"b":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		field(b, "a", "c")
		strAt(b, "a")
		eachString(b, func(string) {})
		eachElement(b, func([]byte) {})
		podFacts(b)
		roleFacts(b)
		configMapHasCredentials(b)
	})
}

func TestUnquote(t *testing.T) {
	for raw, want := range map[string]string{
		`plain`: "plain", `a\"b`: `a"b`, `a\\b`: `a\b`, `a\/b`: "a/b", `x\ny\tz\r`: "x\ny\tz\r",
		`\u00e9t\u00e9`: "été", `\ud83d\ude00`: "😀", `mixed \" and \u0041`: `mixed " and A`,
		`RBAC: allowed by ClusterRoleBinding \"x\" of ClusterRole \"y\" to User \"z\"`: `RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "z"`,
	} {
		if got := unquote([]byte(raw)); got != want {
			t.Errorf("unquote(%s) = %q, want %q", raw, got, want)
		}
	}
}

func TestSkipString(t *testing.T) {
	for _, s := range []string{`""`, `"a"`, `"abcdefgh"`, `"abcdefghijklmnop"`, `"a\"b"`, `"abcdefg\"hijklmn\\"`, `"\\\\\\\\\\\\\\\\"`,
		`"0123456\\"`, `"01234567\\"`, `"\"\"\"\"\"\"\"\"\""`, `"日本語のテキスト\u00e9"`} {
		for pad := 0; pad < 9; pad++ {
			b := []byte(strings.Repeat(" ", pad) + s + `,"next"`)
			if got := skipString(b, pad); got != pad+len(s) {
				t.Errorf("skipString(%s, pad %d) = %d, want %d", s, pad, got, pad+len(s))
			}
		}
	}
	if got := skipString([]byte(`"unterminated\"`), 0); got != 15 {
		t.Errorf("unterminated: %d", got)
	}
}

func TestInternCache(t *testing.T) {
	var c internCache
	a := c.get([]byte(`a\"b`))
	if a != `a"b` || c.get([]byte(`a\"b`)) != `a"b` {
		t.Fatalf("get: %q", a)
	}
	if p := c.plain([]byte(`a\"b`)); p != `a\"b` {
		t.Fatalf("plain after get: %q", p)
	}
	if g := c.get([]byte(`a\"b`)); g != `a"b` {
		t.Fatalf("get after plain: %q", g)
	}
	// Many distinct values: every lookup still returns the right string.
	for i := 0; i < 1000; i++ {
		s := strings.Repeat("x", i%700) + string(rune('a'+i%26))
		if got := c.get([]byte(s)); got != s {
			t.Fatalf("get(%q) = %q", s, got)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { c.get([]byte("kubectl/v1.25.4 (darwin/amd64) kubernetes/872a965")) }); allocs != 0 {
		t.Errorf("repeated get allocates %v times", allocs)
	}
}

func TestNeedsEscape(t *testing.T) {
	for _, s := range []string{"", "a", "plain-ascii-text-longer-than-8", "ünïcödé ✓ text", "\x7f\x80\xff\xfe0123456789"} {
		if needsEscape(s) {
			t.Errorf("needsEscape(%q) = true", s)
		}
	}
	base := "abcdefghijklmnopqrstuvwxyz"
	for i := 0; i <= len(base); i++ {
		for _, c := range []byte{'"', '\\', 0, '\n', 0x1f} {
			s := base[:i] + string(c) + base[i:]
			if !needsEscape(s) {
				t.Errorf("needsEscape(%q) = false", s)
			}
			if got, want := `"`+string(appendEscaped(nil, s))+`"`, string(audit.AppendQuote(nil, s)); got != want {
				t.Errorf("appendEscaped(%q) = %s, want %s", s, got, want)
			}
		}
	}
}
