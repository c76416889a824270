# Sourced by helm.sh and kubeconform.sh: prints the path of a Go CLI built from the module proxy, building
# it first when the cache has none for this go.mod/go.sum and Go version.
#   go_tool_bin <name> <module dir> <module path> <package> [extra -ldflags]
# The binary is cached outside the clone (PUSHLEDGER_TOOLS_CACHE, default ~/.cache/pushledger), as Go's
# module and build caches are, so a fresh clone reuses it.
# shellcheck source=../find-go.sh
source "$(dirname "${BASH_SOURCE[0]}")/../find-go.sh"

go_tool_bin() {
  local name="$1" dir="$2" module="$3" package="$4" ldflags="${5:-}" version hash cache bin t0
  local go
  go="$(find_go)" || { echo "[$name] go not found: install Go >= 1.26" >&2; return 1; }
  version="$(sed -n "s#^require $module \(v[0-9.]*\)\$#\1#p" "$dir/go.mod")"
  hash="$(cat "$dir/go.mod" "$dir/go.sum" <("$go" env GOVERSION) | sha256sum | cut -c1-12)"
  cache="${PUSHLEDGER_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pushledger}"
  bin="$cache/$name-$version-$hash/$name"
  if [[ ! -x "$bin" ]]; then
    mkdir -p "$(dirname "$bin")"
    echo "[$name] building $name $version into $bin (first time only)" >&2
    t0=$(date +%s)
    (cd "$dir" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
      "$go" build -trimpath -ldflags="-s -w ${ldflags//@VERSION@/$version}" -o "$bin.tmp.$$" "$package") >&2
    mv -f "$bin.tmp.$$" "$bin"
    echo "[$name] built in $(($(date +%s) - t0))s" >&2
  fi
  echo "$bin"
}
