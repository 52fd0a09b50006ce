package shape

import (
	"bytes"

	"github.com/buger/jsonparser"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/enrich"
)

// TruncatedAnnotation is the annotation the apiserver's truncate backend
// adds to events whose bodies it removed.
const TruncatedAnnotation = "audit.k8s.io/truncated"

// setAnnotations sets the annotations member to the event's own entries
// (raw bytes, minus auditlane.io/* entries that arrived in the input) plus
// the enrichment entries and, when truncated, audit.k8s.io/truncated:
// "true". The auditlane.io/* entries of an event converted from a
// provider's record were written by the decoder (which dropped any the
// record carried) and are kept.
func (o *Output) setAnnotations(ev *audit.Event, w *audit.Rewrite, r *enrich.Result, truncated bool) {
	annotate := r != nil && r.WantAnnotations()
	if !annotate && !truncated {
		return
	}
	buf := append(o.ann[:0], '{')
	count := 0
	comma := func() {
		if count > 0 {
			buf = append(buf, ',')
		}
		count++
	}
	own := ev.Value(audit.MemberAnnotations)
	_, derived := ev.Origin()
	if len(own) > 0 && own[0] == '{' && (derived || !bytes.Contains(own, []byte(enrich.AnnotationPrefix))) &&
		!(truncated && bytes.Contains(own, []byte(TruncatedAnnotation))) {
		// Fast path: nothing to remove, copy the members as they are.
		if inner := bytes.TrimSpace(own[1 : len(own)-1]); len(inner) > 0 {
			buf = append(buf, inner...)
			count++
		}
	} else if len(own) > 0 && own[0] == '{' {
		jsonparser.ObjectEach(own, func(key, value []byte, t jsonparser.ValueType, _ int) error {
			if !derived && bytes.HasPrefix(key, []byte(enrich.AnnotationPrefix)) || truncated && string(key) == TruncatedAnnotation {
				return nil
			}
			comma()
			buf = appendQuoteBytes(buf, key)
			buf = append(buf, ':')
			if t == jsonparser.String {
				buf = append(buf, '"')
				buf = append(buf, value...)
				buf = append(buf, '"')
			} else {
				buf = append(buf, value...)
			}
			return nil
		})
	}
	if annotate {
		var n int
		buf, n = r.AppendAnnotationsJSON(buf, count > 0)
		count += n
	}
	if truncated {
		comma()
		buf = append(buf, `"`+TruncatedAnnotation+`":"true"`...)
	}
	buf = append(buf, '}')
	o.ann = buf
	if count == 0 && !ev.Span(audit.MemberAnnotations).Present() {
		return // nothing to add: keep the event as it was
	}
	w.SetValue(audit.MemberAnnotations, buf)
}
