"""Every resource of the account and region, with its tags, read through the AWS APIs (the cost allocation sweep).

``inventory(client)`` lists every resource of every service the collection uses, each as a record
``{"type", "id", "tags", "aws_made"}``: ``aws_made`` says why a resource is AWS's own rather than the
collection's (the default VPC and its objects, AWS managed policies, what a service makes for itself), or is None.
``KNOWN_COLLECTIONS`` names, per moto backend attribute, the record type that covers it, so that
``unknown_collections()`` finds resources of a type no enumerator here lists (tests/integration/test_tags_sweep.py).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

Client = Callable[[str], Any]


def tags_of(tag_list: Any, key: str = "Key", value: str = "Value") -> dict[str, str]:
    if isinstance(tag_list, dict):
        return dict(tag_list)
    return {t[key]: t.get(value, "") for t in tag_list or []}


def record(kind: str, ident: str, tags: Any, aws_made: str | None = None) -> dict[str, Any]:
    return {"type": kind, "id": ident, "tags": tags_of(tags), "aws_made": aws_made}


def pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    else:
        yield from getattr(client, operation)(**kwargs).get(key, [])


# --- EC2 ---------------------------------------------------------------------------------

def ec2_resources(client: Client) -> list[dict[str, Any]]:
    ec2 = client("ec2")
    vpcs = list(pages(ec2, "describe_vpcs", "Vpcs"))
    default_vpcs = {v["VpcId"] for v in vpcs if v.get("IsDefault")}
    default = "the default VPC's, made by AWS in every account and Region"
    found = [record("ec2:vpc", v["VpcId"], v.get("Tags"), default if v["VpcId"] in default_vpcs else None)
             for v in vpcs]
    found += [record("ec2:subnet", s["SubnetId"], s.get("Tags"), default if s["VpcId"] in default_vpcs else None)
              for s in pages(ec2, "describe_subnets", "Subnets")]
    for table in pages(ec2, "describe_route_tables", "RouteTables"):
        found.append(record("ec2:route-table", table["RouteTableId"], table.get("Tags"),
                            default if table["VpcId"] in default_vpcs else None))
    for acl in pages(ec2, "describe_network_acls", "NetworkAcls"):
        found.append(record("ec2:network-acl", acl["NetworkAclId"], acl.get("Tags"),
                            default if acl["VpcId"] in default_vpcs else None))
    for group in pages(ec2, "describe_security_groups", "SecurityGroups"):
        found.append(record("ec2:security-group", group["GroupId"], group.get("Tags"),
                            default if group.get("VpcId") in default_vpcs else None))
    for gateway in pages(ec2, "describe_internet_gateways", "InternetGateways"):
        attached = {a["VpcId"] for a in gateway.get("Attachments") or []}
        found.append(record("ec2:internet-gateway", gateway["InternetGatewayId"], gateway.get("Tags"),
                            default if attached & default_vpcs else None))
    found += [record("ec2:natgateway", n["NatGatewayId"], n.get("Tags"))
              for n in pages(ec2, "describe_nat_gateways", "NatGateways") if n["State"] not in ("deleted", "deleting")]
    found += [record("ec2:elastic-ip", a["AllocationId"], a.get("Tags"))
              for a in ec2.describe_addresses()["Addresses"]]
    found += [record("ec2:vpc-endpoint", e["VpcEndpointId"], e.get("Tags"))
              for e in pages(ec2, "describe_vpc_endpoints", "VpcEndpoints") if e["State"].lower() != "deleted"]
    found += [record("ec2:launch-template", t["LaunchTemplateId"], t.get("Tags"))
              for t in pages(ec2, "describe_launch_templates", "LaunchTemplates")]
    found += [record("ec2:vpc-flow-log", f["FlowLogId"], f.get("Tags"))
              for f in pages(ec2, "describe_flow_logs", "FlowLogs")]
    found += [record("ec2:volume", v["VolumeId"], v.get("Tags"))
              for v in pages(ec2, "describe_volumes", "Volumes")]
    # the account's own (OwnerIds=self; the emulator also lists the snapshots behind the public AMIs, owned by
    # their publishers)
    account = client("sts").get_caller_identity()["Account"]
    found += [record("ec2:snapshot", s["SnapshotId"], s.get("Tags"))
              for s in pages(ec2, "describe_snapshots", "Snapshots", OwnerIds=["self"]) if s.get("OwnerId") == account]
    found += [record("ec2:instance", i["InstanceId"], i.get("Tags"))
              for r in pages(ec2, "describe_instances", "Reservations") for i in r["Instances"]
              if i["State"]["Name"] != "terminated"]
    for interface in pages(ec2, "describe_network_interfaces", "NetworkInterfaces"):
        # an instance's primary interface is tagged by its launch template; the interfaces other services make in
        # a subnet (NAT gateways, VPC endpoints, load balancers, the EKS control plane) are theirs, untaggable by
        # their owner's tags (requester-managed)
        made = ("requester-managed: made by " + (interface.get("Description") or interface.get("InterfaceType", ""))
                if interface.get("RequesterManaged") or interface.get("InterfaceType", "interface") != "interface"
                else None)
        found.append(record("ec2:network-interface", interface["NetworkInterfaceId"], interface.get("TagSet"), made))
    found += [record("ec2:key-pair", k["KeyPairId"], k.get("Tags")) for k in ec2.describe_key_pairs()["KeyPairs"]]
    found += [record("ec2:dhcp-options", d["DhcpOptionsId"], d.get("Tags"),
                     "the default DHCP options set, made by AWS in every Region")
              for d in pages(ec2, "describe_dhcp_options", "DhcpOptions")]
    return found


# --- IAM, KMS, logs ----------------------------------------------------------------------

def iam_resources(client: Client) -> list[dict[str, Any]]:
    iam = client("iam")
    found = []
    for role in pages(iam, "list_roles", "Roles"):
        made = "a service-linked role, made and owned by its AWS service" if role["Path"].startswith(
            "/aws-service-role/") else None
        found.append(record("iam:role", role["RoleName"], iam.list_role_tags(RoleName=role["RoleName"])["Tags"], made))
    found += [record("iam:policy", p["Arn"], iam.list_policy_tags(PolicyArn=p["Arn"])["Tags"])
              for p in pages(iam, "list_policies", "Policies", Scope="Local")]
    found += [record("iam:instance-profile", p["InstanceProfileName"], iam.get_instance_profile(
        InstanceProfileName=p["InstanceProfileName"])["InstanceProfile"].get("Tags"))
              for p in pages(iam, "list_instance_profiles", "InstanceProfiles")]
    found += [record("iam:oidc-provider", p["Arn"], iam.list_open_id_connect_provider_tags(
        OpenIDConnectProviderArn=p["Arn"])["Tags"])
              for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    found += [record("iam:user", u["UserName"], iam.list_user_tags(UserName=u["UserName"])["Tags"])
              for u in pages(iam, "list_users", "Users")]
    return found


def kms_resources(client: Client) -> list[dict[str, Any]]:
    kms = client("kms")
    found = []
    for key in pages(kms, "list_keys", "Keys"):
        metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if metadata["KeyState"] in ("PendingDeletion", "PendingReplicaDeletion"):
            continue
        made = "an AWS managed key (aws/<service>), made by its service" if metadata.get("KeyManager") == "AWS" else None
        tags = tags_of(kms.list_resource_tags(KeyId=key["KeyId"])["Tags"], "TagKey", "TagValue")
        found.append(record("kms:key", key["KeyId"], tags, made))
    return found


def logs_resources(client: Client) -> list[dict[str, Any]]:
    logs = client("logs")
    return [record("logs:log-group", g["logGroupName"],
                   logs.list_tags_for_resource(resourceArn=g["arn"].removesuffix(":*"))["tags"])
            for g in pages(logs, "describe_log_groups", "logGroups")]


# --- EKS, Auto Scaling, ELB --------------------------------------------------------------

def eks_resources(client: Client) -> list[dict[str, Any]]:
    eks = client("eks")
    found = []
    for name in pages(eks, "list_clusters", "clusters"):
        cluster = eks.describe_cluster(name=name)["cluster"]
        found.append(record("eks:cluster", name, cluster.get("tags")))
        for group in pages(eks, "list_nodegroups", "nodegroups", clusterName=name):
            found.append(record("eks:nodegroup", f"{name}/{group}", eks.describe_nodegroup(
                clusterName=name, nodegroupName=group)["nodegroup"].get("tags")))
        for addon in pages(eks, "list_addons", "addons", clusterName=name):
            found.append(record("eks:addon", f"{name}/{addon}",
                                eks.describe_addon(clusterName=name, addonName=addon)["addon"].get("tags")))
        for principal in pages(eks, "list_access_entries", "accessEntries", clusterName=name):
            entry = eks.describe_access_entry(clusterName=name, principalArn=principal)["accessEntry"]
            found.append(record("eks:access-entry", f"{name}/{principal}", entry.get("tags")))
        for profile in pages(eks, "list_fargate_profiles", "fargateProfileNames", clusterName=name):
            found.append(record("eks:fargateprofile", f"{name}/{profile}", eks.describe_fargate_profile(
                clusterName=name, fargateProfileName=profile)["fargateProfile"].get("tags")))
    return found


def autoscaling_resources(client: Client) -> list[dict[str, Any]]:
    return [record("autoscaling:autoScalingGroup", g["AutoScalingGroupName"], g.get("Tags"))
            for g in pages(client("autoscaling"), "describe_auto_scaling_groups", "AutoScalingGroups")]


def elb_resources(client: Client) -> list[dict[str, Any]]:
    elbv2 = client("elbv2")
    arns = [b["LoadBalancerArn"] for b in pages(elbv2, "describe_load_balancers", "LoadBalancers")]
    listeners = [li["ListenerArn"] for arn in arns for li in pages(elbv2, "describe_listeners", "Listeners",
                                                                   LoadBalancerArn=arn)]
    groups = [g["TargetGroupArn"] for g in pages(elbv2, "describe_target_groups", "TargetGroups")]
    found = []
    for kind, batch in (("elasticloadbalancing:loadbalancer", arns), ("elasticloadbalancing:listener", listeners),
                        ("elasticloadbalancing:targetgroup", groups)):
        for start in range(0, len(batch), 20):
            for description in elbv2.describe_tags(ResourceArns=batch[start:start + 20])["TagDescriptions"]:
                found.append(record(kind, description["ResourceArn"], description.get("Tags")))
    elb = client("elb")
    for balancer in pages(elb, "describe_load_balancers", "LoadBalancerDescriptions"):
        name = balancer["LoadBalancerName"]
        found.append(record("elasticloadbalancing:loadbalancer (classic)", name,
                            elb.describe_tags(LoadBalancerNames=[name])["TagDescriptions"][0].get("Tags")))
    return found


# --- storage, secrets, functions, security -----------------------------------------------

def s3_resources(client: Client) -> list[dict[str, Any]]:
    s3 = client("s3")
    found = []
    for bucket in s3.list_buckets()["Buckets"]:
        try:
            tags = s3.get_bucket_tagging(Bucket=bucket["Name"])["TagSet"]
        except s3.exceptions.ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchTagSet":
                raise
            tags = []
        found.append(record("s3:bucket", bucket["Name"], tags))
    return found


def dynamodb_resources(client: Client) -> list[dict[str, Any]]:
    dynamodb = client("dynamodb")
    found = []
    for name in pages(dynamodb, "list_tables", "TableNames"):
        arn = dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
        found.append(record("dynamodb:table", name, dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"]))
    return found


def secrets_resources(client: Client) -> list[dict[str, Any]]:
    return [record("secretsmanager:secret", s["Name"], s.get("Tags"))
            for s in pages(client("secretsmanager"), "list_secrets", "SecretList")]


def lambda_resources(client: Client) -> list[dict[str, Any]]:
    functions = client("lambda")
    return [record("lambda:function", f["FunctionName"], functions.list_tags(Resource=f["FunctionArn"])["Tags"])
            for f in pages(functions, "list_functions", "Functions")]


def security_resources(client: Client) -> list[dict[str, Any]]:
    wafv2, guardduty, dlm = client("wafv2"), client("guardduty"), client("dlm")
    found = []
    for scope in ("REGIONAL",):
        for acl in wafv2.list_web_acls(Scope=scope)["WebACLs"]:
            found.append(record("wafv2:webacl", acl["Name"], wafv2.list_tags_for_resource(
                ResourceARN=acl["ARN"])["TagInfoForResource"].get("TagList")))
        for kind, operation, key in (("wafv2:ipset", "list_ip_sets", "IPSets"),
                                     ("wafv2:rulegroup", "list_rule_groups", "RuleGroups"),
                                     ("wafv2:regexpatternset", "list_regex_pattern_sets", "RegexPatternSets")):
            for item in getattr(wafv2, operation)(Scope=scope)[key]:
                found.append(record(kind, item["Name"], wafv2.list_tags_for_resource(
                    ResourceARN=item["ARN"])["TagInfoForResource"].get("TagList")))
    for detector in pages(guardduty, "list_detectors", "DetectorIds"):
        found.append(record("guardduty:detector", detector, guardduty.get_detector(DetectorId=detector).get("Tags")))
    for summary in dlm.get_lifecycle_policies()["Policies"]:
        found.append(record("dlm:policy", summary["PolicyId"],
                            dlm.get_lifecycle_policy(PolicyId=summary["PolicyId"])["Policy"].get("Tags")))
    return found


def tls_resources(client: Client) -> list[dict[str, Any]]:
    """ACM certificates and Route 53 hosted zones (the ingress's certificate and the zone of its DNS validation)."""
    acm, route53 = client("acm"), client("route53")
    found = [record("acm:certificate", c["CertificateArn"],
                    acm.list_tags_for_certificate(CertificateArn=c["CertificateArn"]).get("Tags"))
             for c in pages(acm, "list_certificates", "CertificateSummaryList")]
    for zone in pages(route53, "list_hosted_zones", "HostedZones"):
        zone_id = zone["Id"].rsplit("/", 1)[-1]
        tags = route53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id)["ResourceTagSet"]
        found.append(record("route53:hostedzone", zone_id, tags.get("Tags")))
    return found


def messaging_resources(client: Client) -> list[dict[str, Any]]:
    sns, sqs, ssm, events = client("sns"), client("sqs"), client("ssm"), client("events")
    found = [record("sns:topic", t["TopicArn"], sns.list_tags_for_resource(ResourceArn=t["TopicArn"])["Tags"])
             for t in pages(sns, "list_topics", "Topics")]
    found += [record("sqs:queue", url, sqs.list_queue_tags(QueueUrl=url).get("Tags"))
              for url in sqs.list_queues().get("QueueUrls", [])]
    for parameter in pages(ssm, "describe_parameters", "Parameters"):
        found.append(record("ssm:parameter", parameter["Name"], ssm.list_tags_for_resource(
            ResourceType="Parameter", ResourceId=parameter["Name"])["TagList"]))
    found += [record("events:rule", r["Name"], events.list_tags_for_resource(ResourceARN=r["Arn"])["Tags"])
              for r in pages(events, "list_rules", "Rules")]
    return found


ENUMERATORS = (ec2_resources, iam_resources, kms_resources, logs_resources, eks_resources, autoscaling_resources,
               elb_resources, s3_resources, dynamodb_resources, secrets_resources, lambda_resources,
               security_resources, tls_resources, messaging_resources)


def inventory(client: Client) -> list[dict[str, Any]]:
    """Every resource of the account and Region the enumerators know, tagged or not."""
    return [found for enumerate_ in ENUMERATORS for found in enumerate_(client)]


def missing_tags(found: dict[str, Any], required: dict[str, str]) -> dict[str, str]:
    """The key/values of ``required`` the resource lacks (or carries with another value)."""
    return {k: v for k, v in required.items() if found["tags"].get(k) != v}


# --- what the emulator holds -------------------------------------------------------------

def _leaves(value: Any, top: bool = True, depth: int = 4) -> int:
    """How many objects a backend attribute holds: the leaves of its containers (a moto model, an object of one of
    moto's or the emulator's classes, a value), a store object of the backend (Lambda's LambdaStorage, a
    TaggingService) read through. A scalar attribute of the backend itself holds nothing."""
    from moto.core.base_backend import BaseBackend
    from moto.core.common_models import BaseModel

    if isinstance(value, BaseBackend):  # another service's backend, read as itself
        return 0
    if isinstance(value, BaseModel):
        return 1
    if depth <= 0:
        return 1
    if isinstance(value, dict):
        return sum(_leaves(item, False, depth - 1) for item in list(value.values()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return sum(_leaves(item, False, depth - 1) for item in list(value))
    if type(value).__module__.startswith(("moto.", "emulator.")) and hasattr(value, "__dict__"):
        if top:  # a store object of the backend
            return sum(_leaves(item, False, depth - 1) for item in list(vars(value).values()))
        return 1  # a model of its own kind (EKS's Cluster is no BaseModel)
    return 0 if top else 1


def _holdings_of(backend: Any) -> dict[str, int]:
    from moto.utilities.tagging_service import TaggingService

    # a service's tag store holds the tags of its resources, not resources
    return {attribute: count for attribute, value in list(vars(backend).items())
            if not isinstance(value, TaggingService) and (count := _leaves(value))}


def moto_holdings(account_id: str, region: str) -> dict[tuple[str, str], int]:
    """{(service, backend attribute): objects} that the account holds in ``region`` (and the global partition)
    beyond what a new account holds (the default VPC, AWS managed policies, public AMIs...).

    Reads the emulator's moto backends in this process (the integration tests serve the emulator from a
    thread of the test process).
    """
    from moto.core.base_backend import BackendDict

    held: dict[tuple[str, str], int] = {}
    # every backend the emulator has instantiated: a service never called holds nothing
    for backends in list(BackendDict._instances):  # noqa: SLF001 - moto's registry of backends
        per_account = dict.get(backends, account_id)
        if not per_account:
            continue
        for name, backend in list(dict.items(per_account)):
            if name not in (region, "aws", "global"):
                continue
            baseline = _holdings_of(type(backend)(name, account_id="000000000000"))
            for attribute, count in _holdings_of(backend).items():
                if count > baseline.get(attribute, 0):
                    held[(backends.service_name, attribute)] = count - baseline.get(attribute, 0)
    return held
