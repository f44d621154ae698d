# Shared by test/kind/* and test/e2e/kind.sh. Sourced, never run.
# shellcheck shell=bash

KIND_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$KIND_SRC_DIR/../.." && pwd)"
KIND_CACHE_ROOT="${AJO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ajo}/kind"

# kind itself, pinned; the module proxy serves it (go install, no git).
KIND_VERSION=v0.33.0

kgomod_version() { # <go.mod> <module path>
  awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1"
}
K8S_VERSION="$(kgomod_version "$KIND_SRC_DIR/build/k8s/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(kgomod_version "$KIND_SRC_DIR/build/etcd/go.mod" go.etcd.io/etcd/server/v3)"
CRICTL_VERSION="$(kgomod_version "$KIND_SRC_DIR/build/crictl/go.mod" sigs.k8s.io/cri-tools)"
HELM_VERSION="$(kgomod_version "$REPO_DIR/test/cluster/build/helm/go.mod" helm.sh/helm/v3)"
COREDNS_VERSION="$(kgomod_version "$REPO_DIR/test/cluster/build/coredns/go.mod" github.com/coredns/coredns)"

# Image names kubeadm $K8S_VERSION asks for (cmd/kubeadm/app/constants), so the
# node's preloaded images satisfy a plain `kind create cluster --image`.
PAUSE_VERSION=3.10.2
K8S_REGISTRY=registry.k8s.io
ETCD_IMAGE="$K8S_REGISTRY/etcd:${ETCD_VERSION#v}-0"
PAUSE_IMAGE="$K8S_REGISTRY/pause:$PAUSE_VERSION"
# kubeadm 1.37.2 asks for coredns v1.14.6; we build the CoreDNS the local
# cluster runs and point kubeadm at it (kind config, dns.imageRepository/Tag).
KIND_COREDNS_REPO=ajo.test
KIND_COREDNS_TAG="${COREDNS_VERSION#v}-kind"
KIND_COREDNS_IMAGE="$KIND_COREDNS_REPO/coredns:$KIND_COREDNS_TAG"
NODE_IMAGE_REPO=ajo.test/kind-node
NODE_IMAGE="$NODE_IMAGE_REPO:$K8S_VERSION"

ensure_go() {
  if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then PATH="/usr/local/go/bin:$PATH"; fi
  command -v go >/dev/null || kdie "go is needed to build kind, kubeadm, etcd and crictl"
}

# A short content hash of files and strings: the cache keys below change when
# any input of a build changes, and only then.
content_key() { # <file|string>...
  local x
  for x in "$@"; do
    if [[ -f $x ]]; then sha256sum <"$x"; else printf '%s\n' "$x"; fi
  done | sha256sum | cut -c1-12
}

klog() { printf '[kind %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
kdie() { klog "ERROR: $*"; exit 1; }
