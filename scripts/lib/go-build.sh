# Shared by the scripts that build pinned Go tools into a cache outside the repository
# (build-kube.sh, build-helm-tools.sh): a build goes to a temporary directory beside the
# cache entry and is moved into place only once complete, so an interrupted build never
# leaves a half-filled entry that a later run would take as done.

# go_build_begin NAME DEST MODULE_DIR MESSAGE: checks for Go, says what is built, makes
# $tmp, cds into the module and sets a static, module-mode build.
go_build_begin() {
  local name="$1" message="$4"
  dest="$2"
  command -v go >/dev/null || { echo "$name: Go is required" >&2; exit 1; }
  echo "$name: $message" >&2
  tmp="$dest.tmp.$$"
  mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  cd "$3"
  export CGO_ENABLED=0 GOFLAGS=-mod=mod
}

# go_build_end: puts the finished build in place and prints the cache entry.
go_build_end() {
  rm -rf "$dest"
  mv "$tmp" "$dest"
  trap - EXIT
  echo "$dest"
}
