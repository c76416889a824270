#!/usr/bin/env bash
# Validates Kubernetes manifests (files, or - for standard input) with kubeconform, offline:
#   "$(bash deploy/helm/helm.sh)" template pl deploy/helm/pushledger --set ... | bash deploy/helm/kubeconform.sh -kubernetes-version 1.25.0 -
# kubeconform is built from the Go module proxy (pinned in kubeconform/go.mod); the JSON schemas of the
# Kubernetes API come from PyPI's kubernetes-validate wheel (pinned below, with its sha256), which carries
# them for every Kubernetes version from 1.25 to 1.37, generated from Kubernetes' own OpenAPI documents.
# kubeconform's default schemas live on GitHub, which these machines cannot reach. Both are cached outside
# the clone (PUSHLEDGER_TOOLS_CACHE, default ~/.cache/pushledger); the first run takes about 30 s.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tool="$here/kubeconform"
SCHEMAS_PACKAGE=kubernetes-validate
SCHEMAS_VERSION=1.37.0
SCHEMAS_SHA256=85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9
source "$here/go-tool.sh"
bin="$(go_tool_bin kubeconform "$tool" github.com/yannh/kubeconform github.com/yannh/kubeconform/cmd/kubeconform)"
cache="${PUSHLEDGER_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pushledger}"
schemas="$cache/k8s-schemas-$SCHEMAS_VERSION"
if [[ ! -f "$schemas/.complete" ]]; then
  echo "[kubeconform] fetching Kubernetes JSON schemas ($SCHEMAS_PACKAGE $SCHEMAS_VERSION from PyPI) into $schemas" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: "$SCHEMAS_PACKAGE==$SCHEMAS_VERSION" -d "$tmp" >&2
  wheel="$(ls "$tmp"/*.whl)"
  echo "$SCHEMAS_SHA256  $wheel" | sha256sum -c --quiet - >&2 || { echo "[kubeconform] $wheel does not match the pinned sha256" >&2; exit 1; }
  rm -rf "$schemas" && mkdir -p "$schemas"
  # The wheel's schemas name their shared definitions by URL ($id https://kubernetes.io/api/…, $ref
  # /api/_definitions.json); kubeconform resolves references from each schema's own file, so the ids are
  # dropped and the references made relative while unpacking (strict schemas only: -strict is always on).
  python3 - "$wheel" "$schemas" <<'PY'
import json, os, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
prefix = 'kubernetes_validate/kubernetes-json-schema/'
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        rel = name[len(prefix):]
        if not name.startswith(prefix) or not name.endswith('.json') or '-local-strict/' not in rel:
            continue
        schema = json.loads(z.read(name).replace(b'"/api/_definitions.json#', b'"_definitions.json#'))
        schema.pop('$id', None)
        target = os.path.join(out, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, 'w') as f:
            json.dump(schema, f)
PY
  touch "$schemas/.complete"
fi
exec "$bin" -strict -summary -schema-location "$schemas/{{.NormalizedKubernetesVersion}}-local{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json" "$@"
