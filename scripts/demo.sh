#!/bin/sh
# `make demo`, inside `python -m emulator run` (which exports AWS_ENDPOINT_URL
# and the emulator's credentials): the whole workflow on inventories/local,
# then the cluster as its Kubernetes API shows it to kubectl, authenticated as
# on EKS (`aws eks get-token` through the kubeconfig `aws eks update-kubeconfig`
# writes, authorized by the cluster's access entries).
set -eu
BIN=${BIN:-.venv/bin}
CLUSTER=${CLUSTER:-llm-analytics-hub-prod-eks}
PATH="$(cd "$BIN" && pwd):$PATH"
export PATH

ansible-playbook playbooks/site.yml -i inventories/local

KUBECONFIG=$(mktemp "${TMPDIR:-/tmp}/llmhub-demo-kubeconfig.XXXXXX")
export KUBECONFIG
trap 'rm -f "$KUBECONFIG"' EXIT
aws eks update-kubeconfig --name "$CLUSTER" --kubeconfig "$KUBECONFIG" >/dev/null
echo
echo "The cluster's Kubernetes API (emulated): $(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
kubectl version | sed -n 's/^Server Version: /  server version: /p'
echo
kubectl wait --for=condition=Ready nodes --all --timeout=120s >/dev/null
kubectl get nodes -L eks.amazonaws.com/nodegroup -L node.kubernetes.io/instance-type -L topology.kubernetes.io/zone
echo
kubectl get deployments,daemonsets -n kube-system
