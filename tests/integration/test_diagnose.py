"""playbooks/diagnose.yml on the built platform: the overview's "Troubleshooting Guide" (nodes not joining, pods stuck
in Pending, load balancer not creating) read from the emulator's AWS and Kubernetes APIs. The healthy platform
reports nothing; each fault a test injects (and puts back) is found, named, and given its fix."""

from __future__ import annotations

import json

import pytest

from tests.support.kubernetes import Kube, wait_for

from .conftest import CLUSTER, mutating_calls

pytestmark = pytest.mark.integration
# Reads the platform the other sharing modules read (tests/support/shared_platform.py); the faults come last.
SHARES_PLATFORM = True

ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
REPORT_TASKS = ["Make the report directory", "Write the report as Markdown and JSON"]


@pytest.fixture(scope="module")
def kube(built_platform, emulator_server, tmp_path_factory) -> Kube:
    kube, run = Kube.connect(emulator_server.url, tmp_path_factory.mktemp("kube"))
    assert run.returncode == 0, run.describe()
    return kube.with_token()


def diagnose(run_playbook, directory, *args, rc=0):
    run = run_playbook("diagnose.yml", "-e", f"diagnose_report_dir={directory}", *args)
    assert run.rc == rc, run.failure_messages() or run.stdout[-3000:]
    report = json.loads((directory / f"{CLUSTER}.json").read_text(encoding="utf-8"))
    return run, report


def found(report):
    """(case, check) of every finding."""
    return sorted({(f["case"], f["check"]) for f in report["findings"]})


def test_the_healthy_platform_reports_nothing_and_changes_nothing(built_platform, run_playbook, control, tmp_path):
    control.clear_requests()
    run, report = diagnose(run_playbook, tmp_path)
    assert report["healthy"] and report["findings"] == [], report["findings"]
    assert report["cases"] == {"nodes_not_joining": 0, "pods_pending": 0, "load_balancer_not_creating": 0}
    checks = {c["id"]: c for c in report["checks"]}
    assert all(c["ok"] for c in checks.values())
    # what was read, in the overview's numbers: the three node groups with their desired sizes Ready and below max
    assert checks["nodegroup_nodes"]["detail"] == "application 5/5, database 4/4, system 3/3"
    assert checks["nodegroup_max"]["detail"] == "application 5/10, database 4/6, system 3/4"
    assert checks["node_role"]["detail"].startswith(f"{CLUSTER}-node-role: trusted by ec2.amazonaws.com, "
                                                    "AmazonEKSWorkerNodePolicy, AmazonEC2ContainerRegistryReadOnly")
    assert checks["subnet_routes"]["detail"] == "3 node subnets reach ECR, EC2, STS and S3"
    assert checks["load_balancer_controller_role"]["detail"].endswith(f":role/{CLUSTER}-aws-load-balancer-controller")
    assert checks["cluster_autoscaler"]["detail"].endswith("1/1 available")
    # nothing changed in AWS or the cluster: only the report's own files are written
    assert [name.split(" : ")[-1] for name in run.changed_tasks()] == REPORT_TASKS
    assert mutating_calls(control) == []
    markdown = (tmp_path / f"{CLUSTER}.md").read_text(encoding="utf-8")
    assert markdown.startswith(f"# Diagnosis: {CLUSTER}\n\nHealthy: no finding in the three troubleshooting cases.\n")
    assert run.task_results()["Show the findings and their fixes"]["msg"] == [
        f"{CLUSTER}: healthy ({len(report['checks'])} checks, no finding)"]


def test_check_mode_reads_the_same(built_platform, run_playbook, control, tmp_path):
    control.clear_requests()
    _run, report = diagnose(run_playbook, tmp_path, "--check")
    assert report["healthy"], report["findings"]
    assert mutating_calls(control) == []


@pytest.mark.mutates_platform
def test_public_subnets_without_the_elb_tag(built_platform, run_playbook, boto, tmp_path):
    ec2 = boto("ec2")
    public = ec2.describe_subnets(Filters=[{"Name": "tag:llmhub.io/tier", "Values": ["public"]},
                                           {"Name": "tag:kubernetes.io/cluster/" + CLUSTER, "Values": ["shared"]}])["Subnets"]
    by_name = sorted((next(t["Value"] for t in s["Tags"] if t["Key"] == "Name"), s["SubnetId"]) for s in public)
    names, ids = [name for name, _id in by_name], [subnet_id for _name, subnet_id in by_name]
    assert len(ids) == 3
    ec2.delete_tags(Resources=ids, Tags=[{"Key": "kubernetes.io/role/elb"}])
    try:
        run, report = diagnose(run_playbook, tmp_path, rc=2)
    finally:
        ec2.create_tags(Resources=ids, Tags=[{"Key": "kubernetes.io/role/elb", "Value": "1"}])
    assert found(report) == [("load_balancer_not_creating", "subnet_tags")]
    [finding] = report["findings"]
    assert finding["subject"] == ", ".join(names)
    assert finding["problem"].startswith("public subnets without the tag kubernetes.io/role/elb=1: ")
    assert all(i in finding["problem"] for i in ids)
    assert finding["fix"].startswith(f"`aws ec2 create-tags --resources {' '.join(ids)} "
                                     "--tags Key=kubernetes.io/role/elb,Value=1`")
    assert "--tags vpc" in finding["fix"]
    assert "finding(s) on " + CLUSTER in run.failure_messages()
    markdown = (tmp_path / f"{CLUSTER}.md").read_text(encoding="utf-8")
    assert "1 finding(s): Load balancer not creating 1." in markdown


@pytest.mark.mutates_platform
def test_the_controllers_service_account_without_its_role(built_platform, run_playbook, kube, tmp_path):
    account = kube.get_json("serviceaccount", "aws-load-balancer-controller", "-n", "kube-system")
    role = account["metadata"]["annotations"][ROLE_ANNOTATION]
    kube.ok("annotate", "serviceaccount", "aws-load-balancer-controller", "-n", "kube-system", f"{ROLE_ANNOTATION}-")
    try:
        _run, report = diagnose(run_playbook, tmp_path, rc=2)
    finally:
        kube.ok("annotate", "serviceaccount", "aws-load-balancer-controller", "-n", "kube-system",
                f"{ROLE_ANNOTATION}={role}")
    assert found(report) == [("load_balancer_not_creating", "load_balancer_controller_role")]
    [finding] = report["findings"]
    assert finding["subject"] == "kube-system/aws-load-balancer-controller"
    assert f"has no {ROLE_ANNOTATION} annotation" in finding["problem"]
    assert "--tags addons" in finding["fix"]


UNSCHEDULABLE = [
    # a node selector no node group's labels satisfy
    ("gpu-inference", {"nodeSelector": {"role": "gpu"}}),
    # the database node group's nodes, without the toleration of their taint workload=database:NoSchedule
    ("database-only", {"nodeSelector": {"role": "database"}}),
]


def deployment(name, pod_spec):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {**pod_spec, "containers": [{"name": "app", "image": "busybox:1.37",
                                                                       "resources": {"requests": {"cpu": "10m"}}}]}}}}


@pytest.mark.mutates_platform
def test_pods_that_no_node_accepts(built_platform, run_playbook, kube, tmp_path):
    kube.apply_yaml([deployment(name, spec) for name, spec in UNSCHEDULABLE])
    try:
        for name, _spec in UNSCHEDULABLE:
            kube.ok("wait", "pod", "-n", "default", "-l", f"app={name}", "--for=condition=PodScheduled=False",
                    "--timeout=60s")
        _run, report = diagnose(run_playbook, tmp_path, rc=2)
    finally:
        kube.ok("delete", "deployment", "-n", "default", *(name for name, _spec in UNSCHEDULABLE))
        # the garbage collector deletes their pods after the Deployments (background propagation): the tests that
        # follow must not find them Pending
        selector = f"app in ({','.join(name for name, _spec in UNSCHEDULABLE)})"
        wait_for(lambda: not kube.get_json("pods", "-n", "default", "-l", selector)["items"], timeout=120,
                 what="the unschedulable pods deleted")
    assert found(report) == [("pods_pending", "pod_scheduling")]
    by_subject = {f["subject"]: f for f in report["findings"]}
    assert sorted(by_subject) == ["default/Deployment/database-only", "default/Deployment/gpu-inference"]
    gpu = by_subject["default/Deployment/gpu-inference"]
    assert gpu["problem"] == ("1 pod(s) of default/Deployment/gpu-inference Pending: no Ready node has the labels of "
                              "its nodeSelector role=gpu")
    assert "nodegroups_definitions[].labels" in gpu["fix"]
    database = by_subject["default/Deployment/database-only"]
    assert database["problem"].endswith("has a taint it does not tolerate: workload=database:NoSchedule")
    assert "tolerations" in database["fix"]


@pytest.mark.mutates_platform
def test_a_node_group_at_its_maximum(built_platform, run_playbook, boto, tmp_path):
    eks = boto("eks")
    system = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="system")["nodegroup"]["scalingConfig"]
    assert (system["minSize"], system["desiredSize"], system["maxSize"]) == (2, 3, 4)

    def scale(max_size):
        eks.update_nodegroup_config(clusterName=CLUSTER, nodegroupName="system",
                                    scalingConfig={**system, "maxSize": max_size})
        eks.get_waiter("nodegroup_active").wait(clusterName=CLUSTER, nodegroupName="system",
                                                WaiterConfig={"Delay": 1, "MaxAttempts": 120})

    scale(3)
    try:
        _run, report = diagnose(run_playbook, tmp_path, rc=2)
    finally:
        scale(4)
    assert found(report) == [("pods_pending", "nodegroup_max")]
    [finding] = report["findings"]
    assert finding["problem"].startswith("node group system is at its maximum: desired 3 of max 3")
    assert finding["fix"].startswith("raise nodegroups_definitions[name=system].scaling.max_size and "
                                     "`ansible-playbook playbooks/site.yml --tags nodegroups` (`make apply TAGS=nodegroups`)")


@pytest.mark.mutates_platform
def test_a_node_role_without_the_worker_node_policy(built_platform, run_playbook, boto, tmp_path):
    iam = boto("iam")
    role = f"{CLUSTER}-node-role"
    policy = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"
    iam.detach_role_policy(RoleName=role, PolicyArn=policy)
    try:
        _run, report = diagnose(run_playbook, tmp_path, rc=2)
    finally:
        iam.attach_role_policy(RoleName=role, PolicyArn=policy)
    assert found(report) == [("nodes_not_joining", "node_role")]
    [finding] = report["findings"]
    assert finding["problem"] == f"the node role {role} lacks AmazonEKSWorkerNodePolicy"
    assert finding["fix"].startswith(f"`aws iam attach-role-policy --role-name {role} --policy-arn {policy}`")
    assert "--tags iam" in finding["fix"]
