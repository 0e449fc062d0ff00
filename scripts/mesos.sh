#!/usr/bin/env bash
# Makes the real Apache Mesos 1.11.1 of the shared directory usable by the tests:
# installs the Debian runtime packages it needs (only those missing), unpacks the
# relocatable tarball into a cache outside the clone (only when not already there,
# or when the tarball changed), checks that the binaries start, and prints the
# mesos-dist directory on stdout, the value of STRIDE_TEST_MESOS:
#
#   export STRIDE_TEST_MESOS="$(scripts/mesos.sh)"
#   go test -count=1 -run RealMesos ./executor/server/
#
# Progress goes to stderr. Environment:
#   STRIDE_MESOS_TARBALL  the tarball (default: shared/mesos/mesos-1.11.1-bookworm-amd64.tgz
#                         next to the repository root, or next to the local
#                         repository it was cloned from)
#   STRIDE_MESOS_CACHE    where to unpack (default: ${XDG_CACHE_HOME:-$HOME/.cache}/stride/mesos-1.11.1)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rel=shared/mesos/mesos-1.11.1-bookworm-amd64.tgz
cache=${STRIDE_MESOS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stride/mesos-1.11.1}
dist=$cache/mesos-dist

say() { echo "mesos.sh: $*" >&2; }

# The tarball: STRIDE_MESOS_TARBALL, else ../shared beside the repository root,
# else beside the local repository this one was cloned from (a throwaway clone
# in /tmp of a checkout that sits beside shared/).
if [ -n "${STRIDE_MESOS_TARBALL:-}" ]; then
  tarball=$STRIDE_MESOS_TARBALL
else
  tarball=$(dirname "$root")/$rel
  origin=$(git -C "$root" remote get-url origin 2>/dev/null || true)
  if [ ! -r "$tarball" ] && [ -n "$origin" ] && [ -d "$origin" ]; then
    tarball=$(dirname "$(cd "$origin" && pwd)")/$rel
  fi
fi

if [ ! -r "$tarball" ]; then
  say "no Mesos tarball at $tarball (set STRIDE_MESOS_TARBALL)"
  exit 1
fi

# The runtime libraries of the build (see shared/mesos/README.md).
pkgs=(libapr1 libaprutil1 libarchive13 libcurl4 libgrpc++1.51 libprotobuf32
  libsasl2-2 libsasl2-modules libsvn1 libzookeeper-mt2 libunwind8)
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg -s "$p" >/dev/null 2>&1; then missing+=("$p"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Mesos runtime packages: ${missing[*]}"
  sudo=()
  if [ "$(id -u)" != 0 ]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >&2
else
  say "Mesos runtime packages present"
fi

# Unpack once per tarball: the stamp holds the tarball's size and mtime.
stamp="$(stat -c '%s %Y' "$tarball") $(basename "$tarball")"
if [ -x "$dist/mesos-agent" ] && [ "$(cat "$cache/.stamp" 2>/dev/null)" = "$stamp" ]; then
  say "Mesos already unpacked in $dist"
else
  say "unpacking $tarball into $cache"
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.unpack.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  tar -C "$tmp" -xzf "$tarball"
  rm -rf "$dist"
  mv "$tmp/mesos-dist" "$dist"
  echo "$stamp" >"$cache/.stamp"
fi

# Both start (shared libraries found): "mesos 1.11.1".
for b in mesos-master mesos-agent; do
  if ! v=$("$dist/bin/$b.sh" --version 2>&1); then
    say "$b does not start: $v"
    exit 1
  fi
done
say "$v at $dist"
echo "$dist"
