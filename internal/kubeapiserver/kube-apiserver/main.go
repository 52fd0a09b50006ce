// Command kube-apiserver is the Kubernetes API server, built from the
// k8s.io/kubernetes module at the version go.mod pins, for auditlane's
// end-to-end tests (see package doc of internal/kubetest). It is the
// upstream command unchanged: the flags, defaults and behaviour are those of
// the kube-apiserver release of the same version.
package main

import (
	"os"
	_ "time/tzdata" // CronJob time zones, as upstream

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register" // --logging-format=json, as upstream
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	command := app.NewAPIServerCommand()
	code := cli.Run(command)
	os.Exit(code)
}
