#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (when missing): Prometheus for source and e2e tests (and its promtool
# for test/integration/serve_observability_test.ts), podman/runc/
# debootstrap for the image test, openssl for the control-plane certificates, containerd/conntrack/iptables and the CNI
# plugins for the local cluster's node (hack/local-cluster.sh up --node). Needs root; a no-op when all are present.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in prometheus openssl iproute2 podman runc debootstrap uidmap containerd conntrack iptables containernetworking-plugins; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian prometheus package starts a service where systemd runs; tests start their own on loopback.
command -v systemctl >/dev/null 2>&1 && systemctl disable --now prometheus >/dev/null 2>&1 || true
# Likewise containerd, when installed just now: the node runs its own, with its own configuration, on the default socket.
if [[ " ${need[*]} " == *" containerd "* ]] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now containerd >/dev/null 2>&1 || true
fi
