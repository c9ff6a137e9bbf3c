"""The emulator starts, answers boto3 and records requests."""


def test_nat_gateway_answers_and_is_logged(aws, emulator_client):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["CidrBlock"] == "10.0.0.0/16"
    operations = [entry["operation"] for entry in emulator_client.requests()]
    assert operations == ["CreateVpc", "DescribeVpcs"]
