"""Cost allocation tags: every taggable resource the collection makes carries every key/value of ``llmhub_tags``.

On the deployed platform (site.yml on inventories/local) every resource of the account and Region is listed
through the AWS APIs, for every service the collection uses (tests/support/tag_sweep.py), and none but AWS's own
lacks a common tag. The sweep cannot be escaped by a new resource type: what moto holds beyond a new account is
read from its backends, and every such collection must be one the sweep lists (or an exception with its reason).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support import tag_sweep

from .conftest import CLUSTER

pytestmark = pytest.mark.integration
# Reads the platform the other sharing modules read (tests/support/shared_platform.py).
SHARES_PLATFORM = True

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
# The common tags of the local inventory (the inventory-wide llmhub_tags every role's <role>_tags defaults to)
COMMON_TAGS = yaml.safe_load((ROOT / "inventories/local/group_vars/all/main.yml").read_text())["llmhub_tags"]
NODE_ENTRY_TYPES = ("EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "HYBRID_LINUX", "EC2", "HYPERPOD_LINUX")

# moto backend collections (service, attribute) -> the record type that lists them, or why none is needed.
# A collection the deploy fills that is missing here fails test_the_sweep_knows_every_kind_of_resource_held.
KNOWN_HOLDINGS = {
    ("ec2", "vpcs"): "ec2:vpc", ("ec2", "subnets"): "ec2:subnet", ("ec2", "route_tables"): "ec2:route-table",
    ("ec2", "network_acls"): "ec2:network-acl", ("ec2", "groups"): "ec2:security-group",
    ("ec2", "internet_gateways"): "ec2:internet-gateway", ("ec2", "nat_gateways"): "ec2:natgateway",
    ("ec2", "addresses"): "ec2:elastic-ip", ("ec2", "vpc_end_points"): "ec2:vpc-endpoint",
    ("ec2", "launch_templates"): "ec2:launch-template", ("ec2", "flow_logs"): "ec2:vpc-flow-log",
    ("ec2", "volumes"): "ec2:volume", ("ec2", "snapshots"): "ec2:snapshot", ("ec2", "enis"): "ec2:network-interface",
    ("ec2", "reservations"): "ec2:instance", ("ec2", "keypairs"): "ec2:key-pair",
    ("iam", "roles"): "iam:role", ("iam", "managed_policies"): "iam:policy",
    ("iam", "instance_profiles"): "iam:instance-profile", ("iam", "open_id_providers"): "iam:oidc-provider",
    ("iam", "users"): "iam:user", ("kms", "keys"): "kms:key", ("logs", "groups"): "logs:log-group",
    ("eks", "clusters"): "eks:cluster (its node groups, add-ons and access entries listed with it)",
    ("autoscaling", "autoscaling_groups"): "autoscaling:autoScalingGroup",
    ("elbv2", "load_balancers"): "elasticloadbalancing:loadbalancer",
    ("elbv2", "target_groups"): "elasticloadbalancing:targetgroup",
    ("elb", "load_balancers"): "elasticloadbalancing:loadbalancer (classic)",
    ("s3", "buckets"): "s3:bucket", ("dynamodb", "tables"): "dynamodb:table",
    ("secretsmanager", "secrets"): "secretsmanager:secret", ("lambda", "_lambdas"): "lambda:function",
    ("wafv2", "wacls"): "wafv2:webacl", ("guardduty", "detectors"): "guardduty:detector",
    ("sns", "topics"): "sns:topic", ("sqs", "queues"): "sqs:queue", ("ssm", "_parameters"): "ssm:parameter",
    ("events", "rules"): "events:rule", ("acm", "_certificates"): "acm:certificate",
    ("route53", "zones"): "route53:hostedzone",
}
# Not resources of the account (no ARN to tag), or records of something listed elsewhere
NOT_RESOURCES = {
    ("sts", "assumed_roles"): "role sessions (AssumeRole, AssumeRoleWithWebIdentity of IRSA), not resources",
    ("dynamodb", "items"): "items of the deploy lock table",
    ("s3", "objects"): "objects of the artifacts bucket",
    ("iam", "access_keys"): "access keys of IAM users (listed with their user)",
    ("logs", "resource_policies"): "resource policies of CloudWatch Logs (no tags in the API)",
    ("ec2", "tags"): "the tags of the EC2 resources",
    ("ec2", "launch_template_name_to_ids"): "an index of the launch templates (by name)",
    ("ec2", "launch_template_insert_order"): "an index of the launch templates (creation order)",
    ("acm", "_idempotency_tokens"): "the RequestCertificate idempotency tokens of the certificates (an index)",
    ("route53", "resource_tags"): "the tags of the hosted zones",
    ("route53", "delegation_sets"): "the name servers Route 53 assigned to the hosted zone (listed with it)",
}


def aws_made(found, caller_arn):
    """Why a resource is made (and tagged, or not) by AWS rather than the collection, or None."""
    if found["aws_made"]:
        return found["aws_made"]
    if found["type"] == "eks:access-entry":
        principal = found["id"].split("/", 1)[1]
        if found.get("entry_type") in NODE_ENTRY_TYPES:
            return "made by EKS for the managed node groups' role (not billed)"
        if principal == caller_arn and not principal.startswith("arn:aws:iam::"):
            return ("the cluster creator's admin entry EKS makes (bootstrapClusterCreatorAdminPermissions) for a "
                    "caller that is no IAM role or user, which eks_access_entry_list does not list (not billed)")
    return None


@pytest.fixture(scope="module")
def resources(built_platform, boto):
    found = tag_sweep.inventory(boto)
    eks = boto("eks")
    for entry in (f for f in found if f["type"] == "eks:access-entry"):
        cluster, principal = entry["id"].split("/", 1)
        entry["entry_type"] = eks.describe_access_entry(clusterName=cluster, principalArn=principal)[
            "accessEntry"].get("type")
    return found


def test_the_common_tags_are_those_of_the_inventory():
    assert COMMON_TAGS == {"Project": "llm-analytics-hub", "Environment": "local", "ManagedBy": "ansible"}


def test_every_resource_the_collection_made_carries_every_common_tag(resources, boto):
    caller = boto("sts").get_caller_identity()["Arn"]
    untagged = [f"{f['type']} {f['id']}: missing {sorted(tag_sweep.missing_tags(f, COMMON_TAGS))}"
                for f in resources if not aws_made(f, caller) and tag_sweep.missing_tags(f, COMMON_TAGS)]
    assert untagged == []
    # the sweep saw the platform: every layer's resources are in it, not an empty account (the artifacts bucket is
    # setup.yml's, which the test account lacks; the access entries of the local inventory are EKS's own)
    kinds = {f["type"] for f in resources if not aws_made(f, caller)}
    assert {"ec2:vpc", "ec2:subnet", "ec2:natgateway", "ec2:elastic-ip", "ec2:vpc-endpoint", "ec2:launch-template",
            "ec2:vpc-flow-log", "ec2:volume", "ec2:security-group", "ec2:route-table", "ec2:network-acl",
            "iam:role", "iam:instance-profile", "iam:oidc-provider", "kms:key", "logs:log-group", "eks:cluster",
            "eks:nodegroup", "eks:addon", "elasticloadbalancing:loadbalancer",
            "elasticloadbalancing:listener", "elasticloadbalancing:targetgroup", "dynamodb:table",
            "secretsmanager:secret", "lambda:function", "wafv2:webacl", "guardduty:detector", "dlm:policy"} <= kinds


def test_what_aws_made_with_the_platform_is_tagged_too_where_terraform_stacks_tag_it(resources, boto):
    """The default security group, main route table and default network ACL of the cluster's VPC, and the cluster
    security group EKS made, carry the common tags (ec2_vpc's tag_default_resources, eks_cluster's
    tag_cluster_security_group)."""
    ec2 = boto("ec2")
    [vpc] = ec2.describe_vpcs(Filters=[{"Name": "tag:llmhub.io/cluster", "Values": [CLUSTER]}])["Vpcs"]
    cluster_group = boto("eks").describe_cluster(name=CLUSTER)["cluster"]["resourcesVpcConfig"][
        "clusterSecurityGroupId"]
    by_id = {f["id"]: f for f in resources}
    default_group = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                                          {"Name": "group-name", "Values": ["default"]}])
    main_table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                                    {"Name": "association.main", "Values": ["true"]}])
    default_acl = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                                     {"Name": "default", "Values": ["true"]}])
    made = [default_group["SecurityGroups"][0]["GroupId"], main_table["RouteTables"][0]["RouteTableId"],
            default_acl["NetworkAcls"][0]["NetworkAclId"]]
    for ident in made:
        assert tag_sweep.missing_tags(by_id[ident], COMMON_TAGS) == {}, ident
        assert by_id[ident]["tags"]["Name"] == f"{CLUSTER}-vpc-default"
    group = by_id[cluster_group]["tags"]
    assert tag_sweep.missing_tags(by_id[cluster_group], COMMON_TAGS) == {}
    # EKS's own tags stay
    assert group["aws:eks:cluster-name"] == CLUSTER and group[f"kubernetes.io/cluster/{CLUSTER}"] == "owned"


def test_what_the_controllers_made_carries_the_common_tags(resources):
    """The EBS CSI driver's volumes (controller.extraVolumeTags of the add-on) and the AWS Load Balancer
    Controller's load balancer, listener and target group (the chart's defaultTags), besides their own tags."""
    volumes = [f for f in resources if f["type"] == "ec2:volume" and f["tags"].get("ebs.csi.aws.com/cluster")]
    balancers = [f for f in resources if f["type"].startswith("elasticloadbalancing:")
                 and f["tags"].get("elbv2.k8s.aws/cluster") == CLUSTER]
    assert volumes and len(balancers) >= 3
    for found in volumes + balancers:
        assert tag_sweep.missing_tags(found, COMMON_TAGS) == {}, found
    assert all(v["tags"]["KubernetesCluster"] == CLUSTER for v in volumes)


def test_what_aws_makes_for_itself_is_named_with_its_reason(resources, boto):
    """The exceptions are AWS's own: the default VPC's objects, the interfaces of NAT gateways and endpoints,
    the entries EKS makes; never a resource of a type the collection creates itself."""
    caller = boto("sts").get_caller_identity()["Arn"]
    excepted = {f["type"] for f in resources if aws_made(f, caller)}
    assert excepted <= {"ec2:vpc", "ec2:subnet", "ec2:route-table", "ec2:network-acl", "ec2:security-group",
                        "ec2:internet-gateway", "ec2:network-interface", "ec2:dhcp-options", "eks:access-entry",
                        "iam:role", "kms:key"}
    interfaces = [f for f in resources if f["type"] == "ec2:network-interface"]
    assert interfaces and all(aws_made(f, caller).startswith("requester-managed") for f in interfaces)
    # the default VPC's objects are the default VPC's; the cluster's VPC is not excepted
    default_vpc_objects = [f for f in resources if f["aws_made"] and f["aws_made"].startswith("the default VPC")]
    assert default_vpc_objects and not any(f["tags"].get("llmhub.io/cluster") for f in default_vpc_objects)


def test_the_sweep_knows_every_kind_of_resource_held(resources, boto):
    """What moto holds beyond a new account, per backend collection: each is listed by the sweep or named as no
    resource. A resource type the collection starts to make shows up here until the sweep lists it."""
    account = boto("sts").get_caller_identity()["Account"]
    held = tag_sweep.moto_holdings(account, REGION)
    unknown = {f"{service}.{attribute}": count for (service, attribute), count in held.items()
               if (service, attribute) not in KNOWN_HOLDINGS and (service, attribute) not in NOT_RESOURCES}
    assert unknown == {}
    # and every collection held is seen by the API sweep (the mapping names the record types it makes)
    listed = {f["type"] for f in resources}
    for key in held.keys() & KNOWN_HOLDINGS.keys():
        assert KNOWN_HOLDINGS[key].split(" ")[0] in listed, (key, KNOWN_HOLDINGS[key])
    assert {("ec2", "vpcs"), ("iam", "roles"), ("eks", "clusters"), ("lambda", "_lambdas")} <= held.keys()


def test_a_resource_of_a_kind_the_sweep_does_not_list_is_found(resources, boto):
    """The check above is not vacuous: an ECR repository (a service the collection does not use) shows up in what
    the emulator holds, and is gone from it once deleted (the shared platform is left as it was)."""
    account = boto("sts").get_caller_identity()["Account"]
    ecr = boto("ecr")
    ecr.create_repository(repositoryName="llmhub-tags-sweep-probe")
    try:
        held = tag_sweep.moto_holdings(account, REGION)
    finally:
        ecr.delete_repository(repositoryName="llmhub-tags-sweep-probe", force=True)
    assert held.get(("ecr", "repositories")) == 1
    assert ("ecr", "repositories") not in KNOWN_HOLDINGS
    assert ("ecr", "repositories") not in tag_sweep.moto_holdings(account, REGION)
