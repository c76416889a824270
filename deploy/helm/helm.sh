#!/usr/bin/env bash
# Prints the path of a Helm CLI built from the Go module proxy (helm.sh/helm/v4, pinned in tool/go.mod),
# building it first when the cache has none for this go.mod/go.sum and Go version (see go-tool.sh).
#   bash deploy/helm/helm.sh            # path of the binary
#   "$(bash deploy/helm/helm.sh)" lint --strict deploy/helm/pushledger
# Cost of a first build on the 2-core machine: about 25 s of module downloads and 2.5 min of compiling;
# a rebuild with Go's build cache warm is shorter.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/go-tool.sh"
go_tool_bin helm "$here/tool" helm.sh/helm/v4 helm.sh/helm/v4/cmd/helm '-X helm.sh/helm/v4/internal/version.version=@VERSION@'
