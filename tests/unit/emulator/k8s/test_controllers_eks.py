"""The controllers behind an emulated EKS cluster, end to end: boto3 against the emulator, the cluster's store,
kubectl against its API (emulator/k8s/controllers, emulator/k8s/eks_bridge.py)."""

from __future__ import annotations

import json
import re

import pytest

from emulator.k8s.clusters import REGISTRY
from tests.unit.emulator.k8s.controller_support import BIN, deployment, ready, start_cluster

DATABASE_TAINT = {"key": "dedicated", "value": "database", "effect": "NO_SCHEDULE"}
requires_kubectl = pytest.mark.skipif(not (BIN / "kubectl").exists(), reason="kubectl: make k8s-clients")


@pytest.fixture
def cluster(emulator, monkeypatch, tmp_path):
    """An ACTIVE cluster ``demo`` (1.35) with its Kubernetes API and controllers; no node group yet."""
    monkeypatch.setattr(REGISTRY, "factory", None)  # the real apiserver, whatever an earlier test set
    served = start_cluster(emulator.url, tmp_path)
    yield served
    REGISTRY.stop_all()


def test_nodes_follow_the_managed_node_group(cluster):
    cluster.nodegroup("db", desired=2, instanceTypes=["m5.large"], capacityType="SPOT",
                      labels={"role": "database"}, taints=[DATABASE_TAINT])
    nodes = cluster.nodes("db")
    private = {"10.0.0.0/20": "us-east-1a", "10.0.16.0/20": "us-east-1b"}
    for node in nodes:
        meta, spec, status = node["metadata"], node["spec"], node["status"]
        ip = meta["annotations"]["alpha.kubernetes.io/provided-node-ip"]
        assert meta["name"] == f"ip-{ip.replace('.', '-')}.ec2.internal"
        zone = meta["labels"]["topology.kubernetes.io/zone"]
        assert (ip.split(".")[2] in {str(n) for n in range(0, 16)}) == (zone == "us-east-1a")
        assert zone in private.values()
        assert {k: meta["labels"][k] for k in (
            "eks.amazonaws.com/nodegroup", "eks.amazonaws.com/capacityType", "node.kubernetes.io/instance-type",
            "topology.kubernetes.io/region", "kubernetes.io/os", "kubernetes.io/arch", "kubernetes.io/hostname",
            "role")} == {
            "eks.amazonaws.com/nodegroup": "db", "eks.amazonaws.com/capacityType": "SPOT",
            "node.kubernetes.io/instance-type": "m5.large", "topology.kubernetes.io/region": "us-east-1",
            "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": meta["name"],
            "role": "database"}
        assert spec["taints"] == [{"key": "dedicated", "value": "database", "effect": "NoSchedule"}]
        assert re.fullmatch(rf"aws:///{zone}/i-[0-9a-f]{{17}}", spec["providerID"])
        # m5.large: 2 vCPUs, 8 GiB, 3 ENIs x 10 IPv4 addresses -> 29 pods
        assert status["capacity"]["cpu"] == "2" and status["capacity"]["pods"] == "29"
        assert status["allocatable"]["cpu"] == "1930m" and status["allocatable"]["pods"] == "29"
        assert status["allocatable"]["memory"].endswith("Ki")
        assert status["nodeInfo"]["kubeletVersion"].startswith("v1.35.")
        assert status["nodeInfo"]["kubeletVersion"].split("-")[1] == "eks"
        assert {a["type"]: a["address"] for a in status["addresses"]} == {
            "InternalIP": ip, "InternalDNS": meta["name"], "Hostname": meta["name"]}
        assert ready(node)
    assert {n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes} == set(private.values())

    eks = cluster.aws("eks")
    eks.update_nodegroup_config(clusterName="demo", nodegroupName="db", scalingConfig={"desiredSize": 3},
                                labels={"addOrUpdateLabels": {"tier": "data"}, "removeLabels": ["role"]})
    cluster.wait(lambda: len(cluster.nodes("db")) == 3, "a third node")
    cluster.wait(lambda: all(n["metadata"]["labels"].get("tier") == "data" and "role" not in n["metadata"]["labels"]
                             for n in cluster.nodes("db")), "the new labels on every node")
    eks.update_nodegroup_config(clusterName="demo", nodegroupName="db", scalingConfig={"desiredSize": 1})
    cluster.wait(lambda: len(cluster.nodes("db")) == 1, "scaled down to one node")
    eks.delete_nodegroup(clusterName="demo", nodegroupName="db")
    cluster.wait(lambda: not cluster.nodes("db"), "no node once the group is deleted")


def test_tainted_nodes_take_only_pods_that_tolerate_them(cluster):
    cluster.nodegroup("general", desired=2)
    cluster.nodegroup("db", desired=2, labels={"role": "database"}, taints=[DATABASE_TAINT])
    database_nodes = {n["metadata"]["name"] for n in cluster.nodes("db")}
    toleration = {"key": "dedicated", "operator": "Equal", "value": "database", "effect": "NoSchedule"}
    cluster.apply(deployment("postgres", replicas=4, tolerations=[toleration], nodeSelector={"role": "database"}),
                  deployment("web", replicas=4))

    def placed(app):
        pods = cluster.pods(labels=f"app={app}")
        return pods if len(pods) == 4 and all(p["status"].get("phase") == "Running" for p in pods) else None

    assert {p["spec"]["nodeName"] for p in cluster.wait(lambda: placed("postgres"))} <= database_nodes
    web = cluster.wait(lambda: placed("web"))
    assert not {p["spec"]["nodeName"] for p in web} & database_nodes
    assert len({p["spec"]["nodeName"] for p in web}) == 2  # spread over the two general nodes


def test_a_pod_that_fits_nowhere_stays_pending_with_failed_scheduling(cluster):
    cluster.nodegroup("general", desired=2)
    cluster.nodegroup("db", desired=1, taints=[DATABASE_TAINT])
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "huge", "namespace": "default"},
           "spec": {"containers": [{"name": "app", "image": "busybox",
                                    "resources": {"requests": {"cpu": "16", "memory": "1Gi"}}}]}}
    cluster.apply(pod)
    message = ("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: database}, 2 Insufficient cpu. "
               "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption "
               "victims found for incoming pod.")

    def unschedulable():
        current = cluster.get("pods", "huge")
        conditions = {c["type"]: c for c in current["status"].get("conditions") or []}
        return current if "PodScheduled" in conditions else None

    current = cluster.wait(unschedulable, "PodScheduled=False")
    assert current["status"]["phase"] == "Pending" and not current["spec"].get("nodeName")
    condition = next(c for c in current["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (condition["status"], condition["reason"], condition["message"]) == ("False", "Unschedulable", message)
    events = cluster.wait(lambda: cluster.events(current, "FailedScheduling"), "a FailedScheduling event")
    assert events[0]["type"] == "Warning" and events[0]["message"] == message
    assert events[0]["source"]["component"] == "default-scheduler"


def test_coredns_is_degraded_without_nodes_then_active(cluster):
    eks = cluster.aws("eks")
    eks.create_addon(clusterName="demo", addonName="coredns")
    addon = cluster.addon("coredns")
    assert addon["status"] == "DEGRADED"
    assert [i["code"] for i in addon["health"]["issues"]] == ["InsufficientNumberOfReplicas"]
    coredns = cluster.wait(lambda: cluster.get("deployments", "coredns", "kube-system"), "the coredns Deployment")
    assert coredns["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/coredns:" + addon["addonVersion"])
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in coredns["spec"]["template"]["spec"]["tolerations"]
    pods = cluster.wait(lambda: len(cluster.pods("kube-system", "k8s-app=kube-dns")) == 2
                        and cluster.pods("kube-system", "k8s-app=kube-dns"), "two coredns pods")
    assert all(p["status"]["phase"] == "Pending" for p in pods)
    cluster.wait(lambda: all(cluster.events(p, "FailedScheduling") for p in pods), "FailedScheduling events")
    assert cluster.events(pods[0], "FailedScheduling")[0]["message"] == "no nodes available to schedule pods"
    assert cluster.addon("coredns")["status"] == "DEGRADED"

    cluster.nodegroup("general", desired=2)
    cluster.wait(lambda: cluster.addon("coredns")["status"] == "ACTIVE", "coredns ACTIVE")
    assert cluster.addon("coredns")["health"] == {"issues": []}
    running = cluster.pods("kube-system", "k8s-app=kube-dns")
    assert len(running) == 2 and all(ready(p) for p in running)
    assert len({p["spec"]["nodeName"] for p in running}) == 2  # preferred anti-affinity on the host
    endpoints = cluster.get("endpoints", "kube-dns", "kube-system")
    assert sorted(a["ip"] for a in endpoints["subsets"][0]["addresses"]) == sorted(p["status"]["podIP"]
                                                                                  for p in running)

    eks.delete_addon(clusterName="demo", addonName="coredns")
    cluster.wait(lambda: cluster.get("deployments", "coredns", "kube-system") is None, "coredns removed")
    cluster.wait(lambda: not cluster.pods("kube-system", "k8s-app=kube-dns"), "coredns pods removed")
    assert cluster.get("services", "kube-dns", "kube-system") is None


@pytest.mark.skipif(not (BIN / "kubectl").exists(), reason="kubectl: make k8s-clients")
def test_deployment_rollout_with_kubectl(cluster):
    cluster.nodegroup("general", desired=3)
    manifest = deployment("web", replicas=3)
    manifest["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "100m",
                                                                                      "memory": "64Mi"}}
    result = cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    assert result.returncode == 0, result.stderr
    result = cluster.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    assert result.returncode == 0, result.stderr
    assert 'deployment "web" successfully rolled out' in result.stdout
    result = cluster.kubectl("wait", "--for=condition=Available", "deployment/web", "--timeout=60s")
    assert result.returncode == 0, result.stderr

    web = cluster.get("deployments", "web")
    status = web["status"]
    assert status["observedGeneration"] == web["metadata"]["generation"]
    assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"], status["availableReplicas"]) == (
        3, 3, 3, 3)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert (conditions["Available"]["status"], conditions["Available"]["reason"]) == ("True",
                                                                                      "MinimumReplicasAvailable")
    assert (conditions["Progressing"]["status"], conditions["Progressing"]["reason"]) == ("True",
                                                                                          "NewReplicaSetAvailable")
    assert web["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    first_rs = cluster.list("replicasets", "default", "app=web")
    assert len(first_rs) == 1
    template_hash = first_rs[0]["metadata"]["labels"]["pod-template-hash"]
    assert first_rs[0]["metadata"]["name"] == f"web-{template_hash}"
    assert all(p["metadata"]["labels"]["pod-template-hash"] == template_hash for p in cluster.pods(labels="app=web"))

    result = cluster.kubectl("set", "image", "deployment/web", "web=nginx:1.28")
    assert result.returncode == 0, result.stderr
    result = cluster.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    assert result.returncode == 0, result.stderr
    sets = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs
            for rs in cluster.list("replicasets", "default", "app=web")}
    assert sets["1"]["spec"]["replicas"] == 0 and sets["2"]["spec"]["replicas"] == 3
    pods = cluster.wait(lambda: len(cluster.pods(labels="app=web")) == 3 and cluster.pods(labels="app=web"))
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.28"}
    events = {e["message"] for e in cluster.events(cluster.get("deployments", "web"), "ScalingReplicaSet")}
    assert f"Scaled up replica set web-{template_hash} from 0 to 3" in events

    result = cluster.kubectl("rollout", "undo", "deployment/web")
    assert result.returncode == 0, result.stderr
    result = cluster.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    assert result.returncode == 0, result.stderr
    cluster.wait(lambda: cluster.get("deployments", "web")["metadata"]["annotations"][
        "deployment.kubernetes.io/revision"] == "3", "revision 3 (the first ReplicaSet again)")
    cluster.wait(lambda: {p["spec"]["containers"][0]["image"] for p in cluster.pods(labels="app=web")} == {
        "nginx:1.27"}, "the old image back")

    result = cluster.kubectl("scale", "deployment/web", "--replicas=5")
    assert result.returncode == 0, result.stderr
    result = cluster.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    assert result.returncode == 0, result.stderr
    assert len(cluster.pods(labels="app=web")) == 5


def test_daemonset_one_pod_per_eligible_node(cluster):
    cluster.nodegroup("general", desired=2)
    cluster.nodegroup("db", desired=1, taints=[DATABASE_TAINT])
    agent = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "default"},
             "spec": {"selector": {"matchLabels": {"app": "agent"}},
                      "template": {"metadata": {"labels": {"app": "agent"}},
                                   "spec": {"containers": [{"name": "agent", "image": "busybox"}]}}}}
    everywhere = json.loads(json.dumps(agent).replace("agent", "logs"))
    everywhere["spec"]["template"]["spec"]["tolerations"] = [{"operator": "Exists"}]
    cluster.apply(agent, everywhere)
    general = {n["metadata"]["name"] for n in cluster.nodes("general")}
    every = general | {n["metadata"]["name"] for n in cluster.nodes("db")}

    def running_on(app):
        pods = [p for p in cluster.pods(labels=f"app={app}") if p["status"].get("phase") == "Running"]
        return sorted(p["spec"]["nodeName"] for p in pods)

    cluster.wait(lambda: running_on("agent") == sorted(general), "one agent per untainted node")
    cluster.wait(lambda: running_on("logs") == sorted(every), "one logs pod per node")
    status = cluster.wait(lambda: (cluster.get("daemonsets", "agent").get("status") or {}).get("numberReady") == 2
                          and cluster.get("daemonsets", "agent")["status"], "the DaemonSet's status")
    assert (status["desiredNumberScheduled"], status["currentNumberScheduled"], status["numberAvailable"],
            status["updatedNumberScheduled"], status["numberMisscheduled"]) == (2, 2, 2, 2, 0)

    cluster.aws("eks").update_nodegroup_config(clusterName="demo", nodegroupName="general",
                                               scalingConfig={"desiredSize": 3})
    cluster.wait(lambda: len(running_on("agent")) == 3, "an agent on the new node")
    assert len(set(running_on("agent"))) == 3


def test_gp3_claim_gets_an_encrypted_ebs_volume_in_the_pod_zone(cluster):
    eks, ec2 = cluster.aws("eks"), cluster.aws("ec2")
    cluster.apply({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "gp3"},
                   "provisioner": "ebs.csi.aws.com", "volumeBindingMode": "WaitForFirstConsumer",
                   "reclaimPolicy": "Delete",
                   "parameters": {"type": "gp3", "encrypted": "true", "iops": "4000", "throughput": "250",
                                  "tagSpecification_1": "team=data"}},
                  {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": "data", "namespace": "default"},
                   "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3",
                            "resources": {"requests": {"storage": "10Gi"}}}})
    claim = cluster.get("persistentvolumeclaims", "data")
    assert cluster.wait(lambda: cluster.events(claim, "WaitForFirstConsumer"))[0]["message"] == (
        "waiting for first consumer to be created before binding")
    cluster.nodegroup("general", desired=2)
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db", "namespace": "default"},
                   "spec": {"containers": [{"name": "db", "image": "postgres:17",
                                            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql"}]}],
                            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}})
    # no EBS CSI driver yet: the claim waits for its provisioner, the pod for its claim
    cluster.wait(lambda: cluster.events(claim, "ExternalProvisioning"), "ExternalProvisioning")
    assert cluster.events(claim, "ExternalProvisioning")[0]["message"].startswith(
        "Waiting for a volume to be created either by the external provisioner 'ebs.csi.aws.com' or manually by "
        "the system administrator.")
    cluster.settle()
    assert cluster.get("persistentvolumeclaims", "data")["status"]["phase"] == "Pending"
    assert not cluster.get("pods", "db")["spec"].get("nodeName")
    node_name = cluster.get("persistentvolumeclaims", "data")["metadata"]["annotations"][
        "volume.kubernetes.io/selected-node"]

    # the add-on's controller.extraVolumeTags: the driver's --extra-tags, on every volume it makes
    eks.create_addon(clusterName="demo", addonName="aws-ebs-csi-driver", configurationValues=json.dumps(
        {"controller": {"extraVolumeTags": {"Project": "hub", "team": "platform"}}}))
    cluster.wait(lambda: cluster.addon("aws-ebs-csi-driver")["status"] == "ACTIVE", "the EBS CSI driver")
    plugin = cluster.get("deployments", "ebs-csi-controller", "kube-system")["spec"]["template"]["spec"][
        "containers"][0]
    assert "--extra-tags=Project=hub,team=platform" in plugin["args"]
    bound = cluster.wait(lambda: (cluster.get("persistentvolumeclaims", "data")["status"].get("phase") == "Bound"
                                  and cluster.get("persistentvolumeclaims", "data")), "the claim Bound")
    pod = cluster.wait(lambda: cluster.get("pods", "db")["status"].get("phase") == "Running"
                       and cluster.get("pods", "db"), "the pod Running")
    assert pod["spec"]["nodeName"] == node_name
    zone = cluster.get("nodes", node_name, None)["metadata"]["labels"]["topology.kubernetes.io/zone"]
    pv_name = bound["spec"]["volumeName"]
    pv = cluster.get("persistentvolumes", pv_name, None)
    assert pv_name == f"pvc-{bound['metadata']['uid']}"
    assert pv["status"]["phase"] == "Bound" and pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert pv["spec"]["claimRef"]["name"] == "data" and pv["spec"]["csi"]["driver"] == "ebs.csi.aws.com"
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]}]
    assert bound["status"]["capacity"] == {"storage": "10Gi"}

    volume_id = pv["spec"]["csi"]["volumeHandle"]
    volume = ec2.describe_volumes(Filters=[{"Name": "tag:CSIVolumeName", "Values": [pv_name]}])["Volumes"]
    assert [v["VolumeId"] for v in volume] == [volume_id]
    volume = volume[0]
    assert (volume["VolumeType"], volume["Size"], volume["Encrypted"], volume["AvailabilityZone"]) == (
        "gp3", 10, True, zone)
    assert (volume["Iops"], volume["Throughput"]) == (4000, 250)
    tags = {t["Key"]: t["Value"] for t in volume["Tags"]}
    assert tags == {"CSIVolumeName": pv_name, "kubernetes.io/created-for/pvc/name": "data",
                    "kubernetes.io/created-for/pvc/namespace": "default",
                    "kubernetes.io/created-for/pv/name": pv_name, "ebs.csi.aws.com/cluster": "true",
                    "KubernetesCluster": "demo", "kubernetes.io/cluster/demo": "owned", "Project": "hub",
                    "team": "data"}  # the class's tagSpecification over the driver's extra tags, as the driver does

    # the claim is protected while the pod uses it; then Delete reclaims the volume and the PV
    cluster.delete("persistentvolumeclaims", "data")
    cluster.settle()
    assert cluster.get("persistentvolumeclaims", "data")["metadata"]["deletionTimestamp"]
    cluster.delete("pods", "db")
    cluster.wait(lambda: cluster.get("persistentvolumeclaims", "data") is None, "the claim gone")
    cluster.wait(lambda: cluster.get("persistentvolumes", pv_name, None) is None, "the PV gone")
    assert ec2.describe_volumes(Filters=[{"Name": "tag:CSIVolumeName", "Values": [pv_name]}])["Volumes"] == []


def test_retained_volume_is_released_not_deleted(cluster):
    cluster.nodegroup("general", desired=1)
    cluster.aws("eks").create_addon(clusterName="demo", addonName="aws-ebs-csi-driver")
    cluster.apply({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "keep"},
                   "provisioner": "ebs.csi.aws.com", "reclaimPolicy": "Retain", "volumeBindingMode": "Immediate",
                   "parameters": {"type": "io2", "iops": "1000"}},
                  {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": "keep", "namespace": "default"},
                   "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "keep",
                            "resources": {"requests": {"storage": "1500Mi"}}}})
    claim = cluster.wait(lambda: cluster.get("persistentvolumeclaims", "keep")["status"].get("phase") == "Bound"
                         and cluster.get("persistentvolumeclaims", "keep"), "an Immediate claim Bound at once")
    pv_name = claim["spec"]["volumeName"]
    volume_id = cluster.get("persistentvolumes", pv_name, None)["spec"]["csi"]["volumeHandle"]
    volume = cluster.aws("ec2").describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    assert (volume["VolumeType"], volume["Size"], volume["Iops"], volume["Encrypted"]) == ("io2", 4, 1000, False)
    cluster.delete("persistentvolumeclaims", "keep")
    cluster.wait(lambda: cluster.get("persistentvolumes", pv_name, None)["status"]["phase"] == "Released",
                 "the PV Released")
    assert cluster.aws("ec2").describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"] == "available"


def test_load_balancer_service_needs_the_aws_load_balancer_controller(cluster):
    cluster.nodegroup("general", desired=2)
    elbv2 = cluster.aws("elbv2")
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default", "annotations": {
        "service.beta.kubernetes.io/aws-load-balancer-type": "external",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip"}},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    cluster.apply(deployment("web", replicas=2), service)
    cluster.wait(lambda: all(ready(p) for p in cluster.pods(labels="app=web")) and cluster.pods(labels="app=web"))
    cluster.settle()
    assert cluster.get("services", "web")["status"] == {"loadBalancer": {}}
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []

    controller = deployment("aws-load-balancer-controller", replicas=1, namespace="kube-system")
    cluster.apply(controller)
    hostname = cluster.wait(lambda: ((cluster.get("services", "web")["status"].get("loadBalancer") or {}).get(
        "ingress") or [{}])[0].get("hostname"), "the NLB's hostname")
    balancers = elbv2.describe_load_balancers()["LoadBalancers"]
    assert [b["DNSName"] for b in balancers] == [hostname]
    balancer = balancers[0]
    assert (balancer["Type"], balancer["Scheme"]) == ("network", "internet-facing")
    assert sorted(z["SubnetId"] for z in balancer["AvailabilityZones"]) == sorted(cluster.network["public"])
    tags = {t["Key"]: t["Value"] for t in elbv2.describe_tags(ResourceArns=[balancer["LoadBalancerArn"]])[
        "TagDescriptions"][0]["Tags"]}
    assert tags["elbv2.k8s.aws/cluster"] == "demo" and tags["service.k8s.aws/stack"] == "default/web"
    groups = elbv2.describe_target_groups(LoadBalancerArn=balancer["LoadBalancerArn"])["TargetGroups"]
    assert [(g["Protocol"], g["Port"], g["TargetType"]) for g in groups] == [("TCP", 8080, "ip")]
    targets = elbv2.describe_target_health(TargetGroupArn=groups[0]["TargetGroupArn"])["TargetHealthDescriptions"]
    assert sorted(t["Target"]["Id"] for t in targets) == sorted(p["status"]["podIP"]
                                                               for p in cluster.pods(labels="app=web"))
    listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    assert [(li["Protocol"], li["Port"]) for li in listeners] == [("TCP", 80)]
    assert "service.k8s.aws/resources" in cluster.get("services", "web")["metadata"]["finalizers"]

    cluster.delete("services", "web")
    cluster.wait(lambda: cluster.get("services", "web") is None, "the Service gone")
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    assert elbv2.describe_target_groups()["TargetGroups"] == []


CHART = {
    "deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata: {name: "{{ .Release.Name }}-web"}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: "nginx:{{ .Values.tag }}"
        resources: {requests: {cpu: 50m, memory: 32Mi}}
""",
    "statefulset.yaml": """apiVersion: apps/v1
kind: StatefulSet
metadata: {name: "{{ .Release.Name }}-db"}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "postgres:17"}]
""",
    "daemonset.yaml": """apiVersion: apps/v1
kind: DaemonSet
metadata: {name: "{{ .Release.Name }}-agent"}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: "busybox:1.37"}]
""",
    "service.yaml": """apiVersion: v1
kind: Service
metadata: {name: "{{ .Release.Name }}-web"}
spec:
  selector: {app: web}
  ports: [{port: 80}]
""",
    "job.yaml": """apiVersion: batch/v1
kind: Job
metadata: {name: "{{ .Release.Name }}-migrate-{{ .Release.Revision }}"}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: "busybox:1.37"}]
""",
}


@pytest.mark.skipif(not (BIN / "helm").exists() or not (BIN / "kubectl").exists(), reason="make k8s-clients")
def test_helm_wait_and_kubectl_rollout_status_see_ready_workloads(cluster, tmp_path):
    cluster.nodegroup("general", desired=2)
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("replicas: 2\ntag: '1.27'\n")
    for name, text in CHART.items():
        (chart / "templates" / name).write_text(text)
    env_args = ["--kubeconfig", str(cluster.kubeconfig())]
    helm_home = {"HELM_CACHE_HOME": str(tmp_path / "c"), "HELM_CONFIG_HOME": str(tmp_path / "f"),
                 "HELM_DATA_HOME": str(tmp_path / "d"), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    import subprocess

    def helm(*args):
        return subprocess.run([str(BIN / "helm"), *env_args, *args], capture_output=True, text=True, timeout=180,
                              env=helm_home)

    result = helm("install", "app", str(chart), "-n", "default", "--wait=watcher", "--wait-for-jobs",
                  "--timeout", "90s")
    assert result.returncode == 0, result.stderr
    for kind, name in (("deployment", "app-web"), ("statefulset", "app-db"), ("daemonset", "app-agent")):
        status = cluster.kubectl("rollout", "status", f"{kind}/{name}", "--timeout=60s")
        assert status.returncode == 0, status.stderr
    assert cluster.kubectl("wait", "--for=condition=complete", "job/app-migrate-1", "--timeout=60s").returncode == 0
    result = helm("upgrade", "app", str(chart), "-n", "default", "--wait=watcher", "--wait-for-jobs",
                  "--timeout", "90s", "--set", "replicas=3", "--set", "tag=1.28")
    assert result.returncode == 0, result.stderr
    web = cluster.get("deployments", "app-web")
    assert (web["status"]["updatedReplicas"], web["status"]["availableReplicas"]) == (3, 3)
    assert {p["spec"]["containers"][0]["image"] for p in cluster.pods(labels="app=web")} == {"nginx:1.28"}
    assert [p["metadata"]["name"] for p in cluster.pods(labels="app=db")] == ["app-db-0", "app-db-1"]
    assert len(cluster.pods(labels="app=agent")) == 2


def test_alb_ingress_with_https_listener(cluster):
    cluster.nodegroup("general", desired=2)
    certificate = cluster.aws("acm").request_certificate(DomainName="a.example.com")["CertificateArn"]
    # the chart's defaultTags: the controller's --default-tags, on everything it makes, over the annotations' tags
    controller = deployment("aws-load-balancer-controller", 1, namespace="kube-system")
    controller["spec"]["template"]["spec"]["containers"][0]["args"] = [
        "--cluster-name=demo", "--default-tags=Project=hub,team=platform"]
    cluster.apply(deployment("web", 2), controller,
                  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                   "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}},
                  {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {
                      "name": "web", "namespace": "default", "annotations": {
                          "alb.ingress.kubernetes.io/scheme": "internet-facing",
                          "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
                          "alb.ingress.kubernetes.io/tags": "team=web,owner=shop",
                          "alb.ingress.kubernetes.io/certificate-arn": certificate}},
                   "spec": {"ingressClassName": "alb", "rules": [{"host": "a.example.com", "http": {"paths": [
                       {"path": "/", "pathType": "Prefix",
                        "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]}})
    hostname = cluster.wait(lambda: ((cluster.get("ingresses", "web").get("status") or {}).get("loadBalancer")
                                     or {}).get("ingress"), "the ALB's hostname")[0]["hostname"]
    elbv2 = cluster.aws("elbv2")
    (balancer,) = elbv2.describe_load_balancers()["LoadBalancers"]
    assert (balancer["DNSName"], balancer["Type"], balancer["Scheme"]) == (hostname, "application", "internet-facing")
    assert sorted(z["SubnetId"] for z in balancer["AvailabilityZones"]) == sorted(cluster.network["public"])
    assert len(balancer["SecurityGroups"]) == 1
    listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    assert sorted((li["Protocol"], li["Port"]) for li in listeners) == [("HTTP", 80), ("HTTPS", 443)]
    https = next(li for li in listeners if li["Protocol"] == "HTTPS")
    assert https["Certificates"][0]["CertificateArn"] == certificate
    rules = [r for r in elbv2.describe_rules(ListenerArn=https["ListenerArn"])["Rules"] if not r["IsDefault"]]
    assert len(rules) == 1
    conditions = {c["Field"]: (c.get("HostHeaderConfig") or c.get("PathPatternConfig"))["Values"]
                  for c in rules[0]["Conditions"]}
    assert conditions == {"host-header": ["a.example.com"], "path-pattern": ["/*"]}
    (group,) = elbv2.describe_target_groups()["TargetGroups"]
    node_port = cluster.get("services", "web")["spec"]["ports"][0]["nodePort"]
    assert (group["TargetType"], group["Port"], group["Protocol"]) == ("instance", node_port, "HTTP")
    assert rules[0]["Actions"][0]["TargetGroupArn"] == group["TargetGroupArn"]
    tags = {t["Key"]: t["Value"] for t in elbv2.describe_tags(ResourceArns=[balancer["LoadBalancerArn"]])[
        "TagDescriptions"][0]["Tags"]}
    assert tags["ingress.k8s.aws/stack"] == "default/web" and tags["elbv2.k8s.aws/cluster"] == "demo"
    assert tags["owner"] == "shop"  # the annotation's
    for arn in (balancer["LoadBalancerArn"], group["TargetGroupArn"], https["ListenerArn"]):
        tags = {t["Key"]: t["Value"] for t in elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]}
        assert (tags["Project"], tags["team"]) == ("hub", "platform"), arn  # the default tag over team=web

    cluster.delete("ingresses", "web")
    cluster.wait(lambda: cluster.get("ingresses", "web") is None, "the Ingress gone")
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    groups = cluster.aws("ec2").describe_security_groups(Filters=[{"Name": "vpc-id",
                                                                   "Values": [cluster.network["vpc"]]}])
    assert not [g for g in groups["SecurityGroups"] if g["GroupName"].startswith("k8s-")]


def test_addon_workloads_follow_updates_and_preserve(cluster):
    eks = cluster.aws("eks")
    cluster.nodegroup("general", desired=1)
    eks.create_addon(clusterName="demo", addonName="kube-proxy", addonVersion="v1.35.0-eksbuild.2")
    eks.create_addon(clusterName="demo", addonName="aws-ebs-csi-driver", addonVersion="v1.50.1-eksbuild.1",
                     serviceAccountRoleArn="arn:aws:iam::123456789012:role/ebs-csi",
                     configurationValues='{"controller": {"replicaCount": 1}, "defaultStorageClass": {"enabled": true}}')
    proxy = cluster.wait(lambda: cluster.get("daemonsets", "kube-proxy", "kube-system"), "kube-proxy")
    assert proxy["spec"]["template"]["spec"]["containers"][0]["image"].endswith(
        "/eks/kube-proxy:v1.35.0-minimal-eksbuild.2")
    controller = cluster.wait(lambda: cluster.get("deployments", "ebs-csi-controller", "kube-system"))
    assert controller["spec"]["replicas"] == 1
    account = cluster.get("serviceaccounts", "ebs-csi-controller-sa", "kube-system")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == "arn:aws:iam::123456789012:role/ebs-csi"
    assert cluster.get("csidrivers", "ebs.csi.aws.com", None)["spec"]["attachRequired"] is True
    default_class = cluster.get("storageclasses", "ebs-csi-default-sc", None)
    assert default_class["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert cluster.get("storageclasses", "gp2", None)["provisioner"] == "kubernetes.io/aws-ebs"  # every EKS cluster
    cluster.wait(lambda: cluster.addon("aws-ebs-csi-driver")["status"] == "ACTIVE")

    eks.update_addon(clusterName="demo", addonName="aws-ebs-csi-driver", addonVersion="v1.53.0-eksbuild.1")
    cluster.wait(lambda: cluster.get("deployments", "ebs-csi-controller", "kube-system")["spec"]["template"][
        "spec"]["containers"][0]["image"].endswith("/eks/aws-ebs-csi-driver:v1.53.0"), "the new driver image")
    cluster.wait(lambda: cluster.addon("aws-ebs-csi-driver")["status"] == "ACTIVE")

    eks.delete_addon(clusterName="demo", addonName="kube-proxy", preserve=True)
    eks.delete_addon(clusterName="demo", addonName="aws-ebs-csi-driver")
    cluster.wait(lambda: cluster.get("deployments", "ebs-csi-controller", "kube-system") is None, "the driver gone")
    cluster.wait(lambda: cluster.get("csidrivers", "ebs.csi.aws.com", None) is None)
    cluster.settle()
    assert cluster.get("daemonsets", "kube-proxy", "kube-system") is not None  # preserved


def test_alb_ingress_with_its_own_security_groups_gets_no_managed_group(cluster):
    """alb.ingress.kubernetes.io/security-groups (an id or a name in the VPC) replaces the managed group;
    a group that does not exist fails the deploy with the controller's message."""
    cluster.nodegroup("general", desired=2)
    ec2 = cluster.aws("ec2")
    vpc_id = ec2.describe_subnets(SubnetIds=[cluster.network["public"][0]])["Subnets"][0]["VpcId"]
    group_id = ec2.create_security_group(GroupName="demo-alb", Description="ALB", VpcId=vpc_id)["GroupId"]

    def ingress(groups):
        return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {
            "name": "web", "namespace": "default", "annotations": {
                "alb.ingress.kubernetes.io/scheme": "internet-facing",
                "alb.ingress.kubernetes.io/target-type": "ip",
                "alb.ingress.kubernetes.io/security-groups": groups}},
            "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]}}

    cluster.apply(deployment("web", 2), deployment("aws-load-balancer-controller", 1, namespace="kube-system"),
                  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                   "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}},
                  ingress("demo-alb"))
    cluster.wait(lambda: ((cluster.get("ingresses", "web").get("status") or {}).get("loadBalancer") or {}).get(
        "ingress"), "the ALB's hostname")
    (balancer,) = cluster.aws("elbv2").describe_load_balancers()["LoadBalancers"]
    assert balancer["SecurityGroups"] == [group_id]
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    assert not [g for g in groups if g["GroupName"].startswith("k8s-")], "no managed group"

    cluster.delete("ingresses", "web")
    cluster.wait(lambda: cluster.get("ingresses", "web") is None, "the Ingress gone")
    cluster.apply(ingress("sg-0000000000000000f"))
    events = cluster.wait(lambda: [e for e in cluster.list("events") if e.get("reason") == "FailedBuildModel"],
                          "the FailedBuildModel event")
    assert "couldn't find all securityGroups" in events[0]["message"]
