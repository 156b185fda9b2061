#!/usr/bin/env bash
# Prints the path of a pinned moto_server (moto's S3-compatible server mode, which the S3 audit sink's
# integration test writes to), installed from PyPI into an ignored venv under .tools/ the first time.
# Needs Python >= 3.9 with its venv module.
set -euo pipefail
pinned=5.2.5
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$here/.tools/moto-$pinned"
# Written last, so an interrupted install is redone rather than half-used.
done_marker="$dest/.installed"
if [[ ! -f "$done_marker" ]]; then
  python=""
  for candidate in python3.13 python3.12 python3.11 python3.10 python3.9 python3; do
    if command -v "$candidate" >/dev/null &&
      "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
      python="$candidate"
      break
    fi
  done
  if [[ -z "$python" ]]; then
    echo "ensure-moto: needs Python >= 3.9 with venv (e.g. apt-get install python3-venv)" >&2
    exit 1
  fi
  echo "ensure-moto: installing moto[server] $pinned from PyPI into $dest" >&2
  rm -rf "$dest"
  "$python" -m venv "$dest"
  # moto[server] pulls every service's extras; only S3 is used, but the server extra is what ships moto_server.
  "$dest/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$pinned" >&2
  touch "$done_marker"
fi
echo "$dest/bin/moto_server"
