# How test/cluster/up starts each component, shared with test/cluster/ctl (and down's stop), so
# a component restarted on purpose starts exactly as up starts it. Sourced after common.sh, never run.
# shellcheck shell=bash

# ---------------------------------------------------------------- processes

# start <name> <command...>: runs a daemon detached from this script (own
# session, no inherited stdio, so a caller reading our stdout is not held open
# by it), logs to logs/<name>.log, and records its pid in run/<name>.pid.
start() {
  local name="$1"
  shift
  if pid_of "$name" >/dev/null; then
    log "$name: already running (pid $(pid_of "$name"))"
    return
  fi
  log "$name: starting"
  # One earlier log is kept, for comparing with the run before.
  [[ -f $STATE_DIR/logs/$name.log ]] && mv "$STATE_DIR/logs/$name.log" "$STATE_DIR/logs/$name.previous.log"
  # 9>&-: the daemon must not inherit (and so hold) the machine lock.
  setsid "$@" </dev/null >>"$STATE_DIR/logs/$name.log" 2>&1 9>&- &
  echo $! >"$STATE_DIR/run/$name.pid"
}

# wait_for <what> <seconds> <command...>: polls until the command succeeds; on
# timeout shows the end of the component's log and fails.
wait_for() {
  local what="$1" seconds="$2" component="$3"
  shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ! pid_of "$component" >/dev/null; then
      tail -n 30 "$STATE_DIR/logs/$component.log" >&2 || true
      die "$component exited while waiting for $what (log: $STATE_DIR/logs/$component.log)"
    fi
    if ((SECONDS > deadline)); then
      tail -n 30 "$STATE_DIR/logs/$component.log" >&2 || true
      die "timed out after ${seconds}s waiting for $what (log: $STATE_DIR/logs/$component.log)"
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------- PKI

make_pki() {
  local pki="$STATE_DIR/pki"
  [[ -f $pki/.complete ]] && return
  log "pki: creating a CA and certificates with openssl"
  (
    umask 077
    cd "$pki"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -subj "/CN=ajo-test-cluster-ca" -keyout ca.key -out ca.crt 2>/dev/null
    # name  CN  O  SANs  extendedKeyUsage
    issue apiserver kube-apiserver "" "IP:$API_ADDR,IP:$SERVICE_API_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" serverAuth
    issue etcd-server etcd "" "IP:127.0.0.1,DNS:localhost" serverAuth,clientAuth
    issue apiserver-etcd-client kube-apiserver-etcd-client "" "" clientAuth
    # The API server's client identity towards kubelets (logs, exec): a
    # cluster-admin, so the kubelet's webhook authorization lets it in.
    issue apiserver-kubelet-client kube-apiserver-kubelet-client system:masters "" clientAuth
    issue admin ajo-admin system:masters "" clientAuth
    issue controller-manager system:kube-controller-manager "" "" clientAuth
    issue scheduler system:kube-scheduler "" "" clientAuth
    # The Node authorizer and NodeRestriction admission recognise a kubelet by
    # this exact user name and group.
    issue kubelet "system:node:$NODE_NAME" system:nodes "" clientAuth
    issue kubelet-serving "system:node:$NODE_NAME" system:nodes "IP:$API_ADDR,DNS:$NODE_NAME" serverAuth
    # Bound to the built-in system:node-proxier role by name.
    issue kube-proxy system:kube-proxy "" "" clientAuth
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr ca.srl
    touch .complete
  )
}

issue() { # <name> <CN> <O> <SANs> <extendedKeyUsage>; run inside the pki dir
  local name="$1" cn="$2" org="$3" sans="$4" eku="$5"
  local subj="/CN=$cn"
  [[ -n $org ]] && subj="/O=$org$subj"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subj" \
    -keyout "$name.key" -out "$name.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -n $sans ]] && echo "subjectAltName=$sans"
  } >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.ext"
}

make_kubeconfigs() {
  local user
  for user in admin controller-manager scheduler kubelet kube-proxy; do
    kubeconfig_for "$user" | install_file "$STATE_DIR/$user.kubeconfig"
  done
}

kubeconfig_for() {
  local pki="$STATE_DIR/pki"
  cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ajo
  cluster:
    server: https://$API_ADDR:$API_PORT
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: $1
  user:
    client-certificate-data: $(base64 -w0 "$pki/$1.crt")
    client-key-data: $(base64 -w0 "$pki/$1.key")
contexts:
- name: ajo
  context: {cluster: ajo, user: $1}
current-context: ajo
EOF
}

# ---------------------------------------------------------------- control plane

# The bridge exists before any pod does because it also carries the API
# server's address (see API_ADDR in lib/common.sh). The CNI bridge plugin
# adopts it by name.
create_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    log "network: creating bridge $BRIDGE with $API_ADDR"
    ip link add "$BRIDGE" type bridge
  fi
  # replace, not "show | grep -q || add": under pipefail, grep -q exits at its first match and ip
  # may die of SIGPIPE; the check then fails on an address that is there and add stops: "Address already assigned".
  ip addr replace "$API_ADDR/${POD_CIDR#*/}" dev "$BRIDGE"
  # IPv4 forwards a packet if its incoming interface forwards: a pod reaching
  # another pod through a Service IP needs it, nothing else on the machine does.
  sysctl -qw "net.ipv4.conf.$BRIDGE.forwarding=1"
  ip link set "$BRIDGE" up
}

start_etcd() {
  local pki="$STATE_DIR/pki"
  start etcd etcd --name ajo --data-dir "$STATE_DIR/etcd" \
    --listen-client-urls "https://127.0.0.1:$ETCD_PORT" --advertise-client-urls "https://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "ajo=http://127.0.0.1:$ETCD_PEER_PORT" \
    --cert-file "$pki/etcd-server.crt" --key-file "$pki/etcd-server.key" \
    --client-cert-auth --trusted-ca-file "$pki/ca.crt" \
    --listen-metrics-urls "" --logger zap
  wait_for "etcd health" 30 etcd curl -sf --cacert "$pki/ca.crt" --cert "$pki/apiserver-etcd-client.crt" \
    --key "$pki/apiserver-etcd-client.key" "https://127.0.0.1:$ETCD_PORT/health"
}

start_apiserver() {
  local pki="$STATE_DIR/pki"
  start kube-apiserver "$BIN_DIR/kube-apiserver" \
    --bind-address="$API_ADDR" --advertise-address="$API_ADDR" --secure-port="$API_PORT" \
    --etcd-servers="https://127.0.0.1:$ETCD_PORT" --etcd-cafile="$pki/ca.crt" \
    --etcd-certfile="$pki/apiserver-etcd-client.crt" --etcd-keyfile="$pki/apiserver-etcd-client.key" \
    --client-ca-file="$pki/ca.crt" --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$pki/ca.crt" --kubelet-preferred-address-types=InternalIP \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --anonymous-auth=false \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --allow-privileged=true --profiling=false
  wait_for "kube-apiserver /readyz" 120 kube-apiserver kubectl_admin get --raw /readyz
}

start_controller_manager() {
  local pki="$STATE_DIR/pki" kc="$STATE_DIR/controller-manager.kubeconfig"
  start kube-controller-manager "$BIN_DIR/kube-controller-manager" \
    --kubeconfig="$kc" --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
    --bind-address=127.0.0.1 --secure-port="$CONTROLLER_MANAGER_PORT" --leader-elect=false \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --use-service-account-credentials=true --service-cluster-ip-range="$SERVICE_CIDR" \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" --profiling=false
}

start_scheduler() {
  local kc="$STATE_DIR/scheduler.kubeconfig"
  start kube-scheduler "$BIN_DIR/kube-scheduler" \
    --kubeconfig="$kc" --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
    --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --leader-elect=false --profiling=false
}

# install_file <path>: stdin becomes the file's content, replacing the file only
# if the content differs. Running daemons watch their config files (kube-proxy
# exits when its file is rewritten), so a repeated `up` must not touch them.
install_file() {
  local tmp="$1.tmp"
  (umask 077 && cat >"$tmp")
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi
}

kubectl_admin() { "$BIN_DIR/kubectl" --kubeconfig "$STATE_DIR/admin.kubeconfig" --request-timeout=5s "$@"; }

# ---------------------------------------------------------------- node

start_containerd() { # [node]: that node's containerd (default 1), its own sockets, root and state
  local n="${1:-1}"
  local dir
  dir="$(node_dir "$n")/containerd"
  mkdir -p "$dir"
  install_file "$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
[plugins."io.containerd.grpc.v1.cri"]
  # Built locally by import_images: there is no registry to pull from.
  sandbox_image = "$PAUSE_IMAGE"
  # 0: a free port, instead of the fixed 10010 another containerd may hold.
  stream_server_port = "0"
  # The kubelet asks for negative oom_score_adj values (-998 for the pause
  # container, -997 for Guaranteed pods); lowering the score needs
  # CAP_SYS_RESOURCE, which this machine's bounding set lacks, so runc would
  # fail to start every pod. This clamps them to containerd's own score.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # No systemd here: cgroups are managed as plain cgroupfs directories,
        # matching the kubelet's cgroupDriver.
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$(node_dir "$n")/cni/net.d"
EOF
  start "containerd$(node_suffix "$n")" containerd --config "$dir/config.toml"
  local name
  name="containerd$(node_suffix "$n")"
  wait_for "$name" 30 "$name" ctr_at "$n" version
  # ctr answers before the CRI plugin has recovered its pods: a kubelet started then exits with
  # "server is not initialized yet" (seen after a node's containers were killed). The CRI
  # serves from the moment just after it logs this line (containerd 1.6, pkg/cri/server/service.go).
  wait_for "$name's CRI" 120 "$name" grep -F 'msg="Start streaming server"' "$STATE_DIR/logs/$name.log"
}

ctr_at() { # <node> <ctr args...>: ctr against that node's containerd
  local n="$1"
  shift
  ctr --address "$(node_dir "$n")/containerd/containerd.sock" --namespace "$CTR_NS" "$@"
}
ctr_node() { ctr_at 1 "$@"; }

# The pause image (from the Kubernetes source's build/pause/linux/pause.c) and
# a busybox image for tests, both packed locally and cached with the binaries,
# and CoreDNS (build-coredns, cached apart). Into every node's containerd: each has its own.
import_images() { # [node]
  local n="${1:-1}" images="$CACHE_DIR/images"
  mkdir -p "$images"
  if [[ ! -f $images/pause.tar ]]; then
    log "images: building $PAUSE_IMAGE from pause.c"
    local root
    root="$(mktemp -d)"
    local src
    src="$(cd "$CLUSTER_SRC_DIR/build/k8s" && go_cmd mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .Dir)"
    gcc -Os -Wall -Werror -static -DVERSION="v3.10.2-ajo" -o "$root/pause" "$src/build/pause/linux/pause.c"
    small_image_archive "$root" "$images/pause.tar" "$PAUSE_IMAGE" /pause
    rm -rf "$root"
  fi
  if [[ ! -f $images/busybox.tar ]]; then
    log "images: building $TEST_IMAGE from Debian's busybox-static"
    test_image_archive "$images/busybox.tar"
  fi
  local ref tar
  for ref in "$PAUSE_IMAGE=$images/pause.tar" "$TEST_IMAGE=$images/busybox.tar" "$COREDNS_IMAGE=$COREDNS_ARCHIVE"; do
    tar="${ref#*=}"
    ctr_at "$n" images check "name==${ref%=*}" 2>/dev/null | grep complete >/dev/null && continue
    log "images: importing ${ref%=*} into $(node_name "$n")"
    ctr_at "$n" images import "$tar" >/dev/null
  done
  # The kubelet's image GC must never remove the sandbox image: it cannot be
  # pulled again.
  ctr_at "$n" images label "$PAUSE_IMAGE" io.cri-containerd.pinned=pinned >/dev/null
}

# Node N (N >= 2) also gets every image node 1 has (what load-image, images/build and
# build-testhost put there before node N existed), so a pod runs alike on either node.
# Each image once: those node N has already are skipped.
copy_images_from_node1() { # <node>
  local n="$1" ref
  while read -r ref; do
    ctr_at "$n" images check "name==$ref" 2>/dev/null | grep complete >/dev/null && continue
    log "images: copying $ref from $NODE_NAME to $(node_name "$n")"
    ctr_node images export --platform linux/amd64 - "$ref" | ctr_at "$n" images import --all-platforms - >/dev/null ||
      log "images: could not copy $ref (load it with test/cluster/load-image)"
  done < <(ctr_node images check 2>/dev/null | awk 'NR > 1 && $1 !~ /^sha256:/ && $4 == "complete" { print $1 }')
}

go_cmd() {
  if command -v go >/dev/null; then go "$@"; else /usr/local/go/bin/go "$@"; fi
}

write_cni_config() { # [node]: its own bridge, pod subnet and IPAM store
  local n="${1:-1}"
  local dir
  dir="$(node_dir "$n")/cni"
  mkdir -p "$dir/net.d" "$dir/ipam"
  # ipMasq off: pods talk to the node and to each other, never out of this
  # machine. isGateway off: the plugin would switch on IP forwarding for the
  # whole machine; create_bridge gives the bridge its gateway address and
  # turns forwarding on for the bridge alone. hairpinMode lets a pod reach
  # itself through a Service IP.
  install_file "$dir/net.d/10-ajo.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "ajo",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$(node_bridge "$n")",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$(node_pod_cidr "$n")", "gateway": "$(node_addr "$n")"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$dir/ipam"
      }
    },
    {"type": "loopback"}
  ]
}
EOF
}

# The kubelet wants its cgroupRoot to exist in every v1 hierarchy. A new
# cpuset cgroup starts with no CPUs and no memory nodes, so it gets its
# parent's before anything is put in it. The cpu weight of /ajo is what a
# real node gives its /kubepods (1024 per CPU, as the kubelet sets kubepods
# itself): at the default 1024 every pod together weighed as much as one busy
# process of the machine's own, and under a loaded machine's builds and tests
# the plays' ansible-playbook sat runnable for minutes with no CPU time.
# Node N's root (/ajo/node-N) sits inside node 1's /ajo and gets its CPUs and memory nodes.
make_cgroup_root() { # [node]
  local hierarchy dir parent dirs=(/ajo)
  [[ ${1:-1} == 1 ]] || dirs+=("$(node_cgroup_root "$1")")
  while read -r hierarchy; do
    parent="$hierarchy"
    for dir in "${dirs[@]}"; do
      mkdir -p "$hierarchy$dir"
      if [[ -f $parent/cpuset.cpus && -z $(<"$hierarchy$dir/cpuset.cpus") ]]; then
        cat "$parent/cpuset.cpus" >"$hierarchy$dir/cpuset.cpus"
        cat "$parent/cpuset.mems" >"$hierarchy$dir/cpuset.mems"
      fi
      parent="$hierarchy$dir"
    done
    if [[ -f $hierarchy/ajo/cpu.shares ]]; then
      echo $(($(nproc) * 1024)) >"$hierarchy/ajo/cpu.shares"
    fi
  done < <(awk '$3 == "cgroup" && index($2, "/sys/fs/cgroup/") == 1 { print $2 }' /proc/self/mounts)
}

start_kubelet() { # [node]
  local n="${1:-1}" pki="$STATE_DIR/pki"
  local dir sfx
  dir="$(node_dir "$n")/kubelet"
  sfx="$(node_suffix "$n")"
  mkdir -p "$dir"
  make_cgroup_root "$n"
  # Every setting here is explained in docs/cluster.md as well.
  {
    cat <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has cgroup v1 (hybrid); kubelets from 1.35 on refuse to start
# on v1 unless told otherwise (KEP-5573).
failCgroupV1: false
# No systemd: cgroups are plain directories. Must match containerd's
# SystemdCgroup=false. (containerd 1.6 cannot report its driver over CRI.)
cgroupDriver: cgroupfs
# Pods' cgroups go under /ajo/kubepods in every hierarchy, so down can find
# and remove them without touching anything else on the machine.
cgroupRoot: $(node_cgroup_root "$n")
# The kubelet would lower its own oom_score_adj to -999, which needs
# CAP_SYS_RESOURCE (missing here); 0 leaves it as it is.
oomScoreAdj: 0
# Kernel tunables (vm.overcommit_memory, kernel.panic...) are left as they
# are: a test cluster must not change the host's settings.
protectKernelDefaults: false
# Ports off the defaults so a user's own kubelet is not disturbed; the API
# server reaches the kubelet on the bridge address only.
address: $(node_addr "$n")
port: $(node_kubelet_port "$n")
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $(node_kubelet_healthz_port "$n")
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization:
  mode: Webhook
tlsCertFile: $pki/kubelet$sfx-serving.crt
tlsPrivateKeyFile: $pki/kubelet$sfx-serving.key
containerRuntimeEndpoint: unix://$(node_dir "$n")/containerd/containerd.sock
# A developer's disk is often fuller than the 85% the default eviction
# thresholds allow; evicting test pods (or refusing to admit them) for that
# would make tests fail for reasons unrelated to what they test.
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
imageGCHighThresholdPercent: 100
# Swap may be on on a developer machine; the kubelet refuses to start by
# default then.
failSwapOn: false
# Pods ask CoreDNS (start_cluster_dns) first, as in every real cluster; the
# node's resolver is what CoreDNS itself and dnsPolicy: Default pods use.
clusterDNS: [$CLUSTER_DNS_IP]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: /etc/resolv.conf
staticPodPath: ""
registerNode: true
EOF
    ((n == 1)) || second_node_kubelet_config "$n"
  } | install_file "$dir/config.yaml"
  local labels=()
  ((n == 1)) || labels=(--node-labels="$SECOND_NODE_KEY=true")
  start "kubelet$sfx" "$BIN_DIR/kubelet" --config="$dir/config.yaml" --kubeconfig="$STATE_DIR/kubelet$sfx.kubeconfig" \
    --root-dir="$dir/root" --cert-dir="$dir/pki" --hostname-override="$(node_name "$n")" --node-ip="$(node_addr "$n")" \
    ${labels[@]+"${labels[@]}"}
}

# What node N (N >= 2) adds to the kubelet config above.
second_node_kubelet_config() { # <node>
  cat <<EOF
# Not a default node: only pods that tolerate this taint and ask for the node
# (nodeSelector $SECOND_NODE_KEY: "true", the label start_kubelet gives it) run here
# (see SECOND_NODE_TAINT in lib/common.sh).
registerWithTaints:
- {key: $SECOND_NODE_KEY, value: "true", effect: NoSchedule}
# Node 1 writes the default /var/log/pods, and a kubelet's log GC removes what it
# does not know there: each further node keeps its pods' logs in its own state dir.
podLogsDir: $(node_dir "$1")/pod-logs
EOF
}

# One kube-proxy for the machine, whatever the node count: every node of `up --nodes N` shares
# the host's network namespace, so a second kube-proxy would program the same iptables chains
# and the two would fight over them. Its clusterCIDR stays node 1's subnet (its file must not
# change under it: it exits when it does); masqueradeAll already masquerades every node's
# pod -> Service traffic, which is what the clusterCIDR decides for ClusterIP Services (it
# also marks pods as local for externalTrafficPolicy: Local, unused here).
start_kube_proxy() {
  local dir="$STATE_DIR/kube-proxy"
  mkdir -p "$dir"
  install_file "$dir/config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $STATE_DIR/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: 127.0.0.1
# NodePorts only on the bridge address, never on the machine's own interfaces.
nodePortAddresses: ["$API_ADDR/32"]
healthzBindAddress: 127.0.0.1:$PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$PROXY_METRICS_PORT
iptables:
  # Pod -> Service -> pod on the same bridge: without masquerading, the reply
  # would be bridged straight back and miss the DNAT's conntrack entry.
  masqueradeAll: true
  # Leaves net.ipv4.conf.all.route_localnet alone (NodePorts on 127.0.0.1
  # are not needed, and the host's sysctls stay untouched).
  localhostNodePorts: false
conntrack:
  # Do not raise the host's nf_conntrack_max / timeouts.
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
  start kube-proxy "$BIN_DIR/kube-proxy" --config="$dir/config.yaml"
}

# ---------------------------------------------------------------- cluster DNS

# CoreDNS as in every cluster (a Deployment behind the kube-dns Service at
# $CLUSTER_DNS_IP, the RBAC of its kubernetes plugin), with one difference: it
# runs on the node's network, bound to the bridge address only. Pods cannot
# reach beyond the machine (no masquerading, see write_cni_config), so only a
# process on the node can forward other names to the node's own resolver.
# Applied every time (kubectl apply changes nothing when nothing changed),
# then waited for until a query through the Service IP is answered.
start_cluster_dns() {
  log "dns: CoreDNS $COREDNS_VERSION at $CLUSTER_DNS_IP"
  cluster_dns_manifest | kubectl_admin apply -f - >/dev/null
  wait_for "CoreDNS to answer for kubernetes.default.svc.$CLUSTER_DOMAIN at $CLUSTER_DNS_IP" 120 kubelet \
    busybox nslookup "kubernetes.default.svc.$CLUSTER_DOMAIN" "$CLUSTER_DNS_IP"
}

cluster_dns_manifest() {
  cat <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects:
- {kind: ServiceAccount, name: coredns, namespace: kube-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        bind $API_ADDR
        errors
        health $API_ADDR:$COREDNS_HEALTH_PORT
        ready $API_ADDR:$COREDNS_READY_PORT
        kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
            ttl 30
        }
        forward . /etc/resolv.conf
        cache 30
        loop
        reload
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  replicas: 1
  # On the node's network its ports are host ports: a new pod cannot start
  # beside the old one, so a changed manifest replaces it instead of rolling.
  strategy: {type: Recreate}
  selector:
    matchLabels: {k8s-app: kube-dns}
  template:
    metadata:
      labels: {k8s-app: kube-dns}
    spec:
      serviceAccountName: coredns
      priorityClassName: system-cluster-critical
      hostNetwork: true
      # The node's resolv.conf, which the forward plugin reads.
      dnsPolicy: Default
      containers:
      - name: coredns
        image: $COREDNS_IMAGE
        imagePullPolicy: Never
        # The image's Cmd is /coredns alone (small_image_archive sets no Entrypoint).
        command: [/coredns, -conf, /etc/coredns/Corefile]
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
        resources:
          requests: {cpu: 50m, memory: 40Mi}
          limits: {memory: 170Mi}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
        livenessProbe:
          httpGet: {host: $API_ADDR, path: /health, port: $COREDNS_HEALTH_PORT}
          periodSeconds: 10
          failureThreshold: 5
        readinessProbe:
          httpGet: {host: $API_ADDR, path: /ready, port: $COREDNS_READY_PORT}
          periodSeconds: 2
        volumeMounts:
        - {name: config, mountPath: /etc/coredns, readOnly: true}
      volumes:
      - name: config
        configMap: {name: coredns}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  selector: {k8s-app: kube-dns}
  clusterIP: $CLUSTER_DNS_IP
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
EOF
}

wait_node_ready() { # [node]
  local n="${1:-1}"
  local name
  name="$(node_name "$n")"
  log "node: waiting for $name to be Ready"
  wait_for "node $name Ready" 120 "kubelet$(node_suffix "$n")" \
    kubectl_admin wait --for=condition=Ready "node/$name" --timeout=2s
}

# Node N's (N >= 2) own kubelet identity, signed by the cluster's CA: the Node authorizer
# knows a kubelet by its name, and the API server checks the serving certificate against
# the node's address.
make_node_pki() { # <node>
  local n="$1" pki="$STATE_DIR/pki"
  local name sfx
  name="$(node_name "$n")"
  sfx="$(node_suffix "$n")"
  if [[ ! -f $pki/kubelet$sfx-serving.crt ]]; then
    log "pki: certificates for $name"
    (
      umask 077
      cd "$pki"
      issue "kubelet$sfx" "system:node:$name" system:nodes "" clientAuth
      issue "kubelet$sfx-serving" "system:node:$name" system:nodes "IP:$(node_addr "$n"),DNS:$name" serverAuth
      rm -f ./*.csr ca.srl
    )
  fi
  kubeconfig_for "kubelet$sfx" | install_file "$STATE_DIR/kubelet$sfx.kubeconfig"
}

# Node N's (N >= 2) bridge: its pods' gateway and the node's own address (the kubelet
# listens there), forwarding on as for node 1's. The host routes between the bridges, so pods
# of both nodes reach each other, the Services and CoreDNS (on node 1's address) through it.
create_node_bridge() { # <node>
  local br addr
  br="$(node_bridge "$1")"
  addr="$(node_addr "$1")"
  if ! ip link show "$br" >/dev/null 2>&1; then
    log "network: creating bridge $br with $addr"
    ip link add "$br" type bridge
  fi
  ip addr replace "$addr/${POD_CIDR#*/}" dev "$br"
  sysctl -qw "net.ipv4.conf.$br.forwarding=1"
  ip link set "$br" up
}


stop() { # <component>...: SIGTERM to all of them, SIGKILL to any still there after STOP_TIMEOUT s (10)
  local name pid pids=() timeout="${STOP_TIMEOUT:-10}"
  for name in "$@"; do
    if pid="$(pid_of "$name")"; then
      log "$name: stopping (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$STATE_DIR/run/$name.pid"
  done
  local i
  for ((i = 0; i < timeout * 10; i++)); do
    alive "${pids[@]}" || return 0
    sleep 0.1
  done
  log "still running after $timeout s, killing: ${pids[*]}"
  kill -KILL "${pids[@]}" 2>/dev/null || true
  while alive "${pids[@]}"; do sleep 0.1; done
}

alive() { # true if any of the pids still runs
  local pid
  for pid in "$@"; do running "$pid" && return 0; done
  return 1
}

