"""Check mode on an empty account, interrupted runs, throttling, destroy."""

from __future__ import annotations

import pytest

from .conftest import CLUSTER, kill_process_group, mutating_calls, wait_for

pytestmark = pytest.mark.integration


def _live_nat_gateways(ec2):
    return [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] not in ("deleted", "deleting")]


def test_check_diff_on_empty_account_creates_nothing(fresh_account, run_playbook, boto):
    check = run_playbook("site.yml", "--check", "--diff")
    assert check.rc == 0, check.failure_messages()
    changed = check.changed_tasks()
    for task in ("Ensure the VPC with DNS support and hostnames",
                 "Ensure the private, public and intra subnets of every AZ",
                 "Ensure the NAT gateways and their Elastic IPs (requested together, waited on once)",
                 "Ensure the security groups and their rules",
                 "Ensure the route tables, their routes and subnet associations",
                 "Ensure the S3 gateway endpoint and the interface endpoints",
                 "Ensure the VPC flow logs, their log group retention and delivery role"):
        assert task in changed
    subnets_diff = check.task_results()["Ensure the private, public and intra subnets of every AZ"]["diff"]
    planned = subnets_diff[0]["after"] if isinstance(subnets_diff, list) else subnets_diff["after"]
    assert planned[f"{CLUSTER}-private-us-east-1a"]["cidr"] == "10.0.0.0/20"
    assert mutating_calls(fresh_account) == []
    assert boto("ec2").describe_vpcs(Filters=[{"Name": "tag:llmhub.io/cluster", "Values": [CLUSTER]}])["Vpcs"] == []


def test_interrupted_after_nat_requests_rerun_leaves_three_nat_gateways(fresh_account, start_playbook,
                                                                         run_playbook, boto):
    # NAT gateways stay pending for 3 s: the run is killed while waiting on them.
    fresh_account.configure(profile={"nat_gateway_create": 3})
    process = start_playbook("site.yml", "--tags", "vpc")

    def nat_requests():
        return [e for e in fresh_account.requests() if e["operation"] == "CreateNatGateway" and e["status"] == 200]

    wait_for(lambda: len(nat_requests()) == 3, timeout=120)
    kill_process_group(process)
    ec2 = boto("ec2")
    assert {n["State"] for n in _live_nat_gateways(ec2)} == {"pending"}

    # the killed run's lock holds: the re-run is refused, naming it, until told to take it over
    refused = run_playbook("site.yml", "--tags", "vpc")
    assert refused.rc != 0 and "deploy_lock_takeover_owner=" in refused.failure_messages()
    holder = boto("dynamodb").get_item(TableName="llmhub-deploy-locks",
                                       Key={"lock_name": {"S": CLUSTER}})["Item"]["owner"]["S"]
    rerun = run_playbook("site.yml", "--tags", "vpc", "-e", f"deploy_lock_takeover_owner='{holder}'")
    assert rerun.rc == 0, rerun.failure_messages()
    nats = _live_nat_gateways(ec2)
    assert len(nats) == 3 and {n["State"] for n in nats} == {"available"}
    assert len(ec2.describe_addresses()["Addresses"]) == 3
    assert len(nat_requests()) == 3


def test_deploy_succeeds_with_ten_percent_of_calls_throttled(fresh_account, run_playbook, boto):
    fresh_account.configure(fault_rate=0.1, faults=["throttle"], seed=20261125)
    run = run_playbook("site.yml")
    assert run.rc == 0, run.failure_messages()
    throttled = [e for e in fresh_account.requests() if e["fault"] == "throttle"]
    assert throttled, "the emulator throttled no call"
    fresh_account.configure(fault_rate=0.0)
    ec2 = boto("ec2")
    assert len(_live_nat_gateways(ec2)) == 3
    assert len(ec2.describe_vpc_endpoints()["VpcEndpoints"]) == 8
    assert len(ec2.describe_addresses()["Addresses"]) == 3


def _made_for_the_cluster(boto):
    """Load balancers and target groups tagged elbv2.k8s.aws/cluster, volumes and ENIs tagged for the cluster."""
    elbv2, ec2 = boto("elbv2"), boto("ec2")

    def tagged(arns):
        found = []
        for start in range(0, len(arns), 20):
            for description in elbv2.describe_tags(ResourceArns=arns[start:start + 20])["TagDescriptions"]:
                if {"Key": "elbv2.k8s.aws/cluster", "Value": CLUSTER} in description["Tags"]:
                    found.append(description["ResourceArn"])
        return found

    cluster_tag = [{"Name": "tag-key", "Values": [f"kubernetes.io/cluster/{CLUSTER}"]}]
    return {
        "load balancers": tagged([b["LoadBalancerArn"] for b in elbv2.describe_load_balancers()["LoadBalancers"]]),
        "target groups": tagged([g["TargetGroupArn"] for g in elbv2.describe_target_groups()["TargetGroups"]]),
        "volumes": [v["VolumeId"] for v in ec2.describe_volumes(Filters=cluster_tag)["Volumes"]
                    if v["State"] != "deleted"],
        "network interfaces": [n["NetworkInterfaceId"] for n in ec2.describe_network_interfaces(
            Filters=cluster_tag)["NetworkInterfaces"]] + [n["NetworkInterfaceId"] for n in ec2.describe_network_interfaces(
                Filters=[{"Name": "tag:elbv2.k8s.aws/cluster", "Values": [CLUSTER]}])["NetworkInterfaces"]],
    }


def test_destroy_requires_confirmation_and_removes_everything(fresh_account, run_playbook, boto):
    built = run_playbook("site.yml")
    assert built.rc == 0, built.failure_messages()
    refused = run_playbook("destroy.yml", "-e", "confirm_destroy=some-other-cluster")
    assert refused.rc != 0
    assert "confirm_destroy=llm-analytics-hub-prod-eks" in refused.failure_messages()
    ec2 = boto("ec2")
    assert len(ec2.describe_vpcs(Filters=[{"Name": "tag:llmhub.io/cluster", "Values": [CLUSTER]}])["Vpcs"]) == 1

    # what the cluster made from inside (the example app's ALB and its cache's gp3 volume) exists before the destroy
    assert _made_for_the_cluster(boto)["load balancers"] and _made_for_the_cluster(boto)["volumes"]

    destroyed = run_playbook("destroy.yml", "-e", f"confirm_destroy={CLUSTER}")
    assert destroyed.rc == 0, destroyed.failure_messages()
    assert _made_for_the_cluster(boto) == {"load balancers": [], "target groups": [], "volumes": [],
                                           "network interfaces": []}
    assert ec2.describe_vpcs(Filters=[{"Name": "tag:llmhub.io/cluster", "Values": [CLUSTER]}])["Vpcs"] == []
    assert _live_nat_gateways(ec2) == []
    assert ec2.describe_addresses()["Addresses"] == []
    assert boto("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"] == []  # the hardening layer's web ACL
    # the account's GuardDuty detector stays (shared by the clusters of the region)
    assert len(boto("guardduty").list_detectors()["DetectorIds"]) == 1
    assert ec2.describe_vpc_endpoints()["VpcEndpoints"] == []
    assert boto("logs").describe_log_groups(logGroupNamePrefix=f"/aws/vpc/{CLUSTER}")["logGroups"] == []
    roles = [r["RoleName"] for r in boto("iam").list_roles()["Roles"]]
    assert [r for r in roles if r.startswith(CLUSTER)] == []
    assert boto("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    assert boto("eks").list_clusters()["clusters"] == []
    assert boto("logs").describe_log_groups(logGroupNamePrefix=f"/aws/eks/{CLUSTER}")["logGroups"] == []
    assert boto("logs").describe_log_groups(logGroupNamePrefix=f"/aws/containerinsights/{CLUSTER}")["logGroups"] == []
    assert boto("ec2").describe_launch_templates()["LaunchTemplates"] == []
    key = boto("kms").describe_key(KeyId=f"alias/{CLUSTER}")["KeyMetadata"]
    assert key["KeyState"] == "PendingDeletion"
    again = run_playbook("destroy.yml", "-e", f"confirm_destroy={CLUSTER}")
    assert again.rc == 0 and again.changed == 0
