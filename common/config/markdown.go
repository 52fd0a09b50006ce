package config

import (
	"fmt"
	"regexp"
	"strings"
)

// Markdown returns the keys of s as a Markdown table (key, type, default,
// description), the form the READMEs carry between
// "<!-- keys NAME -->" and "<!-- end keys -->" markers.
func Markdown(s Section) string {
	var b strings.Builder
	b.WriteString("| key | type | default | description |\n| --- | --- | --- | --- |\n")
	for _, k := range s.Keys {
		typ := string(k.Type)
		if k.Type == TypeEnum {
			typ = strings.Join(k.Enum, " \\| ")
		}
		if k.Unit != "" && k.Type != TypeSize {
			typ += " (" + k.Unit + ")"
		}
		def := "—"
		if k.Default != "" {
			def = "`" + k.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.Name, typ, def, strings.ReplaceAll(k.Doc, "|", "\\|"))
	}
	return b.String()
}

var keysBlock = regexp.MustCompile(`(?s)<!-- keys ([a-z0-9-]+) -->\n.*?<!-- end keys -->`)

// ReplaceTables rewrites every "<!-- keys NAME -->" block of doc with
// tables[NAME] and reports the names it found; a name with no table is an
// error.
func ReplaceTables(doc string, tables map[string]string) (string, []string, error) {
	var found []string
	var err error
	out := keysBlock.ReplaceAllStringFunc(doc, func(block string) string {
		name := keysBlock.FindStringSubmatch(block)[1]
		found = append(found, name)
		t, ok := tables[name]
		if !ok {
			err = fmt.Errorf("no key table named %q", name)
			return block
		}
		return "<!-- keys " + name + " -->\n" + t + "<!-- end keys -->"
	})
	return out, found, err
}
