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
# CoreDNS (the cluster's DNS) has a cache dir of its own, so pinning another
# CoreDNS never rebuilds Kubernetes, and the reverse.
COREDNS_VERSION="$(gomod_version "$CLUSTER_SRC_DIR/build/coredns/go.mod" github.com/coredns/coredns)"
COREDNS_RECIPE=1
COREDNS_CACHE_DIR="$CACHE_ROOT/coredns-${COREDNS_VERSION}_r${COREDNS_RECIPE}"
COREDNS_IMAGE="ajo.test/coredns:${COREDNS_VERSION#v}"

# Names of everything we create outside the state dir. They carry "ajo" so
# that `down` deletes only what is ours.
BRIDGE=ajo-br0
# The API server listens on the pod bridge's gateway address: pods reach it
# there (the `kubernetes` Service must not point at a loopback address), and
# `up` creates the bridge itself, because this kernel has no dummy links.
API_ADDR=10.244.0.1
API_PORT=16443
ETCD_PORT=12379
ETCD_PEER_PORT=12380
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
SERVICE_API_IP=10.96.0.1
CLUSTER_DNS_IP=10.96.0.10
CLUSTER_DOMAIN=cluster.local
# CoreDNS runs on the node's network (see docs/cluster.md, "Cluster DNS"),
# listening on the bridge address only; its health and readiness ports are off
# the usual 8080/8181 for the same reason as the ports below.
COREDNS_HEALTH_PORT=11280
COREDNS_READY_PORT=11281
NODE_NAME=ajo-node
# Ports off the defaults, so a user's own cluster on this machine is not hit.
KUBELET_PORT=11250
KUBELET_HEALTHZ_PORT=11248
PROXY_HEALTHZ_PORT=11256
PROXY_METRICS_PORT=11249
CONTROLLER_MANAGER_PORT=11257
SCHEDULER_PORT=11259
CTR_NS=k8s.io
# A second node (`up --nodes 2`), on this same machine, for the tests that need two (a node made
# NotReady while jobs finish on the other). Node 1's names, addresses and paths are the ones above
# and never change; node N (N >= 2) gets its own of each from the node_* functions below: its
# bridge and pod subnet (10.244.<N-1>.0/24, gateway and node IP 10.244.<N-1>.1 on the bridge: this
# kernel has no dummy links), kubelet ports (+100 per node), containerd, state dir
# ($STATE_DIR/node-N) and cgroup root (/ajo/node-N, inside node 1's /ajo, so `down` finds it).
# Pod subnets are written into each node's CNI config; the controller-manager allocates none.
# Node N carries the taint SECOND_NODE_TAINT (and the label of the same key): nothing lands
# there unless it tolerates the taint and asks for the node (nodeSelector), so node 1 stays
# the default for everything else that runs on the shared cluster.
MAX_NODES=2
ALL_PODS_CIDR=10.244.0.0/16
SECOND_NODE_KEY=ajo.dev/second-node
SECOND_NODE_TAINT="$SECOND_NODE_KEY=true:NoSchedule"
node_suffix() { (($1 == 1)) || echo "-$1"; } # "" for node 1, "-N": pid, log and pki names
node_name() { echo "$NODE_NAME$(node_suffix "$1")"; }
node_dir() { if (($1 == 1)); then echo "$STATE_DIR"; else echo "$STATE_DIR/node-$1"; fi; }
node_bridge() { if (($1 == 1)); then echo "$BRIDGE"; else echo "ajo-br$(($1 - 1))"; fi; }
node_addr() { if (($1 == 1)); then echo "$API_ADDR"; else echo "10.244.$(($1 - 1)).1"; fi; }
node_pod_cidr() { if (($1 == 1)); then echo "$POD_CIDR"; else echo "10.244.$(($1 - 1)).0/24"; fi; }
node_kubelet_port() { echo $((KUBELET_PORT + 100 * ($1 - 1))); }
node_kubelet_healthz_port() { echo $((KUBELET_HEALTHZ_PORT + 100 * ($1 - 1))); }
node_cgroup_root() { if (($1 == 1)); then echo /ajo; else echo "/ajo/node-$1"; fi; }
# For down and leftovers, which look for every node's, started or not.
all_nodes() { seq 1 "$MAX_NODES"; }
ours_netns() { # <name in /run/netns>: a pod network namespace of one of our nodes (an address in its pod subnet)
  local addrs n cidr
  addrs="$(ip -n "$1" -4 -o addr show 2>/dev/null)" || return 1
  for n in $(all_nodes); do
    cidr="$(node_pod_cidr "$n")"
    grep "inet ${cidr%.*}\." >/dev/null <<<"$addrs" && return 0
  done
  return 1
}
# A node N's (N >= 2) kubelet links its containers' logs, which live in the state dir, from the
# fixed /var/log/containers, as node 1's does its logs under /var/log/pods.
state_dir_log_links() {
  local link
  for link in /var/log/containers/*.log; do
    [[ -L $link && $(readlink "$link") == "$STATE_DIR/"* ]] && echo "$link"
  done
  return 0
}
# The nodes other than node 1 that `up --nodes N` made (their state dir exists).
extra_nodes() {
  local n
  for ((n = 2; n <= MAX_NODES; n++)); do [[ -d $(node_dir "$n") ]] && echo "$n"; done
  return 0
}
# Built locally by `up` (no registry here) and imported into the node.
PAUSE_IMAGE=ajo.test/pause:3.10.2
TEST_IMAGE=ajo.test/busybox:1
IMAGE_PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Image archives in the format images/build writes: containerd, kind, Docker and Podman load them.
source "$REPO_DIR/images/lib/archive.sh"

small_image_archive() { # <rootfs> <out.tar> <image-ref> <command>: a one-layer image running <command>
  image_archive "$1" "$2" "$3" "$(jq -cn --arg env "$IMAGE_PATH_ENV" --arg cmd "$4" '{Env: [$env], Cmd: [$cmd]}')" 0 >/dev/null
}

test_image_archive() { # <out.tar>: $TEST_IMAGE, a shell and its tools from Debian's static busybox
  local root
  root="$(mktemp -d)"
  mkdir -p "$root/bin" "$root/tmp" "$root/etc"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $("$root/bin/busybox" --list); do
    [[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
  done
  chmod 1777 "$root/tmp"
  small_image_archive "$root" "$1" "$TEST_IMAGE" /bin/sh
  rm -rf "$root"
}

# Debian packages the scripts use; `up` installs the missing ones when root.
APT_CONTROL_PLANE=(etcd-server openssl jq curl iproute2 util-linux procps)
APT_NODE=(containerd runc containernetworking-plugins iptables conntrack gcc libc6-dev busybox-static)

run_dir() { echo "$STATE_DIR/run"; }
log_dir() { echo "$STATE_DIR/logs"; }
pid_of() { # prints the pid of a component we started, if it still runs
  local f="$STATE_DIR/run/$1.pid" pid
  [[ -f $f ]] || return 1
  pid="$(<"$f")"
  [[ -n $pid ]] && running "$pid" || return 1
  echo "$pid"
}
running() { # <pid>: it exists and is not a zombie (PID 1 here need not reap our daemons, so a killed one may linger as Z)
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ ${stat:0:1} != Z ]]
}

# The bridge, the ports and kube-proxy's iptables chains are machine-wide, so
# there is one cluster per machine: `up` and `down` serialise on one lock, and
# the owner file names the state dir of the cluster that runs.
MACHINE_LOCK=/run/lock/ajo-cluster.lock
MACHINE_OWNER=/run/ajo-cluster.owner

take_machine_lock() {
  mkdir -p "$(dirname "$MACHINE_LOCK")"
  exec 9>"$MACHINE_LOCK"
  if ! flock -n 9; then
    log "waiting for another test/cluster/up or down on this machine to finish"
    flock -w 3600 9 || die "gave up waiting for $MACHINE_LOCK"
  fi
}

# Holders: test runs that use the cluster (`up --hold NAME`). `down --release
# NAME` stops the cluster only when no other live holder remains, so two test
# runs in one checkout can share it.
holders_dir() { echo "$STATE_DIR/holders"; }
live_holders() {
  local f pid
  for f in "$STATE_DIR"/holders/*; do
    [[ -f $f ]] || continue
    pid="$(<"$f")"
    if [[ -n $pid && -d /proc/$pid ]]; then echo "${f##*/}"; else rm -f "$f"; fi
  done
}

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
