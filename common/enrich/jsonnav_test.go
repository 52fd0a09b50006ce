package enrich

import (
	"strings"
	"testing"
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
