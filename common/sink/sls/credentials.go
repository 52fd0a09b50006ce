package sls

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aliyun/credentials-go/credentials/providers"
)

// credentialSource describes which credentials the writer resolved, for
// logs and tests; it never holds secrets.
type credentialSource string

const (
	sourceStatic credentialSource = "static"
	sourceEnv    credentialSource = "env"
	sourceRRSA   credentialSource = "rrsa"
)

// resolveCredentials picks the credentials provider from the configuration
// and the environment: static keys, then RRSA, then environment keys.
func resolveCredentials(c *Config, getenv func(string) string) (slssdk.CredentialsProvider, credentialSource, *redactor, error) {
	red := &redactor{}
	if c.AccessKeyID != "" {
		red.add(c.AccessKeySecret, c.SecurityToken)
		return slssdk.NewStaticCredentialsProvider(c.AccessKeyID, c.AccessKeySecret, c.SecurityToken), sourceStatic, red, nil
	}
	roleARN := firstNonEmpty(c.RoleARN, getenv(EnvRoleARN))
	if roleARN != "" {
		b := providers.NewOIDCCredentialsProviderBuilder().
			WithRoleArn(roleARN).
			WithOIDCProviderARN(firstNonEmpty(c.OIDCProviderARN, getenv(EnvOIDCProviderARN))).
			WithOIDCTokenFilePath(firstNonEmpty(c.OIDCTokenFile, getenv(EnvOIDCTokenFile))).
			WithRoleSessionName(c.RoleSessionName)
		if c.STSEndpoint != "" {
			b = b.WithSTSEndpoint(c.STSEndpoint)
		}
		p, err := b.Build()
		if err != nil {
			// Builder errors name missing settings, never secrets.
			key := "role_arn"
			switch msg := err.Error(); {
			case strings.Contains(msg, "OIDCProviderARN"):
				key = "oidc_provider_arn"
			case strings.Contains(msg, "OIDCTokenFilePath"):
				key = "oidc_token_file"
			}
			return nil, "", nil, fmt.Errorf("sls: %s: RRSA credentials: %w", key, err)
		}
		return &rrsaProvider{p: p, red: red}, sourceRRSA, red, nil
	}
	id, secret := getenv(EnvAccessKeyID), getenv(EnvAccessKeySecret)
	if id != "" && secret != "" {
		token := getenv(EnvSecurityToken)
		red.add(secret, token)
		return slssdk.NewStaticCredentialsProvider(id, secret, token), sourceEnv, red, nil
	}
	return nil, "", nil, errors.New("sls: access_key_id: no credentials: set access_key_id/access_key_secret, role_arn (RRSA) or " +
		EnvAccessKeyID + "/" + EnvAccessKeySecret)
}

// rrsaProvider adapts credentials-go's OIDC provider (AssumeRoleWithOIDC)
// to the SLS SDK's CredentialsProvider. The credentials-go provider caches
// the STS credentials until shortly before they expire but is not safe for
// concurrent use, so calls are serialised.
type rrsaProvider struct {
	mu  sync.Mutex
	p   *providers.OIDCCredentialsProvider
	red *redactor
}

// GetCredentials implements slssdk.CredentialsProvider.
func (r *rrsaProvider) GetCredentials() (slssdk.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.p.GetCredentials()
	if err != nil {
		return slssdk.Credentials{}, fmt.Errorf("RRSA AssumeRoleWithOIDC: %s", r.red.clean(err.Error()))
	}
	r.red.add(c.AccessKeySecret, c.SecurityToken)
	return slssdk.Credentials{
		AccessKeyID:     c.AccessKeyId,
		AccessKeySecret: c.AccessKeySecret,
		SecurityToken:   c.SecurityToken,
	}, nil
}

// redactor removes known secrets from text that is about to leave the
// writer (errors, results). It keeps the most recent secrets it was given.
type redactor struct {
	mu      sync.RWMutex
	secrets []string
}

const maxRedactSecrets = 8

func (r *redactor) add(secrets ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) < 4 {
			continue
		}
		dup := false
		for _, have := range r.secrets {
			if have == s {
				dup = true
				break
			}
		}
		if !dup {
			r.secrets = append(r.secrets, s)
		}
	}
	if n := len(r.secrets); n > maxRedactSecrets {
		r.secrets = append(r.secrets[:0], r.secrets[n-maxRedactSecrets:]...)
	}
}

func (r *redactor) clean(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	return s
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
