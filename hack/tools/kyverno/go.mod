// Pins upstream Kyverno for the peer benchmarks (hack/build-kyverno.sh, bench/peers/kyverno-*.ts). Nothing here
// imports it: go.sum holds Kyverno's module and go.mod hashes (from `go mod download -json`), which `go mod download`
// checks, and the build runs inside a copy of the downloaded module so that Kyverno's own go.mod, go.sum and replace
// apply. Do not run `go mod tidy` here: with no import it drops the requirement.
module kube-governor.local/hack/tools/kyverno

go 1.26.0

require github.com/kyverno/kyverno v1.19.1
