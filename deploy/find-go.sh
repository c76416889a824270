# Sourced by deploy/local/infra.sh and deploy/helm/go-tool.sh: prints the Go to build with. The go.dev
# tarball's Go is often not on PATH, so /usr/local/go/bin is tried too.
find_go() {
  if command -v go >/dev/null 2>&1; then command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go
  else return 1
  fi
}
