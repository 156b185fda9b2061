#!/usr/bin/env bash
# Prints the path of a pinned schemathesis CLI (the API conformance pass in `make test`), installed from
# PyPI into an ignored venv under .tools/ the first time. Needs Python >= 3.10 with its venv module.
set -euo pipefail
pinned=4.32.5
source "$(dirname "${BASH_SOURCE[0]}")/lib/pip-tool.sh"
ensure_pip_tool schemathesis "schemathesis==$pinned" "schemathesis-$pinned" 10 schemathesis
