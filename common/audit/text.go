package audit

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/auditlane/auditlane/internal/jsonstr"
)

// This file rewrites the inputs that are not JSON into JSON before they are
// split: gzip data (Kinesis and Firehose records, Firehose's S3 objects)
// and YAML (gcloud logging read's default output).

// gunzipValue decompresses raw (gzip, possibly several members back to
// back) into dst, up to DefaultMaxSize bytes.
func gunzipValue(raw, dst []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return dst, errors.New("invalid gzip data")
	}
	w := bytes.NewBuffer(dst)
	n, err := io.Copy(w, io.LimitReader(zr, DefaultMaxSize+1))
	if err != nil {
		return w.Bytes(), errors.New("invalid gzip data")
	}
	if n > DefaultMaxSize {
		return w.Bytes(), errors.New("gzip data decompresses to more than " + strconv.Itoa(DefaultMaxSize) + " bytes")
	}
	return w.Bytes(), nil
}

// isYAMLStart reports whether b begins like a YAML document of gcloud's
// output: a document marker, a comment, or "key:" at the start.
func isYAMLStart(b []byte) bool {
	switch {
	case bytes.HasPrefix(b, []byte("---")) || b[0] == '#':
		return true
	}
	i := 0
	if b[0] == '\'' || b[0] == '"' {
		j := bytes.IndexByte(b[1:], b[0])
		if j < 0 {
			return false
		}
		i = j + 2
	} else {
		for i < len(b) && (b[i] >= 'a' && b[i] <= 'z' || b[i] >= 'A' && b[i] <= 'Z' || b[i] >= '0' && b[i] <= '9' || b[i] == '_' || b[i] == '-' || b[i] == '@' || b[i] == '.' || b[i] == '/') {
			i++
		}
		if i == 0 {
			return false
		}
	}
	return i < len(b) && b[i] == ':' && (i+1 == len(b) || b[i+1] == ' ' || b[i+1] == '\n' || b[i+1] == '\r')
}

// yamlToJSON appends the YAML documents in src to dst as JSON: one
// document as its value, several as an array of them. Mapping key order is
// kept; documents that are empty (comments only) are left out. Scalars
// keep their YAML type: quoted or timestamp-like values are strings.
func yamlToJSON(src, dst []byte) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	start := len(dst)
	dst = append(dst, '[')
	n := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if err == io.EOF {
			break
		}
		if err != nil {
			return dst[:start], err
		}
		if doc.Kind == 0 || len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		if dst, err = appendYAMLNode(dst, doc.Content[0], 0); err != nil {
			return dst[:start], err
		}
	}
	switch n {
	case 0:
		return dst[:start], nil
	case 1:
		// One document: drop the array around it.
		copy(dst[start:], dst[start+1:])
		return dst[:len(dst)-1], nil
	}
	return append(dst, ']'), nil
}

func appendYAMLNode(dst []byte, n *yaml.Node, depth int) ([]byte, error) {
	if depth > 512 {
		return dst, errors.New("nested too deep")
	}
	var err error
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return append(dst, "null"...), nil
		}
		return appendYAMLNode(dst, n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return dst, errors.New("unknown alias")
		}
		return appendYAMLNode(dst, n.Alias, depth+1)
	case yaml.MappingNode:
		dst = append(dst, '{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				dst = append(dst, ',')
			}
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return dst, errors.New("line " + strconv.Itoa(k.Line) + ": a mapping key that is not a scalar")
			}
			dst = jsonstr.AppendQuote(dst, k.Value)
			dst = append(dst, ':')
			if dst, err = appendYAMLNode(dst, n.Content[i+1], depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case yaml.SequenceNode:
		dst = append(dst, '[')
		for i, c := range n.Content {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendYAMLNode(dst, c, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return append(dst, "null"...), nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return dst, err
			}
			return strconv.AppendBool(dst, b), nil
		case "!!int":
			var v int64
			if err := n.Decode(&v); err != nil {
				return jsonstr.AppendQuote(dst, n.Value), nil
			}
			return strconv.AppendInt(dst, v, 10), nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil || f != f || f > 1.7e308 || f < -1.7e308 {
				return jsonstr.AppendQuote(dst, n.Value), nil
			}
			return strconv.AppendFloat(dst, f, 'g', -1, 64), nil
		}
		return jsonstr.AppendQuote(dst, n.Value), nil
	}
	return dst, errors.New("unsupported YAML node")
}
