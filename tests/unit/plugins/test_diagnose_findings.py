"""The diagnosis (plugins/filter/diagnose.py): the overview's three troubleshooting cases find nothing on a healthy
cluster and, for each fault, name what is wrong and the fix."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.llmhub.eks.plugins.filter.diagnose import (
    diagnose_findings, diagnose_kubernetes_facts, diagnose_report_markdown, diagnose_summary)

ACCOUNT = "123456789012"
NODE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/hub-node-role"
LBC_ROLE = f"arn:aws:iam::{ACCOUNT}:role/hub-aws-load-balancer-controller"
CA_ROLE = f"arn:aws:iam::{ACCOUNT}:role/hub-cluster-autoscaler"


def rule(port, groups=(), cidrs=(), protocol="tcp"):
    return {"protocol": protocol, "from_port": port, "to_port": port, "group_ids": list(groups), "cidrs": list(cidrs)}


def subnet(subnet_id, tier, cidr, route, table, tags=None):
    return {"subnet_id": subnet_id, "name": f"hub-{tier}-{subnet_id[-1]}", "cidr": cidr, "tags": {
        "llmhub.io/tier": tier, "kubernetes.io/cluster/hub": "shared",
        **({"public": {"kubernetes.io/role/elb": "1"}, "private": {"kubernetes.io/role/internal-elb": "1"}}.get(tier, {})),
        **(tags or {})}, "map_public_ip_on_launch": False, "route_table_id": table, "default_route": route}


NAT = {"target": "nat-1", "state": "active", "nat_state": "available"}
FACTS = {
    "cluster": {"name": "hub", "status": "ACTIVE", "vpc_id": "vpc-1", "vpc_cidrs": ["10.0.0.0/16"],
                "authentication_mode": "API_AND_CONFIG_MAP", "security_group_ids": ["sg-eks", "sg-cluster"]},
    "nodegroups": [
        {"name": "system", "status": "ACTIVE", "node_role_arn": NODE_ROLE, "subnets": ["subnet-a"], "min_size": 2,
         "desired_size": 2, "max_size": 4, "health_issues": [], "security_group_ids": ["sg-node"]},
        {"name": "database", "status": "ACTIVE", "node_role_arn": NODE_ROLE, "subnets": ["subnet-a"], "min_size": 1,
         "desired_size": 1, "max_size": 3, "health_issues": [], "security_group_ids": ["sg-node"]},
    ],
    "node_roles": [{"arn": NODE_ROLE, "name": "hub-node-role", "exists": True, "trusted_by_ec2": True,
                    "managed_policies": ["AmazonEC2ContainerRegistryReadOnly", "AmazonEKSWorkerNodePolicy",
                                         "AmazonEKS_CNI_Policy", "AmazonSSMManagedInstanceCore"],
                    "access_entry_type": "EC2_LINUX"}],
    "security_groups": [
        {"group_id": "sg-eks", "group_name": "eks-cluster-sg-hub", "ingress": [rule(0, ["sg-eks"], protocol="-1")],
         "egress": [rule(0, cidrs=["0.0.0.0/0"], protocol="-1")]},
        {"group_id": "sg-cluster", "group_name": "hub-cluster", "ingress": [rule(443, ["sg-node"])],
         "egress": [rule(0, cidrs=["0.0.0.0/0"], protocol="-1")]},
        {"group_id": "sg-node", "group_name": "hub-node",
         "ingress": [rule(10250, ["sg-cluster"]), {**rule(1025, ["sg-cluster"]), "to_port": 65535}],
         "egress": [rule(0, cidrs=["0.0.0.0/0"], protocol="-1")]},
    ],
    "subnets": [
        subnet("subnet-a", "private", "10.0.0.0/20", NAT, "rtb-private"),
        subnet("subnet-p", "public", "10.0.240.0/24", {"target": "igw-1", "state": "active"}, "rtb-public"),
        subnet("subnet-i", "intra", "10.0.250.0/24", None, "rtb-intra"),
    ],
    "vpc_endpoints": [{"service": "s3", "type": "Gateway", "state": "available", "route_table_ids": ["rtb-private"]}],
    "vpc_cni_role_arn": None,
    "roles": {LBC_ROLE: True, CA_ROLE: True},
}


def node(name, group, labels=None, taints=None, ready="True"):
    return {"metadata": {"name": name, "labels": {"eks.amazonaws.com/nodegroup": group, "role": group, **(labels or {})}},
            "spec": {"taints": taints or []}, "status": {"conditions": [{"type": "Ready", "status": ready}]}}


DATABASE_TAINT = {"key": "workload", "value": "database", "effect": "NoSchedule"}


def available_deployment(name, account, replicas):
    return {"metadata": {"namespace": "kube-system", "name": name},
            "spec": {"replicas": replicas, "template": {"spec": {"serviceAccountName": account}}},
            "status": {"availableReplicas": replicas, "conditions": [{"type": "Available", "status": "True"}]}}


def account(name, role):
    return {"metadata": {"namespace": "kube-system", "name": name, "annotations": {"eks.amazonaws.com/role-arn": role}}}


RESULTS = [
    {"item": {"kind": "Node"}, "resources": [node("n1", "system"), node("n2", "system"),
                                             node("n3", "database", taints=[DATABASE_TAINT])]},
    {"item": {"kind": "Pod"}, "resources": []},
    {"item": {"kind": "Service"}, "resources": [
        {"metadata": {"namespace": "apps", "name": "web"}, "spec": {"type": "LoadBalancer"},
         "status": {"loadBalancer": {"ingress": [{"hostname": "a.elb.amazonaws.com"}]}}},
        {"metadata": {"namespace": "apps", "name": "internal"}, "spec": {"type": "ClusterIP"}, "status": {}}]},
    {"item": {"kind": "Ingress"}, "resources": [
        {"metadata": {"namespace": "apps", "name": "api"}, "spec": {"ingressClassName": "alb"},
         "status": {"loadBalancer": {"ingress": [{"hostname": "k8s-apps-api.elb.amazonaws.com"}]}}}]},
    {"item": {"kind": "Deployment"}, "resources": [
        available_deployment("aws-load-balancer-controller", "aws-load-balancer-controller", 2),
        available_deployment("cluster-autoscaler-aws-cluster-autoscaler", "cluster-autoscaler", 1)]},
    {"item": {"kind": "ServiceAccount"}, "resources": [account("aws-load-balancer-controller", LBC_ROLE),
                                                       account("cluster-autoscaler", CA_ROLE)]},
    {"item": {"kind": "ConfigMap", "namespace": "kube-system", "name": "aws-auth"}, "resources": []},
]


def diagnose(facts=None, results=None):
    return diagnose_findings(facts or FACTS, diagnose_kubernetes_facts(results or RESULTS))


def facts_with(change):
    facts = copy.deepcopy(FACTS)
    change(facts)
    return facts


def results_with(change):
    results = copy.deepcopy(RESULTS)
    change({next(iter(r["item"].values())): r["resources"] for r in results})
    return results


def only(report, check):
    assert {f["check"] for f in report["findings"]} == {check}, report["findings"]
    return report["findings"]


def test_a_healthy_cluster_has_no_finding():
    report = diagnose()
    assert report["healthy"], report["findings"]
    assert report["cases"] == {"nodes_not_joining": 0, "pods_pending": 0, "load_balancer_not_creating": 0}
    assert [c["id"] for c in report["checks"]] == [
        "nodegroup_nodes", "nodegroup_health", "node_role", "node_access", "security_groups", "subnet_routes",
        "pod_scheduling", "nodegroup_max", "cluster_autoscaler", "cluster_autoscaler_role", "pending_load_balancers",
        "load_balancer_controller", "load_balancer_controller_role", "subnet_tags"]
    assert all(c["ok"] and c["mark"] == "\u2713" for c in report["checks"])
    checks = {c["id"]: c["detail"] for c in report["checks"]}
    assert checks["nodegroup_nodes"] == "system 2/2, database 1/1"
    assert checks["load_balancer_controller_role"] == f"kube-system/aws-load-balancer-controller -> {LBC_ROLE}"
    assert diagnose_summary(report) == ["hub: healthy (14 checks, no finding)"]
    assert diagnose_report_markdown(report).startswith(
        "# Diagnosis: hub\n\nHealthy: no finding in the three troubleshooting cases.\n\n## Nodes not joining cluster")


def test_the_kubernetes_facts_keep_what_the_checks_read():
    kubernetes = diagnose_kubernetes_facts(RESULTS + [{"item": "Pod", "resources": [
        {"metadata": {"namespace": "apps", "name": "web-7d9c-x1", "labels": {"pod-template-hash": "7d9c"},
                      "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d9c"}]},
         "spec": {"nodeSelector": {"role": "gpu"}}, "status": {"phase": "Pending", "conditions": [
             {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes"}]}},
        {"metadata": {"namespace": "apps", "name": "running"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Pending"}},
    ]}])
    assert kubernetes["pending_pods"] == [{"namespace": "apps", "name": "web-7d9c-x1", "owner": "Deployment/web",
                                           "node_selector": {"role": "gpu"}, "tolerations": [], "scheduled": {
                                               "status": "False", "reason": "Unschedulable", "message": "0/3 nodes"}}]
    assert kubernetes["role_arns"] == sorted([LBC_ROLE, CA_ROLE])
    assert [s["name"] for s in kubernetes["load_balancer_services"]] == ["web"]
    assert [n["ready"] for n in kubernetes["nodes"]] == [True, True, True]
    assert kubernetes["aws_auth_roles"] == []
    mapped = diagnose_kubernetes_facts([{"item": "ConfigMap", "resources": [
        {"metadata": {"name": "aws-auth"}, "data": {"mapRoles": f"- rolearn: {NODE_ROLE}\n  username: x\n"}}]}])
    assert mapped["aws_auth_roles"] == [NODE_ROLE]


# --- nodes not joining -------------------------------------------------------------------------------------------------

def test_a_node_group_short_of_ready_nodes():
    results = results_with(lambda k: k["Node"].__setitem__(1, node("n2", "system", ready="False")))
    [finding] = only(diagnose(results=results), "nodegroup_nodes")
    assert finding["case"] == "nodes_not_joining" and finding["subject"] == "system"
    assert finding["problem"] == ("node group system (ACTIVE): 1 of 2 desired nodes are Ready Node objects labelled "
                                  "eks.amazonaws.com/nodegroup=system")
    assert "journalctl -u kubelet" in finding["fix"]


def test_a_node_group_health_issue_names_its_fix():
    facts = facts_with(lambda f: f["nodegroups"][0]["health_issues"].append(
        {"code": "IamInstanceProfileNotFound", "message": "Instance profile not found", "resource_ids": ["i-1"]}))
    [finding] = only(diagnose(facts), "nodegroup_health")
    assert finding["problem"] == "node group system: IamInstanceProfileNotFound: Instance profile not found (i-1)"
    assert "--tags iam" in finding["fix"]


@pytest.mark.parametrize("missing", ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly",
                                     "AmazonEKS_CNI_Policy"])
def test_a_node_role_without_a_worker_policy(missing):
    facts = facts_with(lambda f: f["node_roles"][0]["managed_policies"].remove(missing))
    [finding] = only(diagnose(facts), "node_role")
    assert finding["problem"] == f"the node role hub-node-role lacks {missing}"
    assert finding["fix"].startswith("`aws iam attach-role-policy --role-name hub-node-role --policy-arn "
                                     f"arn:aws:iam::aws:policy/{missing}`")
    assert finding["fix"].endswith(", or iam_node_role_managed_policies and `ansible-playbook playbooks/site.yml "
                                   "--tags iam` (`make apply TAGS=iam`)")


def test_the_cni_policy_is_not_needed_when_the_vpc_cni_has_its_own_role():
    facts = facts_with(lambda f: (f["node_roles"][0]["managed_policies"].remove("AmazonEKS_CNI_Policy"),
                                  f.__setitem__("vpc_cni_role_arn", f"arn:aws:iam::{ACCOUNT}:role/hub-vpc-cni")))
    assert diagnose(facts)["healthy"]


def test_the_pull_only_ecr_policy_is_enough():
    facts = facts_with(lambda f: f["node_roles"][0].__setitem__("managed_policies", [
        "AmazonEC2ContainerRegistryPullOnly", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy"]))
    assert diagnose(facts)["healthy"]


def test_a_node_role_that_ec2_cannot_assume_or_that_is_gone():
    untrusted = only(diagnose(facts_with(lambda f: f["node_roles"][0].__setitem__("trusted_by_ec2", False))),
                     "node_role")
    assert untrusted[0]["problem"] == "the node role hub-node-role does not trust ec2.amazonaws.com (sts:AssumeRole)"
    gone = facts_with(lambda f: f["node_roles"][0].update(exists=False, managed_policies=[], trusted_by_ec2=False))
    [finding] = [f for f in diagnose(gone)["findings"] if f["check"] == "node_role"]
    assert finding["problem"] == "the node role hub-node-role does not exist"


def test_a_node_role_without_an_access_entry():
    facts = facts_with(lambda f: f["node_roles"][0].__setitem__("access_entry_type", None))
    [finding] = only(diagnose(facts), "node_access")
    assert finding["problem"] == "the node role hub-node-role has no EC2_LINUX access entry in the cluster nor an aws-auth mapping"
    assert finding["fix"] == (f"`aws eks create-access-entry --cluster-name hub --principal-arn {NODE_ROLE} "
                              "--type EC2_LINUX`")
    # the aws-auth mapping is as good in API_AND_CONFIG_MAP mode, not in API mode
    mapped = results_with(lambda k: k["ConfigMap"].append(
        {"metadata": {"name": "aws-auth"}, "data": {"mapRoles": f"- rolearn: {NODE_ROLE}\n"}}))
    assert diagnose(facts, mapped)["healthy"]
    api_only = facts_with(lambda f: (f["node_roles"][0].__setitem__("access_entry_type", None),
                                     f["cluster"].__setitem__("authentication_mode", "API")))
    assert only(diagnose(api_only, mapped), "node_access")


def test_a_revoked_api_rule_and_a_revoked_kubelet_rule():
    no_api = facts_with(lambda f: f["security_groups"][1].__setitem__("ingress", []))
    findings = only(diagnose(no_api), "security_groups")
    assert [f["subject"] for f in findings] == ["system", "database"]
    assert findings[0]["problem"] == ("node group system: no rule of the control plane's groups eks-cluster-sg-hub "
                                      "(sg-eks), hub-cluster (sg-cluster) admits tcp/443 from its nodes' groups "
                                      "hub-node (sg-node)")
    assert "--tags vpc" in findings[0]["fix"]
    # the VPC's CIDR admitted on 443 (vpc_cluster_api_ingress_cidrs) lets the nodes in as well
    by_cidr = facts_with(lambda f: f["security_groups"][1].__setitem__("ingress", [rule(443, cidrs=["10.0.0.0/16"])]))
    assert diagnose(by_cidr)["healthy"]
    # the node ports' rule 1025-65535 from the control plane covers 10250 too: only both gone shut the kubelet off
    assert diagnose(facts_with(lambda f: f["security_groups"][2]["ingress"].pop(0)))["healthy"]
    no_kubelet = facts_with(lambda f: f["security_groups"][2].__setitem__("ingress", []))
    findings = only(diagnose(no_kubelet), "security_groups")
    assert "admit no tcp/10250 (kubelet) from the control plane's groups" in findings[0]["problem"]
    no_egress = facts_with(lambda f: f["security_groups"][2].__setitem__("egress", [rule(80, cidrs=["0.0.0.0/0"])]))
    assert "allow no egress on tcp/443" in only(diagnose(no_egress), "security_groups")[0]["problem"]


def test_a_node_subnet_without_a_way_out():
    nat_gone = facts_with(lambda f: f["subnets"][0]["default_route"].update(state="blackhole", nat_state="deleted"))
    [finding] = only(diagnose(nat_gone), "subnet_routes")
    assert finding["subject"] == "hub-private-a"
    assert finding["problem"] == ("node subnet hub-private-a (subnet-a): its default route goes to nat-1, which is "
                                  "deleted (route blackhole), and the VPC lacks the endpoints ec2, ecr.api, ecr.dkr, sts")
    assert "vpc_endpoints" in finding["fix"] and "--tags vpc" in finding["fix"]
    no_route = facts_with(lambda f: f["subnets"][0].__setitem__("default_route", None))
    assert "has no 0.0.0.0/0 route" in only(diagnose(no_route), "subnet_routes")[0]["problem"]
    # a private subnet reaching AWS through the endpoints alone is fine
    endpoints = facts_with(lambda f: (f["subnets"][0].__setitem__("default_route", None), f["vpc_endpoints"].extend(
        {"service": s, "type": "Interface", "state": "available", "route_table_ids": [], "private_dns": True}
        for s in ("ec2", "ecr.api", "ecr.dkr", "sts"))))
    assert diagnose(endpoints)["healthy"]
    # without their private DNS names the nodes still resolve the public endpoints, which they cannot reach
    no_dns = copy.deepcopy(endpoints)
    no_dns["vpc_endpoints"][1]["private_dns"] = False
    [finding] = only(diagnose(no_dns), "subnet_routes")
    assert finding["problem"].endswith("has no 0.0.0.0/0 route, and the VPC lacks the endpoints ec2")


# --- pods pending ------------------------------------------------------------------------------------------------------

def pending(name, selector=None, tolerations=None, message="0/3 nodes are available"):
    return {"metadata": {"namespace": "apps", "name": f"{name}-5f6d-abcde", "labels": {"pod-template-hash": "5f6d"},
                         "ownerReferences": [{"kind": "ReplicaSet", "name": f"{name}-5f6d"}]},
            "spec": {"nodeSelector": selector or {}, "tolerations": tolerations or []},
            "status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}]}}


def test_pods_whose_selector_no_node_has():
    results = results_with(lambda k: k["Pod"].extend([pending("gpu", {"role": "gpu"}), pending("gpu", {"role": "gpu"})]))
    [finding] = only(diagnose(results=results), "pod_scheduling")
    assert finding["case"] == "pods_pending" and finding["subject"] == "apps/Deployment/gpu"
    assert finding["problem"] == ("2 pod(s) of apps/Deployment/gpu Pending: no Ready node has the labels of its "
                                  "nodeSelector role=gpu")


def test_pods_that_do_not_tolerate_the_taint_of_their_nodes():
    results = results_with(lambda k: k["Pod"].append(pending("db", {"role": "database"})))
    [finding] = only(diagnose(results=results), "pod_scheduling")
    assert finding["problem"].endswith("has a taint it does not tolerate: workload=database:NoSchedule")
    assert "tolerations" in finding["fix"]
    tolerated = results_with(lambda k: k["Pod"].append(pending("db", {"role": "database"}, [
        {"key": "workload", "operator": "Equal", "value": "database", "effect": "NoSchedule"}],
        message="0/3 nodes are available: 1 Insufficient memory")))
    [finding] = only(diagnose(results=tolerated), "pod_scheduling")
    assert finding["problem"] == "1 pod(s) of apps/Deployment/db Pending: 0/3 nodes are available: 1 Insufficient memory"
    assert "scaling.max_size" in finding["fix"]


def test_a_node_group_at_its_maximum():
    facts = facts_with(lambda f: f["nodegroups"][0].update(desired_size=4))
    [finding] = [f for f in diagnose(facts)["findings"] if f["check"] == "nodegroup_max"]
    assert finding["problem"].startswith("node group system is at its maximum: desired 4 of max 4")
    assert finding["fix"].startswith("raise nodegroups_definitions[name=system].scaling.max_size and `ansible-playbook "
                                     "playbooks/site.yml --tags nodegroups`")


def test_an_autoscaler_missing_unavailable_or_without_its_role():
    gone = results_with(lambda k: k["Deployment"].pop(1))
    [finding] = only(diagnose(results=gone), "cluster_autoscaler")
    assert finding["problem"] == ("no Deployment in kube-system runs as the service account cluster-autoscaler: the "
                                  "Cluster Autoscaler is not deployed")
    assert "--tags addons" in finding["fix"]
    down = results_with(lambda k: k["Deployment"][1].__setitem__("status", {"conditions": [
        {"type": "Available", "status": "False"}]}))
    assert "is not Available (0 of 1 replicas)" in only(diagnose(results=down), "cluster_autoscaler")[0]["problem"]
    role_gone = facts_with(lambda f: f["roles"].__setitem__(CA_ROLE, False))
    [finding] = only(diagnose(role_gone), "cluster_autoscaler_role")
    assert finding["problem"] == f"the service account kube-system/cluster-autoscaler names the role {CA_ROLE}, which does not exist"


# --- load balancer not creating ----------------------------------------------------------------------------------------

def test_public_subnets_without_the_elb_tag():
    facts = facts_with(lambda f: f["subnets"][1]["tags"].pop("kubernetes.io/role/elb"))
    report = diagnose(facts)
    [finding] = only(report, "subnet_tags")
    assert finding["case"] == "load_balancer_not_creating" and finding["subject"] == "hub-public-p"
    assert finding["problem"].startswith("public subnets without the tag kubernetes.io/role/elb=1: hub-public-p (subnet-p)")
    assert finding["fix"].startswith("`aws ec2 create-tags --resources subnet-p --tags Key=kubernetes.io/role/elb,Value=1`")
    assert diagnose_summary(report) == [f"Load balancer not creating / subnet_tags: {finding['problem']} -> fix: "
                                        f"{finding['fix']}"]
    markdown = diagnose_report_markdown(report)
    assert "1 finding(s): Load balancer not creating 1." in markdown
    assert f"- **subnet_tags** {finding['problem']}\n  - fix: {finding['fix']}" in markdown


def test_private_subnets_without_the_internal_elb_or_cluster_tag():
    facts = facts_with(lambda f: (f["subnets"][0]["tags"].pop("kubernetes.io/role/internal-elb"),
                                  f["subnets"][0]["tags"].pop("kubernetes.io/cluster/hub")))
    problems = [f["problem"] for f in only(diagnose(facts), "subnet_tags")]
    assert [p.split(":")[0] for p in problems] == ["private subnets without the tag kubernetes.io/cluster/hub=shared",
                                                   "private subnets without the tag kubernetes.io/role/internal-elb=1"]


def test_the_controller_without_its_annotation_or_role():
    bare = results_with(lambda k: k["ServiceAccount"][0]["metadata"].pop("annotations"))
    [finding] = only(diagnose(results=bare), "load_balancer_controller_role")
    assert finding["subject"] == "kube-system/aws-load-balancer-controller"
    assert "has no eks.amazonaws.com/role-arn annotation" in finding["problem"]
    assert "--tags addons" in finding["fix"] and "kubectl annotate serviceaccount" in finding["fix"]
    role_gone = facts_with(lambda f: f["roles"].__setitem__(LBC_ROLE, False))
    assert "which does not exist" in only(diagnose(role_gone), "load_balancer_controller_role")[0]["problem"]


def test_load_balancers_without_an_address():
    results = results_with(lambda k: (k["Service"][0]["status"].__setitem__("loadBalancer", {}),
                                      k["Ingress"][0].__setitem__("status", {})))
    problems = [f["problem"] for f in only(diagnose(results=results), "pending_load_balancers")]
    assert problems == ["Service apps/web of type LoadBalancer has no address", "ALB Ingress apps/api has no address"]
