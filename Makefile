# auditlane — see README.md.
GO       ?= go
BIN      := bin
POLICY   ?= examples/policies/cost-saving.yaml
SAMPLE   ?= examples/data/sample-audit.log
FUZZTIME ?= 10s

.PHONY: all build demo test vet bench fuzz clean fluentbit harness images manifests

all: build

## build: the auditlane command-line tool into bin/
build:
	$(GO) build -o $(BIN)/auditlane ./cmd/auditlane

## demo: the main job on the bundled sample, no cloud account needed: the
## what-if report for the cost-saving policy, then the sample through the
## Fluent Bit plugin (auditlane.so driven as Fluent Bit's Go proxy drives it)
## to a local file, out/fluentbit-audit.jsonl
demo: build fluentbit harness
	@mkdir -p out
	$(BIN)/auditlane policy test --policy $(POLICY) $(SAMPLE)
	$(GO) run ./fluentbit/harness/demo -plugin $(BIN)/auditlane.so -harness $(BIN)/flbharness \
	    -policy $(POLICY) -in $(SAMPLE) -out out/fluentbit-audit.jsonl -dead-letter out/fluentbit-dead-letter.jsonl

## harness: the C program that loads auditlane.so as Fluent Bit does
harness:
	@mkdir -p $(BIN)
	$(CC) -O2 -Wall -o $(BIN)/flbharness fluentbit/harness/c/flbharness.c -ldl

## test: what CI runs — vet, then every test with the race detector. The
## end-to-end tests in otelcol/e2e build kube-apiserver (internal/kubeapiserver,
## about 5 minutes on 2 cores the first time) and run it on etcd (Debian's
## etcd-server, installed by .ci/run).
test: vet
	$(GO) test -race -count=1 -timeout 30m ./...

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd internal/kubeapiserver && $(GO) vet ./...

## bench: the hot-path benchmarks on the bundled corpus
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./common/...

## fuzz: each fuzz target for FUZZTIME (default 10s)
fuzz:
	@for pkg in $$($(GO) list ./common/...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## fluentbit: the Fluent Bit output plugin auditlane.so (see fluentbit/README.md)
fluentbit:
	$(GO) build -buildmode=c-shared -o $(BIN)/auditlane.so ./fluentbit

clean:
	rm -rf $(BIN) out

## otelcol: the collector distribution with the auditlane components (ocb v0.165.0), as ./otelcol-auditlane
OCB ?= $(GO) run go.opentelemetry.io/collector/cmd/builder@v0.165.0
.PHONY: otelcol otelcol-test
otelcol:
	$(OCB) --config builder-config.yaml
	cp otelcol/_build/otelcol-auditlane ./otelcol-auditlane

## otelcol-test: the components' tests and the end-to-end test against the built collector
otelcol-test: otelcol
	OTELCOL_BINARY=$(CURDIR)/otelcol-auditlane $(GO) test -race -count=1 ./otelcol/...

## images: the Fluent Bit image (fluent/fluent-bit:5.1.1 + auditlane.so) and
## the collector image (otelcol-auditlane, distroless, non-root), tagged
## $(IMAGE_REGISTRY)/<name>:$(IMAGE_TAG); needs docker (or DOCKER=podman)
IMAGE_REGISTRY ?= localhost:5000
IMAGE_TAG ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DOCKER ?= docker
images:
	$(DOCKER) build -f examples/kubernetes/images/fluent-bit.Dockerfile -t $(IMAGE_REGISTRY)/auditlane-fluent-bit:$(IMAGE_TAG) .
	$(DOCKER) build -f examples/kubernetes/images/otelcol.Dockerfile -t $(IMAGE_REGISTRY)/otelcol-auditlane:$(IMAGE_TAG) .

## manifests: the plain manifests rendered from the Helm chart, one file per
## values file, and examples/fluentbit/daemonset.yaml (the tests check they
## are up to date)
HELM  ?= $(GO) run helm.sh/helm/v4/cmd/helm@v4.3.2
CHART := examples/kubernetes/helm/auditlane
manifests:
	@mkdir -p examples/kubernetes/manifests
	@for v in examples/kubernetes/values/*.yaml; do \
	  echo "helm template -f $$v"; \
	  $(HELM) template audit $(CHART) --namespace auditlane -f $$v > examples/kubernetes/manifests/$$(basename $$v) || exit 1; \
	done
	@{ printf '%s\n' \
	  '# Fluent Bit with auditlane.so on control-plane nodes, rendered from the' \
	  '# chart (examples/kubernetes/helm/auditlane) with' \
	  '# examples/kubernetes/values/self-managed.yaml into kube-system:' \
	  '#   make manifests' \
	  '# Replace the image registry, cluster name, destinations and the' \
	  '# auditlane-cloud-keys Secret with yours, or install the chart instead.'; \
	  $(HELM) template audit $(CHART) --namespace kube-system -f examples/kubernetes/values/self-managed.yaml \
	    --show-only templates/fluent-bit.yaml --show-only templates/common.yaml; } > examples/fluentbit/daemonset.yaml.tmp
	@mv examples/fluentbit/daemonset.yaml.tmp examples/fluentbit/daemonset.yaml
