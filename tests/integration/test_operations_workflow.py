"""The operations workflow of issue 15 against the emulator: setup.yml, the deploy lock in every playbook,
plan.yml (counts per layer, the cost) and drift.yml (differences, exit status), asserted through boto3."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import yaml

from tests.support import shared_platform
from tests.support.account import LOCK_TABLE, LOCK_TABLE_ATTRIBUTES, LOCK_TABLE_KEY

from .conftest import (CLUSTER, KNOWN_AFTER_APPLY, ROOT, empty_account, kill_process_group, mutating_calls,
                       playbook_environment, wait_for)
from .plan_assertions import (EXTRA_VARS, LAYER_TASKS, SUBNETS, SUMMARY, assert_compute_planned,
                              assert_control_plane_planned, assert_iam_and_cluster_planned, assert_network_planned,
                              assert_summary_is_a_plan, planned)

pytestmark = pytest.mark.integration

BUCKET = "llmhub-artifacts-123456789012-us-east-1"


def lock_item(boto):
    return boto("dynamodb").get_item(TableName=LOCK_TABLE, Key={"lock_name": {"S": CLUSTER}}).get("Item")


def test_setup_makes_the_bucket_and_table_once_and_writes_an_inventory(control, emulator_server, run_playbook, boto,
                                                                       tmp_path):
    control.reset()
    shared_platform.forget()
    control.clear_requests()
    first = run_playbook("setup.yml")
    assert first.rc == 0, first.failure_messages()
    assert first.changed >= 3  # bucket, lifecycle, table
    second = run_playbook("setup.yml")
    assert second.rc == 0 and second.changed == 0, second.changed_tasks()

    s3 = boto("s3")
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms" and rule["BucketKeyEnabled"]
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    # inventories/local leaves the TLS-only policy out (the emulator has no TLS); on AWS it is on
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=BUCKET)
    tls = run_playbook("setup.yml", "-e", "setup_artifacts_require_tls=true", "-e", "setup_artifacts_bucket=tls-only")
    assert tls.rc == 0, tls.failure_messages()
    policy = json.loads(s3.get_bucket_policy(Bucket="tls-only")["Policy"])
    [deny] = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    [lifecycle] = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90
    assert lifecycle["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7
    assert s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"][0]["ObjectOwnership"] \
        == "BucketOwnerEnforced"
    table = boto("dynamodb").describe_table(TableName=LOCK_TABLE)["Table"]
    # the tests' fixtures make the same table (tests/support/account.py)
    assert table["KeySchema"] == LOCK_TABLE_KEY and table["AttributeDefinitions"] == LOCK_TABLE_ATTRIBUTES
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    # a new inventory from inventories/example, refused when it exists
    args = ["-e", "setup_inventory_name=staging", "-e", "setup_inventory_cluster_name=hub-staging",
            "-e", "setup_inventory_region=eu-west-1", "-e", "setup_inventory_vpc_cidr=10.20.0.0/16",
            "-e", "setup_inventory_public_access_cidrs=198.51.100.0/24,203.0.113.0/24",
            "-e", f"setup_inventory_root={tmp_path}"]
    control.clear_requests()
    written = run_playbook("setup.yml", *args)
    assert written.rc == 0, written.failure_messages()
    assert control.requests() == []  # writing an inventory calls no AWS
    inventory = tmp_path / "staging"
    host_vars = yaml.safe_load((inventory / "host_vars" / "hub-staging.yml").read_text())
    assert host_vars["vpc_cidr"] == "10.20.0.0/16"
    assert host_vars["vpc_azs"] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert host_vars["eks_public_access_cidrs"] == ["198.51.100.0/24", "203.0.113.0/24"]
    group_vars = yaml.safe_load((inventory / "group_vars" / "all" / "main.yml").read_text())
    assert group_vars["llmhub_aws_region"] == "eu-west-1" and group_vars["llmhub_tags"]["Environment"] == "staging"
    listed = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-inventory"), "-i", str(inventory), "--list"],
                            capture_output=True, text=True, check=True, cwd=ROOT,
                            env=playbook_environment(emulator_server.url))
    assert json.loads(listed.stdout)["eks_clusters"]["hosts"] == ["hub-staging"]
    again = run_playbook("setup.yml", *args)
    # the play of the new inventory runs on localhost: its messages are in the report, not the cluster's results
    assert again.rc != 0 and "exists" in again.stdout and "setup_inventory_force" in again.stdout
    bad = run_playbook("setup.yml", *args[:-2], "-e", f"setup_inventory_root={tmp_path}/other",
                       "-e", "setup_inventory_vpc_cidr=10.20.0.0/8")
    assert bad.rc != 0 and "setup_inventory_vpc_cidr" in bad.stdout


def test_an_expired_lease_is_taken_over_with_force(fresh_account, run_playbook, boto):
    boto("dynamodb").put_item(TableName=LOCK_TABLE, Item={
        "lock_name": {"S": CLUSTER}, "owner": {"S": "ci@runner-9 run 1"}, "playbook": {"S": "site.yml"},
        "acquired_at": {"S": "2026-12-01T10:00:00+00:00"}, "expires_at": {"N": str(int(time.time()) - 60)}})
    refused = run_playbook("site.yml", "--tags", "iam")
    assert refused.rc != 0 and "deploy_lock_force=true" in refused.failure_messages()
    assert mutating_calls(fresh_account) == []
    forced = run_playbook("site.yml", "--tags", "iam", "-e", "deploy_lock_force=true")
    assert forced.rc == 0, forced.failure_messages()
    assert lock_item(boto) is None


@pytest.fixture(scope="module")
def planned_then_built(emulator_server, run_playbook, boto, tmp_path_factory):
    """plan.yml on an empty account, then site.yml: the plan's report and the built platform.

    Both with one access entry in the inventory (EXTRA_VARS), so that every layer has something to plan;
    the later runs on this platform pass it too.
    """
    from emulator.client import EmulatorClient

    client = EmulatorClient(emulator_server.url)
    empty_account(client, emulator_server.url)
    client.configure(profile="instant", scale=1.0, fault_rate=0.0)
    reports = tmp_path_factory.mktemp("plan")
    plan = run_playbook("plan.yml", "--check", "--diff", "-e", f"plan_artifacts_dir={reports}", *EXTRA_VARS)
    assert plan.rc == 0, plan.failure_messages() or plan.stdout[-3000:]
    plan_calls = mutating_calls(client, lock=True)
    plan_vpcs = boto("ec2").describe_vpcs(Filters=[{"Name": "tag:llmhub.io/cluster", "Values": [CLUSTER]}])["Vpcs"]
    built = run_playbook("site.yml", *EXTRA_VARS)
    assert built.rc == 0, built.failure_messages()
    return {"plan": plan, "plan_calls": plan_calls, "plan_vpcs": plan_vpcs, "reports": reports, "built": built}


def test_the_plan_of_an_empty_account_runs_every_layer_with_placeholders_for_what_aws_assigns(planned_then_built):
    """site.yml in check mode (inside plan.yml) is a plan of every layer, as Terraform's; the apply builds it."""
    plan = planned_then_built["plan"]
    results = plan.task_results()
    changed = plan.changed_tasks()
    missing = [task for task in LAYER_TASKS if task not in changed]
    assert missing == [], f"not run or not changed in check mode: {missing}"
    for task in LAYER_TASKS:
        assert planned(results[task]), f"{task}: empty diff"
    assert_network_planned(results)
    assert_iam_and_cluster_planned(results)
    assert_control_plane_planned(results)
    assert_compute_planned(results)
    assert_summary_is_a_plan(results[SUMMARY]["msg"])
    # the network layer's other tasks plan too (test_vpc_resilience.py's check of site.yml --check --diff on an
    # empty account, made on this plan), and the plan made no VPC
    for task in ("Ensure the route tables, their routes and subnet associations",
                 "Ensure the S3 gateway endpoint and the interface endpoints",
                 "Ensure the VPC flow logs, their log group retention and delivery role"):
        assert task in changed, task
    assert planned(results[SUBNETS])[f"{CLUSTER}-private-us-east-1a"]["cidr"] == "10.0.0.0/20"
    assert planned_then_built["plan_calls"] == []
    assert planned_then_built["plan_vpcs"] == []
    # The plan changed nothing, so the real run built everything: ids, not placeholders.
    summary = planned_then_built["built"].task_results()[SUMMARY]["msg"]
    assert summary.pop("run") == "built"
    assert KNOWN_AFTER_APPLY not in json.dumps(summary)
    assert summary["eks"]["arn"].startswith("arn:aws:eks:")


def test_plan_on_an_empty_account_counts_every_layer_and_prices_it(planned_then_built):
    reports = planned_then_built["reports"]
    assert planned_then_built["plan_calls"] == []  # a plan changes nothing, not even the lock
    report = json.loads((reports / f"{CLUSTER}.json").read_text())
    layers = report["layers"]
    added = {name: len(layer["add"]) for name, layer in layers.items()}
    # 2 roles and the KMS key; VPC, 9 subnets, 5 SGs, IGW, 3 NATs, 4 route tables (1 public, 3 private)... as built
    assert added["iam"] == 3
    assert added["nodegroups"] == 6  # 3 launch templates, 3 node groups
    assert "ec2_vpc_subnets.llm-analytics-hub-prod-eks-private-us-east-1a" in layers["vpc"]["add"]
    assert "eks_nodegroups.database" in layers["nodegroups"]["add"]
    # the backup schedule site.yml makes (tag backup): its role, and the DLM policy with the role's ARN to come
    assert layers["backup"]["add"] == [f"iam_roles.{CLUSTER}-dlm", "dlm_lifecycle_policy.Ensure the DLM policy "
                                       "(daily snapshots of the cluster's volumes, 7 kept, tags copied)"]
    assert any(name.startswith("eks_cluster.") for name in layers["eks"]["add"])
    assert report["totals"]["add"] == sum(added.values()) >= 45
    assert report["totals"]["destroy"] == 0
    cost = report["monthly_cost"]
    overview = cost["overview"]
    assert overview["overview_total"] == 2022
    lines = {line["component"]: line for line in overview["lines"]}
    # the lines the overview prices as AWS does are within 5%; each other one says why it differs
    assert lines["EKS Control Plane"]["within_tolerance"] and lines["NAT Gateways"]["within_tolerance"]
    assert all(line["within_tolerance"] or line["explanation"] for line in overview["lines"])
    markdown = (reports / f"{CLUSTER}.md").read_text()
    # (the kubeconfig file of an earlier test's cluster may hold an entry of the same name: 1 change at most;
    # community.aws.wafv2_web_acl, amazon.aws.route53_zone and amazon.aws.lambda return no diff, so the web ACL, the
    # local inventory's hosted zone and the rotation function to create count as one change each, named by their tasks)
    waf, zone, function = layers["hardening"]["change"]
    assert waf.endswith("Ensure the WAF web ACL (regional, default allow, AWS managed rule groups)"), waf
    assert zone.startswith("route53_zone.Ensure the hosted zone of the domain"), zone
    assert function.endswith("Ensure the rotation function (Python, roles/hardening/files/secrets_rotation)"), function
    assert [name for name in layers["hardening"]["add"] if "guardduty" in name], layers["hardening"]
    assert "secretsmanager_secrets.llmhub/llm-analytics-hub-prod-eks/llm-analytics/api-keys" in layers["hardening"]["add"]
    assert (f"Plan: {report['totals']['add']} to add, {report['totals']['change']} to change, 0 to destroy."
            in markdown) and report["totals"]["change"] <= 4
    assert "Estimated monthly cost" in markdown and "| EKS Control Plane | 1 cluster | $73.00 |" in markdown
    assert "Plan: " in planned_then_built["plan"].stdout  # printed too
    # handed to the next node of an AWX workflow (set_stats): the report without its Markdown, with the cost
    [handed] = planned_then_built["plan"].report["global_custom_stats"]["llmhub_plan_reports"].values()
    assert handed["totals"] == report["totals"] and "markdown" not in handed
    assert handed["monthly_cost"]["overview"]["overview_total"] == 2022


def test_plan_on_the_built_platform_is_empty_and_drift_finds_nothing(planned_then_built, run_playbook, control,
                                                                     tmp_path):
    control.clear_requests()
    plan = run_playbook("plan.yml", "--check", "--diff", "-e", f"plan_artifacts_dir={tmp_path}", *EXTRA_VARS)
    assert plan.rc == 0, plan.failure_messages()
    # only the plan's own report is written
    report_tasks = {"Make the report directory", "Write the report as Markdown and JSON"}
    assert set(plan.changed_tasks()) <= report_tasks, plan.changed_tasks()
    assert mutating_calls(control, lock=True) == []
    report = json.loads((tmp_path / f"{CLUSTER}.json").read_text())
    assert report["totals"] == {"add": 0, "change": 0, "destroy": 0}, report["layers"]
    # no placeholder where the values now exist
    summary = plan.task_results()[SUMMARY]["msg"]
    assert summary.pop("run").startswith("would build")
    assert KNOWN_AFTER_APPLY not in json.dumps(summary), json.dumps(summary, indent=1)
    drift = run_playbook("drift.yml", "--check", "--diff", "-e", f"plan_artifacts_dir={tmp_path}", *EXTRA_VARS)
    assert drift.rc == 0, drift.failure_messages()
    assert json.loads((tmp_path / f"{CLUSTER}-drift.json").read_text())["drift"] is False
    assert drift.report["global_custom_stats"]["llmhub_drift_reports"][CLUSTER]["drift"] is False  # AWX's next node


def test_drift_finds_a_node_group_size_and_a_security_group_rule(planned_then_built, run_playbook, boto, tmp_path):
    eks, ec2 = boto("eks"), boto("ec2")
    nodegroup = f"{CLUSTER}-database"
    names = eks.list_nodegroups(clusterName=CLUSTER)["nodegroups"]
    nodegroup = next(name for name in names if name.endswith("database"))
    scaling = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName=nodegroup)["nodegroup"]["scalingConfig"]
    eks.update_nodegroup_config(clusterName=CLUSTER, nodegroupName=nodegroup,
                                scalingConfig={**scaling, "maxSize": scaling["maxSize"] + 4})
    wait_for(lambda: eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName=nodegroup)["nodegroup"]["status"]
             == "ACTIVE")
    [group] = ec2.describe_security_groups(Filters=[{"Name": "tag:Name", "Values": [f"{CLUSTER}-database"]}])[
        "SecurityGroups"]
    ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    drift = run_playbook("drift.yml", "--check", "--diff", "-e", f"plan_artifacts_dir={tmp_path}", *EXTRA_VARS)
    assert drift.rc != 0
    assert "Drift on" in drift.failure_messages() and "make apply" in drift.failure_messages()
    report = json.loads((tmp_path / f"{CLUSTER}-drift.json").read_text())
    assert report["drift"] is True
    changed = {name: layer["change"] for name, layer in report["layers"].items()}
    assert any(name.endswith("database") for name in changed.get("nodegroups", [])), report["layers"]
    assert f"ec2_security_groups.{CLUSTER}-database" in changed.get("vpc", []), report["layers"]
    markdown = (tmp_path / f"{CLUSTER}-drift.md").read_text()
    assert "~ ec2_security_groups." in markdown and "max_size" in markdown.replace("maxSize", "max_size")
    # `make apply` puts the inventory's values back (drift.yml on a platform as built finds nothing: the test above)
    applied = run_playbook("site.yml", *EXTRA_VARS)
    assert applied.rc == 0, applied.failure_messages()
    assert eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName=nodegroup)["nodegroup"]["scalingConfig"] == scaling
    [group] = ec2.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"]
    assert not [rule for rule in group["IpPermissions"] if rule.get("FromPort") == 5432
                and {"CidrIp": "0.0.0.0/0"} in rule.get("IpRanges", [])], group["IpPermissions"]


# On the built platform of the tests above (a no-op site.yml holds the lock for tens of seconds): last in this file.
def test_a_second_run_on_a_cluster_stops_naming_the_holder_and_other_clusters_go_on(
        planned_then_built, start_playbook, run_playbook, boto, tmp_path):
    first = start_playbook("site.yml", *EXTRA_VARS)
    try:
        holder = wait_for(lambda: lock_item(boto), timeout=120)
        assert holder["playbook"]["S"] == "site.yml"
        second = run_playbook("destroy.yml", "-e", f"confirm_destroy={CLUSTER}")
        assert second.rc != 0
        message = second.failure_messages()
        assert f"{CLUSTER} is locked by {holder['owner']['S']} running site.yml since" in message
        assert "wait for it to finish" in message
        # another cluster (same account, own lock) is not blocked
        # (one NAT gateway: the account's default quota of 5 Elastic IPs holds the first cluster's 3 and its 1)
        other = run_playbook("site.yml", "--tags", "iam", "-e", "llmhub_cluster_name=hub-two",
                             "-e", "vpc_single_nat_gateway=true")
        assert other.rc == 0, other.failure_messages()
        assert boto("iam").get_role(RoleName="hub-two-cluster-role")
        out, err = first.communicate(timeout=600)
        assert first.returncode == 0, out.decode()[-3000:] + err.decode()[-2000:]
    finally:
        if first.poll() is None:
            kill_process_group(first)
    # released at the end; the refused run left the holder's lock alone and changed nothing
    assert lock_item(boto) is None
    assert boto("eks").describe_cluster(name=CLUSTER)["cluster"]["status"] == "ACTIVE"
    assert len(boto("ec2").describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{CLUSTER}*"]}])["Vpcs"]) == 1

    # a failing run releases the lock too (the kubeconfig step fails: its file cannot be written)
    failed = run_playbook("site.yml", "--tags", "kubeconfig", "-e", f"kubeconfig_path={tmp_path}/file/x/config",
                          "-e", "kubeconfig_token_command_path=/proc/forbidden/llmhub-eks-token")
    assert failed.rc != 0
    assert lock_item(boto) is None
