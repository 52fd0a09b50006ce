package provider_test

import (
	"encoding/json"
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/auditlane/auditlane/common/audit"
)

// TestRPCReasonsMatchAPIMachinery: for each error the apiserver answers
// with (built by k8s.io/apimachinery/pkg/api/errors), a GKE entry carrying
// the google.rpc code GKE writes for that HTTP status and the apiserver's
// message converts back to the apiserver's HTTP code and StatusReason.
func TestRPCReasonsMatchAPIMachinery(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	deploy := schema.GroupResource{Group: "apps", Resource: "deployments"}
	cases := []struct {
		err  *apierrors.StatusError
		rpcs []int // google.rpc codes GKE may write for it
	}{
		{apierrors.NewAlreadyExists(pods, "web-0"), []int{6, 10}},
		{apierrors.NewGenerateNameConflict(pods, "web-", 1), []int{6, 10}},
		{apierrors.NewConflict(deploy, "web", errors.New("the object has been modified; please apply your changes to the latest version and try again")), []int{6, 10}},
		{apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "web-0", field.ErrorList{field.Required(field.NewPath("spec", "containers"), "")}), []int{3, 9}},
		{apierrors.NewResourceExpired("too old resource version: 1000 (2000)"), []int{9, 11, 3}},
		{apierrors.NewMethodNotSupported(pods, "deletecollection"), []int{3, 9}},
		{apierrors.NewRequestEntityTooLargeError("limit is 3145728"), []int{3, 11}},
		{apierrors.NewBadRequest("the server rejected our request for an unknown reason"), []int{3}},
		{apierrors.NewNotFound(pods, "web-0"), []int{5}},
		{apierrors.NewForbidden(pods, "web-0", errors.New(`User "alice" cannot get resource "pods"`)), []int{7}},
		{apierrors.NewUnauthorized("Unauthorized"), []int{16}},
		{apierrors.NewTooManyRequests("too many requests", 1), []int{8}},
		{apierrors.NewInternalError(errors.New("etcdserver: request timed out")), []int{13, 2}},
		{apierrors.NewServerTimeout(pods, "create", 1), []int{13, 2}},
		{apierrors.NewServiceUnavailable("etcd unavailable"), []int{14}},
		{apierrors.NewTimeoutError("request did not complete within 60s", 1), []int{4}},
	}
	for _, c := range cases {
		st := c.err.Status()
		for _, rpc := range c.rpcs {
			entry, _ := json.Marshal(map[string]any{
				"insertId": "i", "timestamp": "2024-05-14T10:02:11Z",
				"protoPayload": map[string]any{"@type": "type.googleapis.com/google.cloud.audit.AuditLog", "serviceName": "k8s.io",
					"methodName": "io.k8s.core.v1.pods.create", "resourceName": "core/v1/namespaces/default/pods/web-0",
					"status": map[string]any{"code": rpc, "message": st.Message}},
			})
			var ev audit.Event
			if err := audit.Parse(entry, &ev); err != nil {
				t.Fatal(err)
			}
			var got struct {
				ResponseStatus struct {
					Code   int32  `json:"code"`
					Reason string `json:"reason"`
				} `json:"responseStatus"`
			}
			json.Unmarshal(ev.Raw, &got)
			if got.ResponseStatus.Code != st.Code || got.ResponseStatus.Reason != string(st.Reason) {
				t.Errorf("rpc %d %q: %d %s, apiserver answers %d %s", rpc, st.Message, got.ResponseStatus.Code, got.ResponseStatus.Reason, st.Code, st.Reason)
			}
		}
	}
}
