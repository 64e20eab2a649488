// Pins upstream KEDA for the ScaledObject e2e tests (hack/build-keda.sh, test/e2e/lib/keda.ts). Nothing here imports
// it: go.sum holds KEDA's module and go.mod hashes (from `go mod download -json`), which `go mod download` checks, and
// the build runs inside a copy of the downloaded module so that KEDA's own go.mod, go.sum and replaces apply.
// Do not run `go mod tidy` here: with no import it drops the requirement. v2.21.1 needs go 1.27.4 (see ../README.md).
module kube-governor.local/hack/tools/keda

go 1.26.0

require github.com/kedacore/keda/v2 v2.21.0
