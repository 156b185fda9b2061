#!/usr/bin/env bash
# `make demo`: a real control plane, the Elevate server with the sample config and
# users, and a tour to try. `make demo-down` (this script with `down`) stops both.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
demo="$repo/.demo"
elevate="$repo/bin/elevate"
port="${ELEVATE_DEMO_PORT:-8080}"

stop_server() {
  if [[ -f "$demo/server.pid" ]]; then
    pid="$(cat "$demo/server.pid")"
    # Only signal the process if it still is our server (the pid may have been reused).
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "server --config $demo/elevate.yaml"; then
      kill "$pid" && while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$demo/server.pid"
  fi
}

if [[ "${1:-}" == "down" ]]; then
  stop_server
  [[ -d "$demo/testenv" ]] && "$elevate" testenv down --dir "$demo/testenv"
  echo "demo stopped (state kept in $demo; rm -rf it for a clean start)"
  exit 0
fi

kube_bin="$(bash "$repo/scripts/build-kube.sh")"
mkdir -p "$demo"
stop_server
echo "==> starting a real control plane (etcd, kube-apiserver, kube-controller-manager) and an OpenID provider it trusts in $demo/testenv"
"$elevate" testenv up --dir "$demo/testenv" --clusters 1 --idp >/dev/null
export KUBECONFIG="$demo/testenv/dev/admin.kubeconfig"
kubectl="$kube_bin/kubectl"
"$kubectl" get namespace payments >/dev/null 2>&1 || "$kubectl" create namespace payments >/dev/null

# People run kubectl with their own ID token: a kubeconfig that knows the cluster and no credentials.
people="$demo/people.kubeconfig"
"$kubectl" config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' |
  base64 -d >"$demo/dev-ca.crt"
api_server="$("$kubectl" config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
rm -f "$people"
"$kubectl" --kubeconfig "$people" config set-cluster dev --server "$api_server" \
  --certificate-authority "$demo/dev-ca.crt" --embed-certs=true >/dev/null
"$kubectl" --kubeconfig "$people" config set-context dev --cluster dev --user person >/dev/null
"$kubectl" --kubeconfig "$people" config use-context dev >/dev/null

# The provider's address (its port is chosen once per testenv dir) replaces the example's placeholder.
issuer="$(sed -n 's/^ *"issuer": "\(.*\)",$/\1/p' "$demo/testenv/idp/info.json")"
idp_ca="$demo/testenv/idp/pki/ca.crt"
sed -e "s/127.0.0.1:8080/127.0.0.1:$port/" -e "s#https://127.0.0.1:8443#$issuer#" \
  "$repo/examples/elevate.yaml" >"$demo/elevate.yaml"
cp "$repo/examples/tokens.csv" "$demo/tokens.csv"

echo "==> starting the Elevate server on 127.0.0.1:$port (log: $demo/server.log)"
nohup "$elevate" server --config "$demo/elevate.yaml" >"$demo/server.log" 2>&1 &
echo $! >"$demo/server.pid"
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { tail -20 "$demo/server.log"; exit 1; }

cat <<TXT

Elevate is running with a real Kubernetes API server and an OpenID provider ($issuer)
that both trust: users alice (devs), bob and dave (sre-leads), carol (devs), admin (platform-admins);
password <name>-password. In another shell:

  export PATH="$repo/bin:$kube_bin:\$PATH" KUBECONFIG="$KUBECONFIG" ELEVATE_SERVER=http://127.0.0.1:$port ELEVATE_CA="$idp_ca"

  # alice signs in: elevate login prints a URL and a code and waits (the browser would warn about the
  # testenv CA; you can play alice's browser from a third shell instead, with the code it printed):
  elevate login
  elevate testenv sign-in --dir $demo/testenv --user alice --code <CODE>
  elevate whoami              # alice@example.com (groups: devs) via oidc ($issuer)

  # kubectl as alice herself, with her own ID token from the provider (not --as):
  as_alice() { kubectl --kubeconfig $people --token "\$(elevate testenv token --dir $demo/testenv --user alice)" "\$@"; }
  as_alice auth can-i create deployments -n payments       # no
  as_alice auth whoami                                      # oidc:alice@example.com, groups oidc:devs

  # what would policy say? (--dry-run: the decision and every policy considered, nothing made)
  elevate request --cluster dev --role edit --namespace payments \\
      --reason "INC-42: payments pods crash-looping" --ticket INC-42 --dry-run
  # she asks for 'edit' there; policy payments-edit needs one sre-lead and a ticket (INC-… or CHG-…):
  elevate request --cluster dev --role edit --namespace payments \\
      --duration 10m --reason "INC-42: payments pods crash-looping" --ticket INC-42
  # without a ticket it is refused, and the attempt is on record (elevate list shows it Denied):
  elevate request --cluster dev --role edit --namespace payments --reason "just looking"
  elevate list

  # bob (sre-leads) approves with his own token; alice could not approve her own request:
  ELEVATE_TOKEN="\$(elevate testenv token --dir $demo/testenv --user bob)" elevate approve <ID> --comment "go ahead"
  as_alice auth can-i create deployments -n payments       # yes
  kubectl get rolebindings -n payments -l app.kubernetes.io/managed-by=elevate -o wide   # subject oidc:alice@example.com

  # 'view' anywhere is auto-approved by policy view-anywhere (try a 1m one, the shortest allowed, and watch it expire):
  kubectl elevate request --cluster dev --role view --cluster-wide --duration 1m --reason "look around"

  # end it early, then check:
  ELEVATE_TOKEN="\$(elevate testenv token --dir $demo/testenv --user bob)" elevate revoke <ID> --reason "incident resolved"
  as_alice auth can-i create deployments -n payments       # no

  # the audit trail (admins only), and its hash chain:
  export ADMIN_TOKEN="\$(elevate testenv token --dir $demo/testenv --user admin)"
  ELEVATE_TOKEN=\$ADMIN_TOKEN elevate audit export --format csv
  ELEVATE_TOKEN=\$ADMIN_TOKEN elevate audit verify

  # a profile asks for a bundle at once (edit in payments + view cluster-wide), one approval for both:
  elevate request --profile payments-oncall --duration 30m --reason "INC-43"

  # check and explain the policies offline:
  elevate policy check --config $demo/elevate.yaml
  elevate policy explain --config $demo/elevate.yaml --user alice@example.com --groups devs --cluster dev --role edit --namespace payments

  # sign out (elevate whoami then says how to sign in); the API: http://127.0.0.1:$port/openapi.json
  elevate logout

Stop everything with: make demo-down
TXT
