#!/usr/bin/env bash
# Runs ajo's cluster test suites (test/cluster, test/integration, test/e2e)
# against a kind cluster, for people with Docker and internet access:
#
#   test/e2e/kind.sh [--name NAME] [--delete]
#
# 1. creates the kind cluster NAME (default $KIND_CLUSTER_NAME or ajo-e2e), or
#    reuses it;
# 2. builds ajo's images and loads them into it (images/build --load kind), and
#    loads the small busybox test image the smoke test runs;
# 3. installs charts/ajo with helm (helm from PATH, else the one
#    test/cluster/build-binaries builds);
# 4. runs the jest project "cluster" with KUBECONFIG pointing at kind, so the
#    global setup uses kind instead of starting test/cluster/up.
# --delete removes the kind cluster afterwards. Exits with jest's exit code.
# Where Docker, kind or the internet is missing it prints SKIPPED and why, and
# exits 0: this path is optional; test/cluster/up is the one CI uses.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "$0")/../.." && pwd)"
NAME="${KIND_CLUSTER_NAME:-ajo-e2e}"
DELETE=0
while (($#)); do
  case "$1" in
    --name) NAME="${2:?--name needs a value}"; shift ;;
    --delete) DELETE=1 ;;
    *) echo "usage: test/e2e/kind.sh [--name NAME] [--delete]" >&2; exit 2 ;;
  esac
  shift
done

source "$REPO_DIR/test/cluster/lib/common.sh" # TEST_IMAGE, test_image_archive
log() { printf '[kind %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
skip() { echo "SKIPPED: test/e2e/kind.sh: $*"; exit 0; }

command -v docker >/dev/null || skip "docker is not installed"
docker info >/dev/null 2>&1 || skip "no Docker daemon answers (docker info failed; is DOCKER_HOST right?)"
command -v kind >/dev/null || skip "kind is not installed (go install sigs.k8s.io/kind@latest, or see kind's quick start)"
if ! kind get clusters 2>/dev/null | grep -qx "$NAME"; then
  # kind pulls its node image from Docker Hub unless it is already there.
  if ! docker image ls --format '{{.Repository}}' | grep -qx kindest/node &&
    ! curl -fsS -m 10 -o /dev/null https://registry-1.docker.io/v2/ 2>/dev/null &&
    ! curl -sS -m 10 -o /dev/null -w '%{http_code}' https://registry-1.docker.io/v2/ 2>/dev/null | grep -q 401; then
    skip "no internet access to pull kind's node image (and none is cached)"
  fi
  log "creating kind cluster $NAME"
  kind create cluster --name "$NAME" --wait 120s >&2
else
  log "reusing kind cluster $NAME"
fi
KUBECONFIG_FILE="$(mktemp)"
trap 'rm -f "$KUBECONFIG_FILE"' EXIT
kind get kubeconfig --name "$NAME" >"$KUBECONFIG_FILE"
export KUBECONFIG="$KUBECONFIG_FILE"

# ajo's images.
if [[ -x $REPO_DIR/images/build ]]; then
  log "building and loading ajo's images (images/build --load kind)"
  "$REPO_DIR/images/build" --load kind --kind-name "$NAME" >&2
else
  log "images/build is not in this checkout: ajo's images are not loaded; suites that need them will fail or skip"
fi

# The busybox image the smoke test runs (built locally, as test/cluster/up does).
if [[ -x /bin/busybox ]] && /bin/busybox --list >/dev/null 2>&1; then
  work="$(mktemp -d)"
  test_image_archive "$work/busybox.tar"
  kind load image-archive "$work/busybox.tar" --name "$NAME" >&2
  rm -rf "$work"
else
  log "no static busybox here (apt-get install busybox-static): the smoke test's image $TEST_IMAGE is not loaded"
fi

# The chart.
if [[ -d $REPO_DIR/charts/ajo ]]; then
  HELM="$(command -v helm || echo "$("$REPO_DIR/test/cluster/build-binaries")/helm")"
  log "installing charts/ajo with $HELM"
  "$HELM" upgrade --install ajo "$REPO_DIR/charts/ajo" --namespace ajo-system --create-namespace --wait --timeout 5m >&2
else
  log "charts/ajo is not in this checkout: the chart is not installed"
fi

log "running the jest project 'cluster' against kind"
status=0
(cd "$REPO_DIR" && node --experimental-vm-modules node_modules/jest/bin/jest.js --selectProjects cluster) || status=$?
if ((DELETE)); then
  log "deleting kind cluster $NAME"
  kind delete cluster --name "$NAME" >&2
fi
exit "$status"
