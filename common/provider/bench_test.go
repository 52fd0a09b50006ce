package provider_test

import (
	"testing"

	"github.com/auditlane/auditlane/common/provider"
)

func benchUnwrap(b *testing.B, file string) {
	obj := read(b, file)
	dst := make([]byte, 0, 2*len(obj))
	b.SetBytes(int64(len(obj)))
	b.ReportAllocs()
	for b.Loop() {
		out, _, err := provider.Unwrap(dst[:0], obj)
		if err != nil {
			b.Fatal(err)
		}
		dst = out
	}
}

// BenchmarkUnwrap measures one record: AKS with properties.log as a JSON
// string (the common case, unescaped and validated) and as an object, GKE
// with and without request/response bodies.
func BenchmarkUnwrap(b *testing.B) {
	for _, f := range []string{"aks/pod-exec.json", "aks/deployment-patch-object.json", "gke/pod-exec.json", "gke/deployment-patch.json"} {
		b.Run(f, func(b *testing.B) { benchUnwrap(b, f) })
	}
}

func BenchmarkDetect(b *testing.B) {
	obj := read(b, "gke/deployment-patch.json")
	b.ReportAllocs()
	for b.Loop() {
		if provider.Detect(obj) != provider.GKE {
			b.Fatal("not GKE")
		}
	}
}
