#!/usr/bin/env bash
# Prints the path of a pinned schemathesis CLI (the API conformance pass in `make test`), installed from
# PyPI into an ignored venv under .tools/ the first time. Needs Python >= 3.10 with its venv module.
set -euo pipefail
pinned=4.32.5
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$here/.tools/schemathesis-$pinned"
# Written last, so an interrupted install is redone rather than half-used.
done_marker="$dest/.installed"
if [[ ! -f "$done_marker" ]]; then
  python=""
  for candidate in python3.13 python3.12 python3.11 python3.10 python3; do
    if command -v "$candidate" >/dev/null &&
      "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      python="$candidate"
      break
    fi
  done
  if [[ -z "$python" ]]; then
    echo "ensure-schemathesis: needs Python >= 3.10 with venv (e.g. apt-get install python3-venv)" >&2
    exit 1
  fi
  echo "ensure-schemathesis: installing schemathesis $pinned from PyPI into $dest" >&2
  rm -rf "$dest"
  "$python" -m venv "$dest"
  "$dest/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$pinned" >&2
  touch "$done_marker"
fi
echo "$dest/bin/schemathesis"
