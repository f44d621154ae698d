# The Debian root filesystem steps shared by images/build and the test
# fixture images (test/cluster/build-testhost). Sourced, never run.
# shellcheck shell=bash
#
# The caller sets PATH_ENV and WORK (a scratch dir of its own) and defines log
# and die. Every image built on these steps starts from the same cached base.

SUITE=bookworm
# Bump when the base rootfs recipe changes, so an older cached base is not reused.
BASE_RECIPE=1
BASE_CACHE_DIR="${AJO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ajo}/images/base"

debian_site() { # <suite>: the mirror apt on this machine uses for that suite
  apt-get indextargets --format '$(SITE) $(RELEASE)' 2>/dev/null | awk -v s="$1" '$2 == s { print $1; exit }'
}

# debootstrap --variant=minbase, upgraded from bookworm-updates and
# bookworm-security, apt lists removed. Cached as a tar; --refresh-base (or a
# new BASE_RECIPE) rebuilds it, e.g. to pick up security updates.
ensure_base() {
  BASE_TAR="$BASE_CACHE_DIR/$SUITE-minbase-r$BASE_RECIPE.tar"
  if [[ -f $BASE_TAR && $1 == 0 ]]; then
    log "base: cached $BASE_TAR ($(du -h "$BASE_TAR" | cut -f1))"
    return
  fi
  local mirror security
  mirror="${AJO_DEBIAN_MIRROR:-$(debian_site "$SUITE")}"
  mirror="${mirror:-http://deb.debian.org/debian}"
  security="${AJO_DEBIAN_SECURITY_MIRROR:-$(debian_site "$SUITE-security")}"
  security="${security:-http://deb.debian.org/debian-security}"
  local root="$WORK/base"
  log "base: debootstrap --variant=minbase $SUITE from $mirror"
  debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $SUITE main
deb $mirror $SUITE-updates main
deb $security $SUITE-security main
EOF
  # Documentation and translations are never read in a container; dpkg skips them
  # for every later install too (this file stays in the images).
  cat >"$root/etc/dpkg/dpkg.cfg.d/ajo-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  in_chroot "$root" apt-get update -qq
  in_chroot "$root" apt-get -y -qq upgrade
  slim_rootfs "$root"
  tar -C "$root" --numeric-owner -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
  remove_rootfs "$root"
  log "base: cached $BASE_TAR ($(du -h "$BASE_TAR" | cut -f1))"
}

unpack_base() { # <dir>
  mkdir -p "$1"
  tar -C "$1" --numeric-owner -xf "$BASE_TAR"
}

# in_chroot <root> <command...>: runs with /proc mounted and no daemon starts.
# Only /proc is mounted (debootstrap made the /dev nodes apt needs), so a
# failure can never leave a host /dev bind mount under a dir we delete.
in_chroot() {
  local root="$1"
  shift
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  mount -t proc proc "$root/proc"
  local rc=0
  env -i "$PATH_ENV" HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive chroot "$root" "$@" >"$WORK/chroot.log" 2>&1 || rc=$?
  umount "$root/proc"
  rm -f "$root/usr/sbin/policy-rc.d"
  ((rc == 0)) || { tail -30 "$WORK/chroot.log" >&2; die "in the chroot: '$*' exited $rc (output above)"; }
}

slim_rootfs() { # <root>: what apt and dpkg leave behind that no container needs
  local root="$1"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old "$root"/var/log/* "$root"/tmp/* \
    "$root"/root/.cache
  find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d ! -type l -delete 2>/dev/null || true
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* "$root"/usr/share/lintian
}

# Deletes a rootfs we built, refusing if anything is still mounted below it.
remove_rootfs() {
  local root="$1"
  [[ -n $root && $root == "$WORK"/* ]] || die "refusing to remove '$root': not below $WORK"
  if findmnt -rn -o TARGET | grep "^$root\(/\|$\)" >/dev/null; then
    die "refusing to remove $root: something is still mounted below it"
  fi
  rm -rf "$root"
}

cleanup_work() {
  local target
  # Unmount anything a failed step left (deepest first), then delete.
  for target in $(findmnt -rn -o TARGET | grep "^$WORK/" | sort -r); do umount -l "$target" || true; done
  if findmnt -rn -o TARGET | grep "^$WORK/" >/dev/null; then
    log "leaving $WORK: something is still mounted below it"
  else
    rm -rf "$WORK"
  fi
}
