// Package kubernetes holds the deployment examples: the Helm chart, its
// values files and rendered manifests, the Dockerfiles and the cloud
// permissions. Its test checks the permission files; the chart is checked
// by otelcol/e2e against a real kube-apiserver.
package kubernetes

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The API calls auditlane makes, per permission file: the CloudWatch
// writer (common/sink/cloudwatch: CreateLogStream, PutLogEvents; with
// auto_create_group CreateLogGroup with tags, PutRetentionPolicy), the
// CloudWatch reader (common/source/cloudwatchsrc: FilterLogEvents), the SLS
// writer (PostLogStoreLogs) and the SLS consumer group library.
var wantActions = map[string][]string{
	"aws/cloudwatch-destination.json":                {"logs:CreateLogStream", "logs:PutLogEvents"},
	"aws/cloudwatch-destination-autocreate.json":     {"logs:CreateLogStream", "logs:PutLogEvents", "logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:TagResource"},
	"aws/cloudwatch-destination-autocreate-kms.json": {"logs:CreateLogStream", "logs:PutLogEvents", "logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:TagResource"},
	"aws/cloudwatch-source.json":                     {"logs:FilterLogEvents"},
	"aws/kms-key-policy-statement.json":              {"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"},
	"aws/trust-irsa.json":                            {"sts:AssumeRoleWithWebIdentity"},
	"aws/trust-pod-identity.json":                    {"sts:AssumeRole", "sts:TagSession"},
	"alibaba/sls-write.json":                         {"log:PostLogStoreLogs"},
	"alibaba/sls-consumer-group.json": {"log:ListShards", "log:GetCursorOrData", "log:GetConsumerGroupCheckPoint", "log:ListConsumerGroup",
		"log:CreateConsumerGroup", "log:UpdateConsumerGroup", "log:ConsumerGroupHeartBeat", "log:ConsumerGroupUpdateCheckPoint"},
	"alibaba/trust-rrsa.json": {"sts:AssumeRole"},
}

type statement struct {
	Effect   string
	Action   any
	Resource any
}

func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			s, _ := e.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

// TestPermissionFiles parses every policy file and checks that it allows
// exactly the actions auditlane's calls need: no typo, nothing extra.
func TestPermissionFiles(t *testing.T) {
	files, _ := filepath.Glob("permissions/*/*.json")
	if len(files) != len(wantActions) {
		t.Errorf("%d permission files, %d described", len(files), len(wantActions))
	}
	for _, f := range files {
		rel, _ := filepath.Rel("permissions", f)
		want, ok := wantActions[filepath.ToSlash(rel)]
		if !ok {
			t.Errorf("%s: not described in the test", f)
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Version   string
			Statement []statement
		}
		var single statement
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		stmts := doc.Statement
		if doc.Version == "" { // a statement for a key policy
			if err := json.Unmarshal(data, &single); err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			stmts = []statement{single}
		} else if doc.Version != "2012-10-17" && doc.Version != "1" {
			t.Errorf("%s: Version %q", f, doc.Version)
		}
		var got []string
		for _, s := range stmts {
			if s.Effect != "Allow" {
				t.Errorf("%s: Effect %q", f, s.Effect)
			}
			got = append(got, stringList(s.Action)...)
			if res := stringList(s.Resource); len(res) == 0 && !slices.Contains(want, "sts:AssumeRole") && !slices.Contains(want, "sts:AssumeRoleWithWebIdentity") {
				t.Errorf("%s: a statement without Resource", f)
			}
		}
		slices.Sort(got)
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s: actions %v, want %v", f, got, w)
		}
	}
}
