#!/usr/bin/env bash
# Prints the path of a pinned moto_server (moto's S3-compatible server mode, which the S3 audit sink's
# integration test writes to), installed from PyPI into an ignored venv under .tools/ the first time.
# Needs Python >= 3.9 with its venv module.
set -euo pipefail
pinned=5.2.5
source "$(dirname "${BASH_SOURCE[0]}")/lib/pip-tool.sh"
# moto[server] pulls every service's extras; only S3 is used, but the server extra is what ships moto_server.
ensure_pip_tool moto "moto[server]==$pinned" "moto-$pinned" 9 moto_server
