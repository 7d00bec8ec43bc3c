#!/usr/bin/env bash
# End to end on a throwaway kind cluster: build the images, apply the CPU overlay, sign in, create
# a deployment (a llama.cpp pod), sync the CLI config and chat through the Gateway.
#
# NOT RUN on the kvmesh development machines: they have no container engine and no image registry.
# Needs: docker, kind, kubectl, python3 (with kvmesh installed for `tm`), and network access for
# the base images. Usage: deploy/kind/e2e.sh   (KEEP_CLUSTER=1 to leave the cluster running)
set -euo pipefail
cd "$(dirname "$0")/../.."
CLUSTER=kvmesh
NS=kvmesh
export TM_CONFIG_HOME="${TM_CONFIG_HOME:-$(mktemp -d)}"

cleanup() {
  [ -n "${PF_PIDS:-}" ] && kill $PF_PIDS 2>/dev/null || true
  [ "${KEEP_CLUSTER:-0}" = 1 ] || kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
}
trap cleanup EXIT

kind create cluster --config deploy/kind/cluster.yaml --wait 120s
docker build -f deploy/docker/Dockerfile.kvmesh -t kvmesh/kvmesh:latest .
docker build -f deploy/docker/Dockerfile.llamacpp -t kvmesh/llamacpp-engine:latest .
kind load docker-image --name "$CLUSTER" kvmesh/kvmesh:latest kvmesh/llamacpp-engine:latest

kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f -
pg_password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
server_key="$(python3 -c 'import base64, secrets; print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())')"
kubectl -n "$NS" create secret generic kvmesh-database \
  --from-literal=url="postgresql://kvmesh:${pg_password}@kvmesh-postgres:5432/kvmesh" \
  --from-literal=postgres-password="$pg_password"
kubectl -n "$NS" create secret generic kvmesh-server --from-literal=secret-key="$server_key"
kubectl apply -k deploy/overlays/cpu
kubectl -n "$NS" rollout status statefulset/kvmesh-postgres --timeout=300s
kubectl -n "$NS" rollout status deployment/kvmesh-redis --timeout=300s
kubectl -n "$NS" rollout status deployment/kvmesh-controlplane --timeout=300s
kubectl -n "$NS" rollout status deployment/kvmesh-gateway --timeout=300s

kubectl -n "$NS" port-forward svc/kvmesh-controlplane 8080:8080 >/dev/null & PF_PIDS="$!"
kubectl -n "$NS" port-forward svc/kvmesh-gateway 8081:8081 >/dev/null & PF_PIDS="$PF_PIDS $!"
sleep 3

owner_password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(16))')"
cp_pod="$(kubectl -n "$NS" get pod -l app.kubernetes.io/component=controlplane -o name | head -1)"
printf '%s\n' "$owner_password" | kubectl -n "$NS" exec -i "$cp_pod" -- \
  kvmesh controlplane create-user --email owner@example.com --admin
# Sign the CLI in without a browser (interactively: `tm --controlplane-base ... auth login`).
kubectl -n "$NS" exec "$cp_pod" -- kvmesh controlplane issue-tokens --email owner@example.com \
  | tm --controlplane-base http://127.0.0.1:8080 auth login --with-token
tm config set gateway_base http://127.0.0.1:8081

tm deployments create --wait --wait-timeout 600
kubectl -n kvmesh-engines get deployments,pods -o wide
tm init --sync
tm infer chat --max-tokens 32 --json '{"messages": [{"role": "user", "content": "Say hello in five words."}]}'
echo "e2e: OK"
