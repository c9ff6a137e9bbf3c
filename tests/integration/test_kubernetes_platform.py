"""Workflow steps 6-8 (issue 13) on a platform built by site.yml, read back through kubectl, kubernetes.core and boto3.

One deploy is shared by the module's read-only tests; the tests that change
something (one autoscaler setting, a tag run on an empty account) come last
in the file, which pytest-xdist (``--dist loadfile``) runs in order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.kubernetes import CLUSTER, Kube, assert_no_token, wait_for

from .conftest import ROOT, mutating_calls, playbook_environment

pytestmark = pytest.mark.integration
# Reads the platform the other sharing modules read (tests/support/shared_platform.py).
SHARES_PLATFORM = True

AUTOSCALER_FLAGS = {
    "--new-pod-scale-up-delay=10s", "--scale-down-delay-after-add=10m", "--max-node-provision-time=15m",
    "--scale-down-utilization-threshold=0.5", "--balance-similar-node-groups=true", "--expander=least-waste",
    f"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/{CLUSTER}",
}


@pytest.fixture(scope="module")
def kube(built_platform, emulator_server, tmp_path_factory) -> Kube:
    kube, run = Kube.connect(emulator_server.url, tmp_path_factory.mktemp("kube"))
    assert run.returncode == 0, run.describe()
    return kube.with_token()


@pytest.fixture(scope="module")
def node_groups(kube) -> dict[str, dict]:
    """Node name -> its node (labels: node group, zone)."""
    return {n["metadata"]["name"]: n for n in kube.get_json("nodes")["items"]}


def group_of(nodes: dict[str, dict], pod: dict) -> str:
    return nodes[pod["spec"]["nodeName"]]["metadata"]["labels"]["eks.amazonaws.com/nodegroup"]


def zone_of(nodes: dict[str, dict], pod: dict) -> str:
    return nodes[pod["spec"]["nodeName"]]["metadata"]["labels"]["topology.kubernetes.io/zone"]


def trusted_service_account(boto, role_arn: str) -> str:
    """The one service account (namespace:name) a role's trust policy names."""
    trust = boto("iam").get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]["AssumeRolePolicyDocument"]
    [statement] = trust["Statement"]
    subjects = [v for k, v in statement["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    assert len(subjects) == 1, statement
    return subjects[0].removeprefix("system:serviceaccount:")


def running_pods(kube: Kube, namespace: str, selector: str) -> list[dict]:
    pods = kube.get_json("pods", "-n", namespace, "-l", selector)["items"]
    return [p for p in pods if p["status"].get("phase") == "Running"]


def test_the_run_printed_no_token_and_summarised_steps_6_to_8(built_platform):
    assert_no_token(built_platform.stdout, built_platform.stderr, where="site.yml output")
    summary = built_platform.task_results()["Show what was built"]["msg"]
    assert summary["kubeconfig"]["server_version"].startswith("v1.35")
    assert summary["storage"] == {"classes": ["gp3", "io2", "gp3-retain"], "default_class": "gp3"}
    assert summary["addons"]["health"] == {"metrics-server": "ACTIVE", "amazon-cloudwatch-observability": "ACTIVE"}
    # the Trivy operator: the local inventory turns it on (addons_trivy_operator_enabled)
    assert [line.split()[0] for line in summary["addons"]["releases"]] == [
        "cluster-autoscaler", "aws-load-balancer-controller", "external-secrets", "trivy-operator"]
    assert summary["apps"]["secrets"] == ["llm-analytics/api-keys"]
    assert summary["apps"]["namespaces"] == ["llm-analytics", "llm-batch"]
    assert summary["apps"]["ingress_address"].endswith(".elb.amazonaws.com")


def test_cluster_autoscaler_runs_on_system_nodes_with_its_role_and_the_overviews_settings(kube, boto, node_groups):
    pods = running_pods(kube, "kube-system", "app.kubernetes.io/instance=cluster-autoscaler")
    assert len(pods) == 1
    assert {group_of(node_groups, p) for p in pods} == {"system"}
    [container] = pods[0]["spec"]["containers"]
    command = set(container.get("command", []) + container.get("args", []))
    assert AUTOSCALER_FLAGS <= command, sorted(command)
    account = pods[0]["spec"]["serviceAccountName"]
    assert account == "cluster-autoscaler"
    annotations = kube.get_json("serviceaccount", account, "-n", "kube-system")["metadata"]["annotations"]
    role = annotations["eks.amazonaws.com/role-arn"]
    assert role.endswith(f":role/{CLUSTER}-cluster-autoscaler")
    assert trusted_service_account(boto, role) == "kube-system:cluster-autoscaler"


def test_load_balancer_controller_runs_two_replicas_on_different_system_nodes(kube, boto, node_groups):
    deployment = kube.get_json("deployment", "aws-load-balancer-controller", "-n", "kube-system")
    assert deployment["status"]["availableReplicas"] == 2
    pods = running_pods(kube, "kube-system", "app.kubernetes.io/name=aws-load-balancer-controller")
    assert len(pods) == 2 and len({p["spec"]["nodeName"] for p in pods}) == 2
    assert {group_of(node_groups, p) for p in pods} == {"system"}
    args = set(pods[0]["spec"]["containers"][0]["args"])
    vpc_id = boto("eks").describe_cluster(name=CLUSTER)["cluster"]["resourcesVpcConfig"]["vpcId"]
    assert {f"--cluster-name={CLUSTER}", "--aws-region=us-east-1", f"--aws-vpc-id={vpc_id}"} <= args, sorted(args)
    account = kube.get_json("serviceaccount", "aws-load-balancer-controller", "-n", "kube-system")
    role = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role.endswith(f":role/{CLUSTER}-aws-load-balancer-controller")
    assert trusted_service_account(boto, role) == "kube-system:aws-load-balancer-controller"
    assert kube.get_json("ingressclass", "alb")["spec"]["controller"] == "ingress.k8s.aws/alb"


SECRET = f"llmhub/{CLUSTER}/llm-analytics/api-keys"


def synced_secret(kube) -> dict[str, str]:
    import base64

    data = kube.get_json("secret", "api-keys", "-n", "llm-analytics")["data"]
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def test_the_applications_secret_is_synced_from_secrets_manager_by_the_operator_with_its_scoped_role(kube, boto,
                                                                                                       node_groups):
    deployment = kube.get_json("deployment", "external-secrets", "-n", "external-secrets")
    assert deployment["status"]["availableReplicas"] == 2
    pods = running_pods(kube, "external-secrets", "app.kubernetes.io/name=external-secrets")
    assert len(pods) == 2 and {group_of(node_groups, p) for p in pods} == {"system"}
    account = kube.get_json("serviceaccount", "external-secrets", "-n", "external-secrets")
    role = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role.endswith(f":role/{CLUSTER}-external-secrets")
    assert trusted_service_account(boto, role) == "external-secrets:external-secrets"
    policy = boto("iam").get_role_policy(RoleName=f"{CLUSTER}-external-secrets", PolicyName="read-cluster-secrets")
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Resource"].endswith(f":secret:llmhub/{CLUSTER}/*")  # the cluster's path only
    assert "secretsmanager:GetSecretValue" in statement["Action"]

    store = kube.get_json("clustersecretstore", "secrets-manager")
    assert store["spec"]["conditions"] == [{"namespaces": ["llm-analytics"]}]
    assert {c["type"]: c["reason"] for c in store["status"]["conditions"]} == {"Ready": "Valid"}
    external = kube.get_json("externalsecret", "api-keys", "-n", "llm-analytics")
    assert [(c["type"], c["status"], c["reason"]) for c in external["status"]["conditions"]] == [
        ("Ready", "True", "SecretSynced")]
    secrets = boto("secretsmanager")
    current = json.loads(secrets.get_secret_value(SecretId=SECRET)["SecretString"])
    assert synced_secret(kube) == current and sorted(current) == ["signing_key", "webhook_secret"]
    described = secrets.describe_secret(SecretId=SECRET)
    assert described["RotationEnabled"] and described["RotationRules"]["AutomaticallyAfterDays"] == 30
    assert described["RotationLambdaARN"].endswith(f":function:{CLUSTER}-secrets-rotation")


def test_a_rotation_reaches_the_kubernetes_secret_at_the_next_refresh(kube, boto):
    secrets = boto("secretsmanager")
    before = synced_secret(kube)
    secrets.rotate_secret(SecretId=SECRET)  # runs the cluster's rotation function
    rotated = json.loads(secrets.get_secret_value(SecretId=SECRET)["SecretString"])
    assert rotated != before and sorted(rotated) == sorted(before)
    # the next refresh (refreshInterval 1h; ESO refreshes at once when the object's annotations change)
    kube.ok("annotate", "externalsecret", "api-keys", "-n", "llm-analytics", "force-sync=rotation-test", "--overwrite")
    wait_for(lambda: synced_secret(kube) == rotated, timeout=60, what="the rotated value in the Secret")


def test_metrics_server_and_container_insights_are_active_managed_addons(kube, boto):
    eks = boto("eks")
    metrics = eks.describe_addon(clusterName=CLUSTER, addonName="metrics-server")["addon"]
    insights = eks.describe_addon(clusterName=CLUSTER, addonName="amazon-cloudwatch-observability")["addon"]
    assert (metrics["status"], insights["status"]) == ("ACTIVE", "ACTIVE")
    assert insights["serviceAccountRoleArn"].endswith(f":role/{CLUSTER}-cloudwatch-observability")
    assert trusted_service_account(boto, insights["serviceAccountRoleArn"]) == "amazon-cloudwatch:cloudwatch-agent"
    agent = kube.get_json("serviceaccount", "cloudwatch-agent", "-n", "amazon-cloudwatch")
    assert agent["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == insights["serviceAccountRoleArn"]
    assert kube.get_json("deployment", "metrics-server", "-n", "kube-system")["status"]["readyReplicas"] >= 1
    groups = boto("logs").describe_log_groups(logGroupNamePrefix=f"/aws/containerinsights/{CLUSTER}/")["logGroups"]
    assert {(g["logGroupName"].rsplit("/", 1)[1], g.get("retentionInDays")) for g in groups} == {
        ("application", 30), ("dataplane", 30), ("host", 30), ("performance", 30)}


def test_three_storage_classes_exactly_one_default_encrypted_with_the_cluster_key(kube, boto):
    classes = {c["metadata"]["name"]: c for c in kube.get_json("storageclass")["items"]}
    defaults = sorted(name for name, c in classes.items()
                      if (c["metadata"].get("annotations") or {}).get(
                          "storageclass.kubernetes.io/is-default-class") == "true")
    assert defaults == ["gp3"]
    key = boto("eks").describe_cluster(name=CLUSTER)["cluster"]["encryptionConfig"][0]["provider"]["keyArn"]
    assert classes["gp3"]["parameters"] == {"type": "gp3", "iops": "3000", "throughput": "125", "encrypted": "true",
                                            "kmsKeyId": key}
    assert (classes["gp3"]["volumeBindingMode"], classes["gp3"]["allowVolumeExpansion"]) == (
        "WaitForFirstConsumer", True)
    assert classes["io2"]["parameters"]["iops"] == "10000"
    assert classes["gp3-retain"]["reclaimPolicy"] == "Retain"


def test_namespaces_are_restricted_with_default_deny_and_refuse_a_privileged_pod(kube):
    for name in ("llm-analytics", "llm-batch"):
        labels = kube.get_json("namespace", name)["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted", labels
        policies = {p["metadata"]["name"] for p in kube.get_json("networkpolicy", "-n", name)["items"]}
        assert {"default-deny", "allow-dns"} <= policies
        assert kube.get_json("resourcequota", "quota", "-n", name)["spec"]["hard"]
        assert kube.get_json("limitrange", "container-defaults", "-n", name)["spec"]["limits"]
    refused = kube.kubectl("run", "privileged", "-n", "llm-analytics", "--image=busybox:1.36",
                           "--overrides", json.dumps({"spec": {"containers": [{
                               "name": "privileged", "image": "busybox:1.36",
                               "securityContext": {"privileged": True}}]}}))
    assert refused.returncode != 0 and "violates PodSecurity \"restricted:latest\"" in refused.stderr, refused.describe()
    classes = {c["metadata"]["name"]: c for c in kube.get_json("priorityclass")["items"]}
    assert classes["llmhub-standard"]["globalDefault"] is True and classes["llmhub-critical"]["value"] == 1000000


def test_example_app_is_available_spread_over_zones_behind_an_alb(kube, boto, node_groups):
    namespace = "llm-analytics"
    # the Deployment carries no replica count (the HPA owns it): the HPA scales it to its minimum of 3
    wait_for(lambda: kube.get_json("deployment", "analytics-api", "-n", namespace)["status"].get(
        "availableReplicas") == 3, what="the HPA's 3 available replicas")
    pods = running_pods(kube, namespace, "app.kubernetes.io/name=analytics-api")
    assert len({zone_of(node_groups, p) for p in pods}) == 3
    assert {group_of(node_groups, p) for p in pods} == {"application"}
    hpa = kube.get_json("hpa", "analytics-api", "-n", namespace)
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    assert {m["resource"]["name"] for m in hpa["spec"]["metrics"]} == {"cpu", "memory"}
    assert kube.get_json("pdb", "analytics-api", "-n", namespace)["spec"]["minAvailable"] == 2
    # the overview's performance tuning in the pod template: spread over zones (hard) and nodes, a priority class
    template = kube.get_json("deployment", "analytics-api", "-n", namespace)["spec"]["template"]["spec"]
    assert [(c["topologyKey"], c["whenUnsatisfiable"]) for c in template["topologySpreadConstraints"]] == [
        ("topology.kubernetes.io/zone", "DoNotSchedule"), ("kubernetes.io/hostname", "ScheduleAnyway")]
    assert template["priorityClassName"] == "llmhub-critical"
    ingress = kube.get_json("ingress", "analytics-api", "-n", namespace)
    hostname = ingress["status"]["loadBalancer"]["ingress"][0]["hostname"]
    balancers = boto("elbv2").describe_load_balancers()["LoadBalancers"]
    [balancer] = [b for b in balancers if b["DNSName"] == hostname]
    assert balancer["Scheme"] == "internet-facing" and balancer["Type"] == "application"
    alb_group = boto("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"{CLUSTER}-alb"]}])["SecurityGroups"][0]["GroupId"]
    assert alb_group in balancer["SecurityGroups"]
    # the hardening layer's web ACL in front of it (the controller associates it with the ALB)
    [acl] = boto("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"]
    assert acl["Name"] == f"{CLUSTER}-waf"
    assert ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/wafv2-acl-arn"] == acl["ARN"]


def test_the_example_cache_claim_is_an_encrypted_gp3_volume_on_a_database_node(kube, boto, node_groups):
    namespace = "llm-analytics"
    claim = kube.get_json("pvc", "data-analytics-cache-0", "-n", namespace)
    assert claim["status"]["phase"] == "Bound" and claim["spec"]["storageClassName"] == "gp3"
    volume_id = kube.get_json("pv", claim["spec"]["volumeName"])["spec"]["csi"]["volumeHandle"]
    [volume] = boto("ec2").describe_volumes(VolumeIds=[volume_id])["Volumes"]
    key = boto("eks").describe_cluster(name=CLUSTER)["cluster"]["encryptionConfig"][0]["provider"]["keyArn"]
    assert (volume["VolumeType"], volume["Encrypted"], volume["KmsKeyId"], volume["Iops"]) == ("gp3", True, key, 3000)
    [pod] = running_pods(kube, namespace, "app.kubernetes.io/name=analytics-cache")
    assert group_of(node_groups, pod) == "database"


def test_kubernetes_core_reads_the_platform_through_the_roles_kubeconfig(run_tasks, emulator_server):
    kubeconfig = playbook_environment(emulator_server.url)["LLMHUB_KUBECONFIG"]
    assert oct(os.stat(kubeconfig).st_mode & 0o777) == "0o600"
    run = run_tasks([
        {"name": "Deployments of kube-system", "kubernetes.core.k8s_info": {
            "kind": "Deployment", "namespace": "kube-system", "kubeconfig": kubeconfig}},
        {"name": "The example HPA", "kubernetes.core.k8s_info": {
            "api_version": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "namespace": "llm-analytics",
            "name": "analytics-api", "kubeconfig": kubeconfig}},
    ])
    assert run.rc == 0, run.failure_messages()
    results = run.task_results()
    names = {d["metadata"]["name"] for d in results["Deployments of kube-system"]["resources"]}
    assert {"coredns", "metrics-server", "aws-load-balancer-controller"} <= names
    assert any(n.endswith("cluster-autoscaler") for n in names), names
    [hpa] = results["The example HPA"]["resources"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "analytics-api"}
    assert_no_token(run.stdout, run.stderr, where="kubernetes.core output")


def test_a_plan_from_a_machine_without_the_kubeconfig_plans_through_a_private_copy(run_playbook, control, tmp_path):
    """An AWX job or CI runner has no kubeconfig: check mode writes none, yet steps 7-8 plan through the API.

    Also the check mode of the whole built platform: nothing else would change, and nothing is changed.
    """
    path = tmp_path / "kubeconfig"
    control.clear_requests()
    run = run_playbook("site.yml", "--check", "--diff", "-e", f"kubeconfig_path={path}")
    assert run.rc == 0, run.failure_messages()
    assert [name.split(" : ")[-1] for name in run.changed_tasks()] == [
        "Write the kubeconfig entry of the cluster and check access to its API"]
    assert not path.exists()
    assert mutating_calls(control) == []
    assert_no_token(run.stdout, run.stderr, where="check mode output")


@pytest.mark.mutates_platform
def test_a_class_marked_default_by_someone_else_loses_the_mark(run_playbook, kube):
    kube.ok("annotate", "storageclass", "gp2", "storageclass.kubernetes.io/is-default-class=true", "--overwrite")
    run = run_playbook("site.yml", "--tags", "storage")
    assert run.rc == 0, run.failure_messages()
    assert [name.split(" : ")[-1] for name in run.changed_tasks()] == ["Unmark every other default class"]
    defaults = [c["metadata"]["name"] for c in kube.get_json("storageclass")["items"]
                if (c["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
    assert defaults == ["gp3"]


@pytest.mark.mutates_platform
def test_editing_one_autoscaler_setting_upgrades_only_that_release(run_playbook, kube):
    before = {r["name"]: int(r["revision"]) for r in kube.helm("list", "-n", "kube-system", "-o", "json").json()}
    settings = {"new-pod-scale-up-delay": "10s", "scale-down-delay-after-add": "5m",
                "max-node-provision-time": "15m", "scale-down-utilization-threshold": 0.5,
                "balance-similar-node-groups": True, "expander": "least-waste",
                "skip-nodes-with-system-pods": False, "skip-nodes-with-local-storage": False}
    run = run_playbook("site.yml", "--tags", "addons", "-e", json.dumps({"addons_cluster_autoscaler_settings": settings}))
    assert run.rc == 0, run.failure_messages()
    assert [name.split(" : ")[-1] for name in run.changed_tasks()] == [
        "Ensure the Cluster Autoscaler release (auto-discovery of the cluster's node groups, the overview's timings)"]
    after = {r["name"]: int(r["revision"]) for r in kube.helm("list", "-n", "kube-system", "-o", "json").json()}
    assert after == {**before, "cluster-autoscaler": before["cluster-autoscaler"] + 1}
    [pod] = running_pods(kube, "kube-system", "app.kubernetes.io/instance=cluster-autoscaler")
    container = pod["spec"]["containers"][0]
    assert "--scale-down-delay-after-add=5m" in container.get("command", []) + container.get("args", [])


def test_kubeconfig_path_stays_inside_the_checkout():
    assert Path(playbook_environment("http://127.0.0.1:1")["LLMHUB_KUBECONFIG"]).is_relative_to(ROOT / ".artifacts")
