// Pins upstream prometheus-adapter for the peer benchmark (hack/build-prometheus-adapter.sh, bench/peers/adapter.ts).
// Nothing here imports it: go.sum holds the module's two hashes (from `go mod download -json`), which
// `go mod download` checks, and the build runs inside a copy of the downloaded module so that its own go.mod and
// go.sum apply. Do not run `go mod tidy` here: with no import it drops the requirement.
module kube-governor.local/hack/tools/prometheus-adapter

go 1.22.1

require sigs.k8s.io/prometheus-adapter v0.12.0
