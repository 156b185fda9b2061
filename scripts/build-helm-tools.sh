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

# shellcheck source=lib/go-build.sh
source "$here/scripts/lib/go-build.sh"
go_build_begin build-helm-tools "$dest" "$mod" \
  "building helm $helm_version and kubeconform $kubeconform_version into $dest (first time only)"
# Both projects' release builds stamp the version this way; without it `helm version` says only v4.3.
go build -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$helm_version" \
  -o "$tmp/helm" helm.sh/helm/v4/cmd/helm >&2
go build -trimpath -ldflags "-s -w -X main.version=$kubeconform_version" \
  -o "$tmp/kubeconform" github.com/yannh/kubeconform/cmd/kubeconform >&2
go_build_end
