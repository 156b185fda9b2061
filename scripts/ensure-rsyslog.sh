#!/usr/bin/env bash
# Prints the path of rsyslogd, the real syslog receiver the syslog audit sink's integration test sends to
# (test/support/rsyslog-receiver.ts starts its own, in the foreground, on a free port). Debian's packages,
# installed only if missing: rsyslog, and rsyslog-gnutls for the TLS listener (RFC 5425).
set -euo pipefail
have() { [[ -x /usr/sbin/rsyslogd ]] && compgen -G '/usr/lib/*/rsyslog/lmnsd_gtls.so' >/dev/null; }
if ! have; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "ensure-rsyslog: rsyslog not installed; run: sudo apt-get install -y rsyslog rsyslog-gnutls" >&2
    exit 1
  fi
  echo "ensure-rsyslog: installing rsyslog and rsyslog-gnutls from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d answering 101 keeps the package from starting the system's rsyslog service; only the
  # tests' own rsyslogd runs. Removed again unless it was there before.
  own_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  trap 'if [[ -n "$own_policy" ]]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
  if ! apt-get install -y -qq --no-install-recommends rsyslog rsyslog-gnutls >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends rsyslog rsyslog-gnutls >/dev/null
  fi
fi
echo /usr/sbin/rsyslogd
