package sls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/sink"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
)

func validConfig() Config {
	return Config{
		Endpoint: "cn-hangzhou.log.aliyuncs.com", Project: "my-project", Logstore: "audit-c123",
		AccessKeyID: "id", AccessKeySecret: "s3cr3t-Value",
	}
}

func TestValidateNamesTheKey(t *testing.T) {
	cases := []struct {
		mutate func(*Config)
		key    string
	}{
		{func(c *Config) { c.Endpoint = "" }, "endpoint:"},
		{func(c *Config) { c.Endpoint = "https://host/path" }, "endpoint:"},
		{func(c *Config) { c.Project = "" }, "project:"},
		{func(c *Config) { c.Project = "Upper" }, "project:"},
		{func(c *Config) { c.Project = "-lead" }, "project:"},
		{func(c *Config) { c.Project = strings.Repeat("a", 64) }, "project:"},
		{func(c *Config) { c.Logstore = "" }, "logstore:"},
		{func(c *Config) { c.Logstore = "bad.name" }, "logstore:"},
		{func(c *Config) { c.Topic = strings.Repeat("t", 129) }, "topic:"},
		{func(c *Config) { c.Source = "\xff" }, "source:"},
		{func(c *Config) { c.LogTags = map[string]string{"": "v"} }, "log_tags:"},
		{func(c *Config) { c.HashKey = "${a}-${b}" }, "hash_key:"},
		{func(c *Config) { c.AccessKeySecret = "" }, "access_key_secret:"},
		{func(c *Config) { c.AccessKeyID = "" }, "access_key_id:"},
		{func(c *Config) { c.RoleARN = "acs:ram::1:role/x" }, "role_arn:"},
		{func(c *Config) { c.MaxBatchBytes = MaxLogGroupBytes + 1 }, "max_batch_bytes:"},
		{func(c *Config) { c.MaxBatchBytes = 100 }, "max_batch_bytes:"},
		{func(c *Config) { c.MaxBatchLogs = 5000 }, "max_batch_logs:"},
		{func(c *Config) { c.MaxBufferBytes = -1 }, "max_buffer_bytes:"},
		{func(c *Config) { c.RequestTimeout = -time.Second }, "request_timeout:"},
		{func(c *Config) { c.RetryInitial = time.Minute; c.RetryMax = time.Second }, "retry_initial_interval:"},
	}
	for _, tc := range cases {
		c := validConfig()
		tc.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.key) {
			t.Errorf("%s: got %v", tc.key, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t-Value") {
			t.Errorf("error mentions the secret: %v", err)
		}
	}
	c := validConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

func TestNewNeedsCredentials(t *testing.T) {
	c := validConfig()
	c.AccessKeyID, c.AccessKeySecret = "", ""
	_, err := New(context.Background(), c, WithGetenv(func(string) string { return "" }))
	if err == nil || !strings.Contains(err.Error(), "no credentials") {
		t.Fatalf("err = %v", err)
	}
}

func TestRRSAConfigErrorsNameTheKey(t *testing.T) {
	none := WithGetenv(func(string) string { return "" })
	c := validConfig()
	c.AccessKeyID, c.AccessKeySecret = "", ""
	c.RoleARN = "acs:ram::1:role/x"
	c.OIDCTokenFile = "/var/run/secrets/tokens/oidc-token"
	if _, err := New(context.Background(), c, none); err == nil || !strings.HasPrefix(err.Error(), "sls: oidc_provider_arn:") {
		t.Errorf("missing provider ARN: %v", err)
	}
	c.OIDCProviderARN = "acs:ram::1:oidc-provider/p"
	c.OIDCTokenFile = ""
	if _, err := New(context.Background(), c, none); err == nil || !strings.HasPrefix(err.Error(), "sls: oidc_token_file:") {
		t.Errorf("missing token file: %v", err)
	}
}

func TestEnvCredentials(t *testing.T) {
	srv := startServer(t, func(o *slstest.Options) { o.Tokens = map[string]string{testAK: "sts-token-abc"} })
	env := map[string]string{
		EnvAccessKeyID: testAK, EnvAccessKeySecret: testSK, EnvSecurityToken: "sts-token-abc",
	}
	w := newTestWriter(t, srv, func(c *Config) { c.AccessKeyID, c.AccessKeySecret = "", "" },
		WithGetenv(func(k string) string { return env[k] }))
	if w.credSrc != sourceEnv {
		t.Fatalf("credential source %s", w.credSrc)
	}
	res := make([]sink.Result, 3)
	if err := w.Write(context.Background(), synthetic(3, 0), res); err != nil {
		t.Fatal(err)
	}
}

// TestRRSA exchanges a projected OIDC token for STS credentials through
// credentials-go against a local TLS STS endpoint, then writes with them.
func TestRRSA(t *testing.T) {
	const (
		roleARN   = "acs:ram::1234567890:role/auditlane"
		oidcARN   = "acs:ram::1234567890:oidc-provider/ack-rrsa-c123"
		oidcToken = "eyJhbGciOiJSUzI1NiJ9.test-oidc-token.sig"
		stsAK     = "STS.NTestTemporaryKey"
		stsSK     = "sts-temporary-secret-XYZ"
		stsToken  = "CAISsts-security-token-value"
	)
	var calls atomic.Int64
	sts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		q := r.URL.Query()
		if q.Get("Action") != "AssumeRoleWithOIDC" || r.Method != http.MethodPost ||
			r.PostForm.Get("RoleArn") != roleARN || r.PostForm.Get("OIDCProviderArn") != oidcARN ||
			r.PostForm.Get("OIDCToken") != oidcToken || r.PostForm.Get("RoleSessionName") != "auditlane" {
			w.WriteHeader(400)
			w.Write([]byte(`{"Code":"InvalidParameter","Message":"bad AssumeRoleWithOIDC request"}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"RequestId": "req-1",
			"Credentials": map[string]string{
				"AccessKeyId": stsAK, "AccessKeySecret": stsSK, "SecurityToken": stsToken,
				"Expiration": time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05Z"),
			},
		})
	}))
	defer sts.Close()
	// credentials-go builds its HTTP transport from http.DefaultTransport;
	// trust the local STS certificate for the duration of the test.
	pool := x509.NewCertPool()
	pool.AddCert(sts.Certificate())
	orig := http.DefaultTransport
	tr := orig.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	tr.Proxy = nil
	http.DefaultTransport = tr
	defer func() { http.DefaultTransport = orig }()

	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(oidcToken), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, func(o *slstest.Options) {
		o.Keys = map[string]string{stsAK: stsSK}
		o.Tokens = map[string]string{stsAK: stsToken}
	})
	env := map[string]string{EnvRoleARN: roleARN, EnvOIDCProviderARN: oidcARN, EnvOIDCTokenFile: tokenFile}
	w := newTestWriter(t, srv, func(c *Config) {
		c.AccessKeyID, c.AccessKeySecret = "", ""
		c.STSEndpoint = strings.TrimPrefix(sts.URL, "https://")
	}, WithGetenv(func(k string) string { return env[k] }))
	if w.credSrc != sourceRRSA {
		t.Fatalf("credential source %s", w.credSrc)
	}
	for range 3 {
		res := make([]sink.Result, 5)
		if err := w.Write(context.Background(), synthetic(5, 0), res); err != nil {
			t.Fatalf("Write with RRSA credentials: %v", err)
		}
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("STS called %d times, want 1 (credentials cached)", got)
	}

	// A failing STS is a retryable credentials failure that names no secret.
	env[EnvOIDCProviderARN] = "acs:ram::1:oidc-provider/wrong"
	w2 := newTestWriter(t, srv, func(c *Config) {
		c.AccessKeyID, c.AccessKeySecret = "", ""
		c.STSEndpoint = strings.TrimPrefix(sts.URL, "https://")
		c.RetryMaxElapsed = 50 * time.Millisecond
	}, WithGetenv(func(k string) string { return env[k] }))
	res := make([]sink.Result, 1)
	w2.Write(context.Background(), synthetic(1, 0), res)
	if res[0].Status != sink.Retryable || res[0].Reason != ReasonCredentials {
		t.Fatalf("result %+v", res[0])
	}
	if msg := res[0].Err.Error(); strings.Contains(msg, oidcToken) || strings.Contains(msg, stsSK) {
		t.Errorf("error leaks a secret: %s", msg)
	}
}
