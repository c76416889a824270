//go:build tools

// Pins the kubeconform CLI built by deploy/helm/kubeconform.sh (go build github.com/yannh/kubeconform/cmd/kubeconform).
package tool

import _ "github.com/yannh/kubeconform/cmd/kubeconform"
