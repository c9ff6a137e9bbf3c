"""The emulator starts, answers boto3 and records requests."""


def test_nat_gateway_answers_and_is_logged(aws, emulator_client):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["CidrBlock"] == "10.0.0.0/16"
    operations = [entry["operation"] for entry in emulator_client.requests()]
    assert operations == ["CreateVpc", "DescribeVpcs"]


def test_security_group_rules_keep_their_description_whatever_their_source(aws):
    """DescribeSecurityGroupRules as EC2 answers it: moto dropped the description of a rule whose source is a
    security group or a prefix list (Terraform planned an update of such rules on every run)."""
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    nodes = ec2.create_security_group(GroupName="nodes", Description="nodes", VpcId=vpc)["GroupId"]
    cluster = ec2.create_security_group(GroupName="cluster", Description="cluster", VpcId=vpc)["GroupId"]
    prefix_list = ec2.create_managed_prefix_list(PrefixListName="office", MaxEntries=2, AddressFamily="IPv4",
                                                 Entries=[{"Cidr": "198.51.100.0/24"}])["PrefixList"]["PrefixListId"]
    ec2.authorize_security_group_ingress(GroupId=nodes, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "UserIdGroupPairs": [{"GroupId": cluster, "Description": "cluster API to kubelets"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "PrefixListIds": [{"PrefixListId": prefix_list, "Description": "office ssh"}]},
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
         "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": "vpc http"}]},
        {"IpProtocol": "tcp", "FromPort": 81, "ToPort": 81, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]},
    ])
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [nodes]}])[
        "SecurityGroupRules"]
    by_port = {rule["FromPort"]: rule for rule in rules if not rule["IsEgress"]}
    assert by_port[443]["Description"] == "cluster API to kubelets"
    assert by_port[443]["ReferencedGroupInfo"]["GroupId"] == cluster
    assert by_port[22]["Description"] == "office ssh"
    assert by_port[80]["Description"] == "vpc http"
    assert "Description" not in by_port[81]
