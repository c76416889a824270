//go:build tools

// Pins the Helm CLI built by deploy/helm/helm.sh (go build helm.sh/helm/v4/cmd/helm).
package tool

import _ "helm.sh/helm/v4/cmd/helm"
