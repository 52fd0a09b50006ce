// Package policies holds auditlane's example Kubernetes audit policies as
// YAML files (ack-default.yaml, eks.yaml, cost-saving.yaml); see README.md.
// The package has no Go API: its tests check that every policy is valid
// under the upstream schema and makes the documented decisions.
package policies
