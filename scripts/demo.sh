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
echo "==> starting a real control plane (etcd, kube-apiserver, kube-controller-manager) in $demo/testenv"
"$elevate" testenv up --dir "$demo/testenv" --clusters 1 >/dev/null
export KUBECONFIG="$demo/testenv/dev/admin.kubeconfig"
"$kube_bin/kubectl" get namespace payments >/dev/null 2>&1 || "$kube_bin/kubectl" create namespace payments >/dev/null

sed "s/127.0.0.1:8080/127.0.0.1:$port/" "$repo/examples/elevate.yaml" >"$demo/elevate.yaml"
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

Elevate is running with a real Kubernetes API server. In another shell:

  export PATH="$repo/bin:$kube_bin:\$PATH" KUBECONFIG="$KUBECONFIG" ELEVATE_SERVER=http://127.0.0.1:$port

  # alice (group devs) has no access to payments yet:
  kubectl auth can-i create deployments -n payments --as alice --as-group devs      # no

  # what would policy say? (--dry-run: the decision and every policy considered, nothing made)
  ELEVATE_TOKEN=alice-demo-token elevate request --cluster dev --role edit --namespace payments \\
      --reason "INC-42: payments pods crash-looping" --ticket INC-42 --dry-run
  # she asks for 'edit' there; policy payments-edit needs one sre-lead and a ticket (INC-… or CHG-…):
  ELEVATE_TOKEN=alice-demo-token elevate request --cluster dev --role edit --namespace payments \\
      --duration 10m --reason "INC-42: payments pods crash-looping" --ticket INC-42
  # without a ticket it is refused, and the attempt is on record (elevate list shows it Denied):
  ELEVATE_TOKEN=alice-demo-token elevate request --cluster dev --role edit --namespace payments --reason "just looking"
  ELEVATE_TOKEN=alice-demo-token elevate list

  # bob (sre-leads) approves; alice could not approve her own request:
  ELEVATE_TOKEN=bob-demo-token elevate approve <ID> --comment "go ahead"
  kubectl auth can-i create deployments -n payments --as alice --as-group devs      # yes
  kubectl get rolebindings -n payments -l app.kubernetes.io/managed-by=elevate -o wide

  # 'view' anywhere is auto-approved by policy view-anywhere (try a 1m one, the shortest allowed, and watch it expire):
  ELEVATE_TOKEN=alice-demo-token kubectl elevate request --cluster dev --role view --cluster-wide --duration 1m --reason "look around"

  # end it early, then check:
  ELEVATE_TOKEN=bob-demo-token elevate revoke <ID> --reason "incident resolved"
  kubectl auth can-i create deployments -n payments --as alice --as-group devs      # no

  # the audit trail (admins only), and its hash chain:
  ELEVATE_TOKEN=admin-demo-token elevate audit export --format csv
  ELEVATE_TOKEN=admin-demo-token elevate audit verify

  # a profile asks for a bundle at once (edit in payments + view cluster-wide), one approval for both:
  ELEVATE_TOKEN=alice-demo-token elevate request --profile payments-oncall --duration 30m --reason "INC-43"

  # check and explain the policies offline:
  elevate policy check --config $repo/examples/elevate.yaml
  elevate policy explain --config $repo/examples/elevate.yaml --user alice --groups devs --cluster dev --role edit --namespace payments

  # the API: http://127.0.0.1:$port/openapi.json

Stop everything with: make demo-down
TXT
