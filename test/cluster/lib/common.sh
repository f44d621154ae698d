# Shared by test/cluster/{up,down,build,load-image}. Sourced, never run.
# shellcheck shell=bash

CLUSTER_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$CLUSTER_SRC_DIR/../.." && pwd)"

# Every file of a running cluster lives under one directory, so `down` can find
# (and remove) everything `up` made by looking in one place.
STATE_DIR="${AJO_CLUSTER_DIR:-$REPO_DIR/.cluster}"
CACHE_ROOT="${AJO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ajo}/cluster"

# Bump when the way binaries are built changes, so caches from older recipes
# are not reused.
BUILD_RECIPE=1

gomod_version() { # <go.mod> <module path>
  awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1"
}
K8S_VERSION="$(gomod_version "$CLUSTER_SRC_DIR/build/k8s/go.mod" k8s.io/kubernetes)"
HELM_VERSION="$(gomod_version "$CLUSTER_SRC_DIR/build/helm/go.mod" helm.sh/helm/v3)"
CACHE_KEY="k8s-${K8S_VERSION}_helm-${HELM_VERSION}_r${BUILD_RECIPE}"
CACHE_DIR="$CACHE_ROOT/$CACHE_KEY"
BIN_DIR="$CACHE_DIR/bin"

# Names of everything we create outside the state dir. They carry "ajo" so
# that `down` deletes only what is ours.
BRIDGE=ajo-br0
API_LINK=ajo-api0                 # dummy link carrying the API server's address
API_ADDR=10.245.255.1             # reachable from pods (a loopback address is not)
API_PORT=16443
ETCD_PORT=12379
ETCD_PEER_PORT=12380
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
SERVICE_API_IP=10.96.0.1
CLUSTER_DNS_IP=10.96.0.10
NODE_NAME=ajo-node
KUBELET_PORT=10250 # default; bound to API_ADDR only
CTR_NS=k8s.io

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
