package slstest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/pierrec/lz4/v4"
)

const (
	ak = "LTAIserverTestKey"
	sk = "server-test-secret"
)

func start(t *testing.T) *Server {
	t.Helper()
	s, err := Start("127.0.0.1:0", Options{
		Projects: map[string][]string{"prj": {"ls"}},
		Keys:     map[string]string{ak: sk},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func logGroupBytes(t *testing.T) []byte {
	t.Helper()
	str := func(s string) *string { return &s }
	tm, ns := uint32(1700000000), uint32(5)
	lg := &slssdk.LogGroup{
		Topic: str("topic"),
		Logs:  []*slssdk.Log{{Time: &tm, TimeNs: &ns, Contents: []*slssdk.LogContent{{Key: str("k"), Value: str("v")}}}},
	}
	b, err := lg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type req struct {
	host, uri, secret string
	headers           map[string]string
	body              []byte
}

// validReq is a request as the SDK sends it: LZ4 body, v1 headers.
func validReq(t *testing.T) *req {
	raw := logGroupBytes(t)
	out := make([]byte, lz4.CompressBlockBound(len(raw)))
	n, err := lz4.CompressBlock(raw, out, nil)
	if err != nil || n == 0 {
		t.Fatalf("compress: %d %v", n, err)
	}
	return &req{
		host: "prj.sls.test", uri: "/logstores/ls", secret: sk,
		headers: map[string]string{
			"x-log-compresstype": "lz4",
			"x-log-bodyrawsize":  strconv.Itoa(len(raw)),
			"Content-Type":       "application/x-protobuf",
			"x-log-apiversion":   APIVersion,
			"Date":               time.Now().UTC().Format(http.TimeFormat),
		},
		body: out[:n],
	}
}

func (r *req) sign(t *testing.T) {
	t.Helper()
	if err := slssdk.NewSignerV1(ak, r.secret).Sign("POST", r.uri, r.headers, r.body); err != nil {
		t.Fatal(err)
	}
}

func (r *req) send(t *testing.T, s *Server) (int, string) {
	t.Helper()
	hr, err := http.NewRequest("POST", "http://"+r.host+r.uri, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.headers {
		hr.Header.Set(k, v)
	}
	resp, err := s.Client().Do(hr)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	if resp.Header.Get("x-log-requestid") == "" {
		t.Error("answer without x-log-requestid")
	}
	if resp.StatusCode == 200 {
		return 200, ""
	}
	var e struct {
		Code string `json:"errorCode"`
		Msg  string `json:"errorMessage"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &e); err != nil || e.Msg == "" {
		t.Errorf("error body %q is not the SLS JSON error", b)
	}
	return resp.StatusCode, e.Code
}

func TestServerProtocol(t *testing.T) {
	cases := []struct {
		name   string
		pre    func(*req) // before signing
		post   func(*req) // after signing (tampering)
		status int
		code   string
	}{
		{"valid", nil, nil, 200, ""},
		{"uncompressed", func(r *req) {
			r.body = logGroupBytes(t)
			delete(r.headers, "x-log-compresstype")
		}, nil, 200, ""},
		{"hash route", func(r *req) { r.uri = "/logstores/ls/shards/route?key=0123456789abcdef0123456789abcdef" }, nil, 200, ""},
		{"bad hash key", func(r *req) { r.uri = "/logstores/ls/shards/route?key=xyz" }, nil, 400, "ParameterInvalid"},
		{"unknown project", func(r *req) { r.host = "nope.sls.test" }, nil, 404, "ProjectNotExist"},
		{"host outside domain", func(r *req) { r.host = "prj.example.test" }, nil, 400, "InvalidHost"},
		{"unknown logstore", func(r *req) { r.uri = "/logstores/nope" }, nil, 404, "LogStoreNotExist"},
		{"bad path", func(r *req) { r.uri = "/logstores/ls/index" }, nil, 404, "NotSupported"},
		{"missing api version", nil, func(r *req) { delete(r.headers, "x-log-apiversion") }, 400, "MissingAPIVersion"},
		{"wrong api version", func(r *req) { r.headers["x-log-apiversion"] = "0.5.0" }, nil, 400, "InvalidAPIVersion"},
		{"missing date", nil, func(r *req) { delete(r.headers, "Date") }, 400, "MissingDate"},
		{"bad date", func(r *req) { r.headers["Date"] = "yesterday" }, nil, 400, "InvalidDateFormat"},
		{"skewed date", func(r *req) { r.headers["Date"] = time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat) }, nil, 400, "RequestTimeTooSkewed"},
		{"signature method", nil, func(r *req) { r.headers["x-log-signaturemethod"] = "hmac-md5" }, 400, "InvalidSignatureMethod"},
		{"content type", func(r *req) { r.headers["Content-Type"] = "application/json" }, nil, 400, "InvalidContentType"},
		{"missing raw size", nil, func(r *req) { delete(r.headers, "x-log-bodyrawsize") }, 400, "MissingBodyRawSize"},
		{"no authorization", nil, func(r *req) { delete(r.headers, "Authorization") }, 401, "Unauthorized"},
		{"unknown key", nil, func(r *req) { r.headers["Authorization"] = "LOG LTAIother:abc=" }, 401, "Unauthorized"},
		{"wrong secret", func(r *req) { r.secret = "not-the-secret" }, nil, 401, "SignatureNotMatch"},
		{"tampered signed header", nil, func(r *req) { r.headers["x-log-bodyrawsize"] = "1" }, 401, "SignatureNotMatch"},
		{"tampered body", nil, func(r *req) { r.body = append([]byte{0}, r.body...) }, 400, "InvalidContentMD5"},
		{"raw size mismatch", func(r *req) { r.headers["x-log-bodyrawsize"] = "3" }, nil, 400, "InvalidBodyRawSize"},
		{"raw size too large", func(r *req) { r.headers["x-log-bodyrawsize"] = strconv.Itoa(DefaultMaxRawBytes + 1) }, nil, 413, "PostBodyTooLarge"},
		{"zstd", func(r *req) { r.headers["x-log-compresstype"] = "zstd" }, nil, 400, "InvalidCompressType"},
		{"corrupt lz4", func(r *req) { r.body = []byte{0xff, 0xff, 0xff} }, nil, 400, "PostBodyUncompressError"},
		{"not protobuf", func(r *req) {
			r.body = []byte("plain text body!")
			delete(r.headers, "x-log-compresstype")
			r.headers["x-log-bodyrawsize"] = strconv.Itoa(len(r.body))
		}, nil, 400, "PostBodyInvalid"},
	}
	s := start(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.Reset()
			r := validReq(t)
			if tc.pre != nil {
				tc.pre(r)
			}
			r.sign(t)
			if tc.post != nil {
				tc.post(r)
			}
			status, code := r.send(t, s)
			if status != tc.status || code != tc.code {
				t.Fatalf("got %d %s, want %d %s", status, code, tc.status, tc.code)
			}
			logs := s.Logs("prj", "ls")
			if tc.status != 200 {
				if len(logs) != 0 || s.Stats().Errors[tc.code] != 1 {
					t.Fatalf("rejected request stored %d logs; errors %v", len(logs), s.Stats().Errors)
				}
				return
			}
			if len(logs) != 1 || logs[0].Topic != "topic" || logs[0].Time != time.Unix(1700000000, 5) {
				t.Fatalf("stored %+v", logs)
			}
			if v, _ := logs[0].Get("k"); v != "v" {
				t.Fatalf("contents %+v", logs[0].Contents)
			}
		})
	}
}

func TestServerFaults(t *testing.T) {
	s := start(t)
	send := func() (int, string) {
		r := validReq(t)
		r.sign(t)
		return r.send(t, s)
	}
	s.SetFaults(Faults{ThrottleRate: 1})
	seen := map[string]bool{}
	for range 20 {
		status, code := send()
		if status != 403 {
			t.Fatalf("throttle: %d %s", status, code)
		}
		seen[code] = true
	}
	if !seen["WriteQuotaExceed"] || !seen["ShardWriteQuotaExceed"] {
		t.Errorf("throttle codes %v", seen)
	}
	s.SetFaults(Faults{ErrorRate: 1})
	if status, code := send(); status != 500 && status != 503 {
		t.Errorf("error fault: %d %s", status, code)
	}
	s.SetFaults(Faults{ResetRate: 1})
	if status, msg := send(); status != 0 {
		t.Errorf("reset fault answered %d %s", status, msg)
	}
	s.SetFaults(Faults{})
	s.Outage(time.Hour)
	if status, code := send(); status != 503 || code != "ServerBusy" {
		t.Errorf("outage: %d %s", status, code)
	}
	s.Outage(0)
	s.SetFaults(Faults{Latency: 50 * time.Millisecond})
	t0 := time.Now()
	if status, _ := send(); status != 200 {
		t.Errorf("latency fault: %d", status)
	}
	if time.Since(t0) < 50*time.Millisecond {
		t.Error("latency not added")
	}
	if got := len(s.Logs("prj", "ls")); got != 1 {
		t.Errorf("stored %d logs; faults must store nothing", got)
	}
	if st := s.Stats(); st.Resets != 1 || st.Accepted != 1 {
		t.Errorf("stats %+v", st)
	}
}
