# Packs a directory into an OCI image archive that `ctr images import` accepts,
# without a registry or a container engine. Sourced, never run.
# shellcheck shell=bash

# oci_archive <rootfs-dir> <out.tar> <image-ref> <cmd-json-array>
# The layer is a reproducible uncompressed tar (sorted, fixed owner and mtime),
# so the same rootfs always gives the same image ID.
oci_archive() {
  local rootfs="$1" out="$2" ref="$3" cmd="$4"
  local work
  work="$(mktemp -d)"
  mkdir -p "$work/blobs/sha256"
  tar -C "$rootfs" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$work/layer.tar" .
  local layer_digest layer_size
  layer_digest="$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
  layer_size="$(stat -c %s "$work/layer.tar")"
  mv "$work/layer.tar" "$work/blobs/sha256/$layer_digest"

  jq -cn --arg diff "sha256:$layer_digest" --argjson cmd "$cmd" '{
      architecture: "amd64", os: "linux",
      config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: $cmd },
      rootfs: { type: "layers", diff_ids: [$diff] } }' >"$work/config.json"
  local config_digest config_size
  config_digest="$(blob "$work" "$work/config.json")"
  config_size="$(stat -c %s "$work/blobs/sha256/$config_digest")"

  jq -cn --arg c "sha256:$config_digest" --argjson cs "$config_size" \
    --arg l "sha256:$layer_digest" --argjson ls "$layer_size" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs },
      layers: [ { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $l, size: $ls } ] }' >"$work/manifest.json"
  local manifest_digest manifest_size
  manifest_digest="$(blob "$work" "$work/manifest.json")"
  manifest_size="$(stat -c %s "$work/blobs/sha256/$manifest_digest")"

  jq -cn --arg m "sha256:$manifest_digest" --argjson ms "$manifest_size" --arg ref "$ref" '{
      schemaVersion: 2,
      manifests: [ { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
        platform: { architecture: "amd64", os: "linux" },
        annotations: { "io.containerd.image.name": $ref, "org.opencontainers.image.ref.name": $ref } } ] }' >"$work/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
  tar -C "$work" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$out" oci-layout index.json blobs
  rm -rf "$work"
}

blob() { # <layout-dir> <file>: moves file into blobs/, prints its digest
  local digest
  digest="$(sha256sum "$2" | cut -d' ' -f1)"
  mv "$2" "$1/blobs/sha256/$digest"
  echo "$digest"
}
