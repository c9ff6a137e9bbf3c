"""destroy.yml leaves nothing (issue 15, item 6): a built platform plus leftovers made around it (an available
network interface, an ALB with its target group, an Elastic IP, security groups that reference each other, a log
group, a launch template, a volume, a snapshot, an IAM policy, and a second VPC with the cluster's name, CIDR,
subnets and internet gateway, as two site.yml runs at once leave) is destroyed, and an enumeration of every service
the collection touches finds nothing tagged for the cluster.

One platform is shared by the module's tests, in file order. It is deployed with 10% of the AWS calls throttled
(seeded): that deploy succeeding and building the whole platform is the first test; then check mode (lists, deletes
nothing), then the destroy (refused without the cluster's name as confirmation; afterwards nothing the platform or
the cluster made from inside, its load balancers and volumes, is left), then a second destroy that changes nothing.
(The throttled deploy and the destroy's checks were test_vpc_resilience.py's, on two deploys of their own.)
"""

from __future__ import annotations

import pytest

from .conftest import CLUSTER, empty_account, mutating_calls

pytestmark = pytest.mark.integration

SWEEP = "Sweep what is left of the cluster (tagged for it, or inside its VPCs), in dependency order"
CONFIRM = ("-e", f"confirm_destroy={CLUSTER}")
# Every tag that makes a resource the cluster's (ours, EKS's, the controllers')
CLUSTER_TAGS = {
    "llmhub.io/cluster": CLUSTER, f"kubernetes.io/cluster/{CLUSTER}": "owned", "elbv2.k8s.aws/cluster": CLUSTER,
    "KubernetesCluster": CLUSTER, "eks:cluster-name": CLUSTER, "aws:eks:cluster-name": CLUSTER,
    "cluster.k8s.amazonaws.com/name": CLUSTER,
}


def tags_of(tag_list, key="Key", value="Value"):
    return {t[key]: t.get(value) for t in tag_list or []}


def is_the_clusters(tags):
    return any(tags.get(k) == v for k, v in CLUSTER_TAGS.items())


def tag_list(**tags):
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def backup_schedule(boto):
    """What a destroy keeps unless destroy_snapshots=true: the DLM policy site.yml made (tag backup), its role."""
    dlm = boto("dlm")
    policies = [s["PolicyId"] for s in dlm.get_lifecycle_policies()["Policies"]
                if dlm.get_lifecycle_policy(PolicyId=s["PolicyId"])["Policy"].get("Tags", {}).get(
                    "llmhub.io/cluster") == CLUSTER]
    return [f"DLM policy {p}" for p in policies] + [f"IAM role {CLUSTER}-dlm"]


def tagged_for_the_cluster(boto) -> list[str]:
    """Everything of every service the collection touches that is tagged for the cluster (or named for it)."""
    ec2, elbv2, elb, logs, iam = boto("ec2"), boto("elbv2"), boto("elb"), boto("logs"), boto("iam")
    left = []
    for operation, key, ident, tags_key in (
            ("describe_vpcs", "Vpcs", "VpcId", "Tags"), ("describe_subnets", "Subnets", "SubnetId", "Tags"),
            ("describe_security_groups", "SecurityGroups", "GroupId", "Tags"),
            ("describe_network_interfaces", "NetworkInterfaces", "NetworkInterfaceId", "TagSet"),
            ("describe_addresses", "Addresses", "AllocationId", "Tags"),
            ("describe_internet_gateways", "InternetGateways", "InternetGatewayId", "Tags"),
            ("describe_route_tables", "RouteTables", "RouteTableId", "Tags"),
            ("describe_launch_templates", "LaunchTemplates", "LaunchTemplateId", "Tags"),
            ("describe_volumes", "Volumes", "VolumeId", "Tags"),
            ("describe_network_acls", "NetworkAcls", "NetworkAclId", "Tags")):
        left += [f"{key} {r[ident]}" for r in getattr(ec2, operation)()[key]
                 if is_the_clusters(tags_of(r.get(tags_key))) and r.get("State") != "deleted"]
    left += [f"NatGateways {n['NatGatewayId']}" for n in ec2.describe_nat_gateways()["NatGateways"]
             if is_the_clusters(tags_of(n.get("Tags"))) and n["State"] not in ("deleted", "deleting")]
    left += [f"VpcEndpoints {e['VpcEndpointId']}" for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
             if is_the_clusters(tags_of(e.get("Tags"))) and e["State"].lower() != "deleted"]
    left += [f"Instances {i['InstanceId']}" for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
             if is_the_clusters(tags_of(i.get("Tags"))) and i["State"]["Name"] != "terminated"]
    for arn in ([b["LoadBalancerArn"] for b in elbv2.describe_load_balancers()["LoadBalancers"]]
                + [g["TargetGroupArn"] for g in elbv2.describe_target_groups()["TargetGroups"]]):
        if is_the_clusters(tags_of(elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"])):
            left.append(f"elbv2 {arn}")
    for balancer in elb.describe_load_balancers()["LoadBalancerDescriptions"]:
        name = balancer["LoadBalancerName"]
        if is_the_clusters(tags_of(elb.describe_tags(LoadBalancerNames=[name])["TagDescriptions"][0]["Tags"])):
            left.append(f"elb {name}")
    for group in logs.describe_log_groups()["logGroups"]:
        tags = logs.list_tags_for_resource(resourceArn=group["arn"].removesuffix(":*"))["tags"]
        if is_the_clusters(tags) or f"/{CLUSTER}/" in group["logGroupName"]:
            left.append(f"log group {group['logGroupName']}")
    left += [f"IAM role {r['RoleName']}" for r in iam.list_roles()["Roles"]
             if is_the_clusters(tags_of(iam.list_role_tags(RoleName=r["RoleName"])["Tags"]))
             or r["RoleName"].startswith(CLUSTER)]
    left += [f"IAM policy {p['Arn']}" for p in iam.list_policies(Scope="Local")["Policies"]
             if is_the_clusters(tags_of(iam.list_policy_tags(PolicyArn=p["Arn"])["Tags"]))]
    left += [f"instance profile {p['InstanceProfileName']}" for p in iam.list_instance_profiles()["InstanceProfiles"]
             if is_the_clusters(tags_of(p.get("Tags")))]
    left += [f"OIDC provider {p['Arn']}" for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
             if is_the_clusters(tags_of(iam.list_open_id_connect_provider_tags(
                 OpenIDConnectProviderArn=p["Arn"])["Tags"]))]
    eks = boto("eks")
    for name in eks.list_clusters()["clusters"]:
        cluster = eks.describe_cluster(name=name)["cluster"]
        if name == CLUSTER or is_the_clusters(cluster.get("tags") or {}):
            left.append(f"EKS cluster {name}")
        left += [f"node group {name}/{g}" for g in eks.list_nodegroups(clusterName=name)["nodegroups"]]
    kms = boto("kms")
    for key in kms.list_keys()["Keys"]:
        metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        tags = tags_of(kms.list_resource_tags(KeyId=key["KeyId"])["Tags"], "TagKey", "TagValue")
        if is_the_clusters(tags) and metadata["KeyState"] != "PendingDeletion":
            left.append(f"KMS key {key['KeyId']} ({metadata['KeyState']})")
    # secrets scheduled for deletion are kept (restorable for 7 days), like the KMS keys pending deletion
    left += [f"secret {entry['Name']}" for entry in boto("secretsmanager").list_secrets()["SecretList"]
             if is_the_clusters(tags_of(entry.get("Tags")))]
    lambdas = boto("lambda")
    left += [f"Lambda function {f['FunctionName']}" for f in lambdas.list_functions()["Functions"]
             if is_the_clusters(lambdas.list_tags(Resource=f["FunctionArn"])["Tags"])]
    dlm = boto("dlm")
    for summary in dlm.get_lifecycle_policies()["Policies"]:
        policy = dlm.get_lifecycle_policy(PolicyId=summary["PolicyId"])["Policy"]
        targets = tags_of(policy["PolicyDetails"].get("TargetTags"))
        if is_the_clusters(policy.get("Tags") or {}) or is_the_clusters(targets):
            left.append(f"DLM policy {summary['PolicyId']}")
    left += [f"Auto Scaling group {g['AutoScalingGroupName']}"
             for g in boto("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
             if is_the_clusters(tags_of(g.get("Tags")))]
    return left


def live_nat_gateways(ec2):
    return [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] not in ("deleted", "deleting")]


def made_for_the_cluster(boto):
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


@pytest.fixture(scope="module")
def throttled_platform(emulator_server, run_playbook, control, boto):
    """site.yml on a fresh account with 10% of the calls throttled (seeded), and what it left, read before anything
    else is made around it."""
    empty_account(control, emulator_server.url)
    control.configure(profile="instant", scale=1.0, fault_rate=0.1, faults=["throttle"], seed=20261125)
    try:
        run = run_playbook("site.yml")
        throttled = [e for e in control.requests() if e["fault"] == "throttle"]
    finally:
        control.configure(profile="instant", scale=1.0, fault_rate=0.0, faults=["throttle", "5xx"], seed=None)
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    ec2 = boto("ec2")
    return {"run": run, "throttled": throttled, "nat_gateways": live_nat_gateways(ec2),
            "endpoints": ec2.describe_vpc_endpoints()["VpcEndpoints"], "addresses": ec2.describe_addresses()["Addresses"],
            "made_inside": made_for_the_cluster(boto)}


@pytest.fixture(scope="module")
def leftovers(throttled_platform, boto):
    """What the platform's own removal does not know by name, made around the built platform."""
    ec2, elbv2, logs, iam = boto("ec2"), boto("elbv2"), boto("logs"), boto("iam")
    [vpc] = ec2.describe_vpcs(Filters=[{"Name": "tag:llmhub.io/cluster", "Values": [CLUSTER]}])["Vpcs"]
    vpc_id, cidr, name = vpc["VpcId"], vpc["CidrBlock"], tags_of(vpc["Tags"])["Name"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                            {"Name": "tag:llmhub.io/tier", "Values": ["private"]}])["Subnets"]
    ours = tag_list(**{"llmhub.io/cluster": CLUSTER})
    made = {}
    # a network interface the VPC CNI left detached
    made["eni"] = ec2.create_network_interface(
        SubnetId=subnets[0]["SubnetId"], Description="aws-K8S-i-0123456789abcdef0",
        TagSpecifications=[{"ResourceType": "network-interface",
                            "Tags": tag_list(**{"cluster.k8s.amazonaws.com/name": CLUSTER})}],
    )["NetworkInterface"]["NetworkInterfaceId"]
    # an ALB and its target group the AWS Load Balancer Controller made for an Ingress gone long ago: no controller
    # deletes them, eks_cloud_resources does not wait for them (not of an object it found), the sweep removes them
    controller = tag_list(**{"elbv2.k8s.aws/cluster": CLUSTER, "ingress.k8s.aws/stack": "shop/web-gone"})
    made["alb"] = elbv2.create_load_balancer(Name="k8s-shop-web-left", Subnets=[s["SubnetId"] for s in subnets[:2]],
                                             Tags=controller)["LoadBalancers"][0]["LoadBalancerArn"]
    made["target_group"] = elbv2.create_target_group(Name="k8s-shop-web-tg", Protocol="HTTP", Port=80, VpcId=vpc_id,
                                                     TargetType="ip", Tags=controller)["TargetGroups"][0]["TargetGroupArn"]
    made["eip"] = ec2.allocate_address(Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip",
                                                                        "Tags": ours}])["AllocationId"]
    # two extra security groups whose rules reference each other (neither goes before the rules do)
    groups = [ec2.create_security_group(GroupName=f"{CLUSTER}-extra-{n}", Description="left behind", VpcId=vpc_id,
                                        TagSpecifications=[{"ResourceType": "security-group", "Tags": ours}])["GroupId"]
              for n in (1, 2)]
    for group, other in ((groups[0], groups[1]), (groups[1], groups[0])):
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": other}]}])
    made["security_groups"] = groups
    made["log_group"] = f"/aws/eks/{CLUSTER}/audit-export"
    logs.create_log_group(logGroupName=made["log_group"])
    logs.create_log_group(logGroupName="/llmhub/extra-events", tags={"llmhub.io/cluster": CLUSTER})
    made["tagged_log_group"] = "/llmhub/extra-events"
    made["launch_template"] = ec2.create_launch_template(
        LaunchTemplateName="eks-left-template", LaunchTemplateData={"InstanceType": "m5.large"},
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": tag_list(**{"eks:cluster-name": CLUSTER})}],
    )["LaunchTemplate"]["LaunchTemplateId"]
    made["volume"] = ec2.create_volume(AvailabilityZone=subnets[0]["AvailabilityZone"], Size=10, TagSpecifications=[
        {"ResourceType": "volume", "Tags": tag_list(**{f"kubernetes.io/cluster/{CLUSTER}": "owned",
                                                       "KubernetesCluster": CLUSTER})}])["VolumeId"]
    # a backup: kept unless destroy_snapshots=true
    made["snapshot"] = ec2.create_snapshot(VolumeId=made["volume"], TagSpecifications=[
        {"ResourceType": "snapshot", "Tags": tag_list(KubernetesCluster=CLUSTER, **{"aws:dlm:lifecycle-policy-id":
                                                                                    "policy-0123456789abcdef0"})}]
    )["SnapshotId"]
    made["policy"] = iam.create_policy(PolicyName=f"{CLUSTER}-extra", PolicyDocument=(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}'),
        Tags=ours)["Policy"]["Arn"]
    # the duplicate VPC of two runs at once: same name, CIDR and tags, with subnets and an internet gateway
    second = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=[
        {"ResourceType": "vpc", "Tags": tag_list(Name=name, **{"llmhub.io/cluster": CLUSTER})}])["Vpc"]["VpcId"]
    made["second_vpc"] = second
    made["second_subnets"] = [ec2.create_subnet(VpcId=second, CidrBlock=s["CidrBlock"], TagSpecifications=[
        {"ResourceType": "subnet", "Tags": s["Tags"]}])["Subnet"]["SubnetId"] for s in subnets]
    igw = ec2.create_internet_gateway(TagSpecifications=[{"ResourceType": "internet-gateway", "Tags": ours}])
    made["second_igw"] = igw["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=made["second_igw"], VpcId=second)
    table = ec2.create_route_table(VpcId=second)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=made["second_subnets"][0])
    made["second_route_table"] = table
    assert len(ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name]}])["Vpcs"]) == 2
    return made


def test_the_deploy_succeeds_with_ten_percent_of_calls_throttled(throttled_platform):
    assert throttled_platform["throttled"], "the emulator throttled no call"
    assert len(throttled_platform["nat_gateways"]) == 3
    assert len(throttled_platform["endpoints"]) == 8
    assert len(throttled_platform["addresses"]) == 3


def test_check_mode_lists_the_leftovers_and_deletes_nothing(leftovers, run_playbook, control, boto):
    before = sorted(tagged_for_the_cluster(boto))
    control.clear_requests()
    check = run_playbook("destroy.yml", "--check", *CONFIRM)
    assert check.rc == 0, check.failure_messages() or check.stdout[-3000:]
    assert mutating_calls(control) == []
    assert sorted(tagged_for_the_cluster(boto)) == before
    sweep = check.task_results()[SWEEP]
    would = {(r["type"], r["id"]) for r in sweep["deleted"]}
    expected = {("network_interfaces", leftovers["eni"]), ("load_balancers", leftovers["alb"]),
                ("target_groups", leftovers["target_group"]), ("elastic_ips", leftovers["eip"]),
                ("log_groups", leftovers["log_group"]), ("log_groups", leftovers["tagged_log_group"]),
                ("launch_templates", leftovers["launch_template"]), ("volumes", leftovers["volume"]),
                ("iam_policies", leftovers["policy"]), ("vpcs", leftovers["second_vpc"]),
                ("internet_gateways", leftovers["second_igw"]),
                ("route_tables", leftovers["second_route_table"])}
    expected |= {("security_groups", g) for g in leftovers["security_groups"]}
    expected |= {("subnets", s) for s in leftovers["second_subnets"]}
    assert expected <= would, expected - would
    # the platform itself is listed too (nothing was removed before the sweep in check mode)
    assert {"eks_clusters", "vpcs", "iam_roles", "kms_keys", "nat_gateways"} <= {t for t, _ in would}
    kept = {k["id"]: k for k in sweep["kept"]}
    assert "Data Lifecycle Manager" in kept[leftovers["snapshot"]]["reason"]
    assert "destroy_snapshots=true" in kept[leftovers["snapshot"]]["reason"]
    # in check mode the example application's claim still holds its volume (step 2 would delete the claim first):
    # the driver's volumes are data, kept by the sweep unless destroy_volumes=true; the backup schedule site.yml
    # made (DLM policy and its role) is kept with the snapshots
    assert {k["type"] for k in kept.values()} == {"snapshots", "volumes", "dlm_policies", "iam_roles"}
    assert [k["id"] for k in kept.values() if k["type"] == "iam_roles"] == [f"{CLUSTER}-dlm"]
    assert all("EBS CSI driver" in k["reason"] for k in kept.values() if k["type"] == "volumes")
    assert sweep["remaining"] == [] and not sweep.get("failed")


def test_destroy_leaves_nothing_tagged_for_the_cluster(throttled_platform, leftovers, run_playbook, boto):
    refused = run_playbook("destroy.yml", "-e", "confirm_destroy=some-other-cluster")
    assert refused.rc != 0
    assert "confirm_destroy=llm-analytics-hub-prod-eks" in refused.failure_messages()
    ec2 = boto("ec2")
    assert len(ec2.describe_vpcs(Filters=[{"Name": "tag:llmhub.io/cluster", "Values": [CLUSTER]}])["Vpcs"]) == 2
    # what the cluster made from inside (the example app's ALB and its cache's gp3 volume) existed before the
    # leftovers were made around it
    made_inside = throttled_platform["made_inside"]
    assert made_inside["load balancers"] and made_inside["volumes"]
    assert leftovers["alb"] not in made_inside["load balancers"] and leftovers["volume"] not in made_inside["volumes"]

    schedule = backup_schedule(boto)
    destroyed = run_playbook("destroy.yml", *CONFIRM)
    assert destroyed.rc == 0, destroyed.failure_messages() or destroyed.stdout[-3000:]
    # nothing but the backup schedule, kept on purpose with its snapshots
    assert sorted(tagged_for_the_cluster(boto)) == sorted(schedule)
    assert made_for_the_cluster(boto) == {"load balancers": [], "target groups": [], "volumes": [],
                                          "network interfaces": []}
    assert ec2.describe_vpcs(Filters=[{"Name": "tag:llmhub.io/cluster", "Values": [CLUSTER]}])["Vpcs"] == []
    assert live_nat_gateways(ec2) == []
    assert boto("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"] == []  # the hardening layer's web ACL
    # the account's GuardDuty detector stays (shared by the clusters of the region)
    assert len(boto("guardduty").list_detectors()["DetectorIds"]) == 1
    assert ec2.describe_vpc_endpoints()["VpcEndpoints"] == []
    logs = boto("logs")
    for prefix in (f"/aws/vpc/{CLUSTER}", f"/aws/eks/{CLUSTER}", f"/aws/containerinsights/{CLUSTER}"):
        assert logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"] == [], prefix
    assert [r["RoleName"] for r in boto("iam").list_roles()["Roles"] if r["RoleName"].startswith(CLUSTER)] == [
        f"{CLUSTER}-dlm"]  # the backup schedule's role, kept with it
    assert boto("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    assert boto("eks").list_clusters()["clusters"] == []
    assert ec2.describe_launch_templates()["LaunchTemplates"] == []
    results = destroyed.task_results()
    assert results[SWEEP]["remaining"] == []
    report = results["Report what remains of the cluster (nothing, when the destroy is complete) and what is kept on purpose"]
    assert report["msg"]["remaining"] == []
    kept = {(k["type"], k["id"]) for k in report["msg"]["kept"]}
    assert ("snapshots", leftovers["snapshot"]) in kept  # a backup, kept by default
    key = boto("kms").describe_key(KeyId=f"alias/{CLUSTER}")["KeyMetadata"]
    assert key["KeyState"] == "PendingDeletion" and ("kms_keys", key["KeyId"]) in kept
    # the applications' secrets are scheduled for deletion (restorable), the rotation function is gone
    secrets = boto("secretsmanager").list_secrets(IncludePlannedDeletion=True)["SecretList"]
    assert [entry["Name"] for entry in secrets if entry.get("DeletedDate")] == [
        f"llmhub/{CLUSTER}/llm-analytics/api-keys"]
    assert {entry["ARN"] for entry in secrets} <= {ident for kind, ident in kept if kind == "secrets"}
    assert boto("lambda").list_functions()["Functions"] == []
    # both VPCs named for the cluster went, the duplicate with its subnets, gateway and route table
    assert ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [leftovers["second_vpc"]]}])["Vpcs"] == []
    assert ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": leftovers["second_subnets"]}])["Subnets"] == []
    assert ec2.describe_security_groups(
        Filters=[{"Name": "group-id", "Values": leftovers["security_groups"]}])["SecurityGroups"] == []
    assert ec2.describe_addresses()["Addresses"] == []
    # the snapshot is still there
    assert ec2.describe_snapshots(SnapshotIds=[leftovers["snapshot"]])["Snapshots"]


def test_a_second_destroy_changes_nothing_and_passes(leftovers, run_playbook, boto):
    again = run_playbook("destroy.yml", *CONFIRM)
    assert again.rc == 0, again.failure_messages() or again.stdout[-3000:]
    assert again.changed == 0, again.changed_tasks()
    assert sorted(tagged_for_the_cluster(boto)) == sorted(backup_schedule(boto))


def test_snapshots_go_only_when_asked(leftovers, run_playbook, boto):
    asked = run_playbook("destroy.yml", *CONFIRM, "-e", "destroy_snapshots=true", "--tags", "sweep")
    assert asked.rc == 0, asked.failure_messages() or asked.stdout[-3000:]
    deleted = asked.task_results()[SWEEP]["deleted"]
    # the snapshot, and the backup schedule that made such snapshots (the DLM policy, then its role)
    assert [(d["type"], d["id"]) for d in deleted if d["type"] != "dlm_policies"] == [
        ("snapshots", leftovers["snapshot"]), ("iam_roles", f"{CLUSTER}-dlm")]
    assert [d["type"] for d in deleted].count("dlm_policies") == 1
    assert tagged_for_the_cluster(boto) == []
    assert boto("ec2").describe_snapshots(Filters=[{"Name": "snapshot-id", "Values": [leftovers["snapshot"]]}])[
        "Snapshots"] == []


def test_what_cannot_go_fails_the_play_naming_it(leftovers, run_tasks, boto):
    """A network interface in use by something that is not the cluster's stays, and the sweep says why."""
    ec2 = boto("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet)["Instances"][0]
    eni = ec2.create_network_interface(SubnetId=subnet, TagSpecifications=[
        {"ResourceType": "network-interface", "Tags": tag_list(**{"llmhub.io/cluster": CLUSTER})}])[
        "NetworkInterface"]["NetworkInterfaceId"]
    ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=instance["InstanceId"], DeviceIndex=1)
    try:
        run = run_tasks([{"name": "sweep", "llmhub.eks.eks_leftovers": {"cluster_name": CLUSTER, "state": "absent"},
                          "ignore_errors": True}])
        result = run.task_results()["sweep"]
        assert result["failed"]
        assert [(r["type"], r["id"]) for r in result["remaining"]] == [("network_interfaces", eni)]
        assert f"in use by {instance['InstanceId']}" in result["remaining"][0]["reason"]
        assert eni in result["msg"] and "in use by" in result["msg"]
    finally:
        ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
