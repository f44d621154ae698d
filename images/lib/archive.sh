# Packs a root filesystem into one image archive that every loader we support
# accepts, without a registry or a container engine. Sourced by images/build.
# shellcheck shell=bash
#
# The tar is an OCI image layout (oci-layout, index.json, blobs/) AND a
# docker-archive (manifest.json pointing at the same blobs), the way `docker
# save` writes it since Docker 25:
#   - containerd (`ctr images import`, `kind load image-archive`) and
#     `podman load` read the OCI index and name the image from its
#     io.containerd.image.name / org.opencontainers.image.ref.name annotation;
#   - Docker 20.10's `docker load` reads only manifest.json (an OCI-only tar
#     fails with "open .../blobs/json", see MACHINE-NOTES §3).
# One uncompressed layer: the images are loaded locally, never pushed, so
# compressing would cost time on every build and save nothing on import.

# image_archive <rootfs-dir> <out.tar> <image-ref> <config-json> <created-epoch>
#   image-ref:   fully qualified, e.g. docker.io/library/ajo-runner:0.1.0 (that is
#                what the kubelet looks up for `image: ajo-runner:0.1.0`)
#   config-json: the image config's "config" object (User, Env, WorkingDir, ...)
image_archive() {
  local rootfs="$1" out="$2" ref="$3" config="$4" epoch="$5"
  local work
  work="$(mktemp -d "${TMPDIR:-/tmp}/ajo-image.XXXXXX")"
  mkdir -p "$work/blobs/sha256"

  # Sorted, fixed mtimes, numeric owners kept (the runner's /home/ajo and
  # /runner belong to uid 1000): the same rootfs gives the same image ID.
  # /dev, /proc and /sys are filled by the runtime; their contents never ship.
  tar -C "$rootfs" --sort=name --mtime="@$epoch" --numeric-owner \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    -cf "$work/layer.tar" .
  local layer_digest layer_size
  layer_digest="$(_archive_blob "$work" "$work/layer.tar")"
  layer_size="$(stat -c %s "$work/blobs/sha256/$layer_digest")"

  local created
  created="$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"
  jq -cn --arg diff "sha256:$layer_digest" --argjson config "$config" --arg created "$created" '{
      created: $created, architecture: "amd64", os: "linux", config: $config,
      rootfs: { type: "layers", diff_ids: [$diff] },
      history: [ { created: $created, created_by: "ajo images/build" } ] }' >"$work/config.json"
  local config_digest config_size
  config_digest="$(_archive_blob "$work" "$work/config.json")"
  config_size="$(stat -c %s "$work/blobs/sha256/$config_digest")"

  jq -cn --arg c "sha256:$config_digest" --argjson cs "$config_size" \
    --arg l "sha256:$layer_digest" --argjson ls "$layer_size" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs },
      layers: [ { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $l, size: $ls } ] }' >"$work/manifest.oci.json"
  local manifest_digest manifest_size
  manifest_digest="$(_archive_blob "$work" "$work/manifest.oci.json")"
  manifest_size="$(stat -c %s "$work/blobs/sha256/$manifest_digest")"

  jq -cn --arg m "sha256:$manifest_digest" --argjson ms "$manifest_size" --arg ref "$ref" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [ { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
        platform: { architecture: "amd64", os: "linux" },
        annotations: { "io.containerd.image.name": $ref, "org.opencontainers.image.ref.name": $ref } } ] }' >"$work/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
  jq -cn --arg c "blobs/sha256/$config_digest" --arg l "blobs/sha256/$layer_digest" --arg tag "$(_short_ref "$ref")" \
    '[ { Config: $c, RepoTags: [$tag], Layers: [$l] } ]' >"$work/manifest.json"

  tar -C "$work" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    -cf "$out.tmp" oci-layout index.json manifest.json blobs
  mv "$out.tmp" "$out"
  rm -rf "$work"
  echo "sha256:$config_digest"
}

_archive_blob() { # <layout-dir> <file>: moves file into blobs/, prints its digest
  local digest
  digest="$(sha256sum "$2" | cut -d' ' -f1)"
  mv "$2" "$1/blobs/sha256/$digest"
  echo "$digest"
}

# Docker shows images from Docker Hub's library without the prefix.
_short_ref() { local ref="${1#docker.io/}"; echo "${ref#library/}"; }
