#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kubectl from the Go
# modules pinned in tools/kube/go.mod, into a cache outside the repository keyed
# by the Kubernetes version, so a warm run takes no time. Prints the cache dir.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mod="$here/tools/kube"
version="$(awk '$1=="k8s.io/kubernetes" {print $2; exit}' "$mod/go.mod")"
# The go.mod hash is part of the key so a change of etcd pin rebuilds too.
key="$version-$(sha256sum "$mod/go.mod" | cut -c1-12)"
dest="${ELEVATE_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/elevate/kube}/$key"
bins=(etcd kube-apiserver kube-controller-manager kubectl)

complete=1
for b in "${bins[@]}"; do [[ -x "$dest/$b" ]] || complete=0; done
if [[ $complete == 1 ]]; then echo "$dest"; exit 0; fi

# shellcheck source=lib/go-build.sh
source "$here/scripts/lib/go-build.sh"
go_build_begin build-kube "$dest" "$mod" \
  "building Kubernetes $version into $dest (first time only; about 6 minutes on 2 cores)"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$version" | cut -d. -f2)"
go build -trimpath -ldflags "$ldflags" -o "$tmp/etcd" go.etcd.io/etcd/server/v3 >&2
for b in kube-apiserver kube-controller-manager kubectl; do
  go build -trimpath -ldflags "$ldflags" -o "$tmp/$b" "k8s.io/kubernetes/cmd/$b" >&2
done
go_build_end
