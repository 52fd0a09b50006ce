package jsonstr

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestAppendUnescaped(t *testing.T) {
	for raw, want := range map[string]string{
		`plain`:                   "plain",
		`a\"b\\c\/d`:              `a"b\c/d`,
		`\b\f\n\r\t`:              "\b\f\n\r\t",
		`x\u0026y\u00e9`:          "x&yé",
		`\ud83d\ude00`:            "😀",
		`\ud83d`:                  "\ufffd",     // high surrogate alone
		`\ude00x`:                 "\ufffdx",    // low surrogate alone
		`\ud83d\u0041`:            "\ufffdA",    // high surrogate, then not a low one
		`\uZZZZ`:                  "\ufffdZZZZ", // bad hex digits
		`\u12`:                    "\ufffd12",   // truncated
		`\x`:                      "\ufffd",     // unknown escape
		`end\`:                    "end",        // trailing backslash dropped
		`{\"apiVersion\":\"v1\"}`: `{"apiVersion":"v1"}`,
	} {
		if got := string(AppendUnescaped([]byte("pre:"), []byte(raw))); got != "pre:"+want {
			t.Errorf("%s: got %q, want %q", raw, got, "pre:"+want)
		}
	}
}

func FuzzAppendUnescaped(f *testing.F) {
	for _, s := range []string{`a\"b`, `\ud83d\ude00`, `\ud83d`, `\u00`, `x\`, `\q`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := AppendUnescaped(nil, raw)
		if utf8.Valid(raw) && !utf8.Valid(got) {
			t.Fatalf("%q: invalid UTF-8 out: %q", raw, got)
		}
		// encoding/json turns invalid UTF-8 into U+FFFD; the decoder rejects
		// it before unescaping, so only valid input is compared.
		var want string
		if utf8.Valid(raw) && json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &want) == nil && string(got) != want {
			t.Fatalf("%q: got %q, encoding/json %q", raw, got, want)
		}
	})
}
