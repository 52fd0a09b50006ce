# syntax=docker/dockerfile:1
# otelcol-auditlane: the OpenTelemetry Collector distribution with
# auditlane's components, built with ocb v0.165.0 from builder-config.yaml
# (static, CGO_ENABLED=0) on a distroless non-root base.
# Build from the repository root: make images (or
#   docker build -f examples/kubernetes/images/otelcol.Dockerfile .).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go run go.opentelemetry.io/collector/cmd/builder@v0.165.0 --config builder-config.yaml

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/otelcol/_build/otelcol-auditlane /otelcol-auditlane
USER 65532:65532
EXPOSE 4317 8888 9880
ENTRYPOINT ["/otelcol-auditlane"]
CMD ["--config", "/etc/otelcol-auditlane/config.yaml"]
