"""The real clients against the Kubernetes API of a cluster built by site.yml (issue 12): aws, kubectl, helm.

``aws eks update-kubeconfig`` writes the kubeconfig; kubectl (v1.35) and helm
(v4.1) use it as they would against EKS (their credentials come from its
``aws eks get-token`` exec plugin). Every command's exit code and output are
asserted, and no command may print an EKS token (``tests/support/kubernetes.py``).
The other halves: ``test_kubernetes_ansible_and_access.py`` (kubernetes.core,
access entries, API errors) and ``test_kubernetes_cluster_behaviour.py``
(scheduling, add-on health, EBS volumes).
"""

from __future__ import annotations

import json

import pytest
import yaml

from tests.support.kubernetes import (
    CLUSTER, CLUSTER_ARN, SMOKE_CHART, Kube, kubernetes_taints, nodes_by_group, wait_for,
)

pytestmark = pytest.mark.integration
# Reads the platform the other sharing modules read (tests/support/shared_platform.py).
SHARES_PLATFORM = True


@pytest.fixture(scope="module")
def connected(built_platform, emulator_server, tmp_path_factory):
    """(clients, the ``aws eks update-kubeconfig`` run) on the module's platform."""
    return Kube.connect(emulator_server.url, tmp_path_factory.mktemp("kube"))


@pytest.fixture(scope="module")
def kube(connected) -> Kube:
    """kubectl and helm through the kubeconfig's exec plugin (``aws eks get-token`` at every call)."""
    kube, run = connected
    assert run.returncode == 0, run.describe()
    return kube


@pytest.fixture(scope="module")
def kube_token(kube) -> Kube:
    """The same context with a token minted once: for the tests that run many commands."""
    return kube.with_token()


def app_manifest(namespace: str, *, color: str = "blue", replicas: int = 2, image: str = "nginx:1.27",
                 extra: dict[str, str] | None = None) -> str:
    """A namespace, a ConfigMap, a Deployment and a Service, as one multi-document YAML."""
    labels = {"app": "web"}
    return yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": namespace},
         "data": {"color": color, **(extra or {})}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace,
                                                                     "labels": labels},
         "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{"name": "web", "image": image,
                                                        "ports": [{"containerPort": 80}],
                                                        "resources": {"requests": {"cpu": "50m"}}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": namespace},
         "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 80}]}},
    ], sort_keys=False)


def manifest_file(kube: Kube, name: str, text: str):
    path = kube.workdir / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def lines_for(namespace: str, namespace_word: str, others: dict[str, str]) -> list[str]:
    return [f"namespace/{namespace} {namespace_word}", f"configmap/settings {others['configmap']}",
            f"deployment.apps/web {others['deployment']}", f"service/web {others['service']}"]


def delete_and_wait(kube: Kube, path: str, namespace: str) -> None:
    run = kube.ok("delete", "-f", path)
    assert run.lines == [f'namespace "{namespace}" deleted', f'configmap "settings" deleted from {namespace} namespace',
                         f'deployment.apps "web" deleted from {namespace} namespace',
                         f'service "web" deleted from {namespace} namespace']

    def gone():
        run = kube.kubectl("get", "namespace", namespace)
        return run if run.returncode == 1 else None

    run = wait_for(gone, what=f"namespace {namespace} terminated")
    assert run.stdout == ""
    assert run.stderr == f'Error from server (NotFound): namespaces "{namespace}" not found\n'


# -- kubeconfig and nodes ------------------------------------------------------------------------------------------


def test_update_kubeconfig_writes_a_context_for_the_cluster(connected, boto):
    kube, run = connected
    assert run.returncode == 0, run.describe()
    assert run.stdout == f"Added new context {CLUSTER_ARN} to {kube.kubeconfig}\n"
    assert run.stderr == ""
    config = yaml.safe_load(kube.kubeconfig.read_text())
    cluster = boto("eks").describe_cluster(name=CLUSTER)["cluster"]
    assert config["current-context"] == CLUSTER_ARN
    assert config["clusters"] == [{"cluster": {"certificate-authority-data": cluster["certificateAuthority"]["data"],
                                               "server": cluster["endpoint"]}, "name": CLUSTER_ARN}]
    assert cluster["endpoint"].startswith("https://127.0.0.1:")
    user = config["users"][0]["user"]["exec"]
    assert user["command"] == "aws"
    assert user["args"] == ["--region", "us-east-1", "eks", "get-token", "--cluster-name", CLUSTER, "--output", "json"]

    version = kube.ok("version", "-o", "json").json()
    assert version["serverVersion"]["gitVersion"].startswith("v1.35.")
    whoami = kube.ok("auth", "whoami", "-o", "json").json()
    assert whoami["status"]["userInfo"]["username"] == "arn:aws:sts::123456789012:user/moto"


def test_get_nodes_shows_every_node_group_with_its_labels_and_taints(kube, boto):
    eks = boto("eks")
    groups = {name: eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName=name)["nodegroup"]
              for name in eks.list_nodegroups(clusterName=CLUSTER)["nodegroups"]}
    assert set(groups) == {"system", "application", "database"}

    table = kube.ok("get", "nodes", "-L", "eks.amazonaws.com/nodegroup")
    assert table.lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "NODEGROUP"]
    rows = [line.split() for line in table.lines[1:]]
    assert len(rows) == sum(g["scalingConfig"]["desiredSize"] for g in groups.values())
    assert {row[1] for row in rows} == {"Ready"}
    assert all(row[4].startswith("v1.35.") and row[0].endswith(".ec2.internal") for row in rows), rows
    assert {name: sum(1 for row in rows if row[5] == name) for name in groups} == {
        name: group["scalingConfig"]["desiredSize"] for name, group in groups.items()}

    nodes = kube.get_json("nodes")["items"]
    by_group = nodes_by_group(nodes)
    assert set(by_group) == set(groups)
    for name, group in groups.items():
        assert len(by_group[name]) == group["scalingConfig"]["desiredSize"]
        for node in by_group[name]:
            labels = node["metadata"]["labels"]
            assert labels["eks.amazonaws.com/nodegroup"] == name
            assert labels["eks.amazonaws.com/capacityType"] == group["capacityType"]
            assert labels["node.kubernetes.io/instance-type"] in group["instanceTypes"]
            assert labels["topology.kubernetes.io/region"] == "us-east-1"
            assert labels["kubernetes.io/hostname"] == node["metadata"]["name"]
            for key, value in (group.get("labels") or {}).items():
                assert labels[key] == value
            assert node["spec"].get("taints", []) == kubernetes_taints(group.get("taints")), node["metadata"]["name"]
            assert node["spec"]["providerID"].startswith(f"aws:///{labels['topology.kubernetes.io/zone']}/i-")
            ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
            assert ready and ready[0]["status"] == "True"
    # the overview's database group: its nodes carry the NoSchedule taint, no other node does
    assert {t["key"]: (t["value"], t["effect"]) for n in by_group["database"] for t in n["spec"]["taints"]} == {
        "workload": ("database", "NoSchedule")}
    assert not any(n["spec"].get("taints") for g in ("system", "application") for n in by_group[g])

    selected = kube.ok("get", "nodes", "-l", "eks.amazonaws.com/nodegroup=database", "-o", "name")
    assert sorted(selected.lines) == sorted(f"node/{n['metadata']['name']}" for n in by_group["database"])


# -- kubectl apply, diff, wait, rollout, delete ---------------------------------------------------------------------


def test_client_side_apply_is_a_three_way_merge_and_diff_tells_what_would_change(kube_token):
    kube = kube_token
    namespace = "csa"
    first = manifest_file(kube, "csa-1.yaml", app_manifest(namespace, extra={"size": "small"}))
    run = kube.ok("apply", "-f", first)
    assert run.lines == lines_for(namespace, "created", {"configmap": "created", "deployment": "created",
                                                         "service": "created"})
    run = kube.ok("apply", "-f", first)
    assert run.lines == lines_for(namespace, "unchanged", {"configmap": "unchanged", "deployment": "unchanged",
                                                           "service": "unchanged"})
    run = kube.kubectl("diff", "-f", first)
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")

    # someone else labels the ConfigMap; the next apply drops "size" (only the last applied config had it)
    assert kube.ok("label", "configmap", "settings", "-n", namespace, "team=data").lines == [
        "configmap/settings labeled"]
    second = manifest_file(kube, "csa-2.yaml", app_manifest(namespace, color="red", replicas=3))
    run = kube.kubectl("diff", "-f", second)
    assert run.returncode == 1, run.describe()  # 1: differences found
    assert run.stderr == ""
    assert "-  color: blue" in run.stdout and "+  color: red" in run.stdout
    assert "-  size: small" in run.stdout
    assert "-  replicas: 2" in run.stdout and "+  replicas: 3" in run.stdout
    assert "team: data" not in [line[1:].strip() for line in run.stdout.splitlines() if line[:1] in "+-"]
    assert kube.get_json("configmap", "settings", "-n", namespace)["data"] == {"color": "blue", "size": "small"}

    run = kube.ok("apply", "-f", second)
    assert run.lines == lines_for(namespace, "unchanged", {"configmap": "configured", "deployment": "configured",
                                                           "service": "unchanged"})
    config_map = kube.get_json("configmap", "settings", "-n", namespace)
    assert config_map["data"] == {"color": "red"}
    assert config_map["metadata"]["labels"] == {"team": "data"}
    last_applied = json.loads(config_map["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last_applied["data"] == {"color": "red"}
    deployment = kube.get_json("deployment", "web", "-n", namespace)
    assert deployment["spec"]["replicas"] == 3
    assert deployment["metadata"]["generation"] == 2
    run = kube.kubectl("diff", "-f", second)
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")

    delete_and_wait(kube, second, namespace)


def test_wait_for_available_and_rollout_status(kube_token):
    kube = kube_token
    namespace = "rollout"
    path = manifest_file(kube, "rollout-1.yaml", app_manifest(namespace, replicas=3))
    kube.ok("apply", "-f", path)
    run = kube.ok("wait", "--for=condition=Available", "deployment/web", "-n", namespace, "--timeout=120s")
    assert run.lines == ["deployment.apps/web condition met"]
    run = kube.ok("rollout", "status", "deployment/web", "-n", namespace, "--timeout=120s")
    assert run.lines[-1] == 'deployment "web" successfully rolled out'

    # a new image is a new ReplicaSet; rollout status follows it to the end
    path = manifest_file(kube, "rollout-2.yaml", app_manifest(namespace, replicas=3, image="nginx:1.28"))
    assert "deployment.apps/web configured" in kube.ok("apply", "-f", path).lines
    run = kube.ok("rollout", "status", "deployment/web", "-n", namespace, "--timeout=120s")
    assert run.lines[-1] == 'deployment "web" successfully rolled out'
    deployment = kube.get_json("deployment", "web", "-n", namespace)
    status = deployment["status"]
    assert (status["replicas"], status["readyReplicas"], status["updatedReplicas"], status["availableReplicas"]) == (
        3, 3, 3, 3)
    assert status["observedGeneration"] == deployment["metadata"]["generation"] == 2
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions == {"Available": ("True", "MinimumReplicasAvailable"),
                          "Progressing": ("True", "NewReplicaSetAvailable")}
    sets = kube.get_json("replicasets", "-n", namespace, "-l", "app=web")["items"]
    images = sorted((rs["spec"]["template"]["spec"]["containers"][0]["image"], rs["spec"]["replicas"]) for rs in sets)
    assert images == [("nginx:1.27", 0), ("nginx:1.28", 3)]
    def current_pods():  # the old ReplicaSet's pods may still be terminating
        pods = [p for p in kube.get_json("pods", "-n", namespace, "-l", "app=web")["items"]
                if "deletionTimestamp" not in p["metadata"]]
        return pods if len(pods) == 3 else None

    pods = wait_for(current_pods, what="3 pods of the new ReplicaSet")
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.28"}
    assert all(p["status"]["phase"] == "Running" and p["spec"].get("nodeName") for p in pods)
    history = kube.ok("rollout", "history", "deployment/web", "-n", namespace)
    assert [line.split()[0] for line in history.lines[2:] if line.strip()] == ["1", "2"]

    delete_and_wait(kube, path, namespace)


def test_server_side_apply_owns_fields_and_reports_conflicts(kube_token):
    kube = kube_token
    namespace = "ssa"
    path = manifest_file(kube, "ssa-1.yaml", app_manifest(namespace))
    run = kube.ok("apply", "--server-side", "-f", path)
    assert run.lines == [f"namespace/{namespace} serverside-applied", "configmap/settings serverside-applied",
                         "deployment.apps/web serverside-applied", "service/web serverside-applied"]
    config_map = kube.get_json("configmap", "settings", "-n", namespace, "--show-managed-fields")
    assert [(m["manager"], m["operation"]) for m in config_map["metadata"]["managedFields"]] == [("kubectl", "Apply")]
    assert "kubectl.kubernetes.io/last-applied-configuration" not in config_map["metadata"].get("annotations", {})
    run = kube.kubectl("diff", "--server-side", "-f", path)
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")

    # another manager applying a different color conflicts with kubectl's ownership, until it forces
    other = manifest_file(kube, "ssa-2.yaml", app_manifest(namespace, color="green"))
    run = kube.kubectl("apply", "--server-side", "--field-manager=intruder", "-f", other)
    assert run.returncode == 1, run.describe()
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .data.color' in run.stderr
    assert "--force-conflicts" in run.stderr
    assert kube.get_json("configmap", "settings", "-n", namespace)["data"] == {"color": "blue"}
    run = kube.ok("apply", "--server-side", "--field-manager=intruder", "--force-conflicts", "-f", other)
    assert "configmap/settings serverside-applied" in run.lines
    config_map = kube.get_json("configmap", "settings", "-n", namespace, "--show-managed-fields")
    assert config_map["data"] == {"color": "green"}
    owners = {m["manager"]: m["fieldsV1"] for m in config_map["metadata"]["managedFields"]}
    assert owners["intruder"]["f:data"] == {"f:color": {}}
    assert "f:data" not in owners.get("kubectl", {})

    # the same manifest under --dry-run=server changes nothing
    dry = manifest_file(kube, "ssa-3.yaml", app_manifest(namespace, color="purple"))
    run = kube.ok("apply", "--server-side", "--field-manager=intruder", "--dry-run=server", "-f", dry)
    assert "configmap/settings serverside-applied (server dry run)" in run.lines
    assert kube.get_json("configmap", "settings", "-n", namespace)["data"] == {"color": "green"}
    delete_and_wait(kube, path, namespace)


# -- helm --------------------------------------------------------------------------------------------------------------


def helm_list(kube: Kube, namespace: str) -> list[dict]:
    run = kube.helm("list", "-n", namespace, "-o", "json")
    assert run.returncode == 0 and run.stderr == "", run.describe()
    return run.json()


def test_helm_install_upgrade_rollback_uninstall(kube):
    namespace, release = "smoke", "smoke"
    run = kube.helm("install", release, str(SMOKE_CHART), "-n", namespace, "--create-namespace", "--wait",
                    "--timeout", "3m")
    assert run.returncode == 0, run.describe()
    assert f"NAME: {release}" in run.lines and "STATUS: deployed" in run.lines and "REVISION: 1" in run.lines
    assert "DESCRIPTION: Install complete" in run.lines
    [listed] = helm_list(kube, namespace)
    assert {k: listed[k] for k in ("name", "namespace", "revision", "status", "chart", "app_version")} == {
        "name": release, "namespace": namespace, "revision": "1", "status": "deployed",
        "chart": "llmhub-smoke-0.1.0", "app_version": "1.27"}

    crd = kube.get_json("crd", "widgets.smoke.llmhub.io")
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]}["Established"] == "True"
    run = kube.ok("get", "deployment,service,configmap,serviceaccount,widgets", "-n", namespace, "-o", "name",
                  "-l", f"app.kubernetes.io/instance={release}")
    assert sorted(run.lines) == sorted([f"deployment.apps/{release}", f"service/{release}",
                                        f"configmap/{release}-settings", f"serviceaccount/{release}",
                                        f"widget.smoke.llmhub.io/{release}"])
    deployment = kube.get_json("deployment", release, "-n", namespace, "--show-managed-fields")
    assert deployment["status"]["readyReplicas"] == 1
    # helm 4 installs with server-side apply
    assert ("helm", "Apply") in [(m["manager"], m["operation"]) for m in deployment["metadata"]["managedFields"]]
    widgets = kube.ok("get", "widgets", "-n", namespace)
    assert widgets.lines[0].split() == ["NAME", "SIZE"]  # the CRD's printer columns (no implicit AGE then)
    assert widgets.lines[1].split()[:2] == [release, "small"]

    run = kube.helm("upgrade", release, str(SMOKE_CHART), "-n", namespace, "--set",
                    "replicaCount=2,greeting=bonjour,widget.size=large", "--wait", "--timeout", "3m")
    assert run.returncode == 0, run.describe()
    assert f'Release "{release}" has been upgraded. Happy Helming!' in run.lines and "REVISION: 2" in run.lines
    assert [r["revision"] for r in helm_list(kube, namespace)] == ["2"]
    deployment = kube.get_json("deployment", release, "-n", namespace)
    assert (deployment["spec"]["replicas"], deployment["status"]["readyReplicas"]) == (2, 2)
    assert kube.get_json("configmap", f"{release}-settings", "-n", namespace)["data"] == {"greeting": "bonjour"}
    assert kube.get_json("widget", release, "-n", namespace)["spec"] == {"size": "large", "owner": release}

    run = kube.helm("rollback", release, "1", "-n", namespace, "--wait", "--timeout", "3m")
    assert run.returncode == 0, run.describe()
    assert run.lines == ["Rollback was a success! Happy Helming!"]
    history = kube.helm("history", release, "-n", namespace, "-o", "json")
    assert history.returncode == 0, history.describe()
    assert [(h["revision"], h["status"], h["description"]) for h in history.json()] == [
        (1, "superseded", "Install complete"), (2, "superseded", "Upgrade complete"), (3, "deployed", "Rollback to 1")]
    deployment = kube.get_json("deployment", release, "-n", namespace)
    assert (deployment["spec"]["replicas"], deployment["status"]["readyReplicas"]) == (1, 1)
    assert kube.get_json("configmap", f"{release}-settings", "-n", namespace)["data"] == {"greeting": "hello"}
    assert kube.get_json("widget", release, "-n", namespace)["spec"]["size"] == "small"

    run = kube.helm("uninstall", release, "-n", namespace, "--wait", "--timeout", "3m")
    assert run.returncode == 0, run.describe()
    assert run.lines == [f'release "{release}" uninstalled']
    assert helm_list(kube, namespace) == []
    run = kube.kubectl("get", "deployment,service,configmap,serviceaccount,widgets", "-n", namespace, "-o", "name",
                       "-l", f"app.kubernetes.io/instance={release}")
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")  # -o name: nothing, not even "No resources found"
    # what the chart had under crds/ stays, as helm never deletes CRDs
    assert kube.ok("get", "crd", "widgets.smoke.llmhub.io", "-o", "name").lines == [
        "customresourcedefinition.apiextensions.k8s.io/widgets.smoke.llmhub.io"]
    run = kube.helm("status", release, "-n", namespace)
    assert run.returncode == 1 and run.stderr.strip() == "Error: release: not found", run.describe()
