"""Disaster recovery round trip (issue 14): deploy, add application objects, back up, destroy everything, restore.

One round trip is shared by the module's tests, in file order (pytest-xdist ``--dist loadfile``): the read-only
checks of the restored cluster first, then the scenarios that change something (a tampered file, a namespace
restore with a KMS key pending deletion, pruning).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ansible_collections.llmhub.eks.plugins.module_utils import backup as bk
from tests.support.kubernetes import CLUSTER, Kube, wait_for

from .conftest import mutating_calls

pytestmark = pytest.mark.integration

DATA = Path(__file__).parent / "data"
BACKUP_ID = "rt-1"
NAMESPACE = "dr-shop"
# (kubectl resource, namespace or None) of every object the test adds; compared after the restore
OBJECTS = [
    ("namespace/dr-shop", None), ("configmap/shop-settings", NAMESPACE), ("secret/shop-db", NAMESPACE),
    ("serviceaccount/shop-api", NAMESPACE), ("role.rbac.authorization.k8s.io/shop-reader", NAMESPACE),
    ("rolebinding.rbac.authorization.k8s.io/shop-reader", NAMESPACE),
    ("customresourcedefinition.apiextensions.k8s.io/promotions.shop.llmhub.io", None),
    ("promotion.shop.llmhub.io/winter-sale", NAMESPACE), ("deployment.apps/shop-api", NAMESPACE),
    ("service/shop-api", NAMESPACE), ("ingress.networking.k8s.io/shop-api", NAMESPACE),
    ("statefulset.apps/shop-db", NAMESPACE), ("persistentvolumeclaim/data-shop-db-0", NAMESPACE),
]
VOLUME_TAGS = {"team": "shop", "cost-center": "analytics-42"}


def comparable(obj: dict) -> dict:
    """An object without what the server sets, as the backup keeps it."""
    return bk.clean(obj)


def get(kube: Kube, resource: str, namespace: str | None) -> dict:
    args = [resource] + (["-n", namespace] if namespace else [])
    return kube.get_json(*args)


def volume_of(kube: Kube, boto, claim: str = "data-shop-db-0", namespace: str = NAMESPACE) -> dict:
    pvc = kube.get_json("pvc", "-n", namespace, claim)
    pv = kube.get_json("pv", pvc["spec"]["volumeName"])
    [volume] = boto("ec2").describe_volumes(VolumeIds=[pv["spec"]["csi"]["volumeHandle"]])["Volumes"]
    return volume


@pytest.fixture(scope="module")
def round_trip(built_platform, emulator_server, run_playbook, boto, control, tmp_path_factory):
    """What existed before, the backup and restore runs, and a kubectl on the restored cluster."""
    kube, run = Kube.connect(emulator_server.url, tmp_path_factory.mktemp("kube-before"))
    assert run.returncode == 0, run.describe()
    kube = kube.with_token()
    kube.ok("apply", "-f", str(DATA / "dr_objects.yaml"))
    kube.ok("wait", "--for", "condition=established", "crd/promotions.shop.llmhub.io", "--timeout=60s")
    kube.ok("apply", "-f", str(DATA / "dr_custom_resource.yaml"))
    kube.ok("wait", "-n", NAMESPACE, "--for=jsonpath={.status.phase}=Bound", "pvc/data-shop-db-0", "--timeout=120s")
    kube.ok("rollout", "status", "-n", NAMESPACE, "deployment/shop-api", "--timeout=120s")
    wait_for(lambda: get(kube, "ingress/shop-api", NAMESPACE).get("status", {}).get("loadBalancer", {}).get("ingress"),
             what="the original Ingress's ALB")
    volume = volume_of(kube, boto)
    boto("ec2").create_tags(Resources=[volume["VolumeId"]], Tags=[{"Key": k, "Value": v} for k, v in VOLUME_TAGS.items()])
    before = {(resource, namespace): get(kube, resource, namespace) for resource, namespace in OBJECTS}
    volume = volume_of(kube, boto)

    backup = run_playbook("backup.yml", "-e", "backup_include_secrets=true", "-e", f"backup_id={BACKUP_ID}")
    assert backup.rc == 0, backup.failure_messages() or backup.stdout[-3000:]
    destroy = run_playbook("destroy.yml", "-e", f"confirm_destroy={CLUSTER}")
    assert destroy.rc == 0, destroy.failure_messages() or destroy.stdout[-3000:]
    with pytest.raises(boto("eks").exceptions.ResourceNotFoundException):
        boto("eks").describe_cluster(name=CLUSTER)
    control.clear_requests()
    check = run_playbook("restore.yml", "--check", "-e", f"backup_id={BACKUP_ID}", "-e", f"confirm_restore={CLUSTER}")
    assert check.rc == 0, check.failure_messages() or check.stdout[-3000:]
    check_mutations = mutating_calls(control)
    restore = run_playbook("restore.yml", "-e", f"backup_id={BACKUP_ID}", "-e", f"confirm_restore={CLUSTER}")
    assert restore.rc == 0, restore.failure_messages() or restore.stdout[-3000:]

    after, run = Kube.connect(emulator_server.url, tmp_path_factory.mktemp("kube-after"))
    assert run.returncode == 0, run.describe()
    return {"before": before, "volume": volume, "backup": backup, "restore": restore, "kube": after.with_token(),
            "check": check, "check_mutations": check_mutations}


def test_backup_set_in_the_versioned_encrypted_bucket_with_a_manifest_of_checksums(round_trip, boto):
    result = round_trip["backup"].task_results()[
        "Back up the cluster (AWS configuration, Kubernetes objects, EBS snapshots, checksums)"]["backup"]
    bucket, _slash, prefix = result["location"].removeprefix("s3://").partition("/")
    s3 = boto("s3")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "manifest.json")["Body"].read())
    assert manifest["backup_id"] == BACKUP_ID and manifest["cluster"] == CLUSTER
    for name, entry in manifest["files"].items():
        data = s3.get_object(Bucket=bucket, Key=prefix + name)["Body"].read()
        assert (len(data), bk.sha256(data)) == (entry["size"], entry["sha256"]), name
    files = set(manifest["files"])
    assert {"aws/cluster.json", "aws/nodegroups.json", "aws/addons.json", "aws/access_entries.json",
            "aws/oidc_provider.json", "aws/irsa_roles.json", "inventory/variables.json"} <= files
    # discovery, not a fixed list: config maps, RBAC, CRDs and custom resources are there; Secrets encrypted
    for expected in ("kubernetes/namespaces/dr-shop/configmaps.core.json",
                     "kubernetes/namespaces/dr-shop/rolebindings.rbac.authorization.k8s.io.json",
                     "kubernetes/namespaces/dr-shop/promotions.shop.llmhub.io.json",
                     "kubernetes/cluster/customresourcedefinitions.apiextensions.k8s.io.json",
                     "kubernetes/namespaces/dr-shop/secrets.enc.json"):
        assert expected in files, expected
    secrets = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "kubernetes/namespaces/dr-shop/secrets.enc.json")
                         ["Body"].read())
    assert "not-a-real-password" not in json.dumps(secrets) and "bm90LWEtcmVhbC1wYXNzd29yZA" not in json.dumps(secrets)
    assert secrets["kms_key_id"].startswith("arn:aws:kms:")
    # what controllers make again is left out, and says why
    assert not any("/pods.core" in f or "replicasets.apps" in f or "endpoints" in f or "events" in f for f in files)
    made_again = manifest["skipped"]["objects"]
    assert made_again["made again by its ReplicaSet"] >= 2 and made_again["made again by its Deployment"] >= 1
    assert made_again["made by the API server or EKS"] > 0  # system: cluster roles and bindings
    roles_file = "kubernetes/cluster/clusterroles.rbac.authorization.k8s.io.json"
    roles = json.loads(s3.get_object(Bucket=bucket, Key=prefix + roles_file)["Body"].read())["items"] \
        if roles_file in files else []
    assert not [r["metadata"]["name"] for r in roles if r["metadata"]["name"].startswith(("system:", "eks:"))]
    assert "events.core" in manifest["skipped"]["resource_types"]
    variables = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "inventory/variables.json")["Body"].read())
    assert variables["eks_public_access_cidrs"] == ["198.51.100.0/24", "203.0.113.0/24"]


def test_snapshot_of_the_claims_volume_is_tagged_and_recorded(round_trip, boto):
    [record] = [v for v in json.loads(json.dumps(round_trip["backup"].task_results()[
        "Back up the cluster (AWS configuration, Kubernetes objects, EBS snapshots, checksums)"]["backup"]["volumes"]))
        if v["namespace"] == NAMESPACE]
    assert record["volume_id"] == round_trip["volume"]["VolumeId"]
    [snapshot] = boto("ec2").describe_snapshots(SnapshotIds=[record["snapshot_id"]])["Snapshots"]
    tags = {t["Key"]: t["Value"] for t in snapshot["Tags"]}
    assert tags["llmhub.io/backup-id"] == BACKUP_ID
    assert tags["kubernetes.io/created-for/pvc/namespace"] == NAMESPACE
    assert tags["kubernetes.io/created-for/pvc/name"] == "data-shop-db-0"
    assert tags["llmhub.io/storage-class"] == "gp3"
    assert snapshot["VolumeId"] == record["volume_id"] and snapshot["State"] == "completed"


def test_every_backed_up_object_is_back_equal_to_the_original(round_trip):
    kube = round_trip["kube"]
    for (resource, namespace), original in round_trip["before"].items():
        restored = get(kube, resource, namespace)
        assert comparable(restored) == comparable(original), resource
    # the Secret's data came back decrypted
    secret = get(kube, "secret/shop-db", NAMESPACE)
    assert secret["data"] == round_trip["before"][("secret/shop-db", NAMESPACE)]["data"]


def test_the_claim_is_bound_to_a_volume_made_from_its_snapshot(round_trip, boto):
    kube, original = round_trip["kube"], round_trip["volume"]
    pvc = kube.get_json("pvc", "-n", NAMESPACE, "data-shop-db-0")
    assert pvc["status"]["phase"] == "Bound"
    volume = volume_of(kube, boto)
    assert volume["VolumeId"] != original["VolumeId"]
    [snapshot] = boto("ec2").describe_snapshots(SnapshotIds=[volume["SnapshotId"]])["Snapshots"]
    assert snapshot["VolumeId"] == original["VolumeId"]  # lineage: original volume -> snapshot -> restored volume
    assert {t["Key"]: t["Value"] for t in snapshot["Tags"]}["llmhub.io/backup-id"] == BACKUP_ID
    assert (volume["Size"], volume["VolumeType"], volume["Encrypted"]) == (8, "gp3", True)
    assert (volume["Iops"], volume["Throughput"]) == (original["Iops"], original["Throughput"])
    storage_class = kube.get_json("storageclass", "gp3")
    assert volume["KmsKeyId"] == storage_class["parameters"]["kmsKeyId"]
    tags = {t["Key"]: t["Value"] for t in volume["Tags"]}
    assert VOLUME_TAGS.items() <= tags.items()
    assert tags["llmhub.io/restored-from"] == snapshot["SnapshotId"]
    assert volume["AvailabilityZone"] == original["AvailabilityZone"]
    pods = kube.get_json("pods", "-n", NAMESPACE, "-l", "app=shop-db")["items"]
    assert [p["status"]["phase"] for p in pods] == ["Running"]
    # the platform's own example cache too: site.yml rebuilt the platform without it, the restore brought it back
    cache = volume_of(kube, boto, "data-analytics-cache-0", "llm-analytics")
    assert cache["SnapshotId"] and {t["Key"]: t["Value"] for t in boto("ec2").describe_snapshots(
        SnapshotIds=[cache["SnapshotId"]])["Snapshots"][0]["Tags"]}["llmhub.io/backup-id"] == BACKUP_ID


def test_the_ingress_has_an_alb_again(round_trip, boto):
    kube = round_trip["kube"]
    address = wait_for(lambda: (get(kube, "ingress/shop-api", NAMESPACE).get("status", {}).get("loadBalancer", {})
                                .get("ingress") or [{}])[0].get("hostname"), what="the restored Ingress's ALB")
    balancers = boto("elbv2").describe_load_balancers()["LoadBalancers"]
    assert address in {b["DNSName"] for b in balancers}


def test_the_restore_reports_what_it_restored_and_skipped(round_trip):
    result = round_trip["restore"].task_results()[
        "Restore the Kubernetes objects in dependency order, and the claims' volumes from their snapshots"]
    restored = {tier["tier"]: tier["objects"] for tier in result["restored"]}
    assert "Namespace/dr-shop" in restored["namespaces"]
    assert "CustomResourceDefinition/promotions.shop.llmhub.io" in restored["custom resource definitions"]
    assert "Promotion/dr-shop/winter-sale" in restored["everything else"]
    assert "Secret/dr-shop/shop-db" in restored["config and secrets"]
    order = [tier["tier"] for tier in result["restored"]]
    assert order.index("custom resource definitions") < order.index("namespaces") < order.index(
        "config and secrets") < order.index("persistent volumes and claims") < order.index("workloads") < order.index(
        "services and ingresses")
    # site.yml rebuilt the platform first: its own objects exist and are reported, not overwritten
    assert any(s["object"] == "Namespace/llm-analytics" for s in result["skipped_objects"])
    assert [v["claim"] for v in result["volumes"] if v["namespace"] == NAMESPACE] == ["data-shop-db-0"]


def test_restore_check_mode_on_a_destroyed_platform_plans_without_changing_anything(round_trip):
    assert round_trip["check_mutations"] == []
    result = round_trip["check"].task_results()[
        "Restore the Kubernetes objects in dependency order, and the claims' volumes from their snapshots"]
    tiers = {tier["tier"]: tier["objects"] for tier in result["restored"]}
    [namespaces] = tiers["namespaces"]
    assert re.fullmatch(r"Namespace x[5-9]", namespaces), namespaces  # dr-shop, default, the platform's own
    assert "ConfigMap x1 in dr-shop" in tiers["config and secrets"]
    assert [v["claim"] for v in result["volumes"] if v["namespace"] == NAMESPACE] == ["data-shop-db-0"]


def test_a_tampered_file_stops_the_restore_before_any_change(round_trip, run_playbook, boto, control):
    result = round_trip["backup"].task_results()[
        "Back up the cluster (AWS configuration, Kubernetes objects, EBS snapshots, checksums)"]["backup"]
    bucket, _slash, prefix = result["location"].removeprefix("s3://").partition("/")
    key = prefix + "kubernetes/namespaces/dr-shop/configmaps.core.json"
    s3 = boto("s3")
    original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    document = json.loads(original)
    document["items"][0]["data"]["currency"] = "XXX"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode())
    control.clear_requests()
    try:
        run = run_playbook("restore.yml", "-e", f"backup_id={BACKUP_ID}", "-e", f"confirm_restore={CLUSTER}")
        assert run.rc != 0
        assert "kubernetes/namespaces/dr-shop/configmaps.core.json does not match its checksum" in run.failure_messages()
        assert mutating_calls(control) == []
    finally:
        s3.put_object(Bucket=bucket, Key=key, Body=original)


def test_an_unknown_backup_id_names_the_ones_that_exist(round_trip, run_playbook):
    run = run_playbook("restore.yml", "-e", "backup_id=20200101T000000Z", "-e", f"confirm_restore={CLUSTER}")
    assert run.rc != 0
    assert "There is no backup 20200101T000000Z" in run.failure_messages()
    assert f"Backups there: {BACKUP_ID}" in run.failure_messages()
    missing = run_playbook("restore.yml")
    assert missing.rc != 0 and BACKUP_ID in missing.failure_messages()
    unconfirmed = run_playbook("restore.yml", "-e", f"backup_id={BACKUP_ID}", "-e", "confirm_restore=other-cluster")
    assert unconfirmed.rc != 0
    assert f"needs -e confirm_restore={CLUSTER} (got 'other-cluster'). Nothing was changed." in \
        unconfirmed.failure_messages()


def test_backup_check_mode_lists_without_writing(round_trip, run_playbook, control):
    control.clear_requests()
    run = run_playbook("backup.yml", "--check", "-e", "backup_id=would-be")
    assert run.rc == 0, run.failure_messages()
    result = run.task_results()[
        "Back up the cluster (AWS configuration, Kubernetes objects, EBS snapshots, checksums)"]["backup"]
    assert result["objects"]["configmaps.core"] >= 1 and NAMESPACE in result["namespaces"]
    assert mutating_calls(control) == []


def test_dlm_policy_read_back_and_a_second_run_changes_nothing(round_trip, run_playbook, boto, control):
    dlm = boto("dlm")
    [summary] = [p for p in dlm.get_lifecycle_policies()["Policies"] if p["Description"] == f"{CLUSTER} EBS volumes"]
    policy = dlm.get_lifecycle_policy(PolicyId=summary["PolicyId"])["Policy"]
    details = policy["PolicyDetails"]
    assert details["TargetTags"] == [{"Key": "KubernetesCluster", "Value": CLUSTER}]
    [schedule] = details["Schedules"]
    assert schedule["CreateRule"]["Interval"] == 24 and schedule["RetainRule"]["Count"] == 7 and schedule["CopyTags"]
    assert policy["State"] == "ENABLED"
    control.clear_requests()
    run = run_playbook("backup.yml", "-e", "backup_action=list")
    assert run.rc == 0 and run.changed == 0, run.failure_messages()
    again = run_playbook("backup.yml", "--check", "-e", "backup_id=dlm-check")
    results = again.task_results()
    assert not results["Ensure the DLM policy (daily snapshots of the cluster's volumes, 7 kept, tags copied)"]["changed"]
    # the bucket as setup.yml makes it (the setup role's tasks)
    assert not results["Ensure the artifacts bucket (versioned, SSE-KMS, public access blocked, owner enforced, TLS only)"][
        "changed"]
    assert not results["Ensure the lifecycle of old versions (noncurrent versions expire, incomplete uploads aborted)"][
        "changed"]


def test_namespace_restore_into_a_live_cluster_with_a_key_pending_deletion(round_trip, run_playbook, boto, tmp_path):
    """A set kept in a directory, its Secrets encrypted with a key that is then scheduled for deletion: the restore
    cancels the deletion, decrypts, restores what is missing and schedules the deletion again."""
    kms, kube = boto("kms"), round_trip["kube"]
    key = kms.create_key(Description="backup test key")["KeyMetadata"]["Arn"]
    directory = str(tmp_path / "sets")
    backup = run_playbook("backup.yml", "-e", f"backup_directory={directory}", "-e", "backup_id=ns-1",
                          "-e", "backup_include_secrets=true", "-e", f"backup_secrets_kms_key_id={key}",
                          "-e", "backup_snapshot_volumes=false", "-e", '{"backup_namespaces": ["dr-shop"]}')
    assert backup.rc == 0, backup.failure_messages()
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    kube.ok("delete", "-n", NAMESPACE, "secret/shop-db", "configmap/shop-settings")
    restore = run_playbook("restore.yml", "-e", f"backup_directory={directory}", "-e", "backup_id=ns-1",
                           "-e", f"confirm_restore={CLUSTER}", "-e", '{"backup_restore_namespaces": ["dr-shop"]}')
    assert restore.rc == 0, restore.failure_messages()
    result = restore.task_results()[
        "Restore the Kubernetes objects in dependency order, and the claims' volumes from their snapshots"]
    assert result["kms_keys_recovered"] == [key]
    assert sorted({t["tier"]: t["objects"] for t in result["restored"]}["config and secrets"]) == ["ConfigMap/dr-shop/shop-settings",
                                                                "Secret/dr-shop/shop-db"]
    assert {s["object"] for s in result["skipped_objects"]} >= {"Deployment/dr-shop/shop-api",
                                                                 "StatefulSet/dr-shop/shop-db"}
    assert "Namespace/llm-analytics" not in {s["object"] for s in result["skipped_objects"]}  # outside the namespaces
    assert get(kube, "secret/shop-db", NAMESPACE)["data"] == round_trip["before"][("secret/shop-db", NAMESPACE)]["data"]
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"


def test_prune_deletes_old_sets_with_their_snapshots(round_trip, run_playbook, boto):
    ec2 = boto("ec2")
    tagged = ec2.describe_snapshots(Filters=[{"Name": "tag:llmhub.io/backup-id", "Values": [BACKUP_ID]}])["Snapshots"]
    assert tagged
    keep = run_playbook("backup.yml", "-e", "backup_action=prune")  # rt-1 is newer than 30 days: kept
    assert keep.rc == 0 and keep.changed == 0, keep.failure_messages()
    run = run_playbook("backup.yml", "-e", "backup_action=prune", "-e", f"backup_id={BACKUP_ID}")
    assert run.rc == 0, run.failure_messages()
    result = run.task_results()[
        "Delete the backup sets older than the retention (the newest kept), with their snapshots"]
    assert result["deleted"] == [BACKUP_ID]
    assert sorted(result["deleted_snapshots"]) == sorted(s["SnapshotId"] for s in tagged)
    assert not ec2.describe_snapshots(Filters=[{"Name": "tag:llmhub.io/backup-id", "Values": [BACKUP_ID]}])["Snapshots"]
    listing = run_playbook("backup.yml", "-e", "backup_action=list")
    assert BACKUP_ID not in json.dumps(listing.task_results()["List the backup sets"]["backups"])

