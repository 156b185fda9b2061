#!/usr/bin/env bash
# Builds helm and kubeconform from the Go modules pinned in tools/helm/go.mod,
# into a cache outside the repository keyed by their versions, so a warm run
# takes no time. Prints the cache dir.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mod="$here/tools/helm"
pin() { awk -v m="$1" '$1==m {print $2; exit}' "$mod/go.mod"; }
helm_version="$(pin helm.sh/helm/v4)"
kubeconform_version="$(pin github.com/yannh/kubeconform)"
# The go.mod hash is part of the key so a change of any dependency pin rebuilds too.
key="helm-$helm_version-kubeconform-$kubeconform_version-$(sha256sum "$mod/go.mod" | cut -c1-12)"
dest="${ELEVATE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/elevate}/helm-tools/$key"

if [[ -x "$dest/helm" && -x "$dest/kubeconform" ]]; then echo "$dest"; exit 0; fi

command -v go >/dev/null || { echo "build-helm-tools: Go is required" >&2; exit 1; }
echo "build-helm-tools: building helm $helm_version and kubeconform $kubeconform_version into $dest (first time only)" >&2
tmp="$dest.tmp.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
cd "$mod"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
# Both projects' release builds stamp the version this way; without it `helm version` says only v4.3.
go build -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$helm_version" \
  -o "$tmp/helm" helm.sh/helm/v4/cmd/helm >&2
go build -trimpath -ldflags "-s -w -X main.version=$kubeconform_version" \
  -o "$tmp/kubeconform" github.com/yannh/kubeconform/cmd/kubeconform >&2
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "$dest"
