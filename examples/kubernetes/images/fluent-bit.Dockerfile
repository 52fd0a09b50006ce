# syntax=docker/dockerfile:1
# Fluent Bit with auditlane.so: the official fluent/fluent-bit:5.1.1 image
# plus the plugin, built with cgo on Debian bookworm, the glibc the official
# image carries (a plugin built against a newer glibc would not load).
# Build from the repository root: make images (or
#   docker build -f examples/kubernetes/images/fluent-bit.Dockerfile .).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY common/ common/
COPY fluentbit/ fluentbit/
COPY internal/ internal/
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 go build -trimpath -buildmode=c-shared -o /out/auditlane.so ./fluentbit

FROM fluent/fluent-bit:5.1.1
COPY --from=build /out/auditlane.so /fluent-bit/plugins/auditlane.so
COPY examples/fluentbit/plugins.conf /fluent-bit/etc/plugins.conf
# Non-root by default. The chart's DaemonSet runs it as root (every
# capability dropped, read-only root filesystem) only to read the
# apiserver's audit log, which the apiserver writes as root with mode 0600.
USER 65532:65532
