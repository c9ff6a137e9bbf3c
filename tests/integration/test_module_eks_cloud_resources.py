"""llmhub.eks.eks_cloud_resources against a cluster built by site.yml: the teardown's first step.

The cluster gets what makes AWS resources from inside Kubernetes: a LoadBalancer
Service (an NLB), an ALB Ingress (an ALB), a StatefulSet and a Deployment with
gp3 claims (EBS volumes), and a claim of a Retain class that must stay. Check
mode reports them and deletes nothing; the real run deletes the workloads, the
objects and the claims, and afterwards boto3 finds no load balancer or target
group tagged for the cluster and none of the claims' EBS volumes; a second run
changes nothing; a cluster that does not exist passes with cluster_found=false.
No output carries an EKS token.
"""

from __future__ import annotations

import pytest

from emulator.client import EmulatorClient
from tests.support.kubernetes import CLUSTER, Kube, assert_no_token, wait_for

from .conftest import empty_account

pytestmark = pytest.mark.integration

NAMESPACE = "cleanup"
CLUSTER_TAG = "elbv2.k8s.aws/cluster"
CONTROLLER = "aws-load-balancer-controller"
MODULE = "llmhub.eks.eks_cloud_resources"


@pytest.fixture(scope="module")
def platform(emulator_server, run_playbook):
    """site.yml without the add-ons and apps steps (their charts come from other work; the test puts the
    controller's stand-in in place itself), on a fresh account."""
    client = EmulatorClient(emulator_server.url)
    empty_account(client, emulator_server.url)
    client.configure(profile="instant", scale=1.0, fault_rate=0.0)
    run = run_playbook("site.yml", "--skip-tags", "addons,apps")
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    return run


@pytest.fixture(scope="module")
def kube(platform, emulator_server, tmp_path_factory) -> Kube:
    kube, run = Kube.connect(emulator_server.url, tmp_path_factory.mktemp("kube"))
    assert run.returncode == 0, run.describe()
    return kube.with_token()


def absent(kube: Kube, *args: str) -> bool:
    run = kube.kubectl("get", *args, "-o", "name", "--ignore-not-found")
    assert run.returncode == 0, run.describe()
    return run.stdout.strip() == ""


def labelled(name: str) -> dict:
    return {"matchLabels": {"app": name}}


def container(mounts: list[dict] | None = None) -> dict:
    return {"name": "app", "image": "busybox:1.36", "command": ["sleep", "infinity"],
            "resources": {"requests": {"cpu": "50m"}}, "volumeMounts": mounts or []}


def load_balancer_controller_prerequisites(kube: Kube) -> None:
    """What the emulator's AWS Load Balancer Controller needs to act: a Deployment of that name with a ready
    replica and the IngressClass ``alb``; applied only when absent (the addons role may install the chart)."""
    deployments = kube.get_json("deployments", "-A", "--field-selector", f"metadata.name={CONTROLLER}")["items"]
    if not deployments:
        kube.apply_yaml([{
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": CONTROLLER, "namespace": "kube-system"},
            "spec": {"replicas": 1, "selector": labelled(CONTROLLER),
                     "template": {"metadata": {"labels": {"app": CONTROLLER}}, "spec": {"containers": [container()]}}},
        }])
        kube.ok("wait", "--for=condition=Available", f"deployment/{CONTROLLER}", "-n", "kube-system",
                "--timeout=120s")
    if absent(kube, "ingressclass", "alb"):
        kube.apply_yaml([{"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "alb"},
                          "spec": {"controller": "ingress.k8s.aws/alb"}}])


def storage_classes(kube: Kube) -> None:
    """gp3 (the storage role's, else the test's) and a Retain class of the test's own, Immediate binding."""
    documents = []
    if absent(kube, "storageclass", "gp3"):
        documents.append({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "gp3"},
                          "provisioner": "ebs.csi.aws.com", "parameters": {"type": "gp3"},
                          "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"})
    documents.append({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "cleanup-retain"},
                      "provisioner": "ebs.csi.aws.com", "parameters": {"type": "gp3"},
                      "reclaimPolicy": "Retain", "volumeBindingMode": "Immediate"})
    kube.apply_yaml(documents)


def workloads() -> list[dict]:
    claim_spec = {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3",
                  "resources": {"requests": {"storage": "10Gi"}}}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": NAMESPACE},
         "spec": {"replicas": 2, "serviceName": "db", "selector": labelled("db"),
                  "template": {"metadata": {"labels": {"app": "db"}},
                               "spec": {"containers": [container([{"name": "data", "mountPath": "/data"}])]}},
                  "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": claim_spec}]}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "uploads", "namespace": NAMESPACE},
         "spec": claim_spec},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "uploader", "namespace": NAMESPACE},
         "spec": {"replicas": 1, "selector": labelled("uploader"),
                  "template": {"metadata": {"labels": {"app": "uploader"}},
                               "spec": {"containers": [container([{"name": "uploads", "mountPath": "/up"}])],
                                        "volumes": [{"name": "uploads",
                                                     "persistentVolumeClaim": {"claimName": "uploads"}}]}}}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "archive", "namespace": NAMESPACE},
         "spec": dict(claim_spec, storageClassName="cleanup-retain")},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NAMESPACE},
         "spec": {"replicas": 1, "selector": labelled("web"),
                  "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container()]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-public", "namespace": NAMESPACE},
         "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NAMESPACE},
         "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": NAMESPACE},
         "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [{
             "path": "/", "pathType": "Prefix",
             "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}},
    ]


def tagged_for_cluster(boto) -> tuple[list[str], list[str]]:
    """(load balancer ARNs, target group ARNs) tagged elbv2.k8s.aws/cluster=<cluster>."""
    elbv2 = boto("elbv2")
    balancers = [lb["LoadBalancerArn"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]]
    groups = [tg["TargetGroupArn"] for tg in elbv2.describe_target_groups()["TargetGroups"]]
    found = {"lb": [], "tg": []}
    arns = balancers + groups
    for start in range(0, len(arns), 20):
        for description in elbv2.describe_tags(ResourceArns=arns[start:start + 20])["TagDescriptions"]:
            tags = {t["Key"]: t["Value"] for t in description["Tags"]}
            if tags.get(CLUSTER_TAG) == CLUSTER:
                found["lb" if description["ResourceArn"] in balancers else "tg"].append(description["ResourceArn"])
    return sorted(found["lb"]), sorted(found["tg"])


def volumes_left(boto, volume_ids: list[str]) -> list[str]:
    volumes = boto("ec2").describe_volumes(Filters=[{"Name": "volume-id", "Values": volume_ids}])["Volumes"]
    return sorted(v["VolumeId"] for v in volumes if v["State"] != "deleted")


def volume_of(kube: Kube, claim: str) -> str:
    pv = kube.get_json("pv", kube.get_json("pvc", claim, "-n", NAMESPACE)["spec"]["volumeName"])
    return pv["spec"]["csi"]["volumeHandle"]


@pytest.fixture(scope="module")
def populated(kube, boto):
    """The objects in place, their load balancers and volumes made: {claim name: EBS volume id}."""
    load_balancer_controller_prerequisites(kube)
    storage_classes(kube)
    kube.apply_yaml(workloads())
    for claim in ("data-db-0", "data-db-1", "uploads", "archive"):
        wait_for(lambda claim=claim: kube.kubectl("get", "pvc", claim, "-n", NAMESPACE, "-o",
                                                  "jsonpath={.status.phase}").stdout == "Bound",
                 timeout=180, what=f"claim {claim} Bound")
    for kind in ("service/web-public", "ingress/web"):
        wait_for(lambda kind=kind: kube.kubectl("get", kind, "-n", NAMESPACE, "-o",
                                                "jsonpath={.status.loadBalancer.ingress[0].hostname}").stdout,
                 timeout=180, what=f"{kind} hostname")
    balancers, groups = tagged_for_cluster(boto)
    assert len(balancers) == 2 and len(groups) == 2, (balancers, groups)
    volumes = {claim: volume_of(kube, claim) for claim in ("data-db-0", "data-db-1", "uploads", "archive")}
    assert volumes_left(boto, list(volumes.values())) == sorted(volumes.values())
    return volumes


def run_module(run_tasks, *flags: str, **options):
    run = run_tasks([{"name": "Cloud resources", MODULE: {"cluster_name": CLUSTER, **options}}], *flags)
    assert_no_token(run.stdout, run.stderr, where="eks_cloud_resources")
    return run


EXPECTED = {
    "services": [f"{NAMESPACE}/web-public"],
    "ingresses": [f"{NAMESPACE}/web"],
    "persistent_volume_claims": [f"{NAMESPACE}/data-db-0", f"{NAMESPACE}/data-db-1", f"{NAMESPACE}/uploads"],
    "workloads": [f"Deployment {NAMESPACE}/uploader", f"StatefulSet {NAMESPACE}/db"],
}
NOTHING = {"services": [], "ingresses": [], "persistent_volume_claims": [], "workloads": []}
NOTHING_LEFT = {"load_balancers": [], "target_groups": [], "volumes": []}


def test_check_mode_reports_what_would_go_and_deletes_nothing(populated, kube, boto, run_tasks):
    run = run_module(run_tasks, "--check", "--diff")
    assert run.rc == 0, run.failure_messages()
    result = run.task_results()["Cloud resources"]
    assert result["changed"] is True
    assert result["cluster_found"] is True and result["cluster_status"] == "ACTIVE"
    assert result["deleted"] == EXPECTED
    assert result["volume_ids"] == sorted(populated[c] for c in ("data-db-0", "data-db-1", "uploads"))
    assert result["diff"] == {"before": EXPECTED, "after": NOTHING}
    balancers, groups = tagged_for_cluster(boto)
    assert result["remaining"] == {"load_balancers": balancers, "target_groups": groups,
                                   "volumes": result["volume_ids"]}
    # nothing went
    for kind in ("statefulset/db", "deployment/uploader", "service/web-public", "ingress/web", "pvc/data-db-0",
                 "pvc/uploads"):
        assert not absent(kube, kind, "-n", NAMESPACE), kind
    assert tagged_for_cluster(boto) == (balancers, groups)


def test_the_run_deletes_them_and_waits_until_aws_shows_them_gone(populated, kube, boto, run_tasks):
    run = run_module(run_tasks)
    assert run.rc == 0, run.failure_messages()
    result = run.task_results()["Cloud resources"]
    assert result["changed"] is True and result["cluster_found"] is True
    assert result["deleted"] == EXPECTED
    assert result["remaining"] == NOTHING_LEFT
    # the objects are gone from the API, the workloads with their pods
    for kind in ("statefulset/db", "deployment/uploader", "service/web-public", "ingress/web", "pvc/data-db-0",
                 "pvc/data-db-1", "pvc/uploads"):
        assert absent(kube, kind, "-n", NAMESPACE), kind
    assert kube.get_json("pods", "-n", NAMESPACE, "-l", "app in (db,uploader)")["items"] == []
    # and AWS shows no load balancer, target group or volume of theirs
    assert tagged_for_cluster(boto) == ([], [])
    assert volumes_left(boto, [populated[c] for c in ("data-db-0", "data-db-1", "uploads")]) == []
    # what makes no AWS resource go stays: the Retain claim and its volume, the ALB's backend, its Deployment
    assert not absent(kube, "pvc/archive", "-n", NAMESPACE)
    assert volumes_left(boto, [populated["archive"]]) == [populated["archive"]]
    for kind in ("service/web", "deployment/web"):
        assert not absent(kube, kind, "-n", NAMESPACE), kind


def test_a_second_run_changes_nothing(populated, run_tasks):
    run = run_module(run_tasks, "--diff")
    assert run.rc == 0, run.failure_messages()
    result = run.task_results()["Cloud resources"]
    assert result["changed"] is False
    assert result["deleted"] == NOTHING and result["remaining"] == NOTHING_LEFT
    assert result["volume_ids"] == []


def test_a_cluster_that_does_not_exist_has_nothing_to_remove(platform, run_tasks):
    run = run_tasks([{"name": "Cloud resources", MODULE: {"cluster_name": "no-such-cluster"}}])
    assert_no_token(run.stdout, run.stderr, where="eks_cloud_resources")
    assert run.rc == 0, run.failure_messages()
    result = run.task_results()["Cloud resources"]
    assert result["changed"] is False and result["cluster_found"] is False
    assert result["cluster_status"] is None
    assert result["deleted"] == NOTHING and result["remaining"] == NOTHING_LEFT


def test_an_orphaned_load_balancer_is_left_to_the_sweep_not_waited_on(populated, boto, run_tasks):
    """A load balancer tagged for the cluster whose Service is already gone is deleted by no controller: the wait
    covers only the load balancers of the Services and Ingresses found, so the step does not hang until its timeout;
    destroy.yml's sweep (eks_leftovers) deletes the orphan (tests/integration/test_destroy_sweep.py)."""
    eks, ec2, elbv2 = boto("eks"), boto("ec2"), boto("elbv2")
    vpc_id = eks.describe_cluster(name=CLUSTER)["cluster"]["resourcesVpcConfig"]["vpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                            {"Name": "tag:kubernetes.io/role/internal-elb", "Values": ["1"]}])["Subnets"]
    orphan = elbv2.create_load_balancer(
        Name="k8s-orphan-0123456789", Type="network", Scheme="internal",
        Subnets=[s["SubnetId"] for s in subnets[:2]],
        Tags=[{"Key": CLUSTER_TAG, "Value": CLUSTER}, {"Key": "service.k8s.aws/stack", "Value": "gone/svc"}],
    )["LoadBalancers"][0]["LoadBalancerArn"]
    try:
        run = run_module(run_tasks, wait_timeout=3)
        assert run.rc == 0, run.failure_messages()
        result = run.task_results()["Cloud resources"]
        assert orphan not in result["remaining"]["load_balancers"]
        assert elbv2.describe_load_balancers(LoadBalancerArns=[orphan])["LoadBalancers"]  # left for the sweep
    finally:
        elbv2.delete_load_balancer(LoadBalancerArn=orphan)


DESTROY_TASK = "Remove the load balancers and volumes made from inside the cluster, before its nodes and controllers go"


@pytest.mark.parametrize("tags, runs", [
    ((), True), (("--tags", "eks"), True), (("--tags", "nodegroups"), False), (("--tags", "addons"), False),
    (("--tags", "vpc"), False), (("--tags", "iam"), False), (("--skip-tags", "addons,nodegroups,eks"), False),
])
def test_destroy_runs_it_only_when_the_cluster_goes(run_playbook, tags, runs):
    listed = run_playbook("destroy.yml", "--list-tasks", *tags)
    assert listed.rc == 0, listed.stderr
    assert (DESTROY_TASK in listed.stdout) is runs


def test_destroy_removes_them_before_the_cluster_and_a_rerun_passes(populated, kube, boto, run_playbook):
    """The last test of this module: the platform goes."""
    kube.apply_yaml(workloads())  # again, all but what the Retain claim already has
    wait_for(lambda: kube.kubectl("get", "service/web-public", "-n", NAMESPACE, "-o",
                                  "jsonpath={.status.loadBalancer.ingress[0].hostname}").stdout, timeout=180,
             what="web-public hostname")
    wait_for(lambda: kube.kubectl("get", "pvc", "uploads", "-n", NAMESPACE, "-o",
                                  "jsonpath={.status.phase}").stdout == "Bound", timeout=180, what="uploads Bound")
    volume = volume_of(kube, "uploads")
    assert tagged_for_cluster(boto)[0]

    destroyed = run_playbook("destroy.yml", "-e", f"confirm_destroy={CLUSTER}")
    assert_no_token(destroyed.stdout, destroyed.stderr, where="destroy.yml")
    assert destroyed.rc == 0, destroyed.failure_messages()
    result = destroyed.task_results()[DESTROY_TASK]
    assert result["changed"] is True and result["cluster_found"] is True
    assert f"{NAMESPACE}/web-public" in result["deleted"]["services"]
    assert f"{NAMESPACE}/uploads" in result["deleted"]["persistent_volume_claims"]
    assert f"Deployment {NAMESPACE}/uploader" in result["deleted"]["workloads"]
    assert result["remaining"] == NOTHING_LEFT
    assert boto("eks").list_clusters()["clusters"] == []
    assert tagged_for_cluster(boto) == ([], [])
    assert volumes_left(boto, [volume]) == []

    again = run_playbook("destroy.yml", "-e", f"confirm_destroy={CLUSTER}")
    assert again.rc == 0, again.failure_messages()
    result = again.task_results()[DESTROY_TASK]
    assert result["changed"] is False and result["cluster_found"] is False
