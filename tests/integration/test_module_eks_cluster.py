"""llmhub.eks.eks_cluster against the emulator, asserted through boto3.

The overview's control plane: Kubernetes 1.32 to 1.35, private and public endpoint
(public restricted by CIDR), KMS envelope encryption of secrets, all five
control plane log types. The emulator's EKS takes time (CREATING -> ACTIVE,
UPDATING -> ACTIVE) so the module's waits and its one-update-at-a-time
sequencing are exercised: EKS (and the emulator) refuse an update while
another one runs.
"""

from __future__ import annotations

import json

import pytest

from .conftest import KNOWN_AFTER_APPLY, mutating_calls

pytestmark = pytest.mark.integration

MODULE = "llmhub.eks.eks_cluster"
CLUSTER = "hub-eks"
PLAIN = "hub-plain"
ALL_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
PROFILE = {"eks_cluster_create": 1.0, "eks_cluster_update": 0.4, "eks_cluster_delete": 0.4}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def prerequisites(boto):
    """VPC, subnets in three AZs (Name-tagged), a security group, the cluster role and a KMS key with an alias."""
    ec2, iam, kms = boto("ec2"), boto("iam"), boto("kms")
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = {}
    for index, az in enumerate(("us-east-1a", "us-east-1b", "us-east-1c")):
        name = f"hub-private-{az}"
        subnets[name] = ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=f"10.0.{index}.0/24", AvailabilityZone=az,
            TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": name}]}],
        )["Subnet"]["SubnetId"]
    group_id = ec2.create_security_group(GroupName="hub-eks-extra", Description="extra", VpcId=vpc_id)["GroupId"]
    role_arn = iam.create_role(RoleName="hub-eks-cluster", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.attach_role_policy(RoleName="hub-eks-cluster", PolicyArn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
    key_arn = kms.create_key(Description="hub eks secrets")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/hub-eks", TargetKeyId=key_arn)
    return {"vpc_id": vpc_id, "subnets": subnets, "group_id": group_id, "role_arn": role_arn, "key_arn": key_arn}


def cluster_args(**overrides):
    args = {
        "name": CLUSTER,
        "version": "1.32",
        "role": "hub-eks-cluster",
        "subnets": ["hub-private-us-east-1a", "hub-private-us-east-1b"],
        "security_groups": ["hub-eks-extra"],
        "endpoint_private_access": True,
        "endpoint_public_access": True,
        "public_access_cidrs": ["203.0.113.0/24", "198.51.100.0/24"],
        "encryption_key": "alias/hub-eks",
        "logging": ALL_LOGS,
        "authentication_mode": "API_AND_CONFIG_MAP",
        "tags": {"Project": "llm-analytics-hub", "Environment": "test"},
    }
    args.update(overrides)
    return args


def task(name, args, **extra):
    return {"name": name, MODULE: args, **extra}


def eks_mutations(control):
    return [call for call in mutating_calls(control) if call.startswith("eks:")]


def test_cluster_lifecycle(fresh_account, run_tasks, boto):
    fresh_account.configure(profile=PROFILE)
    prereq = prerequisites(boto)
    eks = boto("eks")
    fresh_account.clear_requests()

    # Plan, create (names resolved), then the same again.
    run = run_tasks([
        task("plan", cluster_args(), check_mode=True, diff=True),
        task("create", cluster_args()),
        task("again", cluster_args()),
        task("create plain", {"name": PLAIN, "role": prereq["role_arn"], "subnets": list(prereq["subnets"].values()),
                              "logging": [], "authentication_mode": "CONFIG_MAP", "security_groups": []}),
    ])
    assert run.rc == 0, run.failure_messages()
    results = run.task_results()
    plan = results["plan"]
    assert plan["changed"] is True and plan["cluster"] == {} and plan["diff"]["before"] == {}
    assert plan["diff"]["after"]["public_access_cidrs"] == ["198.51.100.0/24", "203.0.113.0/24"]
    assert plan["diff"]["after"]["encryption_key_arn"] == prereq["key_arn"]
    created = results["create"]
    assert created["changed"] is True and created["status"] == "ACTIVE"
    assert results["again"]["changed"] is False and results["again"]["updates"] == []
    # Only the two creates mutated anything (the first then put its tags on the cluster security group EKS made;
    # the plain one has no tags): the plan and the second run made no call that changes AWS.
    assert mutating_calls(fresh_account) == ["eks:CreateCluster", "ec2:CreateTags", "eks:CreateCluster"]

    cluster = eks.describe_cluster(name=CLUSTER)["cluster"]
    vpc = cluster["resourcesVpcConfig"]
    assert cluster["version"] == "1.32" and cluster["status"] == "ACTIVE"
    assert cluster["roleArn"] == prereq["role_arn"]
    assert sorted(vpc["subnetIds"]) == sorted([prereq["subnets"]["hub-private-us-east-1a"],
                                               prereq["subnets"]["hub-private-us-east-1b"]])
    assert vpc["securityGroupIds"] == [prereq["group_id"]]
    assert vpc["endpointPrivateAccess"] is True and vpc["endpointPublicAccess"] is True
    assert sorted(vpc["publicAccessCidrs"]) == ["198.51.100.0/24", "203.0.113.0/24"]
    assert cluster["encryptionConfig"] == [{"resources": ["secrets"], "provider": {"keyArn": prereq["key_arn"]}}]
    enabled = [t for group in cluster["logging"]["clusterLogging"] if group["enabled"] for t in group["types"]]
    assert sorted(enabled) == sorted(ALL_LOGS)
    assert cluster["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"
    assert cluster["tags"] == {"Project": "llm-analytics-hub", "Environment": "test"}
    assert created["arn"] == cluster["arn"] and created["endpoint"] == cluster["endpoint"]
    assert created["oidc_issuer"] == cluster["identity"]["oidc"]["issuer"]
    assert created["certificate_authority_data"] == cluster["certificateAuthority"]["data"]
    assert created["cluster_security_group_id"] == vpc["clusterSecurityGroupId"]
    # tag_cluster_security_group (default true): the cluster's tags added to the group EKS made, EKS's kept
    [group] = boto("ec2").describe_security_groups(GroupIds=[vpc["clusterSecurityGroupId"]])["SecurityGroups"]
    group_tags = {t["Key"]: t["Value"] for t in group["Tags"]}
    assert {k: group_tags.get(k) for k in ("Project", "Environment", "aws:eks:cluster-name")} == {
        "Project": "llm-analytics-hub", "Environment": "test", "aws:eks:cluster-name": CLUSTER}
    assert created["cluster"]["resources_vpc_config"]["public_access_cidrs"] == vpc["publicAccessCidrs"]
    plain = eks.describe_cluster(name=PLAIN)["cluster"]
    assert "encryptionConfig" not in plain and plain["accessConfig"]["authenticationMode"] == "CONFIG_MAP"

    # Check + diff of a change of public CIDRs and logging, then the real run: in place, one update each.
    fresh_account.clear_requests()
    change = cluster_args(public_access_cidrs=["203.0.113.0/24"], logging=["api", "audit"])
    run = run_tasks([task("preview", change, check_mode=True, diff=True), task("apply", change, diff=True)])
    assert run.rc == 0, run.failure_messages()
    preview, applied = run.task_results()["preview"], run.task_results()["apply"]
    assert preview["changed"] is True
    assert preview["diff"]["before"]["public_access_cidrs"] == ["198.51.100.0/24", "203.0.113.0/24"]
    assert preview["diff"]["after"]["public_access_cidrs"] == ["203.0.113.0/24"]
    assert preview["diff"]["before"]["logging"] == sorted(ALL_LOGS)
    assert preview["diff"]["after"]["logging"] == ["api", "audit"]
    assert [u["type"] for u in preview["updates"]] == ["EndpointAccessUpdate", "LoggingUpdate"]
    assert all(u["id"] == KNOWN_AFTER_APPLY for u in preview["updates"])
    assert applied["changed"] is True and applied["arn"] == cluster["arn"] and applied["status"] == "ACTIVE"
    assert [(u["type"], u["status"]) for u in applied["updates"]] == [("EndpointAccessUpdate", "Successful"),
                                                                      ("LoggingUpdate", "Successful")]
    # The preview mutated nothing: the two updates are the real run's.
    assert eks_mutations(fresh_account) == ["eks:UpdateClusterConfig", "eks:UpdateClusterConfig"]
    cluster = eks.describe_cluster(name=CLUSTER)["cluster"]
    assert cluster["resourcesVpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert [g["types"] for g in cluster["logging"]["clusterLogging"] if g["enabled"]] == [["api", "audit"]]
    recorded = eks.list_updates(name=CLUSTER)["updateIds"]
    assert [u["id"] for u in applied["updates"]] == recorded

    # Upgrade one minor version; two minors, a subnet change and going back to CONFIG_MAP are refused;
    # the plain cluster gets encryption, two authentication mode steps and new tags, one update at a time.
    fresh_account.clear_requests()
    current = cluster_args(public_access_cidrs=["203.0.113.0/24"], logging=["api", "audit"])
    run = run_tasks([
        task("upgrade", {**current, "version": "1.33"}),
        task("jump", {**current, "version": "1.35"}, ignore_errors=True),
        task("move", {**current, "version": "1.33", "subnets": ["hub-private-us-east-1a", "hub-private-us-east-1c"]},
             ignore_errors=True),
        task("back", {**current, "version": "1.33", "authentication_mode": "CONFIG_MAP"}, ignore_errors=True),
        task("secure plain", {"name": PLAIN, "logging": [], "encryption_key": prereq["key_arn"].split("/")[-1],
                              "authentication_mode": "API", "tags": {"Team": "platform"}}),
    ])
    assert run.rc == 0, run.failure_messages()
    results = run.task_results()
    assert [u["type"] for u in results["upgrade"]["updates"]] == ["VersionUpdate"]
    assert results["upgrade"]["version"] == "1.33" and results["upgrade"]["arn"] == cluster["arn"]
    jump = results["jump"]
    assert jump["failed"] and "version" in jump["msg"] and "next minor" in jump["msg"] and "1.34" in jump["msg"]
    move = results["move"]
    assert move["failed"] and "subnets" in move["msg"] and "new cluster" in move["msg"]
    back = results["back"]
    assert back["failed"] and "authentication_mode" in back["msg"] and "CONFIG_MAP" in back["msg"]
    secured = results["secure plain"]
    assert [u["type"] for u in secured["updates"]] == ["AccessConfigUpdate", "AccessConfigUpdate",
                                                       "AssociateEncryptionConfig"]
    assert eks_mutations(fresh_account) == ["eks:UpdateClusterVersion", "eks:TagResource", "eks:UpdateClusterConfig",
                                            "eks:UpdateClusterConfig", "eks:AssociateEncryptionConfig"]
    assert eks.describe_cluster(name=CLUSTER)["cluster"]["version"] == "1.33"
    plain = eks.describe_cluster(name=PLAIN)["cluster"]
    assert plain["encryptionConfig"][0]["provider"]["keyArn"] == prereq["key_arn"]
    assert plain["accessConfig"]["authenticationMode"] == "API"
    assert plain["tags"] == {"Team": "platform"}
    # Nothing else changed on the refused clusters.
    assert sorted(eks.describe_cluster(name=CLUSTER)["cluster"]["resourcesVpcConfig"]["subnetIds"]) == sorted(
        [prereq["subnets"]["hub-private-us-east-1a"], prereq["subnets"]["hub-private-us-east-1b"]])

    # Delete: refused while a node group remains (named), then done and waited for.
    node_role = boto("iam").create_role(RoleName="hub-node", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    eks.create_nodegroup(clusterName=CLUSTER, nodegroupName="system", nodeRole=node_role,
                         subnets=list(prereq["subnets"].values())[:2])
    run = run_tasks([task("delete", {"name": CLUSTER, "state": "absent"})])
    assert run.rc != 0 and "system" in run.failure_messages() and "node groups" in run.failure_messages()
    assert eks.describe_cluster(name=CLUSTER)["cluster"]["status"] == "ACTIVE"
    eks.delete_nodegroup(clusterName=CLUSTER, nodegroupName="system")
    eks.get_waiter("nodegroup_deleted").wait(clusterName=CLUSTER, nodegroupName="system",
                                              WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    run = run_tasks([
        task("delete", {"name": CLUSTER, "state": "absent"}, diff=True),
        task("delete plain", {"name": PLAIN, "state": "absent"}),
        task("delete again", {"name": CLUSTER, "state": "absent"}),
    ])
    assert run.rc == 0, run.failure_messages()
    results = run.task_results()
    assert results["delete"]["changed"] is True and results["delete"]["diff"]["after"] == {}
    assert results["delete"]["diff"]["before"]["version"] == "1.33"
    assert results["delete again"]["changed"] is False
    assert eks.list_clusters()["clusters"] == []


BAD_INPUT = {
    "version below 1.32": ({"version": "1.31"}, "version"),
    "version above 1.35": ({"version": "1.36"}, "version"),
    "version not MAJOR.MINOR": ({"version": "latest"}, "version"),
    "invalid public CIDR": ({"public_access_cidrs": ["203.0.113.300/24"]}, "public_access_cidrs"),
    "CIDR with host bits": ({"public_access_cidrs": ["203.0.113.1/24"]}, "public_access_cidrs"),
    "no public CIDR with a public endpoint": ({"public_access_cidrs": []}, "public_access_cidrs"),
    "unknown log type": ({"logging": ["api", "kubelet"]}, "logging"),
    "no endpoint at all": ({"endpoint_private_access": False, "endpoint_public_access": False},
                           "endpoint_private_access"),
    "service CIDR out of range": ({"service_ipv4_cidr": "100.64.0.0/16"}, "service_ipv4_cidr"),
    "unknown authentication mode": ({"authentication_mode": "IAM"}, "authentication_mode"),
    "invalid name": ({"name": "hub eks!"}, "name"),
}


def test_bad_input_fails_before_any_aws_call(fresh_account, run_tasks):
    tasks = [task(case, cluster_args(**overrides), ignore_errors=True) for case, (overrides, _option) in BAD_INPUT.items()]
    run = run_tasks(tasks)
    results = run.task_results()
    for case, (_overrides, option) in BAD_INPUT.items():
        assert results[case].get("failed"), (case, results[case])
        assert option in results[case]["msg"], (case, results[case]["msg"])
    assert fresh_account.requests() == []
