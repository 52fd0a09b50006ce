// Package audit decodes Kubernetes apiserver audit events (audit.k8s.io/v1,
// v1beta1, v1alpha1 and events without apiVersion) from JSON lines, EventList
// webhook batches and JSON arrays into a lazy view: the fields the policy and
// the enricher need, plus the byte positions of every recorded member so
// later steps copy untouched bytes instead of re-encoding them.
package audit
