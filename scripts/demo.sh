#!/bin/sh
# `make demo`, inside `python -m emulator run` (which exports AWS_ENDPOINT_URL
# and the emulator's credentials): the whole workflow (steps 2 and 5-8) on
# inventories/local, then what was built as kubectl and helm see it through
# the kubeconfig the kubeconfig role wrote (exec authentication with
# `aws eks get-token`, authorized by the cluster's access entries).
set -eu
BIN=${BIN:-.venv/bin}
PATH="$(cd "$BIN" && pwd):$PATH"
export PATH
KUBECONFIG=${LLMHUB_KUBECONFIG:-$(pwd)/.artifacts/kubeconfig}
export KUBECONFIG LLMHUB_KUBECONFIG="$KUBECONFIG"
case "$KUBECONFIG" in "$(pwd)/.artifacts/"*) rm -f "$KUBECONFIG" ;; esac  # a fresh one each demo, never the user's

ansible-playbook playbooks/setup.yml -i inventories/local
ansible-playbook playbooks/site.yml -i inventories/local

echo
echo "== The cluster's Kubernetes API (emulated): $(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
kubectl version | sed -n 's/^Server Version: /  server version: /p'
echo
echo "== Nodes per node group"
kubectl get nodes -L eks.amazonaws.com/nodegroup -L node.kubernetes.io/instance-type -L topology.kubernetes.io/zone
echo
echo "== EKS managed add-ons: version and health"
cluster=$(kubectl config view --minify -o jsonpath='{.contexts[0].context.cluster}' | sed 's|.*/||')
for addon in $(aws eks list-addons --cluster-name "$cluster" --query 'addons[]' --output text); do
    aws eks describe-addon --cluster-name "$cluster" --addon-name "$addon" \
        --query 'addon.[addonName, addonVersion, status]' --output text
done | awk '{printf "%-34s %-22s %s\n", $1, $2, $3}'
echo
echo "== Helm releases"
helm list -A
echo
echo "== Storage classes"
kubectl get storageclasses
echo
echo "== Namespaces of the platform (Pod Security Admission)"
kubectl get namespaces -l app.kubernetes.io/managed-by=llmhub.eks -L pod-security.kubernetes.io/enforce
echo
echo "== The example application"
kubectl get deployment,statefulset,hpa,pdb,ingress,pvc -n llm-analytics
echo
echo "kubeconfig: $KUBECONFIG (the emulator stops when the demo ends)"
