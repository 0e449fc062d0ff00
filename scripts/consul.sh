#!/usr/bin/env bash
# Builds the real Consul agent the cluster-mode tests run (tools/consul, a wrapper
# module pinned to Consul v1.22.0) once into a cache outside the clone, and prints
# the binary's path on stdout, the value of STRIDE_TEST_CONSUL:
#
#   export STRIDE_TEST_CONSUL="$(scripts/consul.sh)"
#
# The build takes ~10 minutes on 2 cores; later calls return at once. Progress goes
# to stderr. Environment:
#   STRIDE_CONSUL_CACHE  where to build (default: ${XDG_CACHE_HOME:-$HOME/.cache}/stride/consul-1.22.0)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${STRIDE_CONSUL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stride/consul-1.22.0}
bin=$cache/consul
GO=${GO:-go}

say() { echo "consul.sh: $*" >&2; }

# Rebuild when the wrapper module changed: the stamp is its go.sum's checksum.
stamp=$(sha256sum "$root/tools/consul/go.sum" | cut -d' ' -f1)
if [ -x "$bin" ] && [ "$(cat "$cache/.stamp" 2>/dev/null)" = "$stamp" ]; then
  say "Consul already built at $bin"
else
  say "building Consul v1.22.0 into $cache (about 10 minutes on 2 cores)"
  mkdir -p "$cache"
  tmp=$(mktemp "$cache/.consul.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  start=$(date +%s)
  # -trimpath and no VCS stamping: the binary does not depend on where the clone is.
  (cd "$root/tools/consul" && GOFLAGS=-mod=readonly "$GO" build -trimpath -buildvcs=false \
    -ldflags='-s -w' -o "$tmp" github.com/hashicorp/consul) >&2
  mv "$tmp" "$bin"
  echo "$stamp" >"$cache/.stamp"
  say "built in $(( $(date +%s) - start ))s"
fi

# No pipe into head here: with pipefail, consul's SIGPIPE would fail the check.
if ! v=$("$bin" version 2>&1); then
  say "consul does not start: $v"
  exit 1
fi
v=${v%%$'\n'*}
say "$v at $bin"
echo "$bin"
