#!/usr/bin/env bash
# Runs the in-cluster e2e suite (test/e2e/incluster_test.ts) against a kind cluster, for machines with Docker:
# kube-governor runs as pods from the image built from the Dockerfile, installed from manifests/base.
# (Without Docker, `npm test` runs the same file against hack/local-cluster.sh up --node: a local node with containerd.)
#
#   hack/kind-e2e.sh           create the cluster, build + load the image, run the suite, delete the cluster
#   KEEP=1 hack/kind-e2e.sh    keep the cluster afterwards (a later run reuses it)
#
# Environment: KIND_CLUSTER_NAME (default kube-governor-e2e), KIND_NODE_IMAGE (default: kind's own; Kubernetes 1.33+
# gives the HPAs per-HPA tolerance), IMAGE (default kube-governor:e2e), E2E_FILES (default test/e2e/incluster_test.ts).
# Needs: docker, kind, kubectl, node + npm (dependencies from `npm ci`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${KIND_CLUSTER_NAME:-kube-governor-e2e}"
IMAGE="${IMAGE:-kube-governor:e2e}"
KEEP="${KEEP:-${KEEP_CLUSTER:-}}"
cd "$ROOT"

missing=()
for tool in docker kind kubectl node npm; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "kind-e2e: missing ${missing[*]} (needs Docker, kind (https://kind.sigs.k8s.io), kubectl, Node.js 20+ and npm)." >&2
  echo "kind-e2e: without Docker, run 'npm test': it runs this suite on the local control plane with a node (hack/local-cluster.sh up --node)." >&2
  exit 1
fi
if ! docker info >/dev/null 2>&1; then
  echo "kind-e2e: docker is installed but its engine does not answer (docker info failed); start Docker first." >&2
  exit 1
fi
[ -d node_modules ] || npm ci --no-audit --no-fund

WORK="$(mktemp -d)"
cleanup() {
  if [ "$KEEP" != 1 ]; then
    kind delete cluster --name "$CLUSTER" || true
  else
    echo "kind-e2e: keeping cluster $CLUSTER (kind delete cluster --name $CLUSTER)"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  # kind enables the aggregation layer (front-proxy certificates, requestheader flags) by default. The HPA controller
  # gets a short sync period and no downscale stabilization, so the suite's waits stay short; tolerance 0.01 for
  # clusters whose HPAs cannot carry behavior.*.tolerance. extraArgs as a map: kind (v0.32+) converts it for kubeadm
  # v1beta4 (Kubernetes 1.36+) and older kinds/node images take it as it is (v1beta3).
  kind create cluster --name "$CLUSTER" ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} --wait 180s --config - <<'EOF'
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
kubeadmConfigPatches:
  - |
    kind: ClusterConfiguration
    controllerManager:
      extraArgs:
        horizontal-pod-autoscaler-sync-period: "5s"
        horizontal-pod-autoscaler-downscale-stabilization: "0s"
        horizontal-pod-autoscaler-tolerance: "0.01"
nodes:
  - role: control-plane
EOF
else
  echo "kind-e2e: reusing cluster $CLUSTER"
fi

echo "== image $IMAGE from the Dockerfile"
docker build -t "$IMAGE" .
kind load docker-image "$IMAGE" --name "$CLUSTER"

kind get kubeconfig --name "$CLUSTER" >"$WORK/kubeconfig"
export KUBECONFIG="$WORK/kubeconfig" E2E_TARGET=kind E2E_IMAGE="$IMAGE" KIND_CLUSTER_NAME="$CLUSTER"

echo "== typecheck"
npx tsc -p tsconfig.json --noEmit
echo "== e2e on kind cluster $CLUSTER ($(kubectl version 2>/dev/null | sed -n 's/^Server Version: //p'))"
# The same file hack/test.sh selects for E2E_TARGET=kind (`E2E_TARGET=kind npm test` also runs every unit test, and
# installs the Debian packages those need).
# shellcheck disable=SC2086 # word splitting of the file list is intended
node --import tsx --test --test-concurrency=1 ${E2E_FILES:-test/e2e/incluster_test.ts}
