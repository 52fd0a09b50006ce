package provider

import (
	"github.com/valyala/fastjson"
)

// unwrapAzureDiagnostics converts a Log Analytics AzureDiagnostics row (the
// legacy "Azure diagnostics" destination table): Category, ResourceId,
// TimeGenerated, log_s (the Event as a string), pod_s, stream_s.
func unwrapAzureDiagnostics(dst, obj []byte, origin *Origin) ([]byte, error) {
	var category, resourceID, resourceID2, timeGen, log, pod []byte
	if err := readSlots(AKS, "", obj, []slot{
		{"Category", &category, '"'}, {"category", &category, '"'},
		{"ResourceId", &resourceID, '"'}, {"_ResourceId", &resourceID2, '"'},
		{"TimeGenerated", &timeGen, '"'}, {"log_s", &log, 0}, {"pod_s", &pod, '"'},
	}); err != nil {
		return dst, err
	}
	if resourceID == nil {
		resourceID = resourceID2
	}
	if err := aksCategory("Category", category); err != nil {
		return dst, err
	}
	setAKSOrigin(origin, resourceID)
	if isNull(log) {
		return dst, fail(AKS, "log_s", ErrMissing, "")
	}
	add := [...]annotation{
		{AnnProvider, []byte(`"aks"`)}, {AnnFormat, quoted(origin.Format)}, {AnnAKSTable, []byte(`"AzureDiagnostics"`)},
		{AnnAKSCategory, category}, {AnnAKSResourceID, resourceID}, {AnnAKSPod, pod}, {AnnAKSTime, timeGen},
	}
	return appendInnerEvent(dst, AKS, "log_s", log, add[:])
}

var tableParsers fastjson.ParserPool

// skippedObject is what Log Analytics writes instead of a large body.
const skippedObject = "skipped-too-big-size-object"

// unwrapAKSTable converts a row of the resource-specific tables AKSAudit
// and AKSAuditAdmin back into an Event: the columns are the Event's
// members with other names (AuditId, RequestUri, Verb, User, SourceIps,
// ObjectRef, ResponseStatus, RequestObject, ResponseObject,
// RequestReceivedTime, StageReceivedTime, Annotations); dynamic columns
// arrive as objects or, from some exports, as JSON text.
func (o *Out) unwrapAKSTable(dst, obj []byte, origin *Origin) ([]byte, error) {
	p := tableParsers.Get()
	defer tableParsers.Put(p)
	row, err := p.ParseBytes(obj)
	if err != nil {
		return dst, fail(AKS, "", ErrSyntax, "")
	}
	str := func(col string) ([]byte, error) {
		v := row.Get(col)
		if v == nil || v.Type() == fastjson.TypeNull {
			return nil, nil
		}
		if v.Type() != fastjson.TypeString {
			return nil, typeErr(AKS, col, "string", []byte(v.Type().String()))
		}
		return v.GetStringBytes(), nil
	}
	// dyn returns a dynamic column as JSON (nil when absent or empty).
	dyn := func(col string, want fastjson.Type) ([]byte, bool, error) {
		v := row.Get(col)
		if v == nil || v.Type() == fastjson.TypeNull {
			return nil, false, nil
		}
		if v.Type() == fastjson.TypeString {
			s := v.GetStringBytes()
			if string(s) == skippedObject {
				return nil, true, nil
			}
			if len(s) == 0 {
				return nil, false, nil
			}
			inner, err := fastjson.ParseBytes(s)
			if err != nil {
				return nil, false, fail(AKS, col, ErrSyntax, "the string is not JSON")
			}
			v = inner
		}
		if v.Type() != want {
			return nil, false, typeErr(AKS, col, want.String(), []byte(v.Type().String()))
		}
		return v.MarshalTo(nil), false, nil
	}
	if t, err := str("Type"); err != nil {
		return dst, err
	} else if t != nil && string(t) != "AKSAudit" && string(t) != "AKSAuditAdmin" {
		return dst, fail(AKS, "Type", ErrNotAudit, quoteShort(t)+" is not AKSAudit or AKSAuditAdmin")
	}
	rid, err := str("_ResourceId")
	if err != nil {
		return dst, err
	}
	if rid != nil {
		setAKSOrigin(origin, appendQuote(nil, rid))
	}
	n := len(dst)
	dst = append(dst, `{"kind":"Event","apiVersion":"audit.k8s.io/v1"`...)
	for _, c := range [...]struct{ col, member string }{
		{"Level", "level"}, {"AuditId", "auditID"}, {"Stage", "stage"}, {"RequestUri", "requestURI"}, {"Verb", "verb"},
	} {
		v, err := str(c.col)
		if err != nil {
			return dst[:n], err
		}
		if v != nil {
			dst = append(dst, `,"`+c.member+`":`...)
			dst = appendQuote(dst, v)
		}
	}
	var skipped []byte
	for _, c := range [...]struct {
		col, member string
		want        fastjson.Type
	}{
		{"User", "user", fastjson.TypeObject}, {"SourceIps", "sourceIPs", fastjson.TypeArray},
		{"UserAgent", "userAgent", fastjson.TypeString}, {"ObjectRef", "objectRef", fastjson.TypeObject},
		{"ResponseStatus", "responseStatus", fastjson.TypeObject},
		{"RequestObject", "requestObject", fastjson.TypeObject}, {"ResponseObject", "responseObject", fastjson.TypeObject},
		{"RequestReceivedTime", "requestReceivedTimestamp", fastjson.TypeString}, {"StageReceivedTime", "stageTimestamp", fastjson.TypeString},
	} {
		var v []byte
		var skip bool
		if c.want == fastjson.TypeString {
			s, err := str(c.col)
			if err != nil {
				return dst[:n], err
			}
			if s != nil {
				v = appendQuote(nil, s)
			}
		} else if v, skip, err = dyn(c.col, c.want); err != nil {
			return dst[:n], err
		}
		if skip {
			if len(skipped) > 0 {
				skipped = append(skipped, ',')
			}
			skipped = append(skipped, c.member...)
		}
		if v != nil {
			dst = append(dst, `,"`+c.member+`":`...)
			dst = append(dst, v...)
		}
	}
	ann, _, err := dyn("Annotations", fastjson.TypeObject)
	if err != nil {
		return dst[:n], err
	}
	typ, _ := str("Type")
	pod, _ := str("PodName")
	tg, _ := str("TimeGenerated")
	dst = append(dst, `,"annotations":`...)
	dst = appendAnnotations(dst, []annotation{
		{AnnProvider, []byte(`"aks"`)}, {AnnFormat, quoted(origin.Format)}, {AnnAKSTable, quoted(string(typ))},
		{AnnAKSResourceID, quoted(string(rid))}, {AnnAKSPod, quoted(string(pod))}, {AnnAKSTime, quoted(string(tg))},
		{AnnAKSSkipped, quoted(string(skipped))}, {AnnReconstructed, []byte(`"kind,apiVersion"`)},
	}, ann)
	return append(dst, '}'), nil
}
