#!/usr/bin/env bash
# The PostgreSQL server the store tests run against (a throwaway one each run,
# started by test/global-setup.ts). Debian's package; installed only if missing.
set -euo pipefail
if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then exit 0; fi
if [[ $(id -u) -ne 0 ]]; then
  echo "ensure-postgres: PostgreSQL server not installed; run: sudo apt-get install -y postgresql" >&2
  exit 1
fi
echo "ensure-postgres: installing PostgreSQL from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
# The package starts a cluster of its own; the tests start theirs, so stop the packaged one.
service postgresql stop >/dev/null 2>&1 || true
