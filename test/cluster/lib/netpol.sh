# The test cluster's NetworkPolicy agent: kube-network-policies (what kind runs),
# built by build-netpol and started by `up` as a host process beside kube-proxy.
# Sourced after lib/common.sh by up and build-netpol; never run. docs/cluster.md,
# "NetworkPolicy", explains the choices below.
# shellcheck shell=bash

NETPOL_VERSION="$(gomod_version "$CLUSTER_SRC_DIR/build/netpol/go.mod" sigs.k8s.io/kube-network-policies)"
NETPOL_RECIPE=1
NETPOL_CACHE_DIR="$CACHE_ROOT/netpol-${NETPOL_VERSION}_r${NETPOL_RECIPE}"
NETPOL_QUEUE=100
NETPOL_METRICS_PORT=11290
# The hook into netfilter (see netpol_hook). KUBE-*, so that `down` removes it with
# kube-proxy's chains and `leftovers` reports it if it stays.
NETPOL_CHAIN=KUBE-AJO-NETPOL

# start_netpol: the agent, its API identity and its netfilter hook. AJO_NETWORK_POLICY=off
# leaves it out (NetworkPolicies are then stored but not enforced).
start_netpol() {
  if [[ ${AJO_NETWORK_POLICY:-on} == off ]]; then
    log "netpol: off (AJO_NETWORK_POLICY=off): NetworkPolicies are not enforced"
    return
  fi
  local binary dir="$STATE_DIR/netpol"
  binary="$("$CLUSTER_SRC_DIR/build-netpol")"
  mkdir -p "$dir/serviceaccount"
  # The process's argv[0] names the state dir, so `down` and `leftovers` know it as ours.
  ln -sfn "$binary" "$dir/kube-network-policies"
  netpol_rbac | kubectl_admin apply -f - >/dev/null
  if ! pid_of kube-network-policies >/dev/null; then
    # rest.InClusterConfig is the agent's only way to the API server: a token and CA at the
    # fixed service-account path, mounted in a mount namespace of its own (below), so that
    # nothing is written outside the state dir.
    kubectl_admin -n kube-system create token kube-network-policies --duration=8760h |
      install_file "$dir/serviceaccount/token"
    install_file "$dir/serviceaccount/ca.crt" <"$STATE_DIR/pki/ca.crt"
    echo kube-system | install_file "$dir/serviceaccount/namespace"
  fi
  # --fail-open and the hook's --queue-bypass: while the agent is down (stopped, or restarted
  # by a chaos test) packets pass, so the shared cluster keeps working.
  # --netfilter-bug-1766-fix=false: that workaround is for kernels before 6.12.
  start kube-network-policies env KUBERNETES_SERVICE_HOST="$API_ADDR" KUBERNETES_SERVICE_PORT="$API_PORT" \
    unshare --mount --propagation private -- /bin/sh -ec '
      mount -t tmpfs -o mode=0755 ajo-netpol /run
      mkdir -p /run/secrets/kubernetes.io/serviceaccount
      mount --bind "$1" /run/secrets/kubernetes.io/serviceaccount
      shift
      exec "$@"' sh "$dir/serviceaccount" \
    "$dir/kube-network-policies" --hostname-override="$NODE_NAME" --nfqueue-id="$NETPOL_QUEUE" \
    --metrics-bind-address="127.0.0.1:$NETPOL_METRICS_PORT" --fail-open --disable-nri --netfilter-bug-1766-fix=false
  wait_for "kube-network-policies to listen on nfqueue $NETPOL_QUEUE" 120 kube-network-policies netpol_queue_bound
  netpol_hook
}

# The kernel lists the queues a program listens on.
netpol_queue_bound() {
  awk -v q="$NETPOL_QUEUE" '$1 == q { found = 1 } END { exit !found }' /proc/net/netfilter/nfnetlink_queue
}

# The agent's own hook is an nftables chain with the `queue` statement, which this
# kernel lacks (CONFIG_NFT_QUEUE is not set): its ruleset is refused and it logs
# "syncing nftables rules". The same hook through iptables' NFQUEUE target (nft_compat,
# which this kernel has): the first packet of every new connection from or to a pod,
# after the Services' DNAT and before their masquerade, waits for the agent's verdict.
# Like the agent's chain, it lets root's traffic of the node (kubelet probes, the API
# server) pass. Rebuilt on every `up`. It covers the pods of every node (ALL_PODS_CIDR): one
# agent serves the whole machine, since all nodes share its network namespace and the agent
# judges a packet by the pods of its addresses, whichever node they run on (its --hostname-override
# only limits the nftables sets this hook replaces).
netpol_hook() {
  local t=(iptables -w -t mangle)
  "${t[@]}" -N "$NETPOL_CHAIN" 2>/dev/null || "${t[@]}" -F "$NETPOL_CHAIN"
  "${t[@]}" -A "$NETPOL_CHAIN" -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
  "${t[@]}" -A "$NETPOL_CHAIN" -o lo -j RETURN
  "${t[@]}" -A "$NETPOL_CHAIN" -m owner --uid-owner 0 -j RETURN
  "${t[@]}" -A "$NETPOL_CHAIN" -s "$ALL_PODS_CIDR" -j NFQUEUE --queue-num "$NETPOL_QUEUE" --queue-bypass
  "${t[@]}" -A "$NETPOL_CHAIN" -d "$ALL_PODS_CIDR" -j NFQUEUE --queue-num "$NETPOL_QUEUE" --queue-bypass
  "${t[@]}" -C POSTROUTING -j "$NETPOL_CHAIN" 2>/dev/null || "${t[@]}" -I POSTROUTING -j "$NETPOL_CHAIN"
}

# What the agent reads, as upstream's install.yaml grants it (no Admin Network Policies here).
netpol_rbac() {
  cat <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: kube-network-policies, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: kube-network-policies}
rules:
- apiGroups: [""]
  resources: [pods, namespaces, nodes]
  verbs: [list, watch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: kube-network-policies}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kube-network-policies}
subjects:
- {kind: ServiceAccount, name: kube-network-policies, namespace: kube-system}
EOF
}
