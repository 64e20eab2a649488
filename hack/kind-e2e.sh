#!/usr/bin/env bash
# Runs the e2e suite against a kind cluster, for machines with Docker.
# (Where Docker is unavailable, the suite runs against hack/local-cluster.sh.)
#
#   hack/kind-e2e.sh            create cluster, build + load image, run e2e, delete cluster
#   KEEP_CLUSTER=1 hack/kind-e2e.sh   keep the cluster afterwards
#
# Environment: KIND_CLUSTER_NAME (default kube-governor-e2e), KIND_NODE_IMAGE
# (default: kind's own), IMAGE (default kube-governor:e2e), E2E_FILES (default:
# every test/e2e/**/*_test.ts).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${KIND_CLUSTER_NAME:-kube-governor-e2e}"
IMAGE="${IMAGE:-kube-governor:e2e}"
cd "$ROOT"

for tool in docker kind kubectl node; do
  command -v "$tool" >/dev/null || { echo "kind-e2e: $tool is required" >&2; exit 1; }
done

if ! kind get clusters | grep -qx "$CLUSTER"; then
  # Same HPA tuning as hack/local-cluster.sh: the suite checks exact replica counts.
  kind create cluster --name "$CLUSTER" ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} --wait 120s --config - <<'EOF'
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
  kubeadmConfigPatches:
  - |
    kind: ClusterConfiguration
    controllerManager:
      extraArgs:
      - name: horizontal-pod-autoscaler-sync-period
        value: "1s"
      - name: horizontal-pod-autoscaler-downscale-stabilization
        value: "0s"
      - name: horizontal-pod-autoscaler-tolerance
        value: "0.01"
EOF
fi
if [[ "${KEEP_CLUSTER:-}" != 1 ]]; then
  trap 'kind delete cluster --name "$CLUSTER"' EXIT
fi

docker build -t "$IMAGE" .
kind load docker-image "$IMAGE" --name "$CLUSTER"

WORK="$(mktemp -d)"
kind get kubeconfig --name "$CLUSTER" >"$WORK/kubeconfig"
# Front-proxy files, so tests can act as the aggregator (as with local-cluster.sh).
for f in front-proxy-ca.crt front-proxy-client.crt front-proxy-client.key; do
  docker cp "$CLUSTER-control-plane:/etc/kubernetes/pki/$f" "$WORK/$f"
done
export KUBECONFIG="$WORK/kubeconfig" E2E_TARGET=kind E2E_IMAGE="$IMAGE" KIND_CLUSTER_NAME="$CLUSTER"
export KG_FRONT_PROXY_CA="$WORK/front-proxy-ca.crt" KG_FRONT_PROXY_CERT="$WORK/front-proxy-client.crt" KG_FRONT_PROXY_KEY="$WORK/front-proxy-client.key"

# shellcheck disable=SC2046,SC2086 # word splitting of the file list is intended
node --import tsx --test --test-concurrency=1 ${E2E_FILES:-$(find test/e2e -name '*_test.ts' | sort)}
