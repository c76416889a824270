#!/usr/bin/env bash
# Prints the path of a Helm CLI built from the Go module proxy (helm.sh/helm/v4, pinned in tool/go.mod),
# building it first when the cache has none for this go.mod/go.sum and Go version.
#   bash deploy/helm/helm.sh            # path of the binary
#   "$(bash deploy/helm/helm.sh)" lint --strict deploy/helm/pushledger
# The binary is cached outside the clone (PUSHLEDGER_TOOLS_CACHE, default ~/.cache/pushledger), as Go's
# module and build caches are, so a fresh clone reuses it. Cost of a first build on the 2-core machine:
# about 25 s of module downloads and 2.5 min of compiling; a rebuild with Go's build cache warm is shorter.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tool="$here/tool"
command -v go >/dev/null || { echo "[helm] go not found: install Go >= 1.26 (helm v4.3 needs it)" >&2; exit 1; }
version="$(sed -n 's/^require helm.sh\/helm\/v4 \(v[0-9.]*\)$/\1/p' "$tool/go.mod")"
hash="$(cat "$tool/go.mod" "$tool/go.sum" <(go env GOVERSION) | sha256sum | cut -c1-12)"
cache="${PUSHLEDGER_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pushledger}"
bin="$cache/helm-$version-$hash/helm"
if [[ ! -x "$bin" ]]; then
  mkdir -p "$(dirname "$bin")"
  echo "[helm] building helm $version into $bin (first time only: a few minutes)" >&2
  t0=$(date +%s)
  (cd "$tool" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
    go build -trimpath -ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$version" \
    -o "$bin.tmp.$$" helm.sh/helm/v4/cmd/helm) >&2
  mv -f "$bin.tmp.$$" "$bin"
  echo "[helm] built in $(($(date +%s) - t0))s" >&2
fi
echo "$bin"
