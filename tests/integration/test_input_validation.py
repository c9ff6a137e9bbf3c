"""Every input is checked before the first change, whatever the tags (the preflight role).

A table of bad inputs across all layers. Each case is one inventory host (one
cluster) of a single ansible-playbook run, so the whole table costs three runs:
site.yml, site.yml with the tags of another layer, and destroy.yml. For each
case the run must fail on that host with a message naming the variable, and
the emulator's request log must stay empty: nothing was read, nothing changed.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import CLUSTER, ROOT, parse_report, playbook_environment

LOCAL_VARS = yaml.safe_load((ROOT / "inventories/local/group_vars/all/main.yml").read_text(encoding="utf-8"))
GROUPS = yaml.safe_load((ROOT / "roles/nodegroups/defaults/main.yml").read_text(encoding="utf-8"))[
    "nodegroups_definitions"]
ROLE = "arn:aws:iam::123456789012:role/platform-admins"


def group(index, **changes):
    """The default node groups with one definition changed (None removes a key)."""
    changed = copy.deepcopy(GROUPS)
    for key, value in changes.items():
        if value is None:
            changed[index].pop(key, None)
        else:
            changed[index][key] = value
    return {"nodegroups_definitions": changed}


# case -> (host variables, the variable the message must name)
CASES = {
    # inventory-wide settings
    "region typo": ({"llmhub_aws_region": "us-east1"}, "llmhub_aws_region"),
    "region that does not exist": ({"llmhub_aws_region": "us-east-9"}, "llmhub_aws_region"),
    "empty region": ({"llmhub_aws_region": ""}, "llmhub_aws_region"),
    "empty cluster name": ({"llmhub_cluster_name": ""}, "llmhub_cluster_name"),
    "quote in the cluster name": ({"llmhub_cluster_name": 'hub"prod'}, "llmhub_cluster_name"),
    "cluster name starting with a dash": ({"llmhub_cluster_name": "-hub"}, "llmhub_cluster_name"),
    "cluster name over 100 characters": ({"llmhub_cluster_name": "h" * 101}, "llmhub_cluster_name"),
    "tags not a mapping": ({"llmhub_tags": "Project=hub"}, "llmhub_tags"),
    "application secret named with a space": ({"llmhub_app_secrets": [{"name": "api keys"}]}, "llmhub_app_secrets"),
    # misspelt variables (would be ignored)
    "misspelt eks_version": ({"eks_verison": "1.34"}, "eks_verison"),
    "misspelt vpc_cidr": ({"vpc_cdir": "10.1.0.0/16"}, "vpc_cdir"),
    "misspelt nodegroups_definitions": ({"nodegroups_definition": []}, "nodegroups_definition"),
    "misspelt llmhub_aws_region": ({"llmhub_aws_regoin": "eu-west-1"}, "llmhub_aws_regoin"),
    "misspelt iam_kms_key_rotation": ({"iam_kms_rotation": False}, "iam_kms_rotation"),
    # iam
    "KMS deletion window below 7 days": ({"iam_kms_deletion_window_days": 3}, "iam_kms_deletion_window_days"),
    "KMS deletion window above 30 days": ({"iam_kms_deletion_window_days": 31}, "iam_kms_deletion_window_days"),
    "KMS deletion window not a number": ({"iam_kms_deletion_window_days": "seven"}, "iam_kms_deletion_window_days"),
    "KMS alias reserved for AWS": ({"iam_kms_alias": "alias/aws/ebs"}, "iam_kms_alias"),
    "KMS alias without alias/": ({"iam_kms_alias": "hub-key"}, "iam_kms_alias"),
    "IAM role name over 64 characters": ({"iam_cluster_role_name": "r" * 65}, "iam_cluster_role_name"),
    "IAM role name with a space": ({"iam_node_role_name": "node role"}, "iam_node_role_name"),
    "cluster name too long for its role names": ({"llmhub_cluster_name": "c" * 60}, "iam_cluster_role_name"),
    "KMS admin not an ARN": ({"iam_kms_admin_arns": ["admins"]}, "iam_kms_admin_arns[0]"),
    "rotation not a boolean": ({"iam_kms_key_rotation": "sometimes"}, "iam_kms_key_rotation"),
    # vpc
    "VPC CIDR too large": ({"vpc_cidr": "10.0.0.0/8"}, "vpc_cidr"),
    "VPC CIDR with host bits": ({"vpc_cidr": "10.0.0.1/16"}, "vpc_cidr"),
    "VPC CIDR not a CIDR": ({"vpc_cidr": "ten-dot-zero"}, "vpc_cidr"),
    "one availability zone": ({"vpc_azs": ["us-east-1a"]}, "vpc_azs"),
    "zones of another region": ({"vpc_azs": ["us-west-2a", "us-west-2b"]}, "vpc_azs"),
    "the same zone twice": ({"vpc_azs": ["us-east-1a", "us-east-1a"]}, "vpc_azs"),
    "flow log retention CloudWatch does not offer": ({"vpc_flow_logs_retention_days": 13},
                                                     "vpc_flow_logs_retention_days"),
    # (the role's argument spec checks these suboptions; its message lists the valid keys)
    "endpoint type": ({"vpc_endpoints": [{"service": "s3", "type": "Gatewayy"}]}, "vpc_endpoints"),
    "endpoint key misspelt": ({"vpc_endpoints": [{"servce": "s3"}]}, "vpc_endpoints.servce"),
    "security group port out of range": (
        {"vpc_security_groups": [{"key": "x", "ingress": [{"ports": "99999", "cidrs": ["10.0.0.0/8"]}]}]},
        "vpc_security_groups[x].ingress[0]"),
    "security group key misspelt": ({"vpc_security_groups": [{"key": "x", "ingres": []}]},
                                    "vpc_security_groups.ingres"),
    "private subnets outside the VPC": (
        {"vpc_private_subnets": ["10.1.0.0/20", "10.1.16.0/20", "10.1.32.0/20"]}, "vpc_private_subnets"),
    "single NAT gateway not a boolean": ({"vpc_single_nat_gateway": "maybe"}, "vpc_single_nat_gateway"),
    # eks
    "Kubernetes version out of EKS support": ({"eks_version": "1.31"}, "eks_version"),
    "Kubernetes version not yet supported": ({"eks_version": "1.36"}, "eks_version"),
    "Kubernetes version as a word": ({"eks_version": "latest"}, "eks_version"),
    "Kubernetes version as a YAML number": ({"eks_version": 1.3}, "eks_version"),
    "public endpoint without CIDRs": ({"eks_public_access_cidrs": []}, "eks_public_access_cidrs"),
    "public endpoint open to the internet": ({"eks_public_access_cidrs": ["0.0.0.0/0"]}, "eks_public_access_cidrs"),
    "public CIDR malformed": ({"eks_public_access_cidrs": ["203.0.113.0/33"]}, "eks_public_access_cidrs"),
    "no endpoint at all": ({"eks_endpoint_public_access": False, "eks_endpoint_private_access": False},
                           "eks_endpoint_private_access"),
    "unknown log type": ({"eks_log_types": ["api", "kubelet"]}, "eks_log_types"),
    "log retention CloudWatch does not offer": ({"eks_log_retention_days": 13}, "eks_log_retention_days"),
    "unknown add-on": ({"eks_addons_after_compute": [{"name": "corends"}]}, "eks_addons_after_compute[0].name"),
    "add-on key misspelt": ({"eks_addons_before_compute": [{"name": "vpc-cni", "verison": "latest"}]},
                            "eks_addons_before_compute[0].verison"),
    "access entry principal not an ARN": ({"eks_access_entries": [{"principal_arn": "admins"}]},
                                          "eks_access_entries[0].principal_arn"),
    "access policy key misspelt": (
        {"eks_access_entries": [{"principal_arn": ROLE, "access_policies": [{"policy": "x", "scope": {}}]}]},
        "eks_access_entries[0].access_policies[0].scope"),
    "negative wait timeout": ({"eks_wait_timeout": -5}, "eks_wait_timeout"),
    "authentication mode EKS lacks": ({"eks_authentication_mode": "LDAP"}, "eks_authentication_mode"),
    "IRSA role name over 64 characters": (
        {"eks_irsa_roles": [{"name": "i" * 65, "service_accounts": [{"namespace": "a", "name": "b"}]}]},
        "eks_irsa_roles[0].name"),
    # nodegroups
    "min above desired": (group(0, scaling={"min_size": 3, "desired_size": 2, "max_size": 4}),
                          "nodegroups_definitions[0].scaling"),
    "desired above max": (group(1, scaling={"min_size": 3, "desired_size": 11, "max_size": 10}),
                          "nodegroups_definitions[1].scaling"),
    "max size beyond the EKS quota": (group(1, scaling={"min_size": 1, "desired_size": 1, "max_size": 100000000000}),
                                      "nodegroups_definitions[1].scaling.max_size"),
    "scaling key misspelt": (group(0, scaling={"min_size": 1, "desired_size": 1, "maxsize": 2}),
                             "nodegroups_definitions[0].scaling.maxsize"),
    "definition key misspelt": (group(2, instance_type=["r5.2xlarge"]), "nodegroups_definitions[2].instance_type"),
    "capacity type": (group(1, capacity_type="PREEMPTIBLE"), "nodegroups_definitions[1].capacity_type"),
    "taint effect": (group(2, taints=[{"key": "workload", "value": "database", "effect": "NoWay"}]),
                     "nodegroups_definitions[2].taints[0].effect"),
    "no instance types": (group(0, instance_types=[]), "nodegroups_definitions[0].instance_types"),
    "instance type that does not exist": (group(0, instance_types=["m5.notreal"]),
                                          "nodegroups_definitions[0].instance_types[0]"),
    "disk below the AMI minimum": (group(0, disk={"size_gb": 8}), "nodegroups_definitions[0].disk.size_gb"),
    "disk type": (group(0, disk={"size_gb": 100, "type": "st1"}), "nodegroups_definitions[0].disk.type"),
    "gp3 IOPS out of range": (group(0, disk={"size_gb": 100, "iops": 99999}), "nodegroups_definitions[0].disk.iops"),
    "duplicate group names": (group(2, name="system"), "nodegroups_definitions[2].name"),
    "negative node group wait": ({"nodegroups_wait_timeout": -1}, "nodegroups_wait_timeout"),
    "recreate a group that does not exist": ({"nodegroups_recreate": ["ghost"]}, "nodegroups_recreate"),
    # kubeconfig
    "misspelt kubeconfig_wait_for_nodes": ({"kubeconfig_wait_for_node": 3}, "kubeconfig_wait_for_node"),
    "authenticator the module lacks": ({"kubeconfig_authenticator": "awscli"}, "kubeconfig_authenticator"),
    "verify timeout of zero": ({"kubeconfig_verify_timeout": 0}, "kubeconfig_verify_timeout"),
    "negative node count": ({"kubeconfig_wait_for_nodes": -1}, "kubeconfig_wait_for_nodes"),
}


def first_of_each_layer() -> list[str]:
    """One case per layer (the first in the table), for the partial runs."""
    seen, cases = set(), []
    for case, (_variables, expected) in CASES.items():
        layer = expected.split("_")[0]
        if layer not in seen:
            seen.add(layer)
            cases.append(case)
    return cases


def write_inventory(directory: Path, cases) -> dict[str, str]:
    """One host per case; returns host -> case."""
    hosts, by_host = {}, {}
    for number, case in enumerate(sorted(cases), start=1):
        variables = CASES[case][0]
        host = f"bad-{number:02d}"
        hosts[host] = {"confirm_destroy": host, **variables}
        by_host[host] = case
    inventory = {"all": {"vars": LOCAL_VARS, "children": {"eks_clusters": {"hosts": hosts}}}}
    (directory / "hosts.yml").write_text(yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8")
    return by_host


def failures_by_host(report: dict) -> dict[str, str]:
    """host -> message of its failed task."""
    failed = {}
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            for host, result in task.get("hosts", {}).items():
                if result.get("failed") and host not in failed:
                    failed[host] = str(result.get("msg", ""))
    return failed




def test_the_table_is_large():
    assert len(CASES) >= 60
    layers = {expected.split("_")[0] for _variables, expected in CASES.values()}
    assert layers == {"llmhub", "iam", "vpc", "eks", "nodegroups", "kubeconfig"}


@pytest.mark.parametrize("playbook, tags, cases", [
    ("site.yml", None, sorted(CASES)),
    # whatever the tags: a layer's bad input stops a run of another layer, and destroy.yml too
    ("site.yml", "nodegroups", first_of_each_layer()),
    ("destroy.yml", "iam", first_of_each_layer()),
], ids=["site-every-case", "site-tags-nodegroups", "destroy-tags-iam"])
def test_every_bad_input_stops_the_run_naming_the_variable_before_any_aws_call(
        playbook, tags, cases, tmp_path, fresh_account, emulator_server):
    directory, by_host = tmp_path, write_inventory(tmp_path, cases)
    command = [str(Path(sys.executable).with_name("ansible-playbook")), str(ROOT / "playbooks" / playbook),
               "-i", str(directory / "hosts.yml"), "--forks", "20", *(["--tags", tags] if tags else [])]
    proc = subprocess.run(command, cwd=ROOT, env=playbook_environment(emulator_server.url), capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode != 0
    report = parse_report(proc.stdout)
    assert report, proc.stdout[-2000:] + proc.stderr[-2000:]
    failed = failures_by_host(report)
    wrong = {}
    for host, case in by_host.items():
        expected = CASES[case][1]
        message = failed.get(host)
        if message is None or expected not in message:
            wrong[case] = message
    assert wrong == {}, json.dumps(wrong, indent=1)
    assert {host: stats.get("failures") for host, stats in report["stats"].items()} == {h: 1 for h in by_host}
    # Nothing was read or changed: the failures came before the first AWS call.
    assert fresh_account.requests() == []


def test_tags_eks_before_the_node_groups_finishes_the_control_plane_and_says_what_follows(fresh_account, run_playbook,
                                                                                         boto):
    first = run_playbook("site.yml", "--tags", "iam,vpc,eks")
    assert first.rc == 0, first.failure_messages()
    said = first.task_results()["Say which add-ons wait for the node groups"]["msg"]
    assert "coredns and aws-ebs-csi-driver need nodes" in said and "--tags nodegroups" in said
    eks = boto("eks")
    assert sorted(eks.list_addons(clusterName=CLUSTER)["addons"]) == ["kube-proxy", "vpc-cni"]
    second = run_playbook("site.yml", "--tags", "nodegroups")
    assert second.rc == 0, second.failure_messages()
    assert sorted(eks.list_addons(clusterName=CLUSTER)["addons"]) == [
        "aws-ebs-csi-driver", "coredns", "kube-proxy", "vpc-cni"]
    statuses = {name: eks.describe_addon(clusterName=CLUSTER, addonName=name)["addon"]["status"]
                for name in ("coredns", "aws-ebs-csi-driver")}
    assert statuses == {"coredns": "ACTIVE", "aws-ebs-csi-driver": "ACTIVE"}


def test_an_unreachable_endpoint_is_named_as_such_not_as_a_credentials_problem():
    env = playbook_environment("http://127.0.0.1:9")  # nothing listens on the discard port
    command = [str(Path(sys.executable).with_name("ansible-playbook")), str(ROOT / "playbooks" / "site.yml"),
               "-i", str(ROOT / "inventories" / "local"), "--tags", "iam"]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0
    failed = failures_by_host(parse_report(proc.stdout))
    message = " ".join(failed.values())
    assert "Cannot reach the AWS endpoint http://127.0.0.1:9" in message and "not the credentials" in message, message
