"""Real kubectl (and helm) against the API server: commands, exit codes and what they print.

Skipped when ``.venv/bin/kubectl`` (``make k8s-clients``) is missing; ``K8S_CLIENTS_BIN`` points at
another directory holding kubectl and helm.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import HELM, KUBECTL, VIEWER_TOKEN, Cluster, requires_helm, requires_kubectl

pytestmark = requires_kubectl

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {ns}
data:
  color: {color}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
  labels: {{app: web}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {ns}
spec:
  selector: {{app: web}}
  ports:
  - port: 80
"""


class Kubectl:
    def __init__(self, cluster: Cluster, workdir: Path) -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig()), "HOME": str(workdir),
                    "KUBECACHEDIR": str(workdir / "cache"), "HELM_CACHE_HOME": str(workdir / "helm-cache"),
                    "HELM_CONFIG_HOME": str(workdir / "helm-config"), "HELM_DATA_HOME": str(workdir / "helm-data")}

    def __call__(self, *args: str, stdin: str | None = None, binary: Path = KUBECTL) -> subprocess.CompletedProcess:
        return subprocess.run([str(binary), *args], input=stdin, capture_output=True, text=True, env=self.env,
                              timeout=120, check=False)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        result = self(*args, stdin=stdin)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-o", "json"))


@pytest.fixture(scope="module")
def kubectl(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster, tmp_path_factory.mktemp("kubectl"))


def header(output: str) -> list[str]:
    return output.splitlines()[0].split()


def test_version_and_get_namespaces(kubectl):
    assert "Server Version: v1.35." in kubectl.ok("version")
    output = kubectl.ok("get", "ns")
    assert header(output) == ["NAME", "STATUS", "AGE"]
    rows = {line.split()[0]: line.split()[1] for line in output.splitlines()[1:]}
    assert {name: rows[name] for name in ("default", "kube-system", "kube-public", "kube-node-lease")} == {
        "default": "Active", "kube-system": "Active", "kube-public": "Active", "kube-node-lease": "Active"}


def test_client_side_apply_twice_then_a_change_then_delete(kubectl, tmp_path):
    first = tmp_path / "app.yaml"
    first.write_text(MANIFEST.format(ns="csa", color="blue", replicas=2))
    assert kubectl.ok("apply", "-f", str(first)).splitlines() == [
        "namespace/csa created", "configmap/settings created", "deployment.apps/web created", "service/web created"]
    assert kubectl.ok("apply", "-f", str(first)).splitlines() == [
        "namespace/csa unchanged", "configmap/settings unchanged", "deployment.apps/web unchanged",
        "service/web unchanged"]
    assert kubectl("diff", "-f", str(first)).returncode == 0
    changed = tmp_path / "app2.yaml"
    changed.write_text(MANIFEST.format(ns="csa", color="red", replicas=3))
    diff = kubectl("diff", "-f", str(changed))
    assert diff.returncode == 1, diff.stderr
    assert "-  color: blue" in diff.stdout and "+  color: red" in diff.stdout
    assert "-  replicas: 2" in diff.stdout and "+  replicas: 3" in diff.stdout
    assert "-  generation: 1" in diff.stdout and "+  generation: 2" in diff.stdout
    assert kubectl.ok("apply", "-f", str(changed)).splitlines() == [
        "namespace/csa unchanged", "configmap/settings configured", "deployment.apps/web configured",
        "service/web unchanged"]
    live = kubectl.json("get", "deployment", "web", "-n", "csa", "--show-managed-fields")
    assert live["spec"]["replicas"] == 3 and live["metadata"]["generation"] == 2
    managers = {(e["manager"], e["operation"]) for e in live["metadata"]["managedFields"]}
    assert ("kubectl-client-side-apply", "Update") in managers
    deleted = kubectl("delete", "-f", str(changed))
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.splitlines()[0] == 'namespace "csa" deleted'
    assert kubectl("get", "ns", "csa").returncode == 1


def test_server_side_apply_and_its_conflicts(kubectl, tmp_path):
    manifest = tmp_path / "ssa.yaml"
    manifest.write_text(MANIFEST.format(ns="ssa", color="blue", replicas=1))
    output = kubectl.ok("apply", "--server-side", "-f", str(manifest))
    assert output.splitlines() == ["namespace/ssa serverside-applied", "configmap/settings serverside-applied",
                                   "deployment.apps/web serverside-applied", "service/web serverside-applied"]
    live = kubectl.json("get", "deployment", "web", "-n", "ssa", "--show-managed-fields")
    assert [(e["manager"], e["operation"]) for e in live["metadata"]["managedFields"]] == [("kubectl", "Apply")]
    kubectl.ok("scale", "deployment/web", "-n", "ssa", "--replicas=4")
    manifest.write_text(MANIFEST.format(ns="ssa", color="blue", replicas=2))
    conflict = kubectl("apply", "--server-side", "-f", str(manifest))
    assert conflict.returncode == 1
    assert "Apply failed with 1 conflict: conflict with" in conflict.stderr and ".spec.replicas" in conflict.stderr
    kubectl.ok("apply", "--server-side", "--force-conflicts", "-f", str(manifest))
    assert kubectl.json("get", "deployment", "web", "-n", "ssa")["spec"]["replicas"] == 2
    assert kubectl("diff", "--server-side", "-f", str(manifest)).returncode == 0


def test_get_pods_wide_and_other_tables(kubectl, namespace):
    kubectl.ok("run", "p1", "--image=busybox", "-n", namespace, "--", "sleep", "1")
    wide = kubectl.ok("get", "pods", "-n", namespace, "-o", "wide")
    assert wide.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED",
                                            "NODE", "READINESS", "GATES"]
    assert wide.splitlines()[1].split()[:4] == ["p1", "0/1", "Pending", "0"]
    kubectl.ok("create", "deployment", "d1", "--image=nginx", "--replicas=2", "-n", namespace)
    deployments = kubectl.ok("get", "deploy", "-n", namespace, "-o", "wide")
    assert header(deployments) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES",
                                   "SELECTOR"]
    assert deployments.splitlines()[1].split()[:2] == ["d1", "0/2"]
    services = kubectl.ok("get", "svc", "-n", "default")
    assert header(services) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert services.splitlines()[1].split()[:5] == ["kubernetes", "ClusterIP", "172.20.0.1", "<none>", "443/TCP"]


def test_typed_client_commands_send_protobuf(kubectl, namespace):
    assert kubectl.ok("create", "configmap", "pb", "--from-literal=a=b", "-n", namespace).strip() == \
        "configmap/pb created"
    assert kubectl.json("get", "configmap", "pb", "-n", namespace)["data"] == {"a": "b"}
    kubectl.ok("create", "secret", "generic", "pw", "--from-literal=p=x", "-n", namespace)
    assert kubectl.ok("get", "secret", "pw", "-n", namespace, "-o", "jsonpath={.data.p}") == "eA=="
    assert kubectl.ok("auth", "can-i", "create", "pods").strip() == "yes"
    assert "admin" in kubectl.ok("auth", "whoami")
    assert kubectl.ok("delete", "configmap", "pb", "-n", namespace).startswith('configmap "pb" deleted')


def test_errors_print_as_kubectl_prints_a_real_servers(kubectl):
    missing = kubectl("get", "deployment", "nope", "-n", "default")
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'Error from server (NotFound): deployments.apps "nope" not found'
    unknown = kubectl("get", "gizmos")
    assert unknown.returncode == 1 and 'the server doesn\'t have a resource type "gizmos"' in unknown.stderr
    forbidden = kubectl("delete", "configmap", "x", "-n", "default", f"--token={VIEWER_TOKEN}")
    assert forbidden.returncode == 1
    assert 'Error from server (Forbidden): configmaps "x" is forbidden: User "viewer" cannot delete' in \
        forbidden.stderr
    strict = kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                                          "metadata": {"name": "bad", "namespace": "default"},
                                                          "bogus": 1}))
    assert strict.returncode == 1 and 'strict decoding error: unknown field "bogus"' in strict.stderr


def test_custom_resources_with_printer_columns_and_explain(kubectl, tmp_path):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.kubectl.example.com"},
        "spec": {"group": "kubectl.example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "additionalPrinterColumns": [{"name": "Size", "type": "integer",
                                                             "jsonPath": ".spec.size"}],
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
                                   "type": "object", "properties": {"size": {"type": "integer",
                                                                             "description": "How big."}}}}}}}]},
    }
    kubectl.ok("apply", "-f", "-", stdin=json.dumps(crd))
    kubectl.ok("wait", "--for", "condition=established", "crd/widgets.kubectl.example.com", "--timeout=30s")
    widget = {"apiVersion": "kubectl.example.com/v1", "kind": "Widget",
              "metadata": {"name": "w1", "namespace": "default"}, "spec": {"size": 3}}
    assert kubectl.ok("apply", "-f", "-", stdin=json.dumps(widget)).strip() == "widget.kubectl.example.com/w1 created"
    output = kubectl.ok("get", "wd", "-n", "default")
    assert header(output) == ["NAME", "SIZE"] and output.splitlines()[1].split() == ["w1", "3"]
    assert "How big." in kubectl.ok("explain", "widgets.spec.size")
    kubectl.ok("delete", "crd", "widgets.kubectl.example.com")


@requires_helm
def test_helm_install_upgrade_uninstall(kubectl, tmp_path):
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\ndata:\n"
        "  a: {{ .Values.a | default \"x\" | quote }}\n")
    install = kubectl("install", "demo", str(chart), "-n", "default", binary=HELM)
    assert install.returncode == 0, install.stderr
    upgrade = kubectl("upgrade", "demo", str(chart), "-n", "default", "--set", "a=y", binary=HELM)
    assert upgrade.returncode == 0, upgrade.stderr
    assert kubectl.json("get", "configmap", "demo-cfg", "-n", "default")["data"] == {"a": "y"}
    releases = kubectl.json("get", "secrets", "-n", "default", "-l", "owner=helm")["items"]
    assert sorted(s["metadata"]["name"] for s in releases) == ["sh.helm.release.v1.demo.v1",
                                                               "sh.helm.release.v1.demo.v2"]
    uninstall = kubectl("uninstall", "demo", "-n", "default", binary=HELM)
    assert uninstall.returncode == 0, uninstall.stderr
    assert kubectl("get", "configmap", "demo-cfg", "-n", "default").returncode == 1
